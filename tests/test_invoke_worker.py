"""`invoke --worker`: the real Python worker (azure-functions-runtime) hosted by kfx-notebook, and the library
path held to the same answers.

The worker's environment (Python >= 3.13, the app's requirements.txt plus the worker library) is created on
first use in ~/.cache/kfx-notebook (or $XDG_CACHE_HOME) and reused by later sessions; building it needs PyPI
once. Every golden Python app runs both ways and the two answers are diffed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kfx_notebook.errors import KfxError
from kfx_notebook.invoke import invoke
from kfx_notebook.invoke.library import load_app

GOLDEN = Path(__file__).parent / "golden"
TABLES = {
    "Products": "(Name:string, Category:string, Price:real)",
    "Orders": "(Id:long, Product:string)",
    "Cheap": "(Name:string, Rounded:long)",
    "Events": "(Id:long, When:string, Note:string)",
}
PRODUCTS = (b'{"Name":"A","Category":"Bikes","Price":1.5}\n{"Name":"C","Category":"Bikes","Price":3.25}\n'
            b'{"Name":"B","Category":"Cars","Price":2}')
# a request body per output table, for the POST functions of the golden apps
BODIES = {"Orders": [{"Id": 7, "Product": "A"}, {"Id": 8, "Product": "B"}],
          "Cheap": [{"Name": "Z", "Rounded": 1}],
          "Products": [{"Name": "D", "Category": "Bikes", "Price": 0.5}]}
ROUTE_VALUE, QUERY_VALUE = "Bikes", "2"

pytestmark = pytest.mark.timeout(900)  # the first run creates the worker's environment (pip, a minute or two)


def _database(path: Path) -> str:
    from kfx_notebook.backends import backend_for

    connection = f"Data Source=local:{path}"
    backend = backend_for(connection)
    for table, schema in TABLES.items():
        backend.query("Shop", f".create table {table} {schema}")
    backend.ingest("Shop", "Products", PRODUCTS, data_format="multijson")
    return connection


def _app(source: Path, where: Path, connection: str) -> Path:
    app = shutil.copytree(source, where, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python",
                                                 "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
                                                 "KustoConnectionString": connection}}
    (app / "local.settings.json").write_text(json.dumps(settings))
    return app


def _tables(connection: str) -> dict[str, list]:
    from kfx_notebook.backends import backend_for

    backend = backend_for(connection)
    return {t: backend.query("Shop", t).frame.sort_values(list(backend.query("Shop", t).frame.columns))
            .to_dict("records") for t in TABLES}


def _calls(app: Path):
    """Each function of an app with the route, query and body that make it run."""
    for fn in load_app(app).get_functions():
        bindings = [b.get_dict_repr() for b in fn.get_bindings()]
        trigger = fn.get_trigger().get_dict_repr()
        route = {m: ROUTE_VALUE for m in re.findall(r"\{\*?(\w+)", trigger.get("route") or "")}
        query = {m: QUERY_VALUE for b in bindings for v in b.values() if isinstance(v, str)
                 for m in re.findall(r"\{Query\.(\w+)\}", v)}
        tables = [b["tableName"] for b in bindings if b.get("type") == "kusto" and b.get("tableName")]
        body = json.dumps(BODIES[tables[0]]) if tables else None
        yield fn.get_function_name(), route, query, body


def _answer(result) -> dict:
    return {"status": result.status, "headers": result.headers, "body": result.body,
            "ingested": [(r.rows, r.table, r.data_format) for r in result.ingested]}


@pytest.fixture(scope="session")
def worker_ready(tmp_path_factory):
    """Creates (once per cache) the worker environment each golden app's requirements.txt asks for."""
    from kfx_notebook.invoke.worker.environment import worker_python

    for source in sorted(GOLDEN.glob("*-python")):
        worker_python(_app(source, tmp_path_factory.mktemp("env") / source.name, "Data Source=local"))
    return True


@pytest.mark.parametrize("golden", sorted(p.name for p in GOLDEN.glob("*-python")))
def test_every_golden_function_answers_the_same_in_the_library_and_the_worker(golden, worker_ready, tmp_path):
    answers, tables = {}, {}
    for way in ("library", "worker"):
        connection = _database(tmp_path / f"{way}.duckdb")
        app = _app(GOLDEN / golden, tmp_path / way, connection)
        answers[way] = {name: _answer(invoke(app, name, route=route, query=query, body=body,
                                             worker=way == "worker"))
                        for name, route, query, body in _calls(app)}
        tables[way] = _tables(connection)
    assert answers["library"], f"{golden} has no function"
    assert answers["worker"] == answers["library"]
    assert tables["worker"] == tables["library"]
    assert any(a["ingested"] for a in answers["worker"].values()) or all(
        a["status"] == 200 for a in answers["worker"].values())



