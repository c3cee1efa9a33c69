"""A dynamic column's texts minified token for token are exactly the per-value encoder's, or refused.

The per-value encoder (server/wire.py's encode_dynamic, then compact json.dumps) is the reference:
for JSON texts written every way (json.dumps stored form, compact, indented, with other number
and escape spellings, repeated keys, non-JSON), `compact_wire_texts` gives its texts or None.
"""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook.dynamic_wire import compact_wire_texts
from kfx_notebook.server import wire
from tests.frame_strategies import EDGE_FLOATS, JSONISH

#: Number and escape spellings json does not write, and texts that are not one JSON value.
ODD_TEXTS = ['1e16', '1E+16', '1.50', '-0', '-0.0', '0.0', '1e400', '-1e400', '1e-400', '1.0e+16', '100000000000000000.0',
             '"\\u00e9"', '"\\/"', '"\\u001F"', '"\\u000a"', '"\\ud83d\\ude00"', '"\\\\\\""', '"a\\\\"', '"\\"\\\\n"',
             '{"a":1,"a":2}', '{"a":{"a":1},"b":{"a":2}}', '[{"a":1},{"a":1}]', '{"a\\\\":1,"a__":2}',
             '{"a":[{"b":1,"b":1}]}', '{"x":{"y":1},"x":2}', 'NaN', '[Infinity]', '[1', '2]', '3,4', '', ' 1', '{}',
             '[]', '{"":[]}', '"é\\n\\t\\b\\f\\r\\u0000\\u007f\u2028"', '123' + '4' * 4500, '"\x7f"', 'true', 'null',
             '9007199254740993', '-9223372036854775809', '18446744073709551616']
_SPELL = st.sampled_from([
    lambda v: json.dumps(v, ensure_ascii=False),                                   # the stored form
    lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")),            # the wire's form
    lambda v: json.dumps(v, ensure_ascii=True, indent=1),                          # \\u escapes, newlines
    lambda v: json.dumps(v, ensure_ascii=False, sort_keys=False, indent="\t"),
])
_FINITE_JSON = JSONISH.filter(lambda v: _dumpable(v))
TEXTS = st.none() | st.sampled_from(ODD_TEXTS) | st.builds(lambda spell, v: spell(v), _SPELL, _FINITE_JSON) \
    | st.builds(lambda f: json.dumps([f, {"f": f}]), st.floats() | st.sampled_from(EDGE_FLOATS)) \
    | st.integers(-2**70, 2**70).map(str)


def _dumpable(value) -> bool:
    try:
        json.dumps(value, ensure_ascii=False)
        return True
    except (TypeError, ValueError):
        return False


def _per_value(texts: list) -> list[str]:
    return [wire._dumps(wire.encode_dynamic(t)).decode("utf-8") for t in texts]


@settings(max_examples=400, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=6))
def test_minified_texts_are_the_per_value_encoders_or_refused(texts):
    got = compact_wire_texts(pa.array(texts, pa.string()))
    expected = _per_value(texts)
    if got is not None:
        assert got.to_pylist() == expected
    else:   # refused only when some text is not json's own text of its value, stored or compact
        assert not all(t is None or _json_writes_it(t) for t in texts), texts


def _json_writes_it(text: str) -> bool:
    try:
        value = json.loads(text, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return False
    return text in (json.dumps(value, ensure_ascii=False), json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _refuse(_name):
    raise ValueError("not JSON")


def test_every_odd_text_alone_and_with_others_is_the_per_value_encoders_or_refused():
    for text in ODD_TEXTS:
        for texts in ([text], [text, '{"b": [1, 2.5]}'], ['{"b":2}', text, None]):
            got = compact_wire_texts(pa.array(texts, pa.string()))
            assert got is None or got.to_pylist() == _per_value(texts), texts


def test_the_stored_form_and_the_wire_form_are_taken_column_wise():
    values = [{"x": [1, 2.5, "é, \"q\": \\"], "y": 1e16, "z": {}}, [], {"a": None, "b": True}, -3, "s\n", 0.1]
    for spell in (lambda v: json.dumps(v, ensure_ascii=False), lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))):
        texts = [spell(v) for v in values] + [None]
        got = compact_wire_texts(pa.array(texts, pa.string()))
        assert got is not None and got.to_pylist() == _per_value(texts)


def test_a_repeated_key_only_within_one_object_is_refused():
    assert compact_wire_texts(pa.array(['{"a":{"a":1,"b":2},"b":[{"a":3}]}', '{"a":1}'])) is not None
    for text in ['{"a":1,"b":2,"a":3}', '{"o":[{"k":1},{"k":2,"k":3}]}', '[{"k":{"m":1},"k":2}]']:
        assert compact_wire_texts(pa.array([text, '{"a":1}'])) is None, text
