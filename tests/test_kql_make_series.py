"""make-series by SQL stages (kql/make_series.py) and make_datetime's five-argument form, on a real
DuckDB database: bins from `from` (inclusive) to `to` (exclusive), absent bins taking the default,
every key its own row, the rest of the pipeline composing, and the forms not implemented refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kfx_notebook.errors import UnsupportedError

DB = "SeriesDB"
T = ('datatable(t:datetime, k:string, v:long)[datetime(2017-01-01), "a", 1, datetime(2017-01-01 05:00), "a", 2, '
     'datetime(2017-01-03), "b", 7, datetime(2017-01-04), "b", 100, datetime(2016-12-31), "c", 9]')
RANGE = "on t from datetime(2017-01-01) to datetime(2017-01-04) step 1d"
AXIS = ["2017-01-01T00:00:00.0000000Z", "2017-01-02T00:00:00.0000000Z", "2017-01-03T00:00:00.0000000Z"]


@pytest.fixture(scope="module")
def engine(kql_engine):
    return kql_engine


def rows(engine, kql):
    types, values = engine.query_rows(DB, kql)
    return [n for n, _ in types], [[json.loads(v) if t == "dynamic" else v for v, (_, t) in zip(row, types)]
                                   for row in values]


def test_series_per_key_with_defaults_and_default_names(engine):
    names, got = rows(engine, f"{T} | make-series sum(v), n=count() default=-1 {RANGE} by k | order by k asc")
    assert names == ["k", "sum_v", "n", "t"]
    # `to` is exclusive (b's 100 on the 4th is out); c has rows only outside the range: no series
    assert got == [["a", [3, 0, 0], [2, -1, -1], AXIS], ["b", [0, 0, 7], [-1, -1, 1], AXIS]]


def test_empty_input_gives_no_series_unless_nonempty(engine):
    assert rows(engine, f"{T} | take 0 | make-series avg(v) {RANGE}")[1] == []
    assert rows(engine, f"{T} | take 0 | make-series kind=nonempty avg(v) default=1.5 {RANGE}")[1] == [
        [[1.5, 1.5, 1.5], AXIS]]


def test_the_rest_of_the_pipeline_runs_over_the_series(engine):
    _, got = rows(engine, f"let lo = datetime(2017-01-01); {T} | make-series s=sum(v) on t from lo "
                              "to datetime(2017-01-04) step 1d | extend d = series_add(s, s) | project d")
    assert got == [[[6, 0, 14]]]


@pytest.mark.parametrize("operator, refused", [
    ("make-series make_list(v) " + RANGE, "numbers only"),
    ("make-series sum(v) on t step 1d", "on`, `from`, `to` and `step`"),
    ("make-series sum(v) on t in range(datetime(2017-01-01), datetime(2017-01-04), 1d)", "in range"),
    ("make-series kind=wide sum(v) " + RANGE, "kind=wide"),
    ("make-series sum(v) on bin(t, 1d) from datetime(2017-01-01) to datetime(2017-01-04) step 1d", "column name"),
])
def test_other_forms_are_refused_by_name(engine, operator, refused):
    with pytest.raises(UnsupportedError, match="unsupported: make-series") as info:
        engine.query_rows(DB, f"{T} | {operator}")
    assert refused in str(info.value)


def test_make_datetime_with_five_arguments_has_zero_seconds(engine):
    _, got = rows(engine, "print a=make_datetime(2017, 10, 1, 12, 10), b=make_datetime(2017, 10, 1)")
    assert got == [[dt.datetime(2017, 10, 1, 12, 10), dt.datetime(2017, 10, 1)]]
