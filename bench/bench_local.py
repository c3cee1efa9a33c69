"""Benchmark: the embedded database vs hand-written DuckDB SQL on the same 1,000,000 rows.

    python bench/bench_local.py [--rows 1000000] [--runs 5]

Measures, in one process and one run: ingesting a 1M-row DataFrame through
LocalBackend.ingest; then, for two queries (a filter+summarize, and
`summarize count() by bin(t, 1h)`), interleaved run by run, the median wall and CPU time
(`time.process_time`, all threads) of: the same question written by hand in DuckDB SQL and
fetched with DuckDB's own fetch_df on the same connection (the baseline); LocalBackend.query
(KQL -> DataFrame with Kusto dtypes) and a `%%kusto_input` cell in a real IPython shell (the
magic's own parsing, settings, attrs and display line included), each with the translation
cache warm (a cell's re-run) and emptied (a cell's first run). Every path's DataFrame is checked
equal. Prints a Markdown table with the ratios to the baseline (goal: within 1.5x) and the load
average. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

if not os.environ.get("PYTHONPATH"):
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


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _sorted(frame):
    """The rows in one order (a parallel GROUP BY returns its groups in any order)."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _shell():
    """A real IPython shell with the extension loaded, as a notebook kernel has it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "kfx_notebook")
    return shell


def _paths(backend, shell, kql: str, sql: str) -> dict:
    """The measured paths of one query, each returning its DataFrame."""
    from kfx_notebook.backends.local import engine

    cell = f"%%kusto_input result --database Bench\n{kql}"

    def hand():
        cur = backend.cursor()
        try:
            return cur.execute(sql).fetch_df()
        finally:
            cur.close()

    def magic():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            outcome = shell.run_cell(cell, store_history=False, silent=True)
        outcome.raise_error()
        return shell.user_ns["result"]

    def cold(fn):
        def run():
            engine._CACHE.clear()  # what the first run of a cell pays
            return fn()
        return run

    query = lambda: backend.query("Bench", kql).frame  # noqa: E731
    return {"hand-written DuckDB SQL": hand, "LocalBackend.query, cached": query, "%%kusto_input, cached": magic,
            "LocalBackend.query, cold": cold(query), "%%kusto_input, cold": cold(magic)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from kfx_notebook.backends import backend_for
    from kfx_notebook.backends.local import LocalBackend

    frame = make_frame(args.rows)
    ingest_times = []
    for run in range(args.runs):
        backend = LocalBackend(None)  # a fresh database each run, so every run ingests into an empty table
        start = time.perf_counter()
        receipt = backend.ingest("Bench", "Events", frame, data_format="dataframe")
        ingest_times.append(time.perf_counter() - start)
        assert receipt.rows == args.rows
        backend.close()
    print(f"ingest {args.rows:,}-row DataFrame: median {statistics.median(ingest_times):.3f} s "
          f"over {args.runs} runs (goal < 1 s)")

    os.environ["KustoConnectionString"] = "Data Source=local"
    backend = backend_for("Data Source=local")  # the backend the magic uses
    backend.ingest("Bench", "Events", frame, data_format="dataframe")
    shell = _shell()
    print(f"runs={args.runs}, interleaved; load average before: {_load()}")
    print("\n| query | path | median wall (ms) | median CPU (ms) | ratio wall | ratio CPU |")
    print("|---|---|---|---|---|---|")
    for label, kql, sql in QUERIES:
        paths = _paths(backend, shell, kql, sql)
        results = {name: fn() for name, fn in paths.items()}  # warm every path once
        expected = _sorted(results["LocalBackend.query, cached"])
        assert all(_sorted(r).equals(expected) for n, r in results.items() if n != "hand-written DuckDB SQL"), label
        assert len(results["hand-written DuckDB SQL"]) == len(expected), label
        wall: dict[str, list[float]] = {name: [] for name in paths}
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):  # interleaved, so load on the shared machine hits every path alike
            for name, fn in paths.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        base, base_cpu = (statistics.median(x["hand-written DuckDB SQL"]) for x in (wall, cpu))
        for name in paths:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            print(f"| {label} | {name} | {w * 1000:.2f} | {c * 1000:.2f} | {w / base:.2f}x | {c / base_cpu:.2f}x |")
    print(f"load average after: {_load()}")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
