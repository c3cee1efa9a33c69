"""A new table's column types from its JSON (json_inference) are exactly merge_inferred's, folded record by record.

Differential, with hypothesis: columns of generated values (every JSON kind, numbers past int64,
-0.0, 1e16, strings that look like datetimes and timespans, Unicode digits, a final line feed,
nested containers) in any order give through json_inference (from json's decoded values, and
from the texts each reader gives: the C reader's and DuckDB's) the type the per-record rule
(`ingest.infer_value` folded by `ingest.merge_inferred`, tests/ingest_reference.py) gives.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups
from kfx_notebook.backends.local import ingest, json_inference, json_texts
from tests.test_ingest_columns import TEXTS, VALUES

#: Strings on the edges of the two patterns: Python's \d takes any Unicode digit, its $ a final line feed.
EDGE_STRINGS = ["2021-03-04T05:06Z\n", "2021-03-04T05:06Z\n\n", "\u0662021-03-04T05:06Z", "2021-03-04T05:06:07.5+01:00",
                "2021-03-04T05:06:07.Z", "2021-03-04t05:06Z", "01:02:03\n", "\uff11\uff12:00:00", "1.01:02:03.12345678",
                "-01:02:03.1234567", "123456789.01:02:03", "1.2.01:02:03", "01:02:03 ", "\n01:02:03", "", "\u0660\u0660:00:00"]
STRINGS = st.one_of(st.sampled_from(EDGE_STRINGS + TEXTS), st.text(alphabet="0123456789:.-TZ+\n\u0663", max_size=24))
COLUMN_VALUES = st.lists(st.one_of(VALUES, STRINGS, STRINGS), min_size=1, max_size=8)


def _reference_type(values: list) -> str:
    """merge_inferred folded over the values in record order (as tests/ingest_reference.py does)."""
    return functools.reduce(ingest.merge_inferred, map(ingest.infer_value, values), None) or "string"


def _texts_by(reader, values: list):
    """One column's values through the C reader's every-key mode, or (*reader* None: the module unloaded)
    DuckDB's -> its (texts, strings); each record also holds "id" (so none is empty, which both readers
    leave to json)."""
    body = "\n".join(json.dumps({"id": 0, "v": v}, ensure_ascii=False) for v in values).encode()
    if reader is not None:
        read = json_texts.record_texts(body, None)
        assert read is not None and read[0] == ["id", "v"]     # the C reader took it, every key in order
        return read[1][1]
    parts = json_texts.json_value_texts(body, [("id", "long"), ("v", "string")])
    assert parts is not None
    return parts[1]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=COLUMN_VALUES, order=st.randoms())
def test_types_from_decoded_values_are_merge_inferred_in_any_order(values, order):
    shuffled = list(values)
    order.shuffle(shuffled)
    assert json_inference.column_type(json_inference.kinds_of_values(shuffled)) == _reference_type(values)


@pytest.mark.parametrize("c_built", [True, False], ids=["C reader", "DuckDB's reader"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(values=COLUMN_VALUES)
def test_types_from_a_readers_texts_are_merge_inferred(monkeypatch, c_built, values):
    if not c_built:
        monkeypatch.setitem(_speedups._LOADED, "json_records", None)
    texts, strings = _texts_by(_speedups.load("json_records"), values)
    kinds = json_inference.kinds_of_texts(texts, strings)
    assert kinds is not None        # every value here is JSON's own (finite): the texts are always understood
    assert json_inference.column_type(kinds) == _reference_type(values)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "nan", "inf", "1.", ".5", "+1", "01", "0x1F", "tru",
                                  '"x"'])
def test_a_text_that_is_no_json_value_is_not_typed_from_texts(text):
    """A reader that let one of these through (DuckDB takes nan and inf) leaves the body to json's decoding."""
    import pyarrow as pa

    texts = pa.array(["1", text], pa.string())
    assert json_inference.kinds_of_texts(texts, pa.nulls(2, pa.string())) is None


@pytest.mark.parametrize("texts, strings, kinds", [
    (["12345678901234567890123", "-0"], [None, None], {"long"}),          # json's int, however long
    (["1e400", "1E2", "-0.0"], [None, None, None], {"real"}),
    (['"a"', None, "true"], ["a", None, None], {"string", "bool"}),
    (['{"k":1}', "[]", "1"], [None, None, None], {"dynamic", "long"}),
    ([None, None], [None, None], set()),
])
def test_kinds_of_texts_by_example(texts, strings, kinds):
    import pyarrow as pa

    assert json_inference.kinds_of_texts(pa.array(texts, pa.string()), pa.array(strings, pa.string())) == kinds


#: ASCII texts near both patterns' edges: a part too short or long, a zone or fraction or not, a digit off.
ASCII_STRINGS = st.one_of(
    st.text(alphabet="0123456789:.-+TZeE", max_size=30),
    st.from_regex(r"-?([0-9]{1,3}\.)?[0-9]{1,3}:[0-9]{2}:[0-9]{1,3}(\.[0-9]{0,9})?", fullmatch=True),
    st.from_regex(r"[0-9]{3,5}-[0-9]{2}-[0-9]{1,2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{0,3})?)?"
                  r"(Z|z|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(VALUES, STRINGS, ASCII_STRINGS, ASCII_STRINGS), min_size=1, max_size=8))
def test_kinds_found_in_c_are_the_arrow_tests_kinds(monkeypatch, values):
    """text_rules.kinds (one C pass) and the Arrow tests with the Python patterns give the same kinds."""
    texts, strings = _texts_by(_speedups.load("json_records"), values)
    by_c = json_inference.kinds_of_texts(texts, strings)
    plain = all(not isinstance(v, str) or (v.isascii() and "\n" not in v) for v in values)
    if _speedups.load("text_rules") is not None:    # decided in C exactly when every string is plain
        assert (json_inference._kinds_in_c(texts, strings) is not json_inference._UNDECIDED) == plain
    monkeypatch.setitem(_speedups._LOADED, "text_rules", None)
    assert json_inference.kinds_of_texts(texts, strings) == by_c


@pytest.mark.parametrize("text", [
    "01:02:03.1234567", "01:02:03.12345678", "1.01:02:03", "-1.01:02:03.1", "01:02:03.", "-.01:02:03", "00:00:00",
    "0:00:00", "000:00:00", "123456789.01:02:03", "2021-03-04T05:06Z", "2021-03-04T05:06:07Z", "2021-03-04T05:06:07.123Z",
    "2021-03-04T05:06:07.Z", "2021-03-04T05:06+01:00", "2021-03-04T05:06:07-11:30", "2021-03-04T05:06:07+0100",
    "2021-03-04T05:06", "2021-03-04 05:06Z", "12021-03-04T05:06Z", "021-03-04T05:06Z", "2021-03-04T05:06:7Z", "x"])
def test_kinds_found_in_c_by_example(monkeypatch, text):
    import pyarrow as pa

    texts, strings = pa.array([json.dumps(text), "1"], pa.string()), pa.array([text, None], pa.string())
    by_c = json_inference.kinds_of_texts(texts, strings)
    monkeypatch.setitem(_speedups._LOADED, "text_rules", None)
    assert json_inference.kinds_of_texts(texts, strings) == by_c
