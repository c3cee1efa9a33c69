"""column_names_of(T) on a real DuckDB database: T runs (take 0) and the call becomes its names, in
column order, escaped as string literals; T may call the query's own let functions; elsewhere refused."""

from __future__ import annotations

import json

import pytest

from kfx_notebook.errors import UnsupportedError

DB = "NamesDB"


@pytest.fixture(scope="module")
def engine(kql_engine):
    return kql_engine


@pytest.mark.parametrize("kql, names", [
    ('print c=column_names_of(datatable(a:long, ["b \\"c"]:string)[])', ["a", 'b "c']),
    ("let F = (p:int) { print A='', B=p }; print c=column_names_of(F(1))", ["A", "B"]),
    ("let T = datatable(x:long)[1]; print c=column_names_of(T | extend y=1 | project-away x)", ["y"]),
])
def test_names_in_column_order(engine, kql, names):
    types, rows = engine.query_rows(DB, kql)
    assert types == [("c", "dynamic")] and json.loads(rows[0][0]) == names


def test_inside_a_let_statement_is_refused(engine):
    with pytest.raises(UnsupportedError, match="inside a let statement"):
        engine.query_rows(DB, "let f = (p:int) { print c=column_names_of(print q=1) }; f(1)")
