"""Export to a Python v2 app: golden files, import with the real azure-functions library, safety."""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kfx_notebook.bindings import parse_cell
from kfx_notebook.errors import BindingError, KfxError, SettingError
from kfx_notebook.export.command import build, export_notebook
from kfx_notebook.export.notebook import Cell, read_notebook

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KFX_UPDATE_GOLDEN") == "1"


def rendered(notebook: str, language: str) -> dict[str, str]:
    cells = read_notebook(GOLDEN / notebook)
    return build(cells, notebook, language=language)[1]


def check_golden(files: dict[str, str], folder: Path) -> None:
    """Every generated file equals its reviewed golden copy (KFX_UPDATE_GOLDEN=1 rewrites them)."""
    if UPDATE:
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
    stored = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert stored == set(files), "golden folder and export differ in files"
    for rel, text in files.items():
        assert (folder / rel).read_text(encoding="utf-8") == text, f"{rel} differs from its golden copy"


@pytest.mark.parametrize("notebook", ["products.ipynb", "report.ipynb"])
def test_python_export_matches_golden(notebook):
    check_golden(rendered(notebook, "python"), GOLDEN / f"{notebook.split('.')[0]}-python")


def load(app_dir: Path):
    import azure.functions as func

    spec = importlib.util.spec_from_file_location(f"app_{uuid.uuid4().hex}", app_dir / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, func.FunctionApp)
    return {fn.get_function_name(): fn for fn in module.app.get_functions()}


def notebook_bindings(notebook: str) -> dict[str, dict]:
    """What the notebook's binding cells say, as function.json entries, by binding cell id."""
    from kfx_notebook.export.notebook import _magic

    out = {}
    for cell in read_notebook(GOLDEN / notebook):
        found = _magic(cell)
        if found:
            out[cell.id] = parse_cell(*found, cell_id=cell.id).binding.to_function_json()
    return out


def test_exported_app_imports_and_library_bindings_equal_the_notebook(tmp_path):
    from kfx_notebook.expressions import unescape_template

    export_notebook(GOLDEN / "products.ipynb", tmp_path / "app")
    functions = load(tmp_path / "app")
    assert sorted(functions) == ["add_orders", "get_expensive", "get_products"]
    expected = notebook_bindings("products.ipynb")
    cell_of = {"get_products": "in-products", "get_expensive": "in-expensive", "add_orders": "out-orders"}
    for name, fn in functions.items():
        entries = json.loads(fn.get_function_json())["bindings"]
        kusto = [b for b in entries if b["type"] == "kusto"]
        assert len(kusto) == 1
        got = dict(kusto[0])
        got["direction"] = got["direction"].lower()
        if "kqlCommand" in got:  # the export escapes braces; the host unescapes them back
            assert "{{" in got["kqlCommand"] or name != "get_products"
            got["kqlCommand"] = unescape_template(got["kqlCommand"])
        assert got == expected[cell_of[name]]
        trigger = fn.get_trigger().get_dict_repr()
        assert trigger["route"] == {"get_products": "products/{category}", "get_expensive": "expensive",
                                    "add_orders": "add-orders"}[name]


def test_query_expression_stays_a_query_binding_not_a_route(tmp_path):
    export_notebook(GOLDEN / "products.ipynb", tmp_path / "app")
    text = (tmp_path / "app" / "function_app.py").read_text()
    assert 'kqlParameters="@minPrice={Query.minPrice}"' in text
    assert "{minPrice}" not in text.replace("{Query.minPrice}", "")


def test_generated_python_compiles_and_passes_ruff(tmp_path):
    for notebook in ("products.ipynb", "report.ipynb"):
        out = export_notebook(GOLDEN / notebook, tmp_path / notebook)
        py_compile.compile(str(out / "function_app.py"), doraise=True)
        ruff = Path(sys.executable).with_name("ruff")
        done = subprocess.run([str(ruff), "check", str(out)], check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_no_notebook_leftovers_in_exported_code():
    text = rendered("report.ipynb", "python")["function_app.py"]
    for leftover in ("get_ipython", "%%kusto", "%load_ext", "leftover", "42", "kfx_notebook"):
        assert leftover not in text
    reqs = rendered("report.ipynb", "python")["requirements.txt"].splitlines()
    assert "pandas" in reqs and "azure-functions>=1.26,<3" in reqs
    assert not any(line.startswith("azure-functions-worker") for line in reqs)
    assert "math" not in reqs  # stdlib is not a requirement


def test_project_files_settings_and_bundle():
    files = rendered("products.ipynb", "python")
    host = json.loads(files["host.json"])
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle.Preview",
                                       "version": "[4.*, 5.0.0)"}
    values = json.loads(files["local.settings.json"])["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsFeatureFlags"] == "EnableWorkerIndexing"
    assert "AzureWebJobsStorage" in values and values["KustoConnectionString"].startswith("Data Source=https://<")
    assert "local.settings.json" in files[".gitignore"] and ".venv" in files[".gitignore"]
    assert "Viewer" in files["README.md"] and "Ingestor" in files["README.md"] and "func start" in files["README.md"]


def test_export_is_deterministic(tmp_path):
    a = export_notebook(GOLDEN / "report.ipynb", tmp_path / "a")
    b = export_notebook(GOLDEN / "report.ipynb", tmp_path / "b")
    for path in a.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()