def test_a_str_value_answers_as_text_and_json_text_as_json_in_the_worker_too(worker_ready, tmp_path):
    from kfx_notebook.export.command import export_notebook

    from .test_invoke import TEXT_CELLS, text_notebook

    notebook, database = text_notebook(tmp_path)
    app = _app(export_notebook(notebook, tmp_path / "export"), tmp_path / "app", f"Data Source=local:{database}")
    answers = {way: {name: _answer(invoke(app, name, route={"pid": "1"}, worker=way == "worker"))
                     for name in TEXT_CELLS} for way in WAYS}
    assert answers["worker"] == answers["library"]
    types = {name: a["headers"]["Content-Type"] for name, a in answers["worker"].items()}
    assert types == {"describe": "text/plain; charset=utf-8", "cost": "text/plain; charset=utf-8",
                     "as_json": "application/json", "records": "application/json"}
    assert answers["worker"]["describe"]["body"] == b"Kiwi costs 2.0"


APP = '''
import json
import logging

import azure.functions as func

app = func.FunctionApp()


@app.route(route="echo", methods=["GET"])
@app.generic_input_binding(arg_name="rows", type="kusto", database="Shop", connection="KustoConnectionString",
                           kqlCommand="Events | order by Id asc")
def echo(req: func.HttpRequest, rows: str) -> func.HttpResponse:
    logging.info("echoing %d characters", len(rows))
    return func.HttpResponse(rows, mimetype="application/json")


@app.route(route="as-value", methods=["POST"])
@app.generic_output_binding(arg_name="sink", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def as_value(req: func.HttpRequest, sink: func.Out[str]) -> func.HttpResponse:
    sink.set(req.get_json())
    return func.HttpResponse("{}", mimetype="application/json", status_code=201)


@app.route(route="as-text", methods=["POST"])
@app.generic_output_binding(arg_name="sink", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def as_text(req: func.HttpRequest, sink: func.Out[str]) -> func.HttpResponse:
    sink.set(req.get_body().decode())
    return func.HttpResponse("sent")


@app.route(route="as-bytes", methods=["POST"])
@app.generic_output_binding(arg_name="sink", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def as_bytes(req: func.HttpRequest, sink: func.Out[bytes]) -> func.HttpResponse:
    sink.set(req.get_body())
    return func.HttpResponse(b"sent", mimetype="application/octet-stream")


@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=False)
@app.generic_output_binding(arg_name="$return", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def nightly(timer: func.TimerRequest) -> str:
    return json.dumps([{"Id": 9, "When": "2024-05-01T00:00:00.0000000Z", "Note": "nightly"}])


@app.route(route="broken", methods=["POST"])
@app.generic_output_binding(arg_name="sink", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def broken(req: func.HttpRequest, sink: func.Out[str]) -> func.HttpResponse:
    sink.set(req.get_body().decode())
    return func.HttpResponse(_first_missing(req.get_json()))


def _first_missing(rows):
    return rows[0]["Missing"]


@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=False)
def broken_nightly(timer: func.TimerRequest) -> None:
    raise RuntimeError("nightly failed")


@app.route(route="as_dict", methods=["POST"])
@app.generic_output_binding(arg_name="sink", type="kusto", database="Shop", tableName="Events",
                            connection="KustoConnectionString")
def as_dict(req: func.HttpRequest, sink: func.Out[str]) -> func.HttpResponse:
    sink.set(req.get_body().decode())
    return {"not": "an HttpResponse"}
'''
EVENTS = [{"Id": 1, "When": "2024-01-01T10:00:00.0000000Z", "Note": "2024-01-01T10:30:00+02:00"},
          {"Id": 2, "When": "2024-01-01T10:00:00.1200000", "Note": "not a date: 2024-01-01T10:00:00Z!"}]


@pytest.fixture
def both(tmp_path, worker_ready):
    """The app above, once per way, each on its own database; `run(way, function, **kw)` invokes it."""
    apps, connections = {}, {}
    for way in ("library", "worker"):
        connections[way] = _database(tmp_path / f"{way}.duckdb")
        (tmp_path / f"src-{way}").mkdir()
        (tmp_path / f"src-{way}" / "function_app.py").write_text(APP)
        shutil.copy(GOLDEN / "products-python" / "requirements.txt", tmp_path / f"src-{way}")
        apps[way] = _app(tmp_path / f"src-{way}", tmp_path / way, connections[way])

    def run(way, function, **kwargs):
        return invoke(apps[way], function, worker=way == "worker", **kwargs)

    return run, connections


