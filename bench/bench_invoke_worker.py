"""`kfx-notebook invoke` through the library against `--worker` (the real Python worker in a child process).

    python bench/bench_invoke_worker.py --runs 5

Exports nothing: copies tests/golden/products-python beside a fresh .duckdb file with a few rows, then
times `invoke(app, "get_products")` both ways, each call a fresh load (the library path re-imports the
app; the worker path starts an interpreter, indexes, loads and invokes). The worker's environment is
created first (not timed) if the cache has none. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from kfx_notebook.backends import backend_for
    from kfx_notebook.invoke import invoke
    from kfx_notebook.invoke.worker.environment import worker_python

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        connection = f"Data Source=local:{Path(tmp) / 'data.duckdb'}"
        backend = backend_for(connection)
        backend.query("Shop", ".create table Products (Name:string, Category:string, Price:real)")
        backend.ingest("Shop", "Products", b'{"Name":"A","Category":"Bikes","Price":1.5}', data_format="json")
        backend.close()
        app = Path(shutil.copytree(ROOT / "tests/golden/products-python", Path(tmp) / "app"))
        (app / "local.settings.json").write_text(json.dumps({"Values": {"KustoConnectionString": connection}}))
        worker_python(app)
        times = {}
        for worker in (False, True):
            runs = []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = invoke(app, "get_products", route={"category": "Bikes"}, worker=worker)
                runs.append(time.perf_counter() - start)
                assert result.status == 200, result
            times[worker] = statistics.median(runs)
        print(f"library: {times[False]:.3f} s  worker: {times[True]:.3f} s  "
              f"ratio: {times[True] / times[False]:.1f}x  (medians of {args.runs})")


if __name__ == "__main__":
    main()
