"""duckdb_stream runs a query in one bind and answers exactly as DuckDB's public relation route.

Every query of the corpus (every Kusto type, nulls, parameters, aggregates, dynamic values, staged
operators, an empty result) is run through the backend twice, with the seam and with the public
route, and the column types and DataFrames compared exactly, errors included. The seam is pinned by
its source under the one DuckDB version it is used with; under any other version the public route
is the only one. The record limit still stops a huge result early and servertimeout still cancels.
"""

from __future__ import annotations

import hashlib
import inspect

import pandas as pd
import pytest

from kfx_notebook.backends.local import duckdb_stream
from kfx_notebook.errors import KfxError, ResultTruncatedError

#: sha256 of the source of the DuckDB 2.0.1 functions the seam route stands in for.
SEAM_SOURCES = {
    "submit": "b0f261b6b7f64e86103d7d7290cc1afdc285597f44b375a204788c513441f5a6",
    "to_arrow_reader": "25774378a5c4754795cfba90a4d9e4a68f1407674b4e4fa0ab880ae76e2929d7",
}

DB = "Db"

ROWS = '''.ingest inline into table T <|
1,2,1.5,true,a,2024-01-01T00:00:00Z,01:00:00,"{""k"": [1, ""é""]}",1.25,8a3fc0d5-0a76-4d6d-9b8e-2f1b3b6e9f10
2,,-0.0,false,"b ""q""",2024-02-01T12:30:00Z,-1.00:00:00,[1],,
,3,,,,,,,,
4,5,NaN,true,é,1969-12-31T23:59:59.999Z,00:00:00.001,null,-3.5,00000000-0000-0000-0000-000000000000'''

QUERIES = [
    "T",
    "T | where l > 1 | project l, s",
    "T | summarize n = count(), a = avg(r), m = max(d) by b | order by b",   # groups come in no fixed order
    "T | summarize count() by bin(d, 1d) | order by d",   # groups come in no fixed order
    "T | extend k = dyn.k, t2 = ts * 2 | project k, t2",
    "T | where l == 99",
    "T | take 0",
    "T | summarize make_list(s), make_set(l)",
    "T | project g, dec | where isnotnull(dec)",
    "print x = 1, y = 'a', z = datetime(2020-01-01), w = 1d, v = dynamic({'a': 1}), u = 1.5",
    "datatable(a:long, b:string)[1, 'x', 2, 'y'] | summarize sum(a) by b | order by b",   # groups come in no fixed order
    "T | evaluate bag_unpack(dyn)",
    "T | make-series c = count() on d from datetime(2024-01-01) to datetime(2024-03-01) step 30d",
    "declare query_parameters(n:long, w:string); T | where l >= n or s == w | project l",
    "T | where s == undefined_column",
    "T | extend x = l / 0 | project x",
    "T | project toint(s)",
]

PARAMETERS = {"n": "2", "w": "é"}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from kfx_notebook.backends.local import LocalBackend

    backend = LocalBackend.open(str(tmp_path_factory.mktemp("stream") / "stream.duckdb"))
    backend.query(DB, ".create table T (l:long, i:int, r:real, b:bool, s:string, d:datetime, ts:timespan, "
                      "dyn:dynamic, dec:decimal, g:guid)")
    backend.query(DB, ROWS)
    yield backend
    backend.close()


def _answer(db, query: str):
    try:
        result = db.query(DB, query, PARAMETERS if "declare" in query else None)
    except KfxError as exc:
        return "error", type(exc).__name__, str(exc)
    return result.column_types, result.frame


def _base(db) -> None:
    """Base: 10,000 rows, whose join with itself on one key is a hundred million."""
    if "Base" not in db.catalog.tables(DB):
        db.query(DB, ".set-or-append Base <| range x from 1 to 10000 step 1")


def _public_route(monkeypatch):
    monkeypatch.setattr(duckdb_stream, "_seam_submit", lambda: None)


@pytest.mark.parametrize("query", QUERIES)
def test_the_seam_answers_as_the_public_route(db, query, monkeypatch):
    seam = _answer(db, query)
    _public_route(monkeypatch)
    public = _answer(db, query)
    assert seam[0] == public[0]
    if seam[0] == "error":
        assert seam == public
    else:
        pd.testing.assert_frame_equal(seam[1], public[1], check_exact=True)


def test_the_corpus_reaches_both_answers_and_errors(db):
    """The corpus is not vacuous: most queries answer with rows, some fail in DuckDB (not in translation)."""
    answers = [_answer(db, q) for q in QUERIES]
    assert sum(a[0] != "error" and len(a[1]) > 0 for a in answers) >= 12
    assert any(a[0] == "error" for a in answers)


def test_the_seam_is_used_only_under_the_version_it_was_written_for():
    import duckdb

    duckdb_stream._seam_submit.cache_clear()
    if duckdb.__version__ == duckdb_stream.SEAM_VERSION:
        from duckdb import _seam
        from duckdb._relation import DuckDBPyRelation

        assert duckdb_stream._seam_submit() is _seam.submit
        for name, fn in (("submit", _seam.submit), ("to_arrow_reader", DuckDBPyRelation.to_arrow_reader)):
            assert hashlib.sha256(inspect.getsource(fn).encode()).hexdigest() == SEAM_SOURCES[name], name
    else:
        assert duckdb_stream._seam_submit() is None


def test_another_duckdb_version_takes_the_public_route(monkeypatch):
    import duckdb

    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    duckdb_stream._seam_submit.cache_clear()
    try:
        assert duckdb_stream._seam_submit() is None
    finally:
        monkeypatch.undo()
        duckdb_stream._seam_submit.cache_clear()


@pytest.mark.parametrize("route", ["seam", "public"])
def test_the_record_limit_stops_a_huge_result_early(db, route, monkeypatch):
    """A hundred million rows (a join on one key) under a limit of 10: read one batch past it and refused,
    long before the servertimeout that a full run would reach."""
    if route == "public":
        _public_route(monkeypatch)
    _base(db)
    with pytest.raises(ResultTruncatedError, match="record count limit 10"):
        db.query(DB, "Base | extend k = 1 | join kind=inner (Base | project k = 1, y = x) on k",
                 options={"truncationmaxrecords": 10, "servertimeout": "00:02:00"})


@pytest.mark.parametrize("route", ["seam", "public"])
def test_servertimeout_cancels_a_slow_query(db, route, monkeypatch):
    if route == "public":
        _public_route(monkeypatch)
    _base(db)
    slow = "Base | extend k = 1 | join kind=inner (Base | project k = 1, y = x) on k | summarize count() by y % 7"
    with pytest.raises(KfxError, match="servertimeout") as info:
        db.query(DB, slow, options={"servertimeout": "00:00:00.001"})
    assert info.value.code == "Request_ExecutionTimeout"


def test_query_table_takes_the_same_route(db):
    types, table = db.query_table(DB, "T | project l, s")
    assert types == [("l", "long"), ("s", "string")] and table.num_rows == 4
