"""Issue 10, the engine half: the embedded database reads and writes nothing but the project's tables.

Each attack class is tried the way an attacker would, on real files holding a secret: every
position a table can take in KQL and in management commands, through the embedded backend,
the magics (a real IPython shell) and `kfx-notebook serve` (the official SDK over HTTP);
internal schemas by every name; case-only name clashes; client mistakes that used to be
server faults; a long write with concurrent reads; a database file held by another process.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.backends.local.sealed import SETTINGS
from kfx_notebook.errors import (BindingError, IngestionError, KfxError, KustoSyntaxError, NameCaseConflictError,
                                 UnknownEntityError)

SECRET = "kfx-FILE-SECRET-4242"
DB = "Shop"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One real file per format DuckDB can scan, each holding SECRET; keyed by how a query names it."""
    import duckdb

    folder = tmp_path_factory.mktemp("secrets")
    (folder / "settings.csv").write_text(f"a,b\n{SECRET},1\n")
    (folder / "settings.tsv").write_text(f"a\tb\n{SECRET}\t1\n")
    (folder / "local.settings.json").write_text(f'{{"a": "{SECRET}", "b": 1}}\n')
    con = duckdb.connect()
    con.execute(f"COPY (SELECT '{SECRET}' AS a, 1 AS b) TO '{folder / 'settings.parquet'}' (FORMAT parquet)")
    con.close()
    names = {ext: str(folder / f"settings.{ext}") for ext in ("csv", "tsv", "parquet")}
    names["json"] = str(folder / "local.settings.json")
    # database('.').['/../../x'] is how the issue read a file: DuckDB joined "." + "." + name into "../../x".
    names["relative"] = "/" + "../" * 12 + str(folder / "settings.csv").lstrip("/")
    names["glob"] = str(folder / "*.csv")
    names["function"] = f"read_csv('{folder / 'settings.csv'}')"
    return names


@pytest.fixture
def db(tmp_path):
    backend = LocalBackend.open(str(tmp_path / "sec.duckdb"))
    backend.query(DB, ".create table Products (ProductID:long, Name:string)")
    backend.ingest(DB, "Products", b'{"ProductID": 1, "Name": "Apple"}', data_format="json")
    yield backend
    backend.close()


#: Every position a table can take: (id, KQL with {ref} where the table name goes, expected error).
#: UnknownEntityError is Kusto's unknown-table error; the others are the engine refusing the
#: construct itself (it has no table() or externaldata here) — never a read.
POSITIONS = [
    ("bracketed", "[{ref}]", UnknownEntityError),
    ("database()", "database('Shop').[{ref}]", UnknownEntityError),
    ("database('.')", "database('.').[{ref}]", UnknownEntityError),
    ("database('.') in union", "union Products, database('.').[{ref}]", UnknownEntityError),
    ("database('.') in join", "Products | join kind=inner (database('.').[{ref}]) on $left.ProductID == $right.b",
     UnknownEntityError),
    ("cluster()", "cluster('c').database('Shop').[{ref}]", UnknownEntityError),
    ("table()", "table({ref})", KustoSyntaxError),
    ("union", "union Products, [{ref}]", UnknownEntityError),
    ("join", "Products | join kind=inner ([{ref}]) on $left.ProductID == $right.b", UnknownEntityError),
    ("lookup", "Products | lookup ([{ref}]) on $left.ProductID == $right.b", UnknownEntityError),
    ("in-subquery", "Products | where Name in ([{ref}] | project a)", UnknownEntityError),
    ("toscalar", "print x = toscalar([{ref}] | count)", UnknownEntityError),
    ("let", "let t = [{ref}]; t", UnknownEntityError),
    ("externaldata", "externaldata(a:string) [{ref}]", KfxError),
    (".set-or-append source", ".set-or-append Copied <| [{ref}]", UnknownEntityError),
    (".set source", ".set Copied <| database('.').[{ref}]", UnknownEntityError),
    (".append source", ".append Products <| [{ref}] | project ProductID = b, Name = a", UnknownEntityError),
]


def _quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "json", "relative", "glob", "function"])
@pytest.mark.parametrize("position, template, expected", POSITIONS, ids=[p[0] for p in POSITIONS])
def test_a_file_is_never_a_table_in_any_position(db, files, kind, position, template, expected):
    text = template.format(ref=_quoted(files[kind]))
    with pytest.raises(expected) as info:
        db.query(DB, text)
    assert SECRET not in str(info.value) and info.value.permanent
    assert "\n" not in info.value.message
    assert db.catalog.tables(DB) == ["Products"], "nothing was written"
    assert db.query(DB, "Products | count").frame.iloc[0, 0] == 1


