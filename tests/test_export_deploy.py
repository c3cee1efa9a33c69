"""Exports a user would deploy (issue 14 point 1): setup commands in a database script, not functions; no dry
runs; one route per function; failed cells and host-refused templates refused unless --force; unsaved notebooks
told to save; requirements that install on every Python the worker supports; --with-local-settings pointing the
app at the notebook's database file; missing optional parts named by their extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kfx_notebook.errors import KfxError
from kfx_notebook.export.command import build, export_notebook
from kfx_notebook.export.notebook import Cell

from .test_export import GOLDEN

ROWS = '[{"ProductID": 1, "Name": "Apple"}]'
NOTEBOOK = [   # (cell id, source): what a new user's notebook holds, with no function cells
    ("create", "%%kusto_input created --database Shop\n.create-merge table Products (ProductID:long, Name:string)"),
    ("mapping", ("%%kusto_input mapped --database Shop\n.create-or-alter table Products ingestion json mapping "
                "'ProductsMap' '[{\"column\":\"ProductID\",\"path\":\"$.id\"},{\"column\":\"Name\",\"path\":\"$.n\"}]'")),
    ("function", ("%%kusto_input fn --database Shop\n"
                 ".create-or-alter function ByName(name:string) { Products | where Name == name }")),
    ("tables", "%%kusto_input tables --database Shop\n.show tables"),
    ("seed-1", f"%%kusto_output --database Shop --table-name Products\n{ROWS}"),
    ("seed-2", f"%%kusto_output --database Shop --table-name Products\n{ROWS}"),
    ("mapped", f"%%kusto_output --database Shop --table-name Products --mapping-ref ProductsMap\n{ROWS}"),
    ("dry", f"%%kusto_output --database Shop --table-name Products --dry-run\n{ROWS}"),
    ("name", 'name = "Apple"'),
    ("by-name", ('%%kusto_input product --database Shop --kql-parameters "@name={name}"\n'
                "declare query_parameters(name:string);\nByName(name)")),
    ("audit", "%%kusto_input audit --database Audit\n.create table Log (At:datetime)"),
]


def cells(rows=NOTEBOOK, errors=None):
    errors = errors or {}
    return [Cell(cid, source, (), i, errors.get(cid)) for i, (cid, source) in enumerate(rows, start=1)]


def test_setup_commands_go_into_database_scripts_in_notebook_order_not_functions():
    app, files, _ = build(cells(), "shop.ipynb")
    names = [f.name for f in app.functions]
    assert names == ["get_tables", "get_product", "add_products", "add_products_with_products_map"]
    assert [c.cell_id for c in app.setup] == ["create", "mapping", "function", "audit"]
    shop = files["setup-Shop.kql"]
    assert shop.startswith(".execute database script with (ThrowOnErrors=true) <|\n")
    at = [shop.index(text) for text in (".create-merge table Products", ".create-or-alter table Products ingestion",
                                        ".create-or-alter function ByName(name:string) { Products")]
    assert at == sorted(at) and '// cell "create"' in shop
    assert ".create table Log" in files["setup-Audit.kql"] and ".create table Log" not in shop
    assert "setup-Shop.kql" in files["README.md"] and ".execute database script" in files["README.md"]
    one = build(cells(NOTEBOOK[:4]), "shop.ipynb")[1]
    assert "setup.kql" in one and not any(k.startswith("setup-") for k in one)


def test_a_notebook_of_setup_commands_only_says_there_is_no_function():
    from kfx_notebook.errors import BindingError

    with pytest.raises(BindingError, match=r"only setup commands \(3\).*no function to export"):
        build(cells(NOTEBOOK[:3]), "shop.ipynb")


def test_no_dry_run_and_each_function_has_its_own_route_and_a_name_that_says_what_it_does():
    app, _files, _ = build(cells(), "shop.ipynb")
    routes = [f.route for f in app.functions]
    assert len(set(routes)) == len(routes)
    assert routes == ["tables", "product/{name}", "add-products", "add-products-with-products-map"]
    by = {f.name: f for f in app.functions}
    assert by["add_products"].cell_ids == ("seed-1", "seed-2")            # the same binding twice is one function
    assert by["add_products_with_products_map"].outputs[0].mapping_ref == "ProductsMap"
    assert not any("dry" in f.cell_ids for f in app.functions)


def test_a_route_shared_by_two_function_cells_is_refused_or_made_unique():
    rows = [("a", "%%kusto_input rows --database D\nT"), ("f1", "# function: report\nrows"),
            ("f2", "# function: report\nrows")]
    app = build(cells(rows), "n.ipynb")[0]
    assert [f.route for f in app.functions] == ["report", "report-2"]


def test_a_cell_that_failed_when_last_run_is_refused_unless_forced():
    failed = cells(errors={"by-name": "KustoServiceError", "name": "NameError"})
    with pytest.raises(KfxError, match=r"cell by-name: its last run failed \(KustoServiceError\)") as info:
        build(failed, "shop.ipynb")
    assert "cell name:" not in str(info.value)      # a cell that is not exported does not matter
    assert "--force" in str(info.value)
    app, files, _ = build(failed, "shop.ipynb", force=True)
    assert any("by-name" in note for note in app.notes) and "function_app.py" in files


def test_a_template_the_host_would_refuse_is_refused_unless_forced():
    rows = [("pct", '%%kusto_input pct --database Shop\nProducts | extend Label = strcat(Name, " 50%")')]
    with pytest.raises(KfxError, match="cell pct: kqlCommand: '%' kept as written") as info:
        build(cells(rows), "shop.ipynb")
    assert "closing" in str(info.value)
    assert build(cells(rows), "shop.ipynb", force=True)[0].functions
    ok = [("s", "%%kusto_input s --database %DB%\nProducts")]     # a %SETTING% pair is what the host expects
    assert build(cells(ok), "shop.ipynb")[0].problems == ()


def test_failed_cells_are_read_from_the_saved_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%%kusto_input rows --database D\nT | take 1")
    cell.outputs = [nbformat.v4.new_output("error", ename="KustoServiceError", evalue="bad", traceback=[])]
    nb.cells = [cell]
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    with pytest.raises(KfxError, match="its last run failed"):
        export_notebook(tmp_path / "n.ipynb", tmp_path / "app")
    export_notebook(tmp_path / "n.ipynb", tmp_path / "app", force=True)
    assert (tmp_path / "app" / "function_app.py").is_file()


@pytest.mark.parametrize("name", ["Untitled.ipynb", "Untitled3.ipynb"])
def test_kusto_export_in_an_unsaved_notebook_says_to_save_it(tmp_path, monkeypatch, name):
    from .magic_shell import TestingShell

    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, str(tmp_path / name))   # what Jupyter writes for a new notebook: no cells yet
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / name))
    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    _error, shown = shell.failure(f"%kusto_export --out {tmp_path / 'app'}")
    assert f"{name} is not saved under a name yet" in shown and "Save the notebook" in shown
    assert "Traceback" not in shown and "Add binding cells" not in shown


def test_kusto_export_of_a_saved_notebook_without_the_cells_run_says_to_save(tmp_path, monkeypatch):
    from .magic_shell import TestingShell

    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "shop.ipynb"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "shop.ipynb"))
    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    _error, shown = shell.failure(f"%kusto_export --out {tmp_path / 'app'}")
    assert "as saved has no %%kusto_input" in shown and "Save the notebook (Ctrl+S)" in shown


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_requirements_install_on_every_python_the_worker_supports(tmp_path, python):
    files = build(cells([("a", "%%kusto_input rows --database D\nT"), ("f", "# function: f\nrows")]), "n.ipynb")[1]
    (tmp_path / "requirements.txt").write_text(files["requirements.txt"])
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--python-version", python,
                           "--only-binary=:all:", "-q", "-d", str(tmp_path / "wheels"), "-r",
                           str(tmp_path / "requirements.txt")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    wheels = sorted(p.name for p in (tmp_path / "wheels").iterdir())
    functions = next(w for w in wheels if w.startswith("azure_functions-"))
    assert functions.startswith("azure_functions-2." if python == "3.13" else "azure_functions-1.")
    assert any(w.startswith("pandas-") for w in wheels)


def _shop_database(path: Path) -> None:
    from kfx_notebook.backends import backend_for

    backend = backend_for(f"Data Source=local:{path}")
    backend.query("Shop", ".create table Products (ProductID:long, Name:string)")
    backend.ingest("Shop", "Products", b'{"ProductID":1,"Name":"Apple"}\n{"ProductID":2,"Name":"Fig"}',
                   data_format="multijson")
    backend.close()


def _notebook(folder: Path, connection: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%%kusto_input products --database Shop\nProducts | order by ProductID asc")]
    nbformat.write(nb, str(folder / "shop.ipynb"))
    (folder / "local.settings.json").write_text(json.dumps({"Values": {"KustoConnectionString": connection}}))
    return folder / "shop.ipynb"


def test_with_local_settings_file_points_the_app_at_the_notebooks_data(tmp_path):
    from kfx_notebook.backends import clear_cache
    from kfx_notebook.invoke import invoke

    _shop_database(tmp_path / "shop.duckdb")
    clear_cache()
    notebook = _notebook(tmp_path, "Data Source=local")       # the notebook ran in memory, then saved a file
    out = export_notebook(notebook, tmp_path / "app", with_local_settings=str(tmp_path / "shop.duckdb"))
    values = json.loads((out / "local.settings.json").read_text())["Values"]
    assert values["KustoConnectionString"] == f"Data Source=local:{tmp_path / 'shop.duckdb'}"
    result = invoke(out, "get_products")
    assert result.status == 200 and [r["Name"] for r in json.loads(result.body)] == ["Apple", "Fig"]
    clear_cache()


def test_with_local_settings_makes_a_relative_database_path_absolute_and_warns_about_memory(tmp_path, capsys):
    from kfx_notebook.cli import main

    folder = tmp_path / "nb"
    folder.mkdir()
    notebook = _notebook(folder, "Data Source=local:shop.duckdb")
    out = export_notebook(notebook, tmp_path / "app", with_local_settings=True)
    values = json.loads((out / "local.settings.json").read_text())["Values"]
    assert values["KustoConnectionString"] == f"Data Source=local:{folder / 'shop.duckdb'}"
    _notebook(folder, "Data Source=local")
    assert main(["export", str(notebook), "--out", str(tmp_path / "app2"), "--with-local-settings"]) == 0
    assert "in-memory database" in capsys.readouterr().out
    assert main(["export", str(notebook), "--out", str(tmp_path / "app3"), "--with-local-settings",
                 str(tmp_path / "missing.duckdb")]) == 2
    assert "no database file at" in capsys.readouterr().err


def test_nbconvert_refuses_to_replace_a_folder_unless_forced(tmp_path):
    from kfx_notebook.export.nbconvert_exporter import KustoFunctionsExporter

    nb = nbformat.read(str(GOLDEN / "products.ipynb"), as_version=4)
    resources = {"metadata": {"name": "products", "path": str(tmp_path)}}
    KustoFunctionsExporter().from_notebook_node(nb, resources)
    (tmp_path / "products-functions" / "mine.py").write_text("# a file the user added")
    with pytest.raises(KfxError, match="not empty"):
        KustoFunctionsExporter().from_notebook_node(nb, resources)
    assert (tmp_path / "products-functions" / "mine.py").is_file()
    KustoFunctionsExporter(force=True).from_notebook_node(nb, resources)
    assert not (tmp_path / "products-functions" / "mine.py").exists()


BLOCK = "import sys; sys.modules['azure.functions'] = None; from kfx_notebook.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("argv", [["demo", "--out", "demo-app"], ["invoke", "APP", "get_products"]])
def test_a_missing_optional_part_is_one_line_naming_the_extra(tmp_path, argv):
    if argv[0] == "invoke":
        argv[1] = str(export_notebook(GOLDEN / "products.ipynb", tmp_path / "app"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", BLOCK, *argv], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "kfx-notebook[functions]"' in lines[0], done.stderr
    assert "ModuleNotFoundError" not in done.stderr
