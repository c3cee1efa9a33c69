"""Hypothesis strategies for DataFrames a function returns: every dtype, nulls, NaN/inf, zones, unicode, nesting."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import strategies as st

ROWS = st.integers(min_value=0, max_value=6)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
LOOKS_TYPED = st.sampled_from(["2024-01-31T12:00:00Z", "2024-01-31T12:00:00.1234567Z", "01:02:03", "1.02:03:04.5",
                               "true", "12", "1.5", "Infinity", '{"a": 1}', "[1,2]", "null", ""])
#: Reals at the edges of how they are spelled: signed zero, where repr turns scientific, the extremes, integers.
EDGE_FLOATS = [-0.0, 0.0, 1e16, 1e-5, 1e-7, 1e-4, 1e10, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308,
               0.1, 2.5, 2.0, -3.0, 1e15, 123456789012345.0, 9999999999999998.0, float("nan"), float("inf"),
               float("-inf")]
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(EDGE_FLOATS)
SCALARS = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | FLOATS | TEXT | LOOKS_TYPED
KEYS = TEXT | LOOKS_TYPED | st.integers(-2, 2) | st.booleans() | st.none()   # non-str keys: str() in the payload
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=2).map(tuple)
                       | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
NS = st.integers(min_value=-(2**62), max_value=2**62)
ZONES = st.sampled_from([None, "UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata"])


def _nullable(values: st.SearchStrategy, null=None) -> st.SearchStrategy:
    return st.one_of(values, st.just(null))


COLUMN_KINDS = ["int64", "Int64", "int32", "uint8", "float64", "float32", "bool", "boolean", "datetime",
                "datetime_us", "timedelta", "string", "str", "dynamic", "mixed", "decimal", "guid", "category",
                "date_objects"]


@st.composite
def columns(draw, n: int, kind: str):
    """One DataFrame column of n rows of one of the kinds a function returns."""
    if kind in ("int64", "int32", "uint8"):
        bounds = {"int64": (-2**63, 2**63 - 1), "int32": (-2**31, 2**31 - 1), "uint8": (0, 255)}[kind]
        return pd.Series(draw(st.lists(st.integers(*bounds), min_size=n, max_size=n)), dtype=kind)
    if kind == "Int64":
        return pd.Series(draw(st.lists(_nullable(st.integers(-2**63, 2**63 - 1)), min_size=n, max_size=n)),
                         dtype="Int64")
    if kind in ("float64", "float32"):
        values = draw(st.lists(FLOATS, min_size=n, max_size=n))
        return pd.Series(values, dtype="float64").astype(kind)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "boolean":
        return pd.Series(draw(st.lists(_nullable(st.booleans()), min_size=n, max_size=n)), dtype="boolean")
    if kind in ("datetime", "datetime_us"):
        values = draw(st.lists(_nullable(NS), min_size=n, max_size=n))
        series = pd.Series(pd.to_datetime([pd.NaT if v is None else v for v in values], unit="ns"))
        if kind == "datetime_us":
            series = series.dt.floor("us").astype("datetime64[us]")
        zone = draw(ZONES)
        return series.dt.tz_localize("UTC").dt.tz_convert(zone) if zone else series
    if kind == "timedelta":
        values = draw(st.lists(_nullable(NS), min_size=n, max_size=n))
        return pd.Series(pd.to_timedelta([pd.NaT if v is None else v for v in values], unit="ns"))
    if kind in ("string", "str", "category"):
        values = draw(st.lists(_nullable(TEXT | LOOKS_TYPED), min_size=n, max_size=n))
        dtype = {"string": object, "str": "str", "category": "category"}[kind]
        return pd.Series(values, dtype=dtype)
    if kind == "dynamic":
        values = draw(st.lists(_nullable(st.dictionaries(KEYS, JSONISH, max_size=3) | st.lists(JSONISH, max_size=3)),
                               min_size=n, max_size=n))
        return pd.Series(values, dtype=object)
    if kind == "mixed":
        return pd.Series(draw(st.lists(JSONISH, min_size=n, max_size=n)), dtype=object)
    if kind == "decimal":
        values = draw(st.lists(_nullable(st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                                     min_value=-10**9, max_value=10**9)), min_size=n, max_size=n))
        return pd.Series(values, dtype=object)
    if kind == "guid":
        return pd.Series(draw(st.lists(_nullable(st.uuids()), min_size=n, max_size=n)), dtype=object)
    values = draw(st.lists(_nullable(st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1))), min_size=n, max_size=n))
    return pd.Series(values, dtype=object)


@st.composite
def frames(draw, first_kind: str):
    """A frame whose first column is of *first_kind* (so every kind is tested), the others of any kind."""
    n = draw(ROWS)
    names = draw(st.lists(st.sampled_from(["a", "b", "Ünï", "d", "e f", "g"]), min_size=1, max_size=4, unique=True))
    kinds = [first_kind, *draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=3, max_size=3))]
    return pd.DataFrame({name: draw(columns(n, kind)) for name, kind in zip(names, kinds)})
