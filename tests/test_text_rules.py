"""The C datetime and timespan rules (`_speedups/text_rules.c`) against ingest_columns' Arrow kernels.

Differential: generated texts around the two patterns (every field at and past its range, leap
days, 0-10 fraction digits, zones, signs, days of 0-9 digits, stray bytes and non-ASCII digits),
nulls, and sliced arrays give the same covered mask and the same microseconds both ways; the
buffers are checked before they are read; calls keep no memory.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups
from kfx_notebook.backends.local import ingest_columns
from tests.speedup_checks import assert_no_memory_growth

speedup = _speedups.load("text_rules")
pytestmark = pytest.mark.skipif(speedup is None, reason="unreachable where a compiler is: test_speedups_build fails")
RULES = {"datetime": ingest_columns._datetime_rule, "timespan": ingest_columns._timespan_rule}


def _both(rule: str, texts):
    """(values, covered) by C and by the Arrow kernels (text_rules unloaded)."""
    fast = RULES[rule](texts)
    saved = _speedups._LOADED.get("text_rules")
    _speedups._LOADED["text_rules"] = None
    try:
        slow = RULES[rule](texts)
    finally:
        _speedups._LOADED["text_rules"] = saved
    return fast, slow


def _agree(rule: str, texts) -> None:
    (values, covered), (ref_values, ref_covered) = _both(rule, texts)
    assert covered.to_pylist() == ref_covered.to_pylist(), texts
    assert values.type == ref_values.type
    got = values.cast(pa.int64()).to_pylist()
    want = ref_values.cast(pa.int64()).to_pylist()
    assert [g if c else None for g, c in zip(got, covered.to_pylist())] == want


DIGITS = st.sampled_from("0123456789")
def _digits(n):
    return st.text(DIGITS, min_size=n, max_size=n)


ODD = st.sampled_from(["", "Z", "z", "+00:00", " ", "\n", "T", ".", ":", "-", "٣", "é", "1"])
def _field(valid, edges):
    """Mostly a valid field, so that whole texts match and each edge is tried inside one that otherwise would."""
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(edges))


DATETIMES = st.one_of(
    st.tuples(_field(["1000", "1900", "2000", "2020", "2021", "9999"], ["0999", "0000", "12a4", "٢٠٢١"]),
              _field(["01", "02", "04", "12"], ["00", "13", "1", "99"]),
              _field(["01", "28", "29", "30", "31"], ["00", "32", "39", "3"]),
              _field(["T", " "], ["t", "_", ""]),
              _field(["00", "09", "19", "23"], ["24", "29", "30", "2"]),
              _field(["00", "30", "59"], ["60", "69", "6", "5a"]),
              _field(["00", "30", "59"], ["60", "69", "6", "5a"]),
              st.integers(0, 11).flatmap(lambda n: _digits(n).map(lambda d: "." + d)) | st.just(""),
              _field(["", "Z", "z"], ["ZZ", "+01:00", " ", "\n", "é"]), st.just("") | ODD)
    .map(lambda t: f"{t[0]}-{t[1]}-{t[2]}{t[3]}{t[4]}:{t[5]}:{t[6]}{t[7]}{t[8]}{t[9]}"),
    st.text(max_size=32))
TIMESPANS = st.one_of(
    st.tuples(st.sampled_from(["", "-", "--", "+"]),
              st.integers(0, 10).flatmap(lambda n: _digits(n)).map(lambda d: f"{d}." if d else "")
              | st.sampled_from(["", ".", "99999999.", "0."]),
              _digits(2) | st.sampled_from(["1", "123", "ab"]), _digits(2), _digits(2) | st.just("5"),
              st.sampled_from(["", "."]).flatmap(lambda dot: st.just("") if not dot else st.integers(0, 9).flatmap(
                  lambda n: _digits(n).map(lambda d: "." + d))), ODD | st.just(""))
    .map(lambda t: f"{t[0]}{t[1]}{t[2]}:{t[3]}:{t[4]}{t[5]}{t[6]}"),
    st.text(max_size=24))


@settings(max_examples=600, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), DATETIMES), min_size=1, max_size=12), cut=st.integers(0, 3))
def test_datetimes_are_the_arrow_kernels(texts, cut):
    array = pa.array(texts, pa.string())
    _agree("datetime", array)
    _agree("datetime", array.slice(min(cut, len(texts))))      # an offset into the buffers


@settings(max_examples=600, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), TIMESPANS), min_size=1, max_size=12), cut=st.integers(0, 3))
def test_timespans_are_the_arrow_kernels(texts, cut):
    array = pa.array(texts, pa.string())
    _agree("timespan", array)
    _agree("timespan", array.slice(min(cut, len(texts))))


@pytest.mark.parametrize("rule,texts", [
    ("datetime", ["2020-02-29T23:59:59.999999999Z", "1900-02-29 00:00:00", "2000-02-29T00:00:00", "2021-04-31T00:00:00Z",
                  "1970-01-01T00:00:00", "1969-12-31T23:59:59.5Z", "1000-01-01T00:00:00", "9999-12-31T23:59:59.1234567z"]),
    ("timespan", ["99999999.99:99:99.9999999", "-99999999.00:00:00", "-00:00:00", "00:00:00.0000001", "1.02:03:04.5",
                  "1.2:03:04", "123456789.00:00:00", "00:00:00.123456"]),
])
def test_edges_agree(rule, texts):
    _agree(rule, pa.array(texts, pa.string()))
    _agree(rule, pa.array([None] * 3, pa.string()))
    _agree(rule, pa.array([""] * 3, pa.string()))


def test_buffers_are_checked_before_they_are_read():
    array = pa.array(["00:00:01", "00:00:02"], pa.string())
    validity, offsets, data = array.buffers()
    with pytest.raises(ValueError):
        speedup.timespans(validity, offsets, data, 1, 2)        # one string too many
    with pytest.raises(ValueError):
        speedup.timespans(validity, offsets, b"00:00:0", 0, 2)  # an offset past the data
    with pytest.raises(ValueError):
        speedup.datetimes(None, offsets, data, -1, 1)
    assert speedup.timespans(None, offsets, data, 0, 2)[0] == b"\x03"


def test_no_memory_is_kept_across_calls():
    array = pa.array(["2021-03-04T05:06:07.1234567Z", None, "x"] * 300, pa.string())
    buffers = array.buffers()

    def run():
        for _ in range(150):
            speedup.datetimes(*buffers, 0, len(array))
            speedup.timespans(*buffers, 0, len(array))
    assert_no_memory_growth(run)


NUMBER_TEXTS = st.one_of(
    st.text(alphabet="0123456789-+.eE x", max_size=14),
    st.from_regex(r"-?[0-9]{0,22}(\.[0-9]{0,22})?([eE][-+]?[0-9]{0,3})?", fullmatch=True))


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), NUMBER_TEXTS), min_size=1, max_size=12), cut=st.integers(0, 3))
def test_number_texts_in_c_are_the_regex_patterns(texts, cut):
    """text_rules.numbers covers exactly what each digit limit's RE2 pattern covers (nulls not), sliced too."""
    array = pa.array(texts, pa.string())[min(cut, len(texts) - 1):]
    for digits in (ingest_columns.LONG_DIGITS, ingest_columns.INT_DIGITS, ingest_columns.REAL_DIGITS):
        by_c = ingest_columns.number_covered(array, digits)
        saved = _speedups._LOADED.get("text_rules")
        _speedups._LOADED["text_rules"] = None
        try:
            by_regex = ingest_columns.number_covered(array, digits)
        finally:
            _speedups._LOADED["text_rules"] = saved
        assert by_c.to_pylist() == by_regex.to_pylist(), (digits, array)


@pytest.mark.parametrize("text, covered", [("123456789012345678", True), ("1234567890123456789", False),
                                           ("-0", True), ("1.", False), ("1e5", False), ("-", False), ("", False)])
def test_long_number_texts_by_example(text, covered):
    assert ingest_columns.number_covered(pa.array([text]), ingest_columns.LONG_DIGITS).to_pylist() == [covered]