def test_refuses_a_non_empty_target_without_force(tmp_path):
    out = tmp_path / "app"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(KfxError, match="not empty"):
        export_notebook(GOLDEN / "products.ipynb", out)
    assert (out / "mine.txt").read_text() == "keep me"
    export_notebook(GOLDEN / "products.ipynb", out, force=True)
    assert not (out / "mine.txt").exists() and (out / "function_app.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["app"]  # no temporary folder left behind


def test_never_writes_a_secret(tmp_path):
    secret = "s3cr3t-AppKey-value"
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    (nb_dir / "products.ipynb").write_bytes((GOLDEN / "products.ipynb").read_bytes())
    (nb_dir / "local.settings.json").write_text(json.dumps({"Values": {
        "KustoConnectionString": f"Data Source=https://c.kusto.windows.net;Fed=True;AppClientId=x;AppKey={secret}"}}))
    for flag in (False, True):
        out = export_notebook(nb_dir / "products.ipynb", tmp_path / f"app-{flag}", with_local_settings=flag)
        for path in out.rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(encoding="utf-8"), path
        assert "<cluster>" in (out / "local.settings.json").read_text()


def test_with_local_settings_writes_the_local_endpoint(tmp_path):
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    (nb_dir / "products.ipynb").write_bytes((GOLDEN / "products.ipynb").read_bytes())
    (nb_dir / "local.settings.json").write_text(json.dumps({"Values": {
        "KustoConnectionString": "Data Source=http://127.0.0.1:8080;Fed=False"}}))
    out = export_notebook(nb_dir / "products.ipynb", tmp_path / "app", with_local_settings=True)
    values = json.loads((out / "local.settings.json").read_text())["Values"]
    assert values["KustoConnectionString"] == "Data Source=http://127.0.0.1:8080;Fed=False"


def cells(*sources, tags=None):
    tags = tags or {}
    return [Cell(f"c{i}", s, tuple(tags.get(i, ())), i) for i, s in enumerate(sources, start=1)]


def test_function_cell_reading_a_notebook_variable_is_refused():
    with pytest.raises(BindingError, match="reads 'limit'"):
        build(cells("%%kusto_input rows --database D\nT", "# function: f\nrows[rows.x < limit]"), "n.ipynb")


def test_function_cell_with_magic_is_refused():
    with pytest.raises(BindingError, match="IPython syntax"):
        build(cells("%%kusto_input rows --database D\nT", "# function: f\n%time rows"), "n.ipynb")


def test_names_are_sanitized_and_unique():
    app = build(cells("%%kusto_input rows --database D\nT", "%%kusto_output --database D --table-name 'My Table'",
                      "%%kusto_output --database D --table-name my-table"), "n.ipynb")[0]
    assert [f.name for f in app.functions] == ["get_rows", "add_my_table", "add_my_table_2"]


def test_timer_refuses_route_expressions():
    with pytest.raises(BindingError, match="timer trigger cannot supply"):
        build(cells('%%kusto_input rows --database D --kql-parameters "@a={a}"\ndeclare query_parameters(a:string); T'),
              "n.ipynb", trigger="timer")


def test_timer_export_imports_with_a_timer_trigger(tmp_path):
    from kfx_notebook.export.project import write_project

    files = build(cells("%%kusto_input rows --database D\nT | take 1"), "n.ipynb", trigger="timer")[1]
    functions = load(write_project(files, tmp_path / "app"))
    assert functions["get_rows"].get_trigger().get_dict_repr()["schedule"] == "0 */5 * * * *"


def test_secret_in_generated_text_is_refused():
    from kfx_notebook.export.project import check_no_secrets

    with pytest.raises(SettingError, match="refusing to write x.py") as info:
        check_no_secrets({"x.py": "key = 'abc123'"}, ["abc123"])
    assert "abc123" not in str(info.value)


def test_nbconvert_exporter_writes_next_to_the_notebook(tmp_path):
    import nbformat

    from kfx_notebook.export.nbconvert_exporter import KustoFunctionsExporter

    nb = nbformat.read(str(GOLDEN / "products.ipynb"), as_version=4)
    body, _resources = KustoFunctionsExporter().from_notebook_node(
        nb, {"metadata": {"name": "products", "path": str(tmp_path)}})
    assert body.startswith("<!-- AUTOGENERATED by kfx-notebook") and "products.ipynb" in body.splitlines()[1]
    assert (tmp_path / "products-functions" / "function_app.py").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with pytest.raises(KfxError, match="not empty"):
        KustoFunctionsExporter(out=str(tmp_path / "other")).from_notebook_node(
            nb, {"metadata": {"name": "products", "path": str(tmp_path)}})


def test_cli_export(tmp_path, capsys):
    from kfx_notebook.cli import main

    assert main(["export", str(GOLDEN / "products.ipynb"), "--out", str(tmp_path / "app")]) == 0
    assert (tmp_path / "app" / "function_app.py").is_file()
    assert main(["export", str(GOLDEN / "products.ipynb"), "--out", str(tmp_path / "app")]) == 2
    assert "not empty" in capsys.readouterr().err


def test_kusto_export_magic(tmp_path):
    from .magic_shell import TestingShell

    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    shell.capture(f"%kusto_export --out {tmp_path / 'a'} --notebook {GOLDEN / 'products.ipynb'}")
    assert (tmp_path / "a" / "function_app.py").read_text() == rendered("products.ipynb", "python")["function_app.py"]
    _error, shown = shell.failure(f"%kusto_export --out {tmp_path / 'a'} --notebook {GOLDEN / 'products.ipynb'}")
    assert "not empty" in shown and "Traceback" not in shown


def test_kusto_export_magic_names_a_misspelt_option_as_misspelt(tmp_path):
    from .magic_shell import TestingShell

    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    # argparse would say "the following arguments are required: --out" for --otu
    _error, shown = shell.failure(f"%kusto_export --otu {tmp_path / 'a'} --notebook {GOLDEN / 'products.ipynb'}")
    assert "unknown option '--otu'" in shown and "Did you mean --out?" in shown and "Traceback" not in shown
    assert not (tmp_path / "a").exists()
