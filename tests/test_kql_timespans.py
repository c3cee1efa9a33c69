"""A timespan divided or multiplied by a number: exact to the microsecond, or refused (never the
silent rounding of DuckDB's INTERVAL * DOUBLE)."""

from __future__ import annotations

import datetime as dt

import pytest

from kfx_notebook.errors import KfxError

DB = "SpanDB"


@pytest.fixture(scope="module")
def engine(kql_engine):
    return kql_engine


@pytest.mark.parametrize("expression, kusto_type, value", [
    ("1min / 2.0", "timespan", dt.timedelta(seconds=30)),  # join-time-window.md's lookupWindow / 2.0
    ("1h / 4", "timespan", dt.timedelta(minutes=15)),
    ("-1h / 2", "timespan", dt.timedelta(minutes=-30)),
    ("1h * 1.5", "timespan", dt.timedelta(minutes=90)),
    ("0.5 * 1s", "timespan", dt.timedelta(milliseconds=500)),
    ("0.1s * 3", "timespan", dt.timedelta(milliseconds=300)),
    ("2 * 1d", "timespan", dt.timedelta(days=2)),
    ("1h / 30m", "real", 2.0),  # two timespans: a number
    ("1h / real(null)", "timespan", None),
])
def test_scaled_timespans(engine, expression, kusto_type, value):
    types, rows = engine.query_rows(DB, f"print a = {expression}")
    assert (types[0][1], rows[0][0]) == (kusto_type, value)


def test_a_let_timespan_divided_by_a_number(engine):
    _, rows = engine.query_rows(DB, "let w = 1min; let half = w / 2.0; print a = half * 4")
    assert rows == [(dt.timedelta(minutes=2),)]


@pytest.mark.parametrize("expression, message", [
    ("1s * 0.3333333", "below a microsecond"),  # Kusto: 3333333 ticks, the seventh digit
    ("1h / 7", "below a microsecond"),
    ("1h / 0", "divided by zero"),
])
def test_what_needs_a_tick_or_divides_by_zero_is_refused(engine, expression, message):
    with pytest.raises(KfxError, match=message):
        engine.query_rows(DB, f"print a = {expression}")
