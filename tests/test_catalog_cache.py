"""The catalog's query cache (databases, `Catalog.resolve`) is never stale: every way the catalog
changes is followed by a query whose answer depends on what the catalog says (not only on what
DuckDB finds), after the same query has filled the cache. Removing the invalidation (WriteLock's
generation) fails every row of CHANGES but mappings (not cached) and the staged-copy check."""

from __future__ import annotations

import threading

import pytest

from kfx_notebook.errors import KfxError

#: (what changes, setup commands, the query run before and after, the change, what the query answers after).
#: The query's answer before the change is either an error or something other than the expected one.
CHANGES = [
    ("create table", [], "T | count", ".create table T (x:long)", [[0]]),
    ("create-merge adds a column", [".create table T (x:long)", ".ingest inline into table T <| 1"],
     "union withsource=t T | project-away t", ".create-merge table T (x:long, y:string)", [[1, ""]]),
    ("drop table", [".create table T (x:long)", ".create table U (y:long)", ".ingest inline into table T <| 1",
                    ".ingest inline into table U <| 2"], "union withsource=t * | project t", ".drop table U", [["T"]]),
    ("drop then recreate with other columns", [".create table T (x:long)", ".ingest inline into table T <| 1"],
     "union withsource=t T | project-away t", [".drop table T", ".create table T (z:string)",
                                               ".ingest inline into table T <|\na"], [["a"]]),
    ("ingestion creates the table", [], "T | count",
     lambda backend: backend.ingest("Db", "T", b'{"x": 5}', data_format="json"), [[1]]),
    ("set-or-append creates the table", [".create table S (x:long)", ".ingest inline into table S <| 3"],
     "T | project x", ".set-or-append T <| S | project x", [[3]]),
    ("create function", [".create table T (x:long)", ".ingest inline into table T <| 1"], "F()",
     ".create function F() { T | extend y = 2 }", [[1, 2]]),
    ("alter function", [".create table T (x:long)", ".ingest inline into table T <| 1",
                        ".create function F() { T | extend y = 2 }"], "F()",
     ".create-or-alter function F() { T | extend y = 3 }", [[1, 3]]),
    ("drop function", [".create table T (x:long)", ".create function F() { T }"], "F()",
     ".drop function F", None),
    ("create database", [], "print d = 1", ".create database New", [[1]]),   # queried as `new`
]


def _answer(backend, database: str, query: str):
    try:
        return backend.query(database, query).frame.astype(object).where(lambda f: f.notna(), None).values.tolist()
    except KfxError as exc:
        return f"error: {type(exc).__name__}"


def _run(backend, database: str, commands) -> None:
    """Commands (one or a list), or a callable of the backend (an ingestion)."""
    if callable(commands):
        commands(backend)
        return
    for command in [commands] if isinstance(commands, str) else commands:
        backend.query(database, command)


@pytest.mark.parametrize("label, setup, query, change, expected", CHANGES, ids=[c[0] for c in CHANGES])
def test_every_catalog_change_is_seen_by_the_next_query(local_db, label, setup, query, change, expected):
    database = "new" if label == "create database" else "Db"   # Kusto database names ignore case
    with local_db.lock:
        local_db.catalog.ensure_database("Db")
    _run(local_db, "Db", setup)
    before = _answer(local_db, database, query)
    assert _answer(local_db, database, query) == before   # the second read comes from the cache
    _run(local_db, "Db", change)
    after = _answer(local_db, database, query)
    if expected is None:   # the change removes what the query needs
        assert after.startswith("error:") and not str(before).startswith("error:"), (before, after)
    else:
        assert after == expected and before != expected, (before, after)


def test_database_case_follows_the_database_created(local_db):
    """canonical_database is cached too: a database created after a query in another case is found."""
    with local_db.lock:
        local_db.catalog.ensure_database("Other")
    with pytest.raises(KfxError, match="Database 'shop' was not found"):
        local_db.query("shop", "print 1")
    local_db.query("Other", ".create database Shop")
    assert local_db.query("shop", "print 1").database == "Shop"


def test_mapping_and_table_info_changes_are_seen(local_db):
    local_db.query("Db", ".create table T (x:long)")
    assert local_db.query("Db", ".show table T ingestion json mappings").frame.empty
    local_db.query("Db", '.create table T ingestion json mapping "m" \'[{"column":"x","Properties":{"Path":"$.a"}}]\'')
    local_db.ingest("Db", "T", b'{"a": 7}', data_format="json", mapping_ref="m")
    assert local_db.query("Db", "T").frame["x"].tolist() == [7]


def test_a_write_on_another_thread_is_seen_by_this_one(local_db):
    local_db.query("Db", ".create table T (x:long)")
    query = "union withsource=t T | project-away t"   # its SQL lists the columns the catalog gave
    assert local_db.query("Db", query).column_types == [("x", "long")]
    writer = threading.Thread(target=local_db.query, args=("Db", ".create-merge table T (x:long, y:long)"))
    writer.start()
    writer.join()
    assert local_db.query("Db", query).column_types == [("x", "long"), ("y", "long")]


def test_a_catalog_change_outside_the_lock_still_drops_the_cache(local_db):
    """Catalog writers take the write lock themselves when the caller does not hold it."""
    local_db.query("Db", ".create table T (x:long)")
    generation = local_db.lock.generation
    local_db.catalog.ensure_database("Elsewhere")
    assert local_db.lock.generation > generation
    assert "Elsewhere" in local_db.query("Db", ".show databases").frame["DatabaseName"].tolist()
    assert local_db.query("elsewhere", "print 1").database == "Elsewhere"


def test_the_cached_resolution_is_not_changed_by_a_staged_query(local_db):
    """A staged query (virtual tables) adds to a copy of the schema, never to the cached one."""
    local_db.query("Db", ".create table T (x:long, t:datetime)")
    local_db.query("Db", ".ingest inline into table T <| 1,2024-01-01")
    before = {k: list(v) for k, v in local_db.catalog.resolve("Db").schema.items()}
    series = local_db.query("Db", "T | make-series c = count() on t from datetime(2024-01-01) to datetime(2024-01-03) "
                                  "step 1d")   # a SQL stage, a virtual table while it translates
    assert series.frame["c"].tolist() == [[1, 0]]
    assert local_db.catalog.resolve("Db").schema == before


def test_no_other_writer_can_reach_a_held_file(local_db, tmp_path):
    """The cache's premise: while a backend holds its file, no other process can open it (not even
    read-only), and this process cannot attach it a second time; every writer goes through one lock."""
    import subprocess
    import sys

    from kfx_notebook.backends.local import LocalBackend

    local_db.query("Db", ".create table T (x:long)")
    probe = ("import duckdb, sys\n"
             "for read_only in (False, True):\n"
             "    try:\n"
             "        duckdb.connect(sys.argv[1], read_only=read_only)\n"
             "        print('opened')\n"
             "    except duckdb.IOException as exc:\n"
             "        print('refused' if 'lock' in str(exc).lower() else exc)\n")
    answer = subprocess.run([sys.executable, "-c", probe, local_db.path], capture_output=True, text=True, timeout=120)
    assert answer.stdout.split() == ["refused", "refused"], answer.stdout + answer.stderr
    with pytest.raises(Exception, match="already attached"):
        LocalBackend(local_db.path)
