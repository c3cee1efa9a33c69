"""%%kusto_input / %%kusto_output in a real IPython shell, on each backend.

The backend is a fixture parameter: the embedded database directly, and (once served)
the same database behind `kfx-notebook serve`, reached through the official SDK.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kfx_notebook.backends import clear_cache

from .magic_shell import TestingShell

SECRET = "s3cr3t-AppKey-Value-123"


@pytest.fixture(scope="module")
def shell():
    sh = TestingShell.instance()
    sh.history_manager.enabled = False
    if "KustoMagics" not in sh.magics_manager.registry:
        sh.run_line_magic("load_ext", "kfx_notebook")
    return sh


@pytest.fixture(params=["embedded", "served"])
def kusto(request, shell, tmp_path, monkeypatch):
    """A fresh database for each test, on each backend; the connection setting points at it."""
    from kfx_notebook.backends.local import LocalBackend

    monkeypatch.chdir(tmp_path)
    db_file = str(tmp_path / "magic.duckdb")
    clear_cache()
    shell.magics_manager.registry["KustoMagics"]._said.clear()  # each test is a fresh session for notes
    if request.param == "embedded":
        monkeypatch.setenv("KustoConnectionString", f"Data Source=local:{db_file}")
        yield "embedded"
        LocalBackend.open(db_file).close()
    else:
        from kfx_notebook.server import LocalServer

        with LocalServer(db_file) as server:
            monkeypatch.setenv("KustoConnectionString", server.connection_string)
            yield "served"
        LocalBackend.open(db_file).close()
    clear_cache()
    shell.user_ns.pop("query", None)


def setup_products(shell):
    shell.capture("%%kusto_input made --database Shop\n"
                  ".create-merge table Products (ProductID:long, Name:string, Cost:real)")
    shell.capture('%%kusto_output --database Shop --table-name Products\n'
                  '[{"ProductID": 1, "Name": "Apple", "Cost": 1.25}, {"ProductID": 2, "Name": "Pear", "Cost": 0.8},'
                  ' {"ProductID": 3, "Name": "Fig", "Cost": 2.5}]')


def test_parameterized_query_returns_and_assigns_a_dataframe(shell, kusto):
    setup_products(shell)
    shell.user_ns["productId"] = 2
    frame, out, _ = shell.capture('%%kusto_input product --database Shop --kql-parameters "@productId={productId}"\n'
                                  "declare query_parameters(productId:long);\n"
                                  "Products | where ProductID == productId")
    assert shell.user_ns["product"] is frame
    assert frame.to_dict("records") == [{"ProductID": 2, "Name": "Pear", "Cost": 0.8}]
    assert frame.attrs["kusto"]["parameters"] == {"productId": "2"}
    assert frame.attrs["kusto"]["database"] == "Shop"
    assert frame.attrs["kusto"]["column_types"] == {"ProductID": "long", "Name": "string", "Cost": "real"}
    assert out.startswith("product: 1 row x 3 columns from Shop")


@pytest.mark.parametrize("parameters, expected", [
    pytest.param(",,@a=1,,", {"a": "1"}, id="empty-entries-dropped"),
    pytest.param(" @a=1", {"a": "1"}, id="key-trimmed"),
    pytest.param("@a= 1 ", {"a": " 1 "}, id="value-not-trimmed"),
    pytest.param("@a=", {"a": ""}, id="empty-value"),
    pytest.param("@a=null", {"a": "null"}, id="null-is-the-text-null"),
])
def test_kql_parameters_table_rows_that_parse(shell, kusto, parameters, expected):
    shell.capture("%%kusto_input made --database Shop\n.create-merge table Products (ProductID:long)")
    frame, _, _ = shell.capture(f'%%kusto_input echo --database Shop --kql-parameters "{parameters}"\n'
                                "declare query_parameters(a:string);\nprint a = a")
    assert frame["a"].tolist() == [expected["a"]]
    assert frame.attrs["kusto"]["parameters"] == expected


E1 = ('Parameters must be separated by "," and parameter name and parameter value must be separated by "=", '
      'i.e. "@param1=param1,@param2=param2". To specify a null value, use null, as in '
      '"@param1=null,@param2=param2".To specify an empty string as a value, simply do not add anything after '
      'the equals sign, as in "@param1=,@param2=param2".')
E2 = 'Parameter name must start with "@", i.e. "@param1=param1,@param2=param2"'


@pytest.mark.parametrize("parameters, message", [
    pytest.param("@a=x=y", E1, id="two-equals-is-E1"),
    pytest.param("@a=1, ,@b=2", E1, id="whitespace-entry-is-E1"),
    pytest.param("@a=1,2", E1, id="comma-in-value-is-E1"),
    pytest.param("a=1", E2, id="missing-at-is-E2"),
    pytest.param("@a=1,@a=2", "An item with the same key has already been added", id="duplicate-key"),
])
def test_kql_parameters_table_rows_that_fail(shell, kusto, parameters, message):
    error, shown = shell.failure(f'%%kusto_input echo --database Shop --kql-parameters "{parameters}"\n'
                                 "declare query_parameters(a:string, b:string);\nprint a")
    assert message in shown
    assert "Traceback" not in shown


def test_binding_expressions_every_form(shell, kusto, tmp_path):
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"TABLE_DB": "Shop"}}))
    setup_products(shell)
    shell.user_ns["name"] = "Pear"
    frame, _, _ = shell.capture(
        '%%kusto_input r --database %TABLE_DB% --kql-parameters "@name={name},@id={Query.id}" '
        '--query "id=3"\n'
        "declare query_parameters(name:string, id:long);\n"
        "Products | where Name == name or ProductID == id | extend Braces = '{{literal}}' | order by ProductID asc")
    assert frame["Name"].tolist() == ["Pear", "Fig"]
    assert frame["Braces"].tolist() == ["{literal}", "{literal}"]
    assert frame.attrs["kusto"]["database"] == "Shop"


def test_query_dict_in_the_namespace_stands_in_for_the_query_string(shell, kusto):
    setup_products(shell)
    shell.user_ns["query"] = {"id": "1"}
    frame, _, _ = shell.capture('%%kusto_input r --database Shop --kql-parameters "@id={Query.id}"\n'
                                "declare query_parameters(id:long);\nProducts | where ProductID == id")
    assert frame["Name"].tolist() == ["Apple"]


def test_unresolvable_expression_names_itself(shell, kusto):
    error, shown = shell.failure('%%kusto_input r --database Shop --kql-parameters "@id={nowhere}"\n'
                                 "declare query_parameters(id:long);\nprint id")
    assert "{nowhere}" in shown and "Traceback" not in shown


@pytest.mark.parametrize("value", [
    pytest.param('x" | take 0 //', id="double-quote-pipe-comment"),
    pytest.param("O'Brien; .drop table Products", id="single-quote-semicolon-command"),
    pytest.param("a\n| where 1 > 0 {x} }{", id="newline-and-braces"),
])
def test_injection_values_come_back_as_data(shell, kusto, value):
    setup_products(shell)
    shell.user_ns["v"] = value
    frame, _, _ = shell.capture('%%kusto_input r --database Shop --kql-parameters "@v={v}"\n'
                                "declare query_parameters(v:string);\nProducts | extend Echo = v | take 1")
    assert frame["Echo"].tolist() == [value]
    assert frame.attrs["kusto"]["query"].endswith("Products | extend Echo = v | take 1")
    count, _, _ = shell.capture("%%kusto_input c --database Shop\nProducts | count")
    assert count.iloc[0, 0] == 3


def test_undeclared_parameter_and_missing_value_fail_before_running(shell, kusto):
    _, shown = shell.failure('%%kusto_input r --database Shop --kql-parameters "@a=1,@zz=2"\n'
                             "declare query_parameters(a:long);\nprint a")
    assert "@zz" in shown
    _, shown = shell.failure('%%kusto_input r --database Shop --kql-parameters "@a=1"\n'
                             "declare query_parameters(a:long, b:long);\nprint a")
    assert "@b" in shown and "declares b:long" in shown


def test_management_commands_through_kusto_input(shell, kusto):
    setup_products(shell)
    tables, _, _ = shell.capture("%%kusto_input t --database Shop\n.show tables")
    assert tables["TableName"].tolist() == ["Products"]
    schema, _, _ = shell.capture("%%kusto_input s --database Shop\n.show table Products cslschema")
    assert schema["Schema"].tolist() == ["ProductID:long,Name:string,Cost:real"]


def _caret_is_under(shown: str, source_line: str, word: str) -> bool:
    """The error's copy of `source_line` has its caret line under `word`."""
    lines = shown.splitlines()
    source = next(i for i, text in enumerate(lines) if text.strip() == source_line)
    return lines[source + 1].index("^") == lines[source].index(word)


