"""`kfx-notebook demo`: the whole journey, headless and offline, on the embedded database.

Builds the sample Products database, runs the binding cells of the teaching notebooks in a
real IPython shell (the magics, exactly as in Jupyter), exports the app cells to a Functions
project in --out, invokes its functions locally with their bindings fulfilled, and prints
each step with its timing. The project keeps its database beside it (`products.duckdb`,
named by its local.settings.json), so `kfx-notebook invoke` works on it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .display import clip

# Run, not exported: the database and its stored function (notebook 1).
SETUP_CELLS = [
    "%%kusto_input created --database ProductsDB\n"
    ".create-merge table Products (ProductID:long, Name:string, Cost:real)",
    "%%kusto_output --database ProductsDB --table-name Products\n"
    '[{"ProductID": 1, "Name": "Apple", "Cost": 1.25}, {"ProductID": 2, "Name": "Pear", "Cost": 0.8},\n'
    ' {"ProductID": 3, "Name": "Fig", "Cost": 2.5}, {"ProductID": 4, "Name": "Kiwi", "Cost": 0.6}]',
    "%%kusto_input fn --database ProductsDB\n"
    ".create-or-alter function GetProductsByName(name:string) { Products | where Name == name }",
]
# Run and exported: the two shapes of the official samples (GET by route, POST of the body).
APP_CELLS = [
    "productId = 2",
    '%%kusto_input product --database ProductsDB --kql-parameters "@productId={productId}"\n'
    "declare query_parameters(productId:long);\nProducts | where ProductID == productId",
    'name = "Fig"',
    '%%kusto_input byName --database ProductsDB --kql-parameters "@name={name}"\n'
    "declare query_parameters(name:string);\nGetProductsByName(name)",
    "%%kusto_output addProducts --database ProductsDB --table-name Products\n"
    '[{"ProductID": 5, "Name": "Lime", "Cost": 0.5}]',
]
APP_SETTING = "Data Source=local:products.duckdb"   # relative to the app folder


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="./kfx-demo-app",
                        help="where to export the function app (default: ./kfx-demo-app; an earlier demo "
                             "there is replaced, anything else is refused unless --force)")
    parser.add_argument("--force", action="store_true", help="replace --out even if it holds other files")


def run(args: argparse.Namespace) -> int:
    from .errors import KfxError
    from .extras import require

    require("azure.functions")   # the demo ends by invoking the app: say so now, not after building everything
    from .export.project import is_earlier_export

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not (args.force or is_earlier_export(out)):
        raise KfxError(f"{out} is not empty and is not an earlier export", hint="Choose another --out, or --force.")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kfx-demo-") as work:
        database = Path(work) / "products.duckdb"
        shell = _shell(f"Data Source=local:{database}")
        print("kfx-notebook demo: the Kusto bindings, offline\n")
        for cell in SETUP_CELLS + APP_CELLS:
            _cell(shell, cell)
        functions = step("export the app cells (Python v2 model)", lambda: _export(out))
        _release(database)
        shutil.copyfile(database, out / "products.duckdb")
    _invoke(out, functions)
    print(f"\ndone in {time.perf_counter() - started:.1f} s. Try it yourself:\n"
          f"  kfx-notebook invoke {out} get_product --route productId=2\n"
          f"  kfx-notebook invoke {out} add_products --body '{{\"ProductID\": 9, \"Name\": \"Nut\", \"Cost\": 1}}'\n"
          "and the notebooks in notebooks/ for the whole story.")
    return 0


def step(label: str, action):
    started = time.perf_counter()
    value = action()
    print(f"[{time.perf_counter() - started:6.3f} s] {label}")
    return value


def _shell(connection: str):
    from IPython.core.interactiveshell import InteractiveShell

    from .backends import clear_cache

    os.environ["KustoConnectionString"] = connection   # the setting the cells' bindings name
    clear_cache()
    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    if "KustoMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "kfx_notebook")
    return shell


def _cell(shell, source: str) -> None:
    """Run one cell as Jupyter would; show the magic's own summary line."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = shell.run_cell(source, store_history=False)
    if result.error_in_exec is not None or result.error_before_exec is not None:
        print(out.getvalue() + err.getvalue())
        result.raise_error()
    first = source.splitlines()[0]
    summary = out.getvalue().splitlines()[0] if out.getvalue().strip() else ""
    print(f"[{time.perf_counter() - started:6.3f} s] {clip(first, 78)}" + (f"\n           -> {summary}" if summary else ""))


def _export(out: Path) -> list[str]:
    from .export.command import build
    from .export.notebook import cells_from_sources
    from .export.project import write_project
    from .settings import Settings

    settings = Settings(None, {"KustoConnectionString": APP_SETTING})
    app, files, _secrets = build(cells_from_sources(APP_CELLS), "demo.ipynb", with_local_settings=True,
                                 settings=settings)
    write_project(files, out, force=True)
    return [f.name for f in app.functions]


def _release(database: Path) -> None:
    """Close the demo's handle on the database file so it can be copied whole."""
    from .backends import clear_cache
    from .backends.local import LocalBackend

    LocalBackend.open(str(database)).close()
    clear_cache()


def _invoke(out: Path, functions: list[str]) -> None:
    from .invoke import invoke

    calls = {
        "get_product": dict(route={"productId": "2"}),
        "get_by_name": dict(route={"name": "Fig"}),
        "add_products": dict(body=json.dumps([{"ProductID": 6, "Name": "Nut", "Cost": 1.1}])),
    }
    for name in functions:
        kwargs = calls.get(name, {})
        result = step(f"invoke {name} {kwargs or ''}".rstrip(), lambda n=name, k=kwargs: invoke(out, n, **k))
        body = result.body.decode() if isinstance(result.body, bytes) else str(result.body or "")
        print(f"           -> HTTP {result.status} {clip(' '.join(body.split()), 100)}".rstrip())
        for receipt in result.ingested:
            print(f"           -> ingested {receipt.rows} row(s) into {receipt.table} ({receipt.data_format}, "
                  f"{receipt.status})")
