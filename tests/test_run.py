"""The one binding runner (kfx_notebook.run) and the one backend cache, on real backends."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kfx_notebook import bindings, run
from kfx_notebook.backends import IngestPath, backend_for
from kfx_notebook.errors import KfxError, SettingError
from kfx_notebook.settings import Settings

from .magic_shell import TestingShell


def parsed(line: str, cell: str = "print 1", magic: str = "kusto_input") -> bindings.ParsedCell:
    return bindings.parse_cell(magic, line, cell)


def host_with(tmp_path, values: dict, **kwargs) -> run.Host:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": values}))
    return run.Host(Settings(path, {}), **kwargs)


# -- defaults -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "connection", "database"), [
    pytest.param("r", "Mine", "Dflt", id="defaults-fill-what-the-line-left-out"),
    pytest.param("r --connection Theirs --database Db", "Theirs", "Db", id="the-line-always-wins"),
])
def test_defaults_defer_to_the_cell(line, connection, database):
    binding = run.apply_defaults(parsed(line), run.Defaults("Mine", "Dflt"))
    assert (binding.connection, binding.database) == (connection, database)


def test_defaults_leave_a_binding_the_host_would_refuse_refused():
    with pytest.raises(KfxError, match="Parameter 'Database'"):
        run.apply_defaults(parsed("r"), run.Defaults())


# -- connecting -----------------------------------------------------------------------------------
def test_a_missing_default_setting_is_the_embedded_database_told_once(tmp_path):
    notes: list[str] = []
    host = host_with(tmp_path, {}, note=notes.append, embedded_fallback=True)
    binding = run.apply_defaults(parsed("r --database Db"), host.defaults)
    first, second = run.connect(binding, host), run.connect(binding, host)
    assert first.where == second.where == "local (memory)"
    assert len(notes) == 1 and "KustoConnectionString" in notes[0]


@pytest.mark.parametrize(("values", "fallback", "says"), [
    pytest.param({}, False, "No setting 'KustoConnectionString'", id="no-fallback-for-the-functions-host"),
    pytest.param({"KustoConnectionString": "  "}, True, "is empty", id="an-empty-setting"),
])
def test_a_setting_that_resolves_to_nothing_fails_as_the_extension_does(tmp_path, values, fallback, says):
    host = host_with(tmp_path, values, embedded_fallback=fallback)
    with pytest.raises(SettingError, match="resolved to null") as caught:
        run.connect(run.apply_defaults(parsed("r --database Db"), host.defaults), host)
    assert says in str(caught.value)


def test_a_relative_local_path_in_an_apps_settings_is_beside_the_app(tmp_path, monkeypatch):
    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.chdir(tmp_path)
    host = host_with(app, {"KustoConnectionString": "Data Source=local:data.duckdb"}, base_dir=app)
    connection = run.connect(run.apply_defaults(parsed("r --database Db"), host.defaults), host)
    try:
        assert connection.where == f"local ({app / 'data.duckdb'})"
    finally:
        connection.backend.close()


def test_errors_leave_the_runner_without_the_connections_secrets(tmp_path):
    secret = "s3cr3t-app-key-value"
    host = run.Host(Settings(None, {}), connection_string=f"Data Source=ftp://x;Application Key={secret}")
    with pytest.raises(KfxError) as caught:
        run.connect(run.apply_defaults(parsed("r --database Db"), host.defaults), host)
    assert secret not in f"{caught.value} {caught.value.hint} {caught.value.args}"
    with pytest.raises(KfxError) as caught, run.scrubbed([secret], "rid;1"):
        raise KfxError(f"the server said {secret}", hint=f"not {secret}")
    assert secret not in str(caught.value) and caught.value.request_id == "rid;1"


# -- running --------------------------------------------------------------------------------------
@pytest.fixture
def file_host(tmp_path):
    notes: list[str] = []
    host = host_with(tmp_path, {"KustoConnectionString": f"Data Source=local:{tmp_path / 'run.duckdb'}"},
                     note=notes.append)
    yield host, notes
    backend_for(host.settings.connection_string("KustoConnectionString")).close()


def test_an_input_run_says_how_its_frame_was_made(file_host):
    host, _ = file_host
    backend_for(host.settings.connection_string("KustoConnectionString")).catalog.ensure_database("Db")
    binding = run.apply_defaults(parsed('r --database Db --kql-parameters "@n={n}"',
                                        "declare query_parameters(n:long);\nprint x = n + 1"), host.defaults)
    seen = []
    result = run.run_input(binding, host, namespace={"n": 41}, before_query=lambda *a: seen.append(a))
    assert result.frame["x"].tolist() == [42]
    assert seen == [("Db", {"n": "41"}, result.query)]
    assert result.frame.attrs["kusto"]["parameters"] == {"n": "41"}
    assert result.client_request_id.startswith("KFX.notebook;")
    overridden = run.run_input(binding, host, namespace={"n": 41}, overrides={"n": "1"})
    assert overridden.frame["x"].tolist() == [2]


@pytest.mark.parametrize(("value", "dry_run", "outcome"), [
    pytest.param([{"a": 1}, {"a": 2}], True, run.Outcome.DRY_RUN, id="a-dry-run-sends-nothing"),
    pytest.param([None], False, run.Outcome.NOTHING, id="no-rows-no-call"),
    pytest.param([{"a": 1}, {"a": 2}], False, run.Outcome.INGESTED, id="rows-are-ingested"),
])
def test_an_output_run_ends_one_of_three_ways(file_host, value, dry_run, outcome):
    host, _ = file_host
    backend = backend_for(host.settings.connection_string("KustoConnectionString"))
    backend.query("Db", ".create-merge table T (a:long)")
    binding = run.apply_defaults(parsed("--database Db --table-name T", magic="kusto_output"), host.defaults)
    result = run.run_output(binding, host, value, namespace={}, dry_run=dry_run)
    assert result.outcome is outcome
    ingested = outcome is run.Outcome.INGESTED
    assert (result.receipt is not None) is ingested
    assert backend.query("Db", "T | count").frame.iloc[0, 0] == (2 if ingested else 0)
    if ingested:
        assert result.receipt.path is IngestPath.DIRECT


def test_output_warnings_are_told_before_anything_is_sent(file_host):
    host, notes = file_host
    binding = run.apply_defaults(parsed("--database Db --table-name T --data-format JSON", magic="kusto_output"),
                                 host.defaults)
    run.run_output(binding, host, [{"a": 1}], namespace={}, dry_run=True)
    assert any("falls back to csv" in n for n in notes)


# -- the one backend cache -----------------------------------------------------------------------
def test_closing_a_local_backend_evicts_it(tmp_path):
    connection = f"Data Source=local:{tmp_path / 'c.duckdb'}"
    first = backend_for(connection)
    first.query("Db", ".create table T (a:long)")
    assert backend_for(connection) is first
    first.close()
    second = backend_for(connection)
    try:
        assert second is not first
        assert second.query("Db", ".show tables").frame["TableName"].tolist() == ["T"]
    finally:
        second.close()


def test_closing_a_cluster_backend_evicts_it():
    from kfx_notebook.server import LocalServer

    with LocalServer(None) as server:
        first = backend_for(server.connection_string)
        assert first.query("NetDefaultDB", "print x = 1").frame["x"].tolist() == [1]
        first.close()
        second = backend_for(server.connection_string)
        assert second is not first
        assert second.query("NetDefaultDB", "print x = 2").frame["x"].tolist() == [2]
        second.close()


def test_config_converter_reaches_the_cluster_backend(monkeypatch, tmp_path):
    """`sdk` is azure-kusto-data's converter, which turns -1d-500ms into -23:59:59.5; `fast` keeps it."""
    from kfx_notebook.server import LocalServer

    monkeypatch.chdir(tmp_path)
    shell = TestingShell.instance()
    if "KustoMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "kfx_notebook")
    exact = pd.Timedelta(days=-1, milliseconds=-500)
    with LocalServer(None) as server:
        monkeypatch.setenv("KustoConnectionString", server.connection_string)
        seen = {}
        try:
            for converter in ("sdk", "fast"):
                shell.run_line_magic("config", f"KustoMagics.converter = {converter!r}")
                frame, _, _ = shell.capture("%%kusto_input t --database NetDefaultDB\nprint ts = -1d - 500ms")
                seen[converter] = frame["ts"].iloc[0]
        finally:
            shell.run_line_magic("config", "KustoMagics.converter = 'fast'")
            for converter in ("sdk", "fast"):
                backend_for(server.connection_string, None, converter).close()
    assert seen["fast"] == exact
    assert seen["sdk"] != exact