def test_kql_error_is_short_with_a_caret(shell, kusto):
    setup_products(shell)
    error, shown = shell.failure("%%kusto_input r --database Shop\nProducts\n| where Price > 1")
    assert "Price" in shown
    assert _caret_is_under(shown, "| where Price > 1", "Price")
    assert "client request id:" in shown
    assert "Traceback" not in shown


def test_a_misspelled_function_reads_as_kusto_says_it(shell, kusto):
    setup_products(shell)
    _, shown = shell.failure("%%kusto_input r --database Shop\nProducts\n| extend x = tostrng(Name)")
    assert "Unknown function: 'tostrng'" in shown
    assert _caret_is_under(shown, "| extend x = tostrng(Name)", "tostrng")
    if kusto == "embedded":  # served, the hint is the protocol's own ("Fix the query at the position shown.")
        assert "Did you mean 'tostring'?" in shown
    assert "NotSupported" not in shown and "cluster" not in shown and ".py" not in shown
    assert "Traceback" not in shown


def test_a_command_with_a_syntax_error_says_what_is_wrong_with_a_caret(shell, kusto):
    _, shown = shell.failure("%%kusto_input r --database Shop\n.create table T2 (a:long")
    assert "the column list is not closed: add ')'" in shown
    assert _caret_is_under(shown, ".create table T2 (a:long", "(")
    assert "NotSupported" not in shown and "Supported:" not in shown
    assert "Traceback" not in shown