def test_a_stored_function_cannot_read_a_file(db, files):
    db.query(DB, f".create function Leak() {{ [{_quoted(files['csv'])}] }}")
    with pytest.raises(UnknownEntityError) as info:
        db.query(DB, "Leak()")
    assert SECRET not in str(info.value)


def test_real_tables_still_resolve_in_every_position(db):
    """The guard refuses only what is not a table: the same positions over a real table work."""
    assert db.query(DB, "database('shop').Products | count").frame.iloc[0, 0] == 1
    assert db.query(DB, "union Products, ['Products'] | count").frame.iloc[0, 0] == 2
    assert len(db.query(DB, "Products | join kind=inner (Products) on ProductID").frame) == 1
    assert db.query(DB, "let t = Products; t | count").frame.iloc[0, 0] == 1
    db.query(DB, ".set-or-append Copied <| Products")
    assert db.query(DB, "Copied | count").frame.iloc[0, 0] == 1


def test_the_connection_is_sealed_even_below_the_name_check(db, files):
    """Every SETTINGS row holds on a fresh cursor, and raw SQL (no KQL) cannot reach a file or undo it."""
    import duckdb

    cur = db.cursor()
    try:
        for statement, _why in SETTINGS:
            name, value = statement.removeprefix("SET GLOBAL ").split("=", 1)
            shown = str(cur.execute(f"SELECT current_setting('{name}')").fetchone()[0])
            assert shown.lower() == value.strip("'").lower(), statement
        for sql in (f"SELECT * FROM read_csv('{files['csv']}')", f"SELECT * FROM '{files['parquet']}'",
                    f"ATTACH '{files['csv']}.duckdb' AS other", "INSTALL httpfs", "LOAD httpfs",
                    "SET enable_external_access = true", f"COPY (SELECT 1) TO '{files['csv']}.out'"):
            with pytest.raises(duckdb.Error):
                cur.execute(sql)
    finally:
        cur.close()


INTERNAL = ["_kfx", "_KFX", "main", "MAIN", "information_schema", "pg_catalog", "temp", "system", "memory",
            "kfx_store"]


@pytest.mark.parametrize("schema", INTERNAL)
def test_internal_schemas_are_unreachable_by_name(db, schema):
    for table in ("functions", "mappings", "tables", "Products", "Hidden"):
        with pytest.raises(UnknownEntityError):
            db.query(DB, f"database('{schema}').['{table}']")
    with pytest.raises(KfxError):
        db.query(schema, "print 1")
    with pytest.raises(BindingError, match="reserved"):
        db.ingest(schema, "Hidden", b'{"x": 1}', data_format="json")
    for command in (".create table Hidden (x:long)", ".set-or-append Hidden <| print x = 1",
                    ".create function F() { print 1 }"):
        with pytest.raises(KfxError):
            db.query(schema, command)
    assert schema not in db.catalog.databases()


def test_no_internal_table_can_be_named_through_the_current_database(db):
    for name in ("_kfx.functions", "main.Products", "information_schema.tables", "functions", "duckdb_tables"):
        with pytest.raises(UnknownEntityError):
            db.query(DB, f"['{name}']")


# -- names keep their case -------------------------------------------------------------------------
def test_a_table_differing_only_in_case_is_refused_never_merged(db):
    for attempt in (lambda: db.ingest(DB, "products", b'{"ProductID": 9, "Name": "x"}', data_format="json"),
                    lambda: db.query(DB, ".set-or-append products <| print ProductID = 9, Name = 'x'"),
                    lambda: db.query(DB, ".create table PRODUCTS (ProductID:long, Name:string)")):
        with pytest.raises(NameCaseConflictError, match="differs only in case from the existing table 'Products'"):
            attempt()
    assert db.query(DB, "Products | count").frame.iloc[0, 0] == 1
    with pytest.raises(UnknownEntityError):
        db.query(DB, "products")
    db.query(DB, ".drop table products ifexists")      # there is no `products`: nothing happens
    with pytest.raises(UnknownEntityError):
        db.query(DB, ".drop table products")
    assert db.catalog.tables(DB) == ["Products"], "dropping `products` never drops `Products`"


def test_database_names_ignore_case_as_in_kusto(db):
    db.ingest("shop", "Products", b'{"ProductID": 2, "Name": "Pear"}', data_format="json")
    db.query("SHOP", ".set-or-append Products <| print ProductID = 3, Name = 'Fig'")
    assert db.catalog.databases() == [DB]
    assert sorted(db.query("sHoP", "Products").frame.ProductID) == [1, 2, 3]


