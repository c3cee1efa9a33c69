"""`kfx-notebook invoke`: exported apps run with the real azure-functions library, bindings on real backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kfx_notebook.errors import BindingError
from kfx_notebook.export.command import export_notebook
from kfx_notebook.invoke import invoke

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def world(tmp_path):
    """A .duckdb file with Products/Orders/Cheap, and the products + report notebooks exported against it."""
    from kfx_notebook.backends import backend_for

    connection = f"Data Source=local:{tmp_path / 'data.duckdb'}"
    backend = backend_for(connection)
    backend.query("Shop", ".create table Products (Name:string, Category:string, Price:real)")
    backend.query("Shop", ".create table Orders (Id:long, Product:string)")
    backend.query("Shop", ".create table Cheap (Name:string, Rounded:long)")
    backend.ingest("Shop", "Products", b'{"Name":"A","Category":"Bikes","Price":1.5}\n'
                   b'{"Name":"C","Category":"Bikes","Price":3.25}\n{"Name":"B","Category":"Cars","Price":2}',
                   data_format="multijson")
    settings = json.dumps({"IsEncrypted": False, "Values": {"KustoConnectionString": connection}})
    (tmp_path / "local.settings.json").write_text(settings)
    apps = {}
    for name in ("products", "report"):
        app = export_notebook(GOLDEN / f"{name}.ipynb", tmp_path / name)
        (app / "local.settings.json").write_text(settings)
        apps[name] = app
    return {"backend": backend, "apps": apps, "settings": tmp_path / "local.settings.json", "connection": connection}


def test_get_returns_the_rows_the_notebook_cell_showed(world):
    from kfx_notebook.export.notebook import read_notebook
    from kfx_notebook.input_json import rows_json

    from .magic_shell import TestingShell

    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    shell.run_cell(f"%config KustoMagics.settings_file = {str(world['settings'])!r}")
    cells = {c.id: c.source for c in read_notebook(GOLDEN / "products.ipynb")}
    shell.run_cell(cells["route-values"])
    shell.capture(cells["in-products"])
    frame = shell.user_ns["products"]
    assert list(frame["Name"]) == ["A", "C"]
    result = invoke(world["apps"]["products"], "get_products", route={"category": "Bikes"})
    assert result.status == 200 and result.headers["Content-Type"].startswith("application/json")
    assert result.json() == json.loads(rows_json(frame))
    assert result.json()[0]["Tags"] == {"source": "notebook"}  # the {{ }} in the exported KQL reached Kusto as { }


def test_query_string_binding(world):
    result = invoke(world["apps"]["products"], "get_expensive", query={"minPrice": "2"})
    assert [r["Name"] for r in result.json()] == ["B", "C"]
    with pytest.raises(BindingError, match="--query minPrice=VALUE"):
        invoke(world["apps"]["products"], "get_expensive")


def test_missing_route_value_says_which_flag(world):
    with pytest.raises(BindingError, match="--route category=VALUE"):
        invoke(world["apps"]["products"], "get_products")


def test_post_ingests_rows_a_query_then_finds(world):
    body = json.dumps([{"Id": 7, "Product": "A"}, {"Id": 8, "Product": "B"}])
    result = invoke(world["apps"]["products"], "add_orders", body=body)
    assert result.status == 201
    assert [(r.rows, r.data_format) for r in result.ingested] == [(2, "multijson")]
    frame = world["backend"].query("Shop", "Orders | order by Id asc").frame
    assert frame.to_dict("records") == [{"Id": 7, "Product": "A"}, {"Id": 8, "Product": "B"}]


def test_post_with_a_bad_body_ingests_nothing(world):
    result = invoke(world["apps"]["products"], "add_orders", body="Id,Product\n1,A")
    assert result.status == 400 and result.ingested == []
    assert world["backend"].query("Shop", "Orders | count").frame.iloc[0, 0] == 0


def test_function_cell_runs_on_its_input_and_ingests_its_value(world):
    result = invoke(world["apps"]["report"], "cheap_products", route={"category": "Bikes"})
    assert result.status == 200 and result.json() == [{"Name": "A", "Rounded": 2}]
    assert world["backend"].query("Shop", "Cheap").frame.to_dict("records") == [{"Name": "A", "Rounded": 2}]


def test_output_set_to_a_list_is_sent_as_json_as_the_worker_does(world, tmp_path):
    app = world["apps"]["products"]
    text = (app / "function_app.py").read_text().replace("sink.set(json.dumps(body))", "sink.set(body)")
    (app / "function_app.py").write_text(text)
    result = invoke(app, "add_orders", body='[{"Id": 1, "Product": "2024-01-01T00:00:00.0000000Z"}]')
    assert [(r.rows, r.table) for r in result.ingested] == [(1, "Orders")]
    # json kept: the host re-parses dates only in a string output
    assert world["backend"].query("Shop", "Orders").frame.to_dict("records") == [
        {"Id": 1, "Product": "2024-01-01T00:00:00.0000000Z"}]


def test_unknown_function_lists_the_names(world):
    with pytest.raises(Exception, match="get_expensive, get_products"):
        invoke(world["apps"]["products"], "nope")


def test_cli_invoke_prints_the_http_response(world, capsys):
    from kfx_notebook.cli import main

    assert main(["invoke", str(world["apps"]["products"]), "get_products", "--route", "category=Cars"]) == 0
    out = capsys.readouterr().out
    head, _, body = out.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK") and [r["Name"] for r in json.loads(body)] == ["B"]


def test_connection_string_override_never_printed(world, capsys, tmp_path):
    from kfx_notebook.cli import main

    app = world["apps"]["products"]
    (app / "local.settings.json").write_text(json.dumps({"Values": {}}))
    assert main(["invoke", str(app), "get_products", "--route", "category=Bikes",
                 "--connection-string", world["connection"]]) == 0
    assert main(["invoke", str(app), "get_products", "--route", "category=Bikes"]) == 2
    assert "No setting 'KustoConnectionString'" in capsys.readouterr().err


def test_an_export_left_with_its_placeholder_says_so_instead_of_trying_to_reach_it(tmp_path, capsys):
    from kfx_notebook.cli import main

    app = export_notebook(GOLDEN / "products.ipynb", tmp_path / "app")   # local.settings.json: the placeholder
    assert main(["invoke", str(app), "get_products", "--route", "category=Bikes"]) == 2
    err = capsys.readouterr().err
    assert "still holds a placeholder" in err and "--connection-string" in err and "Cannot reach" not in err


def test_through_kfx_notebook_serve(world):
    from kfx_notebook.server import LocalServer

    with LocalServer(str(Path(world["connection"].split("local:", 1)[1]))) as running:
        app = world["apps"]["products"]
        got = invoke(app, "get_products", route={"category": "Bikes"}, connection_string=running.connection_string)
        assert [r["Name"] for r in got.json()] == ["A", "C"]
        posted = invoke(app, "add_orders", body='{"Id": 9, "Product": "C"}',
                        connection_string=running.connection_string)
        assert posted.status == 201
        from kfx_notebook.backends import backend_for

        found = backend_for(running.connection_string).query("Shop", "Orders | where Id == 9").frame
        assert found.to_dict("records") == [{"Id": 9, "Product": "C"}]


@pytest.fixture
def failing_app(tmp_path):
    """The notebook a user writes (a product by id, then its Name), exported against a database without it."""
    import nbformat

    from kfx_notebook.backends import backend_for

    database = tmp_path / "shop.duckdb"
    backend = backend_for(f"Data Source=local:{database}")
    backend.query("Shop", ".create table Products (ProductID:long, Name:string)")
    backend.ingest("Shop", "Products", b'{"ProductID":1,"Name":"Bike"}', data_format="multijson")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
                    '%%kusto_input one --database Shop --kql-parameters "@pid={pid}"\n'
                    "declare query_parameters(pid:long); Products | where ProductID == pid"),
                nbformat.v4.new_code_cell("# function: describe\none.iloc[0]['Name']")]
    nbformat.write(nb, str(tmp_path / "describe.ipynb"))
    from kfx_notebook.cli import main

    assert main(["export", str(tmp_path / "describe.ipynb"), "--out", str(tmp_path / "app"),
                 "--with-local-settings", str(database)]) == 0
    return tmp_path / "app"


def test_cli_invoke_of_a_function_that_raises_answers_500_and_logs_its_exception(failing_app, capsys):
    from kfx_notebook.cli import main

    assert main(["invoke", str(failing_app), "describe", "--route", "pid=1"]) == 0
    capsys.readouterr()
    assert main(["invoke", str(failing_app), "describe", "--route", "pid=77"]) == 1  # as any non-2xx answer
    captured = capsys.readouterr()
    assert captured.out == "HTTP/1.1 500 Internal Server Error\n\n\n"  # the host's answer: empty body
    err = captured.err.splitlines()
    assert re.fullmatch(r"Executed 'Functions\.describe' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\)", err[0])
    assert err[1] == "Exception: IndexError: single positional indexer is out-of-bounds"
    assert err[2] == "Stack: Traceback (most recent call last):"
    # the user's frames first (the host's — kfx-notebook's — cut), then what they called, then the exception
    assert err[3] == f'  File "{failing_app / "function_app.py"}", line {_line(failing_app, "iloc")}, in describe'
    assert err[4].strip() == "_result = one.iloc[0]['Name']"
    assert "kfx_notebook" not in captured.err and "pandas" in captured.err
    assert "****" not in captured.err  # the exported settings' "python", "true" are no secrets: paths stay whole
    assert err[-1] == "IndexError: single positional indexer is out-of-bounds"


def test_a_function_that_raises_ingests_nothing_and_its_message_is_scrubbed(world, capsys):
    from kfx_notebook.cli import main

    app = world["apps"]["products"]
    secret = "Data Source=local:/nowhere;Password=s3cret-pw"
    settings = json.loads((app / "local.settings.json").read_text())
    settings["Values"]["OtherConnection"] = secret
    (app / "local.settings.json").write_text(json.dumps(settings))
    text = (app / "function_app.py").read_text()
    assert "    return func.HttpResponse(status_code=201)\n" in text  # after sink.set: an output set, then raise
    (app / "function_app.py").write_text(text.replace(
        "    return func.HttpResponse(status_code=201)\n",
        "    raise RuntimeError(json.load(open('local.settings.json'))['Values']['OtherConnection'])\n"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(app)
        result = invoke(app, "add_orders", body='[{"Id": 1, "Product": "A"}]')
        assert (result.status, result.headers, result.body, result.ingested) == (500, {}, b"", [])
        assert result.failure.message == "RuntimeError: Data Source=local:/nowhere;Password=****"
        assert main(["invoke", str(app), "add_orders", "--body", '[{"Id": 1, "Product": "A"}]']) == 1
    err = capsys.readouterr().err
    assert "Exception: RuntimeError: Data Source=local:/nowhere;Password=****" in err and "s3cret" not in err
    assert world["backend"].query("Shop", "Orders | count").frame.iloc[0, 0] == 0


def _line(app: Path, text: str) -> int:
    return next(n for n, line in enumerate((app / "function_app.py").read_text().splitlines(), 1) if text in line)


# function cells whose value is a str: a sentence, a number written as text, and JSON text
TEXT_CELLS = {
    "describe": "f\"{one.iloc[0]['Name']} costs {one.iloc[0]['Cost']}\"",
    "cost": "str(one.iloc[0]['Cost'])",
    "as_json": "import json\njson.dumps({'name': one.iloc[0]['Name'], 'cost': one.iloc[0]['Cost']})",
    "records": "one.to_json(orient='records')",
}
INPUT_CELL = ('%%kusto_input one --database Shop --kql-parameters "@pid={pid}"\n'
              "declare query_parameters(pid:long); Products | where ProductID == pid")


def text_notebook(folder: Path) -> tuple[Path, Path]:
    """(notebook, database): a product by id and the TEXT_CELLS over it, saved with nbformat."""
    import nbformat

    from kfx_notebook.backends import backend_for

    database = folder / "shop.duckdb"
    backend = backend_for(f"Data Source=local:{database}")
    backend.query("Shop", ".create table Products (ProductID:long, Name:string, Cost:real)")
    backend.ingest("Shop", "Products", b'{"ProductID":1,"Name":"Kiwi","Cost":2.0}', data_format="multijson")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(INPUT_CELL),
                *(nbformat.v4.new_code_cell(f"# function: {name}\n{code}") for name, code in TEXT_CELLS.items())]
    nbformat.write(nb, str(folder / "text.ipynb"))
    return folder / "text.ipynb", database


def _notebook_values(database: Path, folder: Path) -> dict[str, object]:
    """What each TEXT_CELLS cell evaluates to in the notebook (pid = 1)."""
    from .magic_shell import TestingShell

    settings = folder / "notebook.settings.json"
    settings.write_text(json.dumps({"Values": {"KustoConnectionString": f"Data Source=local:{database}"}}))
    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    shell.run_cell(f"%config KustoMagics.settings_file = {str(settings)!r}")
    shell.run_cell("pid = 1")
    shell.capture(INPUT_CELL)
    return {name: shell.capture(f"# function: {name}\n{code}")[0] for name, code in TEXT_CELLS.items()}


def test_a_function_whose_value_is_a_str_answers_it_as_text_and_json_text_as_json(tmp_path, capsys):
    from kfx_notebook.cli import main

    notebook, database = text_notebook(tmp_path)
    shown = _notebook_values(database, tmp_path)
    assert shown["describe"] == "Kiwi costs 2.0" and shown["cost"] == "2.0"
    assert main(["export", str(notebook), "--out", str(tmp_path / "app"), "--with-local-settings", str(database)]) == 0
    capsys.readouterr()
    answers = {}
    for name in TEXT_CELLS:
        assert main(["invoke", str(tmp_path / "app"), name, "--route", "pid=1"]) == 0
        head, _, body = capsys.readouterr().out.partition("\n\n")
        answers[name] = (head.split("\n"), body.removesuffix("\n"))
    text = ["HTTP/1.1 200 OK", "Content-Type: text/plain; charset=utf-8"]
    as_json = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
    # the str the notebook cell shows is the body: text, unless it holds a JSON object or array
    assert answers == {"describe": (text, "Kiwi costs 2.0"), "cost": (text, "2.0"),
                       "as_json": (as_json, shown["as_json"]), "records": (as_json, shown["records"])}
    assert json.loads(answers["as_json"][1]) == {"name": "Kiwi", "cost": 2.0}
    assert json.loads(answers["records"][1]) == [{"ProductID": 1, "Name": "Kiwi", "Cost": 2.0}]


def test_an_as_json_input_reaches_the_exported_function_as_the_str_the_notebook_cell_had(tmp_path, capsys):
    # the binding hands a Python function a str; --as json shows the notebook that str, and the export
    # must not turn it into a DataFrame (json.loads(one) would fail there)
    import nbformat

    from kfx_notebook.backends import backend_for
    from kfx_notebook.cli import main

    from .magic_shell import TestingShell

    database = tmp_path / "shop.duckdb"
    backend_for(f"Data Source=local:{database}").query(
        "Shop", ".set-or-append Products <| datatable(ProductID:long, Name:string)[1, 'Kiwi', 2, 'Fig']")
    cells = ["%%kusto_input rows --database Shop --as json\nProducts | order by ProductID asc",
             "# function: names\nimport json\n[row['Name'] for row in json.loads(rows)]"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(nb, str(tmp_path / "names.ipynb"))
    settings = tmp_path / "notebook.settings.json"
    settings.write_text(json.dumps({"Values": {"KustoConnectionString": f"Data Source=local:{database}"}}))
    shell = TestingShell()
    shell.run_cell("%load_ext kfx_notebook")
    shell.run_cell(f"%config KustoMagics.settings_file = {str(settings)!r}")
    shell.capture(cells[0])
    assert isinstance(shell.user_ns["rows"], str)
    shown = shell.capture(cells[1])[0]
    assert main(["export", str(tmp_path / "names.ipynb"), "--out", str(tmp_path / "app"),
                 "--with-local-settings", str(database)]) == 0
    capsys.readouterr()
    assert main(["invoke", str(tmp_path / "app"), "names"]) == 0
    head, _, body = capsys.readouterr().out.partition("\n\n")
    assert head.startswith("HTTP/1.1 200 OK") and json.loads(body) == shown == ["Kiwi", "Fig"]