WAYS = ("library", "worker")


@pytest.mark.parametrize("way", WAYS)
def test_a_list_output_is_sent_as_json_and_ingested_with_its_dates_as_written(both, way):
    run, connections = both
    result = run(way, "as_value", body=json.dumps(EVENTS))
    assert result.status == 201 and result.headers["Content-Type"] == "application/json"  # no charset added
    assert [(r.rows, r.table) for r in result.ingested] == [(2, "Events")]
    assert _tables(connections[way])["Events"] == EVENTS


@pytest.mark.parametrize("way", WAYS)
def test_a_string_output_has_its_dates_reparsed_as_the_host_does(both, way, utc_host):
    run, connections = both
    result = run(way, "as_text", body=json.dumps(EVENTS))
    assert result.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert [r.rows for r in result.ingested] == [2]
    assert _tables(connections[way])["Events"] == [
        {"Id": 1, "When": "2024-01-01T10:00:00Z", "Note": "2024-01-01T08:30:00+00:00"},
        {"Id": 2, "When": "2024-01-01T10:00:00.12", "Note": "not a date: 2024-01-01T10:00:00Z!"}]


@pytest.mark.parametrize("way", WAYS)
def test_a_bytes_output_is_dropped_with_a_warning(both, way):
    run, connections = both
    result = run(way, "as_bytes", body=json.dumps(EVENTS))
    assert result.status == 200 and result.body == b"sent" and result.ingested == []
    assert any("sent as bytes" in w and "nothing is ingested" in w for w in result.warnings)
    assert _tables(connections[way])["Events"] == []


@pytest.mark.parametrize("way", WAYS)
def test_a_return_output_of_a_timer_function_is_ingested(both, way):
    run, connections = both
    result = run(way, "nightly")
    assert result.status is None and [(r.rows, r.table) for r in result.ingested] == [(1, "Events")]
    assert _tables(connections[way])["Events"] == [{"Id": 9, "When": "2024-05-01T00:00:00Z", "Note": "nightly"}]


def test_the_input_text_is_the_same_both_ways_and_the_function_logs_reach_the_host(both):
    run, _connections = both
    for way in WAYS:
        run(way, "as_value", body=json.dumps(EVENTS))
    library, worker = run("library", "echo"), run("worker", "echo")
    assert worker.body == library.body and json.loads(worker.body) == EVENTS
    assert worker.body.startswith(b'[\n  {\n    "Id": 1,\n')  # Newtonsoft's indented JArray text
    assert any(line.startswith("echoing ") for line in worker.logs)


@pytest.mark.parametrize("way", WAYS)
def test_a_list_annotation_is_refused_at_indexing_as_the_worker_does(both, way, tmp_path):
    _run, connections = both
    source = tmp_path / f"bad-{way}"
    source.mkdir()
    (source / "function_app.py").write_text(APP.replace("rows: str", "rows: list"))
    shutil.copy(GOLDEN / "products-python" / "requirements.txt", source)
    app = _app(source, tmp_path / f"bad-app-{way}", connections[way])
    with pytest.raises(KfxError, match=r'cannot load the echo function: binding type "\'rows\'" and dataType '
                                       r'"kusto" in the binding decorator do not match the corresponding function '
                                       r"parameter's Python type annotation list"):
        invoke(app, "echo", worker=way == "worker")


