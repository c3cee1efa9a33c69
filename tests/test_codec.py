"""The codec formats a datetime, a timespan and a dynamic value the same one value at a time and a column at a time."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook import codec
from tests.frame_strategies import COLUMN_KINDS, JSONISH, NS, ZONES, frames


@settings(max_examples=200, deadline=None)
@given(st.lists(NS, min_size=1, max_size=20), ZONES)
def test_datetime_column_texts_are_the_per_value_texts(values, zone):
    series = pd.Series(pd.to_datetime(values, unit="ns"))
    if zone:
        series = series.dt.tz_localize("UTC").dt.tz_convert(zone)
    assert codec.datetime_texts(series) == [codec.kusto_datetime(v) for v in series]


@settings(max_examples=200, deadline=None)
@given(st.lists(NS, min_size=1, max_size=20))
def test_timespan_column_texts_are_the_per_value_texts(values):
    series = pd.Series(pd.to_timedelta(values, unit="ns"))
    assert codec.timespan_texts(series) == [codec.kusto_timespan(v) for v in series]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | JSONISH, max_size=8))
def test_dynamic_column_texts_are_the_per_value_texts(values):
    assert codec.dynamic_texts(values) == [None if v is None else codec.dynamic_text(v) for v in values]


def test_known_texts():
    assert codec.kusto_datetime(pd.Timestamp("1969-12-31T23:59:59.99999999")) == "1969-12-31T23:59:59.9999999Z"
    assert codec.timespan_texts(pd.Series(pd.to_timedelta(["-00:00:00.00000015", "2 days 03:04:05"]))) == \
        ["-00:00:00.0000001", "2.03:04:05.0000000"]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float32 draws
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_column_as_one_array_holds_its_value_texts_token_for_token(data):
    import msgspec

    frame = data.draw(frames(data.draw(st.sampled_from(COLUMN_KINDS))))
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        try:
            texts = codec.json_texts_column(column)
        except (ValueError, TypeError, OverflowError) as exc:
            with pytest.raises(type(exc)):
                codec.json_array_text(column)
            continue
        compact = msgspec.json.format(codec.json_array_text(column).encode("utf-8"), indent=-1)
        assert compact == msgspec.json.format(("[" + ",".join(texts) + "]").encode("utf-8"), indent=-1)


class _Text(str):
    pass


#: Values of every exact type the walk tells apart, subclasses of JSON's own among them, nested.
_ODD_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=3),
                         st.builds(_Text, st.text(max_size=2)), st.decimals(allow_nan=False, places=2),
                         st.datetimes(), st.binary(max_size=2))
_NESTED = st.recursive(_ODD_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=2), st.integers(), st.builds(_Text, st.text(max_size=1))), inner,
                    max_size=3)), max_leaves=12)


def _both_walks(cells):
    from kfx_notebook import _speedups

    by_c = codec._json_value_types(cells)
    _speedups._LOADED["value_types"], saved = None, _speedups.load("value_types")
    try:
        return by_c, codec._json_value_types(cells)
    finally:
        _speedups._LOADED["value_types"] = saved


@settings(max_examples=400, deadline=None)
@given(cells=st.lists(_NESTED, max_size=6))
def test_json_value_types_in_c_are_the_python_walks(cells):
    by_c, by_python = _both_walks(cells)
    assert by_c == by_python


def test_json_value_types_of_deep_and_cyclic_values_are_the_python_walks():
    import sys

    deep = current = []
    for _ in range(sys.getrecursionlimit() + 5):   # past the limit: refused by both
        current.append([])
        current = current[0]
    cyclic: list = []
    cyclic.append(cyclic)
    shallow = [[[{"k": [1]}]]]
    for cells in ([deep], [cyclic], shallow, [], [1, "x"]):
        by_c, by_python = _both_walks(cells)
        assert by_c == by_python
    assert _both_walks([deep])[0] is None and _both_walks(shallow)[0][1] == 4   # list, list, dict, list