# -- client mistakes are client errors -------------------------------------------------------------
@pytest.mark.parametrize("call, expected, match", [
    pytest.param(lambda db: db.query(DB, "(" * 60 + "print 1" + ")" * 60), KustoSyntaxError, "nests too deeply",
                 id="60-nested-parentheses"),
    pytest.param(lambda db: db.query(DB, "declare query_parameters(p:long); print p", {"p": "9" * 25}),
                 KfxError, "out of range", id="long-out-of-range"),
    pytest.param(lambda db: db.query(DB, "declare query_parameters(p:int); print p", {"p": str(2 ** 31)}),
                 KfxError, "out of range", id="int-out-of-range"),
    pytest.param(lambda db: db.query(DB, "declare query_parameters(p:dynamic); print p",
                                     {"p": "[" * 5000 + "]" * 5000}), KfxError, "p", id="deep-dynamic-parameter"),
    pytest.param(lambda db: db.ingest(DB, "Products", ('{"ProductID": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
                                      data_format="json"), IngestionError, "too deeply", id="deep-json-rows"),
    pytest.param(lambda db: db.query(DB, "print 1", options={"truncationmaxrecords": "x"}), KfxError,
                 "truncationmaxrecords", id="truncationmaxrecords-not-a-number"),
    pytest.param(lambda db: db.query(DB, "print 1", options={"servertimeout": "soon"}), KfxError, "servertimeout",
                 id="servertimeout-not-a-timespan"),
    pytest.param(lambda db: db.query(DB, ".create function F() { " + "(" * 60 + "print 1" + ")" * 60 + " }"),
                 KustoSyntaxError, "nests too deeply", id="deep-function-body"),
])
def test_client_mistakes_are_one_line_client_errors(db, call, expected, match):
    with pytest.raises(expected, match=match) as info:
        call(db)
    assert info.value.permanent and info.value.code and "\n" not in info.value.message


# -- concurrency -----------------------------------------------------------------------------------
SLOW_WRITE = (".set-or-append {target} <| Base | join kind=inner (Base | project x, k = x % 4) on x "
              "| join kind=inner (Base | project x, j = strcat('v', tostring(x))) on x")


def _held_by_another_thread(lock) -> bool:
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def test_reads_do_not_wait_for_a_long_write_and_no_row_is_lost(db):
    db.query(DB, ".set-or-append Base <| range x from 1 to 100000 step 1")
    outcome = {}
    writer = threading.Thread(target=lambda: outcome.setdefault("write", db.query(DB, SLOW_WRITE.format(target="W"))))
    reads_during_write = 0
    writer.start()
    try:
        while writer.is_alive() and reads_during_write < 3:
            if not _held_by_another_thread(db.lock):
                time.sleep(0.01)
                continue
            assert db.query(DB, "print x = 1").frame.iloc[0, 0] == 1
            assert db.query(DB, "Products | count").frame.iloc[0, 0] == 1
            if _held_by_another_thread(db.lock):   # held before and after: the read ran inside the write
                reads_during_write += 1
    finally:
        writer.join()
    assert reads_during_write >= 1, "no read completed while the write held the writer lock"
    assert "write" in outcome
    counts = db.query(DB, "W | summarize n = count(), d = dcount(x)").frame.iloc[0]
    assert (counts.n, counts.d) == (100000, 100000), "every row once"


def test_servertimeout_cancels_a_command_and_rolls_it_back(db):
    db.query(DB, ".set-or-append Base <| range x from 1 to 100000 step 1")
    db.query(DB, ".set-or-append Kept <| print x = 1")
    with pytest.raises(KfxError, match="servertimeout") as info:
        db.query(DB, SLOW_WRITE.format(target="Kept"), options={"servertimeout": "00:00:00.001"})
    assert info.value.code == "Request_ExecutionTimeout"
    assert db.query(DB, "Kept | count").frame.iloc[0, 0] == 1, "the cancelled write left nothing behind"


def test_servertimeout_cancels_a_slow_query_on_the_servers_row_path_too(db):
    db.query(DB, ".set-or-append Base <| range x from 1 to 100000 step 1")
    slow = SLOW_WRITE.format(target="X").split("<|", 1)[1] + " | summarize count()"
    with pytest.raises(KfxError, match="servertimeout") as info:
        db.query_rows(DB, slow, options={"servertimeout": "00:00:00.001"})
    assert info.value.code == "Request_ExecutionTimeout"


def test_serve_honours_servertimeout_on_a_command(served):
    import datetime as dt

    from azure.kusto.data import ClientRequestProperties
    from azure.kusto.data.exceptions import KustoApiError

    _server, client = served
    client.execute_mgmt(DB, ".set-or-append Base <| range x from 1 to 100000 step 1")
    properties = ClientRequestProperties()
    properties.set_option("servertimeout", dt.timedelta(milliseconds=1))
    with pytest.raises(KustoApiError, match="servertimeout"):
        client.execute_mgmt(DB, SLOW_WRITE.format(target="Slow"), properties)
    tables = client.execute_mgmt(DB, ".show tables").primary_results[0]
    assert "Slow" not in [row["TableName"] for row in tables], "rolled back"


# -- a database file another process holds ---------------------------------------------------------
@pytest.fixture
def held_file(tmp_path):
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield path
    finally:
        holder.kill()
        holder.wait()


def test_a_file_held_by_another_process_is_one_line_saying_what_to_do(held_file):
    with pytest.raises(KfxError) as info:
        LocalBackend.open(str(held_file))
    text = str(info.value)
    assert str(held_file) in text and "another process" in text and "Close the other kernel or serve" in text
    assert "\n" not in text


def test_the_magic_on_a_held_file_says_it_in_a_few_lines(held_file, shell, monkeypatch):
    monkeypatch.setenv("KustoConnectionString", f"Data Source=local:{held_file}")
    _error, shown = shell.failure("%%kusto_input r --database Shop\nprint x = 1")
    assert str(held_file) in shown and "another process" in shown
    assert "IOException" not in shown and "Traceback" not in shown and len(shown.strip().splitlines()) <= 4


def test_serve_on_a_held_file_exits_2_with_one_line(held_file):
    import os

    result = subprocess.run([sys.executable, "-m", "kfx_notebook", "serve", str(held_file), "--port", "0"],
                            capture_output=True, text=True, timeout=120, env={**os.environ})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(held_file) in result.stderr and "another process" in result.stderr
    assert "Close the other kernel or serve" in result.stderr


# -- through serve (the official SDK over real HTTP) and the magics (a real IPython shell) --------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from azure.kusto.data import KustoClient, KustoConnectionStringBuilder

    from kfx_notebook.server import LocalServer

    path = tmp_path_factory.mktemp("served") / "served.duckdb"
    with LocalServer(str(path)) as server:
        with KustoClient(KustoConnectionStringBuilder.with_no_authentication(server.url)) as client:
            client.execute_mgmt(DB, ".create table Products (ProductID:long, Name:string)")
            yield server, client


@pytest.mark.parametrize("template", ["[{ref}]", "database('.').[{ref}]", "union Products, [{ref}]",
                                      ".set-or-append Copied <| database('.').[{ref}]", "database('_kfx').functions",
                                      "database('information_schema').tables"])
@pytest.mark.parametrize("kind", ["relative", "json", "parquet"])
def test_serve_refuses_files_and_internal_schemas_as_a_semantic_4xx(served, files, template, kind):
    from azure.kusto.data.exceptions import KustoApiError

    _server, client = served
    text = template.format(ref=_quoted(files[kind]))
    run = client.execute_mgmt if text.startswith(".") else client.execute_query
    with pytest.raises(KustoApiError) as info:
        run(DB, text)
    assert SECRET not in str(info.value)
    assert info.value.get_api_error().permanent is True
    assert "Failed to resolve table or column expression" in str(info.value)


@pytest.fixture
def shell(tmp_path, monkeypatch):
    from kfx_notebook.backends import clear_cache

    from .magic_shell import loaded_shell

    sh = loaded_shell()
    monkeypatch.chdir(tmp_path)
    clear_cache()
    yield sh
    clear_cache()


@pytest.mark.parametrize("via", ["embedded", "served"])
def test_magics_cannot_read_a_file_through_either_backend(shell, files, served, tmp_path, monkeypatch, via):
    server, _client = served
    value = f"Data Source=local:{tmp_path / 'magic.duckdb'}" if via == "embedded" else server.connection_string
    monkeypatch.setenv("KustoConnectionString", value)
    shell.capture("%%kusto_input made --database Shop\n.create-merge table Products (ProductID:long, Name:string)")
    for template in ("[{ref}]", "database('.').[{ref}]", ".set-or-append Copied <| database('.').[{ref}]"):
        _error, shown = shell.failure(f"%%kusto_input leak --database Shop\n{template.format(ref=_quoted(files['relative']))}")
        assert SECRET not in shown
        assert "Failed to resolve table or column expression" in shown
        assert "Traceback" not in shown
    deep = "(" * 60 + "print 1" + ")" * 60
    _error, shown = shell.failure(f"%%kusto_input deep --database Shop\n{deep}")
    assert "nests too deeply" in shown and "RecursionError" not in shown and len(shown.splitlines()) < 15
    if via == "embedded":
        LocalBackend.open(str(tmp_path / "magic.duckdb")).close()