def test_cli_invoke_worker_prints_the_response_and_the_function_log(both, tmp_path, capsys):
    from kfx_notebook.cli import main

    app = tmp_path / "worker"
    assert main(["invoke", str(app), "echo", "--worker"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("HTTP/1.1 200 OK\nContent-Type: application/json\n\n[]")
    assert "log: echoing 2 characters" in captured.err


def test_python_older_than_3_13_is_refused_with_what_to_do(tmp_path, capsys):
    from kfx_notebook.cli import main

    (tmp_path / "function_app.py").write_text(APP)
    old = tmp_path / "python3.11"  # answers the version probe as a Python 3.11 would
    old.write_text("#!/bin/sh\necho 3 11 7\n")
    old.chmod(0o755)
    old = str(old)
    assert main(["invoke", str(tmp_path), "echo", "--worker", "--python", old]) == 2
    err = capsys.readouterr().err
    assert "needs Python >= 3.13" in err and "Pass a Python 3.13 or newer" in err
    assert main(["invoke", str(tmp_path), "echo", "--python", old]) == 2
    assert "--python only applies with --worker" in capsys.readouterr().err


def test_an_app_venv_without_the_worker_library_is_named_with_the_fix(tmp_path):
    from kfx_notebook.invoke.worker.environment import find_python

    (tmp_path / "function_app.py").write_text(APP)
    python, _ = find_python()
    subprocess.run([python, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    with pytest.raises(KfxError, match=r"the app's \.venv .* lacks the worker library") as caught:
        invoke(tmp_path, "echo", worker=True)
    assert 'pip install "azure-functions-runtime==1.3.0" "grpcio>=' in caught.value.hint


@pytest.mark.parametrize("module", ["grpc", "google"])
def test_without_grpc_or_protobuf_the_error_names_the_worker_extra(module):
    from kfx_notebook.extras import missing_extra

    error = missing_extra(ModuleNotFoundError(f"No module named '{module}'", name=module))
    assert "invoke --worker" in error.message and 'pip install "kfx-notebook[worker]"' in error.hint


def test_a_response_the_worker_cannot_encode_fails_the_invocation_alike_both_ways(both):
    run, connections = both
    results = {way: run(way, "as_dict", body=json.dumps(EVENTS)) for way in WAYS}
    for way, result in results.items():
        assert (result.status, result.body) == (500, b""), way
        assert result.failure.message == ('TypeError: unable to encode outgoing TypedData: unsupported type "http" '
                                          'for Python type "dict"'), way
        assert result.ingested == [] and _tables(connections[way])["Events"] == [], way   # the output not sent


def _frames(stack: str, app: Path) -> list[tuple[str, str]]:
    """(line number, function) of each frame of the app's function_app.py, in a failure's stack."""
    return re.findall(rf'  File "{re.escape(str(app / "function_app.py"))}", line (\d+), in (\w+)', stack)


@pytest.mark.parametrize("function, body, message", [
    ("broken", json.dumps(EVENTS), "KeyError: 'Missing'"),
    ("broken_nightly", None, "RuntimeError: nightly failed"),
])
def test_a_function_that_raises_answers_500_and_is_logged_alike_both_ways(both, function, body, message):
    run, connections = both
    results = {way: run(way, function, body=body) for way in WAYS}
    for way, result in results.items():
        assert result.failure is not None and result.failure.message == message
        assert result.ingested == [] and _tables(connections[way])["Events"] == []  # the set output not flushed
        assert result.failure.stack.startswith("Traceback (most recent call last):\n  File ")  # host frames cut
        assert "azure_functions_runtime" not in result.failure.stack and "kfx_notebook" not in result.failure.stack
        assert result.failure.stack.rstrip().endswith(message)
        assert "****" not in result.failure.stack  # FUNCTIONS_WORKER_RUNTIME's "python" is no secret
    library, worker = results["library"], results["worker"]
    assert (worker.status, worker.headers, worker.body) == (library.status, library.headers, library.body)
    assert (library.status, library.body) == ((500, b"") if function == "broken" else (None, b""))
    app = Path(connections["library"].split("local:", 1)[1]).parent
    assert _frames(worker.failure.stack, app / "worker") == _frames(library.failure.stack, app / "library")
    assert [name for _, name in _frames(library.failure.stack, app / "library")] == (
        ["broken", "_first_missing"] if function == "broken" else ["broken_nightly"])


def test_cli_invoke_of_a_function_that_raises_prints_the_same_both_ways(both, tmp_path, capsys):
    from kfx_notebook.cli import main

    printed = {}
    for way in WAYS:
        flags = ["--worker"] if way == "worker" else []
        assert main(["invoke", str(tmp_path / way), "broken", "--body", json.dumps(EVENTS), *flags]) == 1
        captured = capsys.readouterr()
        err = [line for line in captured.err.splitlines() if not line.startswith("log: ")]
        assert re.fullmatch(r"Executed 'Functions\.broken' \(Failed, Id=[0-9a-f-]{36}, Duration=\d+ms\)", err[0])
        printed[way] = captured.out, err[1:3], err[-1], _frames(captured.err, tmp_path / way)
    assert printed["worker"] == printed["library"]
    out, (exception, stack), last, _ = printed["library"]
    assert out == "HTTP/1.1 500 Internal Server Error\n\n\n"
    assert (exception, stack, last) == ("Exception: KeyError: 'Missing'", "Stack: Traceback (most recent call last):",
                                        "KeyError: 'Missing'")
