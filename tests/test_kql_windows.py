"""serialize and prev/next/row_number/row_cumsum/row_rank_dense by SQL stages (kql/windows.py) on a
real DuckDB database: the rows' order (after order by or serialize) is the window's, a restart
starts a new group at its row, nested calls compose, and rows that are not serialized are refused."""

from __future__ import annotations

import pytest

from kfx_notebook.errors import UnsupportedError

DB = "WindowDB"
# deliberately not in name/month order: the answers below follow `order by`, not the input
T = ('datatable(name:string, month:int, salary:long)["Bob", 2, 1950, "Alice", 1, 1000, "Bob", 1, 1000, '
     '"Alice", 3, 1400, "Alice", 2, 2000, "Bob", 3, 1450]')


@pytest.fixture(scope="module")
def engine(kql_engine):
    return kql_engine


def values(engine, kql):
    types, rows = engine.query_rows(DB, kql)
    return [n for n, _ in types], [list(r) for r in rows]


def test_row_cumsum_restarts_where_prev_differs(engine):
    names, rows = values(engine, f"{T} | order by name asc, month asc "
                                 "| extend total=row_cumsum(salary, name != prev(name)) | project name, total")
    assert names == ["name", "total"]
    assert rows == [["Alice", 1000], ["Alice", 3000], ["Alice", 4400], ["Bob", 1000], ["Bob", 2950], ["Bob", 4400]]


def test_serialize_with_an_assignment_and_without(engine):
    assert values(engine, "datatable(a:long)[1, 2, 3, 4] | where a % 2 == 0 | serialize cs=row_cumsum(a)")[1] == [
        [2, 2], [4, 6]]
    assert values(engine, "datatable(a:long)[3, 1, 2] | serialize | extend n=row_number()")[1] == [
        [3, 1], [1, 2], [2, 3]]


def test_prev_next_offsets_and_defaults(engine):
    _, rows = values(engine, "datatable(a:long)[10, 20, 30] | serialize p=prev(a), q=prev(a, 2, -1), "
                             "n=next(a), m=next(a, 1, a * 100)")
    assert rows == [[10, None, -1, 20, 20], [20, 10, -1, 30, 30], [30, 20, 10, None, 3000]]


def test_row_number_start_and_restart(engine):
    _, rows = values(engine, f"{T} | order by name asc, month asc "
                             "| extend r=row_number(0, name != prev(name)), s=row_number(7) | project r, s")
    assert rows == [[0, 7], [1, 8], [2, 9], [0, 10], [1, 11], [2, 12]]


def test_row_rank_dense_counts_changes_within_each_group(engine):
    _, rows = values(engine, "datatable(g:string, v:long)['a', 2, 'a', 3, 'a', 3, 'a', 100, 'b', 1, 'b', 1] "
                             "| serialize | extend r=row_rank_dense(v, prev(g) != g) | project r")
    assert rows == [[1], [2], [2], [3], [1], [1]]


@pytest.mark.parametrize("kql, refused", [
    ("datatable(a:long)[1, 2] | extend p=prev(a)", "not serialized"),
    ("datatable(a:long)[1, 2] | where a > 0 | extend c=row_cumsum(a)", "not serialized"),
    ("datatable(a:long)[1, 2] | serialize p=prev(a, a)", "constant integer"),
    ("datatable(a:long)[1, 2] | serialize c=row_cumsum()", "0 arguments"),
])
def test_what_is_not_implemented_is_refused(engine, kql, refused):
    with pytest.raises(UnsupportedError, match=refused):
        engine.query_rows(DB, kql)


def test_serialization_survives_order_keeping_operators(engine):
    _, rows = values(engine, "datatable(a:long)[3, 1, 2] | order by a asc | where a > 0 | extend p=prev(a) "
                             "| extend n=next(a) | project a, p, n")
    assert rows == [[1, None, 2], [2, 1, 3], [3, 2, None]]