def test_as_json_is_what_a_python_function_receives(shell, kusto):
    setup_products(shell)
    _, out, _ = shell.capture("%%kusto_input received --database Shop --as json\nProducts | where ProductID == 1")
    text = shell.user_ns["received"]
    assert text == '[\n  {\n    "ProductID": 1,\n    "Name": "Apple",\n    "Cost": 1.25\n  }\n]'
    assert text in out
    shell.capture("%%kusto_input none --database Shop --as json\nProducts | where ProductID == 99")
    assert shell.user_ns["none"] == "[]"


@pytest.mark.parametrize("body, data_format, payload", [
    pytest.param('{"ProductID": 7, "Name": "Lime", "Cost": 1.0}', "json",
                 b'{"ProductID":7,"Name":"Lime","Cost":1.0}', id="dict-is-one-minified-json-row"),
    pytest.param('[{"ProductID": 7, "Name": "Lime"}, {"ProductID": 8, "Name": "Nut"}]', "multijson",
                 b'{\n  "ProductID": 7,\n  "Name": "Lime"\n}\n{\n  "ProductID": 8,\n  "Name": "Nut"\n}',
                 id="list-is-indented-multijson"),
    pytest.param("'[{\"ProductID\": 7}, 5, null]'", "json", b'{"ProductID":7}',
                 id="json-array-string-fans-out-dropping-non-objects"),
    pytest.param('pd.DataFrame({"ProductID": [7, 8], "Name": ["Lime", "Nut"]})', "multijson",
                 b'{\n  "ProductID": 7,\n  "Name": "Lime"\n}\n{\n  "ProductID": 8,\n  "Name": "Nut"\n}',
                 id="dataframe-rows"),
])
def test_output_return_shapes_have_exact_payloads(shell, kusto, body, data_format, payload):
    shell.user_ns["pd"] = pd
    _, out, _ = shell.capture(f"%%kusto_output --database Shop --table-name Products --dry-run\n{body}")
    assert f"  dataFormat:    {data_format}\n" in out
    assert out.rstrip("\n").endswith(payload.decode())


