"""Benchmark: how long a small read waits while a long write runs on the same embedded database.

    python bench/bench_read_during_write.py [--rows 100000] [--runs 3]

One process, one file-backed LocalBackend. Baseline: the latency of two small reads
(`print x = 1`, `Base | count`) with nothing else running. Then, --runs times, a slow
`.set-or-append` (two self-joins over --rows rows) runs in a thread while the main thread
issues the same reads back to back; prints the reads' median / p99 / max during the writes
against the baseline median, and how long each write took. Set PYTHONPATH to another checkout
to measure its code instead of this one's. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DB = "Bench"
SLOW_WRITE = (".set-or-append {target} <| Base | join kind=inner (Base | project x, k = x % 4) on x "
              "| join kind=inner (Base | project x, j = strcat('v', tostring(x))) on x")
READS = ("print x = 1", "Base | count")


def _read(backend) -> float:
    started = time.perf_counter()
    for text in READS:
        backend.query(DB, text)
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from kfx_notebook.backends.local import LocalBackend

    folder = tempfile.mkdtemp(prefix="kfx-bench-rw-")
    backend = LocalBackend.open(os.path.join(folder, "bench.duckdb"))
    backend.ingest(DB, "Base", pd.DataFrame({"x": range(1, args.rows + 1)}), data_format="json")
    for _ in range(5):   # warm: translation cache, DuckDB's first-run costs
        _read(backend)
    baseline = [_read(backend) for _ in range(20)]
    during, writes = [], []
    for run in range(args.runs):
        started = time.perf_counter()
        writer = threading.Thread(target=backend.query, args=(DB, SLOW_WRITE.format(target=f"W{run}")))
        writer.start()
        while writer.is_alive():
            during.append(_read(backend))
        writer.join()
        writes.append(time.perf_counter() - started)
    backend.close()
    base = statistics.median(baseline)
    print(f"rows {args.rows:,}, runs {args.runs}, {len(during)} reads during writes")
    print("| measurement | seconds |")
    print("|---|---|")
    print(f"| two small reads, nothing else running (median of 20) | {base:.4f} |")
    print(f"| the same reads during a long write: median | {statistics.median(during):.4f} "
          f"({statistics.median(during) / base:.1f}x) |")
    print(f"| ... p99 | {_percentile(during, 0.99):.4f} |")
    print(f"| ... max | {max(during):.4f} |")
    print(f"| the long write (median of {args.runs}) | {statistics.median(writes):.2f} |")


if __name__ == "__main__":
    main()
