"""Benchmark: the embedded database vs hand-written DuckDB SQL on the same 1,000,000 rows.

    python bench/bench_local.py [--rows 1000000] [--runs 5]

Measures, in one process and one run: ingesting a 1M-row DataFrame through
LocalBackend.ingest; then, for two queries (a filter+summarize, and
`summarize count() by bin(t, 1h)`), the median wall time of LocalBackend.query (KQL ->
DataFrame with Kusto dtypes; with the translation cache warm, and cold as on a
cell's first run) against the same question written by hand in DuckDB SQL
and fetched with DuckDB's own fetch_df on the same connection. Prints a Markdown table
with the ratios (local / hand-written; goal: within 2x). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = [
    ("filter + summarize",
     "Events | where Level == 'Error' and Duration > 100 | summarize n = count(), avg_ms = avg(Duration) by Host",
     'SELECT "Host", count(*) AS n, avg("Duration") AS avg_ms FROM "Bench"."Events" '
     "WHERE \"Level\" = 'Error' AND \"Duration\" > 100 GROUP BY \"Host\""),
    ("summarize count() by bin(t, 1h)",
     "Events | summarize count() by bin(Timestamp, 1h)",
     'SELECT time_bucket(INTERVAL 1 HOUR, "Timestamp") AS "Timestamp", count(*) AS count_ '
     'FROM "Bench"."Events" GROUP BY 1'),
]


def make_frame(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "Timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, rows), "s"),
        "Host": pd.Series(rng.integers(0, 50, rows)).map(lambda i: f"host-{i:02d}"),
        "Level": pd.Series(rng.choice(["Info", "Warning", "Error"], rows)),
        "Duration": rng.integers(0, 1000, rows).astype("int64"),
        "Value": rng.normal(size=rows),
    })


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from kfx_notebook.backends.local import LocalBackend

    frame = make_frame(args.rows)
    ingest_times = []
    for _ in range(args.runs):
        backend = LocalBackend(None)  # a fresh database each run, so every run ingests into an empty table
        start = time.perf_counter()
        receipt = backend.ingest("Bench", "Events", frame, data_format="dataframe")
        ingest_times.append(time.perf_counter() - start)
        assert receipt.rows == args.rows
        if _ < args.runs - 1:
            backend.close()
    print(f"ingest {args.rows:,}-row DataFrame: median {statistics.median(ingest_times):.3f} s "
          f"over {args.runs} runs (goal < 1 s)")

    from kfx_notebook.backends.local import engine

    print("\n| query | local, translation cached (s) | local, cold translation (s) | hand-written DuckDB SQL (s) "
          "| ratio cached | ratio cold |")
    print("|---|---|---|---|---|---|")
    for label, kql, sql in QUERIES:
        backend.query("Bench", kql)  # warm both paths once
        local_t, local_result = timed(lambda: backend.query("Bench", kql).frame, args.runs)

        def cold():
            engine._CACHE.clear()  # what the first run of a cell pays
            return backend.query("Bench", kql).frame

        cold_t, _ = timed(cold, args.runs)

        def hand():
            cur = backend.cursor()
            try:
                return cur.execute(sql).fetch_df()
            finally:
                cur.close()

        hand()
        sql_t, sql_result = timed(hand, args.runs)
        assert len(local_result) == len(sql_result), (label, len(local_result), len(sql_result))
        print(f"| {label} | {local_t:.4f} | {cold_t:.4f} | {sql_t:.4f} | {local_t / sql_t:.2f}x "
              f"| {cold_t / sql_t:.2f}x |")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