def test_csv_text_from_python_is_dropped_with_a_warning(shell, kusto):
    _, out, err = shell.capture('%%kusto_output --database Shop --table-name Products --data-format csv\n'
                                '"7,Lime,1.0"')
    assert "nothing to ingest" in out
    assert "kfx-notebook warning:" in out and "drop" in out.lower() and err == ""
    _, again, _ = shell.capture('%%kusto_output --database Shop --table-name Products --data-format csv\n'
                                '"7,Lime,1.0"')
    assert "drop" not in again.lower(), "a warning is said once per session"


def test_output_then_input_round_trips_every_type(shell, kusto):
    from .test_local_backend import every_type_frame

    frame = every_type_frame()
    shell.user_ns["frame"] = frame
    shell.capture("%%kusto_input made --database Shop\n.create table Every (l:long, i:long, r:real, b:bool, "
                  "t_utc:datetime, t_naive:datetime, ts:timespan, dyn:dynamic, s:string, dec:decimal)")
    shell.capture("%%kusto_output --database Shop --table-name Every\nframe")
    back, _, _ = shell.capture("%%kusto_input back --database Shop\nEvery")
    assert list(back.columns) == list(frame.columns)
    for column in ("l", "r", "b", "t_utc", "ts", "dyn", "s", "dec"):
        missing = "" if column == "s" else None  # Kusto's string has no null: a cluster gives "" back
        expected = frame[column].tolist()
        got = back[column].tolist()
        assert [None if pd.isna(v) is True else v for v in got] == \
               [missing if pd.isna(v) is True else v for v in expected], column


def test_config_defaults_and_cell_options_win(shell, kusto):
    setup_products(shell)
    shell.run_line_magic("config", "KustoMagics.default_database = 'Shop'")
    try:
        frame, _, _ = shell.capture("%%kusto_input r\nProducts | count")
        assert frame.iloc[0, 0] == 3
        _, shown = shell.failure("%%kusto_input r --database Elsewhere\nProducts | count")
        assert "Elsewhere" in shown
    finally:
        shell.run_line_magic("config", "KustoMagics.default_database = ''")


def test_unknown_option_lists_the_valid_ones(shell, kusto):
    _, shown = shell.failure("%%kusto_input r --database Shop --colour blue\nprint 1")
    assert "--colour" in shown and "--kql-parameters" in shown


def test_secrets_never_show(shell, tmp_path, monkeypatch):
    """A connection string with an AppKey: scan every output, error and repr for the raw value."""
    monkeypatch.chdir(tmp_path)
    clear_cache()
    monkeypatch.setenv("Secretive", f"Data Source=local;AppClientId=app;AppKey={SECRET};Authority Id=t")
    seen = []
    _, out, err = shell.capture("%%kusto_input r --database Shop --connection Secretive\n"
                                ".create-merge table T (a:long)")
    seen += [out, err, repr(shell.user_ns["r"]), str(shell.user_ns["r"].attrs)]
    _, shown = shell.failure("%%kusto_input r --database Shop --connection Secretive\nT | where nope == 1")
    seen.append(shown)
    _, out, err = shell.capture("%config KustoMagics")
    seen += [out, err]
    from kfx_notebook.settings import Settings, parse_connection_string

    seen += [repr(parse_connection_string(f"Data Source=local;AppKey={SECRET}")), repr(Settings(None))]
    assert not [text for text in seen if SECRET in text]
    clear_cache()


