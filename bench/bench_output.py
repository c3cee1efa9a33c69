"""Benchmark: %%kusto_output of a DataFrame into the embedded database, and building its payload.

    python bench/bench_output.py [--rows 1000000] [--runs 3] [--payload-rows 100000] [--payload-only]

One process, one 7-column frame (long, string, real, bool, tz-aware datetime, timedelta,
dict -> dynamic), interleaved runs, medians:
(a) DuckDB's own `CREATE TABLE t AS SELECT * FROM df` on a fresh connection (the baseline);
(b) the cell `%%kusto_output --database Bench --table-name T{n}\\nframe` in a real IPython
    InteractiveShell (the column-wise shortcut, a new table each run);
(c) on --payload-rows rows: the payload the binding sends (what --dry-run shows), built row by
    row (every cell through payload.object_cell, rows through Python's indenting encoder: the
    serializer before the column-wise one) and column-wise (payload.serialize of a DataFrame's
    rows), checked byte-identical; that payload ingested (the reference path); the shortcut.
Goals: (b) within 10x of (a); column-wise payload >= 10x faster than row by row.
--payload-only runs (c) alone. (c) prints medians of wall time and of process CPU time
(`time.process_time`), and the load average before and after.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_frame(rows: int):
    """The issue's frame: 7 columns, one per kind a function returns, no nulls."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    start = pd.Timestamp("2024-01-01", tz="Europe/Amsterdam")
    return pd.DataFrame({
        "Id": np.arange(rows, dtype="int64"),
        "Name": [f"item-{i % 1000}" for i in range(rows)],
        "Price": rng.random(rows) * 100,
        "Active": rng.random(rows) > 0.5,
        "At": start + pd.to_timedelta(rng.integers(0, 10**15, rows), unit="us"),
        "Took": pd.to_timedelta(rng.integers(0, 10**12, rows), unit="ns"),
        "Bag": [{"k": i % 7, "tags": ["a", "b"]} for i in range(rows)],
    })


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed_cpu(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def load() -> str:
    return os.popen("uptime").read().strip().split("load average:")[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--payload-rows", type=int, default=100_000)
    parser.add_argument("--payload-only", action="store_true", help="only the payload steps (c)")
    args = parser.parse_args()

    import duckdb
    from IPython.core.interactiveshell import InteractiveShell

    from kfx_notebook import payload
    from kfx_notebook.backends import backend_for

    frame = make_frame(args.payload_rows if args.payload_only else args.rows)
    os.environ["KustoConnectionString"] = "Data Source=local"
    backend = backend_for("Data Source=local")
    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "kfx_notebook")
    shell.user_ns["frame"] = frame
    runs = iter(range(10**6))

    def duckdb_insert():
        con = duckdb.connect(":memory:")
        con.register("df", frame)
        con.execute("CREATE TABLE t AS SELECT * FROM df")
        con.close()

    def magic():
        cell = f"%%kusto_output --database Bench --table-name T{next(runs)}\nframe"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            outcome = shell.run_cell(cell, store_history=False, silent=True)
        outcome.raise_error()

    if not args.payload_only:
        whole_frame(args, frame, duckdb_insert, magic, backend, runs)

    small = frame.head(args.payload_rows)
    holder = {}

    def row_by_row():
        names = list(small.columns)
        cells = [small[n].astype(object).tolist() for n in names]
        rows = [dict(zip(names, (payload.object_cell(v) for v in row))) for row in zip(*cells)]
        holder["rows"] = payload.serialize(rows, None)

    def column_wise():
        holder["body"] = payload.serialize(payload.rows_from_return(small).rows, None)

    def reference_ingest():
        body = holder["body"]
        backend.ingest("Bench", f"R{next(runs)}", body.data, data_format=body.data_format)

    def shortcut_ingest():
        backend.ingest_frame_as_payload("Bench", f"S{next(runs)}", small)

    steps = {"payload row by row": row_by_row, "payload column-wise": column_wise, "payload ingested": reference_ingest,
             "shortcut": shortcut_ingest}
    parts: dict[str, list[tuple[float, float]]] = {label: [] for label in steps}
    print(f"load average before the payload steps:{load()}")
    for _ in range(args.runs):
        for label, step in steps.items():
            parts[label].append(timed_cpu(step))
    assert holder["rows"].data == holder["body"].data
    med = {label: statistics.median(w for w, _ in values) for label, values in parts.items()}
    cpu = {label: statistics.median(c for _, c in values) for label, values in parts.items()}
    print(f"\nat {args.payload_rows:,} rows ({len(holder['body'].data) / 1e6:.1f} MB of multijson, identical bytes):")
    print("| step | median wall s | median CPU s |\n|---|---|---|")
    for label, value in med.items():
        print(f"| {label} | {value:.3f} | {cpu[label]:.3f} |")
    print(f"payload column-wise {med['payload row by row'] / med['payload column-wise']:.1f}x faster wall, "
          f"{cpu['payload row by row'] / cpu['payload column-wise']:.1f}x CPU (goal >= 10x); "
          f"payload path (column-wise build + ingest) {med['payload column-wise'] + med['payload ingested']:.3f} s "
          f"against the shortcut {med['shortcut']:.3f} s; load average after:{load()}")
    return 0


def whole_frame(args, frame, duckdb_insert, magic, backend, runs) -> None:
    """(a) against (b) on the whole frame, interleaved, medians."""
    samples: dict[str, list[float]] = {"duckdb": [], "magic": []}
    for _ in range(args.runs):
        samples["duckdb"].append(timed(duckdb_insert))
        samples["magic"].append(timed(magic))
    table = f"T{next(runs) - 1}"
    count = backend.query("Bench", f"{table} | count").frame.iloc[0, 0]
    assert count == args.rows, count
    d, m = statistics.median(samples["duckdb"]), statistics.median(samples["magic"])
    print(f"rows={args.rows:,} runs={args.runs}")
    print("| path | median s |\n|---|---|")
    print(f"| DuckDB CREATE TABLE AS SELECT * FROM df | {d:.3f} |\n| %%kusto_output (shortcut) | {m:.3f} |")
    print(f"ratio {m / d:.2f}x (goal <= 10x): {'met' if m <= 10 * d else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
