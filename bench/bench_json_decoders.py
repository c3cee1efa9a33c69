"""Row decoders compared on the Rows of bench_results' v2 body: msgspec (what v2_split uses) against
DuckDB's C++ JSON reader (read_json of a chunk file, each row as JSON[]), CPU and wall, one process.

python bench/bench_json_decoders.py [--rows 100000] [--chunk 20000] [--runs 7]

Each row of bench_results (10 columns, one per Kusto type, 1 value in 10 null) is cut into chunks of
--chunk rows, as v2_split hands them on (about 4 MB each). Per chunk, interleaved, medians of --runs
over the sum of the chunks: msgspec.json.decode with the cyclic GC paused (as ClusterBackend runs it)
and enabled; the same plus the transpose to columns (`zip(*rows)`, what ChunkedFrame does next);
DuckDB (a private in-memory instance, external access limited to one temporary directory) reading
the chunk file: rows counted only (the parse), each row as JSON[] (parse + the elements' texts), and
the elements cast as the converters need them, with 1 and 2 threads. CPU is time.process_time
(every thread of the process), so DuckDB's second thread counts in full.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_results import COLUMNS, value  # noqa: E402


def _measure(fn, runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    import duckdb
    import msgspec

    rows = [[value(t, i) for _, t in COLUMNS] for i in range(args.rows)]
    chunks = [json.dumps(rows[i:i + args.chunk]).encode() for i in range(0, args.rows, args.chunk)]
    del rows
    private = tempfile.mkdtemp(prefix="kfx-bench-json-")
    paths = []
    for i, data in enumerate(chunks):
        paths.append(os.path.join(private, f"{i}.json"))
        with open(paths[-1], "wb") as f:
            f.write(data)
    dbs = {}
    for threads in (1, 2):
        db = duckdb.connect(":memory:", config={"threads": str(threads), "temp_directory": private})
        db.execute("SET allowed_directories = $1", [[private]])
        db.execute("SET enable_external_access = false")
        db.execute("SET lock_configuration = true")
        dbs[threads] = db
    source = "read_json('{}', format='array', records=false, columns={{'json': 'JSON[]'}})"
    width = len(COLUMNS)
    elements = ", ".join(f"json[{i}]::VARCHAR" for i in range(1, width + 1))
    casts = ("json[1]::VARCHAR = 'true', TRY_CAST(json[2]::VARCHAR AS INTEGER), TRY_CAST(json[3]::VARCHAR AS BIGINT), "
             "TRY_CAST(json[4]::VARCHAR AS DOUBLE), " + ", ".join(f"json[{i}]::VARCHAR" for i in range(5, width + 1)))

    def duck(threads: int, select: str):
        def run():
            for path in paths:
                dbs[threads].sql(f"SELECT {select} FROM {source.format(path)}").to_arrow_table()
        return run

    def decode(paused: bool, transpose: bool):
        def run():
            enabled = gc.isenabled()
            if paused:
                gc.disable()
            try:
                for data in chunks:
                    decoded = msgspec.json.decode(data)
                    if transpose:
                        columns = list(zip(*decoded))
                        del columns
                    del decoded
            finally:
                if enabled:
                    gc.enable()
        return run

    paths_run = [
        ("msgspec decode, GC paused (today's path)", decode(True, False)),
        ("msgspec decode, GC enabled", decode(False, False)),
        ("msgspec decode + transpose, GC paused", decode(True, True)),
        ("DuckDB read_json, rows counted (the parse alone), 1 thread", duck(1, "count(*)")),
        ("DuckDB read_json, each row as JSON[] texts, 1 thread", duck(1, elements)),
        ("DuckDB read_json, elements cast for the converters, 1 thread", duck(1, casts)),
        ("DuckDB read_json, elements cast for the converters, 2 threads", duck(2, casts)),
    ]
    for _, fn in paths_run:
        fn()  # warm-up
    results = {name: ([], []) for name, _ in paths_run}
    for _ in range(args.runs):
        for name, fn in paths_run:
            wall, cpu = _measure(fn, 1)
            results[name][0].append(wall)
            results[name][1].append(cpu)
    print(f"# {args.rows:,} rows in {len(chunks)} chunks of {args.chunk:,} ({sum(map(len, chunks)) / 2**20:.1f} MB), "
          f"runs={args.runs}, load average {os.getloadavg()[0]:.2f} at the end, duckdb {duckdb.__version__}, "
          f"msgspec {msgspec.__version__}")
    base = statistics.median(results[paths_run[0][0]][1])
    print("| decoder | median wall s | median CPU s | CPU vs today's |")
    print("|---|---|---|---|")
    for name, (walls, cpus) in results.items():
        print(f"| {name} | {statistics.median(walls):.3f} | {statistics.median(cpus):.3f} | "
              f"{statistics.median(cpus) / base:.2f}x |")
    shutil.rmtree(private, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