def test_settings_precedence_connection_strings_then_values_then_environment(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clear_cache()
    a, b, c = (str(tmp_path / f"{n}.duckdb") for n in "abc")
    monkeypatch.setenv("Conn", f"Data Source=local:{c}")
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"Conn": f"Data Source=local:{b}"}}))
    _, out, _ = shell.capture("%%kusto_input r --database D --connection Conn\n.create-merge table T (x:long)")
    assert "local (" + b in out
    frame, _, _ = shell.capture("%%kusto_input r --database D --connection Conn\n.show databases")
    assert frame["PersistentStorage"].tolist() == [b]
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"Conn": f"Data Source=local:{b}"},
                                                              "ConnectionStrings": {"Conn": f"Data Source=local:{a}"}}))
    _, out, _ = shell.capture("%%kusto_input r --database D --connection Conn\n.create-merge table T (x:long)")
    assert "local (" + a in out
    (tmp_path / "local.settings.json").unlink()
    _, out, _ = shell.capture("%%kusto_input r --database D --connection Conn\n.create-merge table T (x:long)")
    assert "local (" + c in out
    clear_cache()


def test_missing_default_setting_uses_the_embedded_database_and_says_so(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KustoConnectionString", raising=False)
    clear_cache()
    shell.magics_manager.registry["KustoMagics"]._noted.clear()
    _, out, err = shell.capture("%%kusto_input r --database D\n.create-merge table T (x:long)")
    assert "kfx-notebook note: no connection setting" in out and "using the embedded database in memory" in out
    assert err == "", "a note is not an error: nothing on stderr"
    _, shown = shell.failure("%%kusto_input r --database D --connection Missing\nT")
    assert "This value resolved to null" in shown


def test_load_ext_prints_nothing_and_loads_nothing_heavy():
    import subprocess
    import sys

    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "sh = InteractiveShell.instance()\n"
            "import sys\nbefore = set(sys.modules)\n"
            "sh.run_line_magic('load_ext', 'kfx_notebook')\n"
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & "
            "{'pandas', 'duckdb', 'duckdb_kql', 'azure', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert out.stderr == ""


def test_lazy_magics_load_the_extension_on_first_use(tmp_path):
    import subprocess
    import sys

    code = ("from traitlets.config import Config\n"
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "c = Config()\n"
            "c.MagicsManager.lazy_magics = {'kusto_input': 'kfx_notebook', 'kusto_output': 'kfx_notebook'}\n"
            "sh = InteractiveShell.instance(config=c)\n"
            "r = sh.run_cell('%%kusto_input x --database D\\n.create-merge table T (a:long)')\n"
            "print('ran' if r.success else r.error_in_exec)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.stdout.strip().endswith("ran"), out.stdout + out.stderr


def test_managed_fallback_to_queued_is_reported_and_warned(shell, tmp_path, monkeypatch):
    import random
    import string

    from kfx_notebook.backends.local import LocalBackend
    from kfx_notebook.server import LocalServer

    monkeypatch.chdir(tmp_path)
    clear_cache()
    rng = random.Random(3)  # incompressible text keeps the gzipped payload over the 4 MiB streaming limit
    shell.user_ns["big"] = pd.DataFrame({"a": range(60_000),
                                         "s": ["".join(rng.choices(string.ascii_letters, k=150))
                                               for _ in range(60_000)]})
    db_file = str(tmp_path / "big.duckdb")
    with LocalServer(db_file, database="Shop") as server:
        monkeypatch.setenv("KustoConnectionString", server.connection_string)
        _, out, err = shell.capture("%%kusto_output --database Shop --table-name Big\nbig")
        assert "ingested 60,000 rows" in out and "via fell back to queued: Queued" in out
        assert "without waiting for the queued ingestion" in out
        count, _, _ = shell.capture("%%kusto_input c --database Shop\nBig | count")
        assert count.iloc[0, 0] == 60_000
    LocalBackend.open(db_file).close()
    clear_cache()


def test_config_default_connection_applies_unless_the_cell_names_one(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clear_cache()
    monkeypatch.setenv("Mine", f"Data Source=local:{tmp_path / 'mine.duckdb'}")
    shell.run_line_magic("config", "KustoMagics.default_connection = 'Mine'")
    try:
        _, out, _ = shell.capture("%%kusto_input r --database D\n.create-merge table T (x:long)")
        assert "mine.duckdb" in out
        _, shown = shell.failure("%%kusto_input r --database D --connection Other\n.show tables")
        assert "This value resolved to null" in shown
    finally:
        shell.run_line_magic("config", "KustoMagics.default_connection = 'KustoConnectionString'")
        clear_cache()
