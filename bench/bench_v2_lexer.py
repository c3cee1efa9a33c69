"""The v2 result conversion in process with the C lexer (`_speedups/v2_rows.c` + `v2_columns.py`)
against the msgspec path it replaces, on bench_results.py's body.

python bench/bench_v2_lexer.py [--rows 100000,500000] [--runs 5]

`v2_result.frame_from_v2_stream` over the body held in memory (GC paused, as ClusterBackend runs
it), the two paths interleaved in one process (the lexer taken away by `_speedups._LOADED`):
medians of CPU (time.process_time) and wall time, and the median peak RSS growth of one call in a
forked child (bench_results.peak_in_child). Checks that both give the same frame.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bench_results import peak_in_child, response


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,500000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    import pandas as pd

    from kfx_notebook import _speedups, dataframes, v2_result

    lexer = _speedups.load("v2_rows")
    if lexer is None:
        raise SystemExit("kfx_notebook._speedups.v2_rows is not built: python setup.py build_ext --inplace")
    print(f"# python {sys.version.split()[0]}, runs={args.runs}, load average {os.getloadavg()[0]:.2f} at the start")
    print("| rows | msgspec CPU s | lexer CPU s | CPU ratio | msgspec wall s | lexer wall s | msgspec peak MB | lexer peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in [int(r) for r in args.rows.split(",")]:
        body = response(rows)

        def run(body=body):
            with dataframes._gc_paused():
                return v2_result.frame_from_v2_stream(io.BytesIO(body).read)[0]

        paths = {"msgspec": None, "lexer": lexer}
        frames = {}
        for name, module in paths.items():
            _speedups._LOADED["v2_rows"] = module
            frames[name] = run()
        pd.testing.assert_frame_equal(frames["lexer"], frames["msgspec"], check_exact=True)
        del frames
        cpu, wall, peak = ({name: [] for name in paths} for _ in range(3))
        for _ in range(args.runs):
            for name, module in paths.items():
                _speedups._LOADED["v2_rows"] = module
                start, start_cpu = time.perf_counter(), time.process_time()
                run()
                cpu[name].append(time.process_time() - start_cpu)
                wall[name].append(time.perf_counter() - start)
                peak[name].append(peak_in_child(run))
        _speedups._LOADED["v2_rows"] = lexer
        m = {k: statistics.median(v) for k, v in cpu.items()}
        w = {k: statistics.median(v) for k, v in wall.items()}
        p = {k: statistics.median(v) for k, v in peak.items()}
        print(f"| {rows:,} | {m['msgspec']:.3f} | {m['lexer']:.3f} | {m['msgspec'] / m['lexer']:.2f}x | "
              f"{w['msgspec']:.3f} | {w['lexer']:.3f} | {p['msgspec']:.0f} | {p['lexer']:.0f} |", flush=True)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
