"""dataframes: any table of Kusto-typed wire values converts to what a slow, obvious reference gives."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import dataframes
from kfx_notebook.errors import KustoQueryError, ResultTruncatedError
from kfx_notebook.kusto_types import TYPES

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# -- wire values, as a Kusto server encodes them (learn.microsoft.com/kusto/api/rest/response-v2) -------------------------

def _ts_text(ns: int) -> str:
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    days, rest = divmod(ns // 100, 864_000_000_000)
    h, rest = divmod(rest, 36_000_000_000)
    m, rest = divmod(rest, 600_000_000)
    s, ticks = divmod(rest, 10_000_000)
    return f"{sign}{days}.{h:02d}:{m:02d}:{s:02d}.{ticks:07d}" if days else f"{sign}{h:02d}:{m:02d}:{s:02d}.{ticks:07d}"


def _dt_text(ticks: int) -> str:
    seconds, frac = divmod(ticks, 10_000_000)
    return (EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:07d}Z"


WIRE = {
    "bool": st.booleans(),
    "int": st.integers(-2**31, 2**31 - 1),
    "long": st.integers(-2**63, 2**63 - 1),
    "real": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["NaN", "Infinity", "-Infinity"])),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),
    "string": st.text(max_size=8),
    # within pandas' ns range, as ticks of 100 ns since the epoch
    "datetime": st.integers(-9_000_000_000 * 10_000_000 // 1000, 9_000_000_000 * 10_000_000 // 1000).map(_dt_text),
    "timespan": st.one_of(st.integers(-9 * 10**16, 9 * 10**16).map(lambda n: _ts_text(n * 100)),
                          st.integers(-10**15, 10**15)),
    "guid": st.uuids().map(str),
    "dynamic": st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3)),
                            lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                            max_leaves=5),
}


@st.composite
def tables(draw):
    types = draw(st.lists(st.sampled_from(sorted(WIRE)), min_size=1, max_size=6))
    columns = [(f"c{i}", t) for i, t in enumerate(types)]
    n = draw(st.integers(0, 8))
    rows = [[draw(st.one_of(st.none(), WIRE[t])) for t in types] for _ in range(n)]
    return columns, rows


# -- the slow reference, written for clarity -------------------------------------------------

def ref_value(ktype: str, v):
    if v is None:
        return None
    if ktype in ("bool", "int", "long", "string", "guid", "dynamic"):
        return v
    if ktype == "real":
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else float(v)
    if ktype == "decimal":
        return Decimal(v)
    if ktype == "datetime":  # nanoseconds since the epoch
        date, frac = v.rstrip("Z").split(".")
        whole = dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        return ((whole - EPOCH) // dt.timedelta(seconds=1)) * 10**9 + int(frac.ljust(9, "0"))
    if ktype == "timespan":  # nanoseconds
        if isinstance(v, int):
            return v * 100
        sign = -1 if v.startswith("-") else 1
        body = v.lstrip("-")
        days = 0
        if body.count(":") == 2 and "." in body.split(":")[0]:
            days_text, body = body.split(".", 1)
            days = int(days_text)
        h, m, s = body.split(":")
        sec, _, frac = s.partition(".")
        return sign * ((((days * 24 + int(h)) * 60 + int(m)) * 60 + int(sec)) * 10**9 + int(frac.ljust(9, "0") or 0))
    raise AssertionError(ktype)


REF_DTYPE = {t.name: (t.dtype, t.nullable_dtype) for t in TYPES}


def got_value(ktype: str, series, i):
    import pandas as pd

    v = series.iloc[i]
    if v is None or (not isinstance(v, (list, dict)) and pd.isna(v) and ktype != "real"):
        return None
    if ktype == "datetime":
        return v.value
    if ktype == "timespan":
        return v.value
    if ktype in ("bool",):
        return bool(v)
    if ktype in ("int", "long"):
        return int(v)
    if ktype == "real":
        return float(v)
    return v


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) if not isinstance(a, (int, float)) or isinstance(a, bool) else a == b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_any_table_converts_like_the_reference(table):
    columns, rows = table
    frame = dataframes.frame_from_columns(columns, [list(r) for r in rows])
    assert list(frame.columns) == [n for n, _ in columns] and len(frame) == len(rows)
    for j, (name, ktype) in enumerate(columns):
        series = frame.iloc[:, j]
        values = [r[j] for r in rows]
        has_null = any(v is None for v in values)
        want_dtype = REF_DTYPE[ktype][1 if has_null else 0]
        if ktype == "string":
            assert series.dtype == dataframes._default_string_dtype()
        else:
            assert str(series.dtype) == want_dtype, (ktype, series.dtype)
        for i, v in enumerate(values):
            want = ref_value(ktype, v)
            got = got_value(ktype, series, i)
            if ktype == "real" and want is None:
                assert math.isnan(got)
            else:
                assert same(got, want), (ktype, v, got, want)


@pytest.mark.parametrize("ktype", [t.name for t in TYPES])
def test_every_kusto_type_has_a_converter(ktype):
    assert ktype in dataframes.CONVERTERS


def test_exact_long_above_2_53_with_nulls():
    frame = dataframes.frame_from_columns([("l", "long")], [[9007199254740993], [None]])
    assert frame["l"][0] == 9007199254740993 and str(frame["l"].dtype) == "Int64"


def test_negative_timespan_with_days_keeps_its_sign_on_the_whole_span():
    frame = dataframes.frame_from_columns([("t", "timespan")], [["-1.00:00:00.5"]])
    assert frame["t"][0].total_seconds() == -86400.5


def test_datetimes_outside_the_ns_range_warn_and_stay_exact_to_the_microsecond():
    with pytest.warns(dataframes.DatetimeRangeWarning, match="outside pandas' nanosecond range"):
        frame = dataframes.frame_from_columns([("d", "datetime")], [["0001-01-01T00:00:00Z"], ["9999-12-31T23:59:59.999999Z"], [None]])
    assert str(frame["d"].dtype) == "datetime64[us, UTC]"
    assert frame["d"][1].year == 9999 and frame["d"][1].microsecond == 999999


def test_a_bad_value_names_its_column_and_is_never_nat():
    with pytest.raises(dataframes.ConversionError, match="column 'd'"):
        dataframes.frame_from_columns([("d", "datetime")], [["not a date"]])
    with pytest.raises(dataframes.ConversionError, match="'b'"):
        dataframes.frame_from_columns([("b", "bool")], [["false"]])


def _v2(rows, extra=()):
    return json.dumps([{"FrameType": "DataSetHeader"},
                       {"FrameType": "DataTable", "TableKind": "PrimaryResult",
                        "Columns": [{"ColumnName": "x", "ColumnType": "long"}], "Rows": rows}, *extra,
                       {"FrameType": "DataSetCompletion", "HasErrors": False}])


def _frame_from_v2(body: bytes):
    return dataframes.frame_from_v2_frames(dataframes.decode_json(body))


def test_frame_from_v2_reads_the_primary_result():
    frame, columns, completion = _frame_from_v2(_v2([[1], [2]]).encode())
    assert frame["x"].tolist() == [1, 2] and columns == [("x", "long")]
    assert completion == {"rows": 2, "truncated": False}


def test_truncation_in_completion_information_raises_with_the_numbers():
    qci = {"FrameType": "DataTable", "TableKind": "QueryCompletionInformation",
           "Columns": [{"ColumnName": "Level"}, {"ColumnName": "StatusCodeName"}, {"ColumnName": "Payload"}],
           "Rows": [[2, "LimitsExceeded", json.dumps({"Text": "exceeded the internal record count limit 500000 "
                                                              "(E_QUERY_RESULT_SET_TOO_LARGE)."})]]}
    with pytest.raises(ResultTruncatedError) as info:
        _frame_from_v2(_v2([[1]], [qci]))
    assert (info.value.rows, info.value.limit) == (1, 500000)
    assert "500000" in str(info.value) and "notruncation" in info.value.hint


def test_other_inline_errors_raise_query_errors():
    with pytest.raises(KustoQueryError, match="boom"):
        _frame_from_v2(_v2([[1], {"OneApiErrors": [{"error": {"code": "General", "@message": "boom"}}]}]))


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, kfx_notebook.dataframes, kfx_notebook.backends.cluster;"
            "print([m for m in ('pandas','numpy','pyarrow','azure.kusto.data') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("text", ["-10675199.02:48:05.4775808", "10675199.02:48:05.4775807", "106752.00:00:00"])
def test_a_timespan_past_pandas_range_is_said_never_wrapped(text):
    # .NET's TimeSpan.MinValue/MaxValue overflow int64 nanoseconds: Arrow's unchecked arithmetic
    # wrapped them silently into small spans of the other sign.
    with pytest.raises(dataframes.ConversionError, match="beyond pandas' range") as caught:
        dataframes.frame_from_columns([("t", "timespan")], [["00:00:01"], [text], [None]])
    assert text in str(caught.value) and "tostring(t)" in caught.value.hint


def test_the_longest_timespan_pandas_holds_stays_exact():
    frame = dataframes.frame_from_columns([("t", "timespan")], [["106751.23:47:16.8547758"]])
    assert frame["t"][0].value == 9_223_372_036_854_775_800


CANONICAL_TIMESPAN = st.builds(
    lambda negative, days, clock, fraction: f"{'-' if negative else ''}{f'{days}.' if days is not None else ''}"
                                            f"{clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d}{f'.{fraction}' if fraction else ''}",
    st.booleans(), st.one_of(st.none(), st.integers(0, 10**7)),
    st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)), st.text("0123456789", max_size=9))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), CANONICAL_TIMESPAN), max_size=12), st.integers(0, 3))
def test_canonical_timespans_read_from_the_buffer_equal_the_per_value_parser(texts, cut):
    import pyarrow as pa

    array = pa.array(["00:00:00"] * cut + texts, type=pa.string())[cut:]  # a slice: offsets not at 0
    ns = dataframes._canonical_timespan_ns(array)
    if any(t is not None and t.lstrip("-").split(".")[0].isdigit() and len(t.lstrip("-").split(".")[0]) > 5
           and ":" not in t.lstrip("-").split(".")[0] for t in texts):
        assert ns is None  # more than 5 day digits: the checked Arrow arithmetic decides
        return
    want = [dataframes._timespan_ns(t) for t in texts]
    assert [None if t is None else int(v) for t, v in zip(texts, ns)] == want
    assert all(int(v) == -2**63 for t, v in zip(texts, ns) if t is None)
