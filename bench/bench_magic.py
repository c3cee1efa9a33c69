"""Benchmark: what %%kusto_input adds on top of calling the embedded backend directly.

    python bench/bench_magic.py [--rows 100000] [--runs 15]

Same database, same query, same parameters, one process: (a) LocalBackend.query(...)
directly; (b) the cell `%%kusto_input NAME --kql-parameters "@n={n}" ...` run through a real
IPython InteractiveShell (option parsing, expression resolution, settings lookup, backend
cache, attrs, display line), with stdout discarded. Goal: (b) within 10% or 5 ms of (a),
whichever is larger. Prints medians and the overhead.
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

QUERY = "declare query_parameters(n:long);\nEvents | where Duration > n | summarize c = count() by Host"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    from bench_local import make_frame
    from IPython.core.interactiveshell import InteractiveShell

    from kfx_notebook.backends import backend_for

    os.environ["KustoConnectionString"] = "Data Source=local"
    backend = backend_for("Data Source=local")
    backend.ingest("Bench", "Events", make_frame(args.rows), data_format="dataframe")

    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "kfx_notebook")
    shell.user_ns["n"] = 500
    cell = f'%%kusto_input result --database Bench --kql-parameters "@n={{n}}"\n{QUERY}'

    def direct():
        return backend.query("Bench", QUERY, {"n": "500"}).frame

    def magic():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            outcome = shell.run_cell(cell, store_history=False, silent=True)
        outcome.raise_error()
        return shell.user_ns["result"]

    direct(), magic()  # warm both (translation cache, imports)
    samples = {"direct": [], "magic": []}
    for _ in range(args.runs):  # interleaved, so load on the shared machine hits both alike
        for label, fn in (("direct", direct), ("magic", magic)):
            start = time.perf_counter()
            fn()
            samples[label].append(time.perf_counter() - start)
    d, m = statistics.median(samples["direct"]), statistics.median(samples["magic"])
    allowed = max(0.10 * d, 0.005)
    print(f"rows={args.rows:,} runs={args.runs}")
    print(f"| path | median (ms) |\n|---|---|\n| backend.query directly | {d * 1000:.2f} |\n"
          f"| %%kusto_input | {m * 1000:.2f} |")
    print(f"overhead {1000 * (m - d):.2f} ms ({100 * (m - d) / d:.1f}%); allowed {allowed * 1000:.2f} ms: "
          f"{'within goal' if m - d <= allowed else 'OVER goal'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
