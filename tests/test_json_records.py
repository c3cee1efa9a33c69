"""The C reader of JSON records bodies (`_speedups/json_records.c`) against json, the reference reader.

Differential: for every body (generated records in every layout, the nasty spellings, random and
mutated bytes, every truncation) the C reader either returns None, or `ingest.parse_json_records`
(json's decoder, what the reference ingestion reads) accepts the body and gives the same records:
per key, each value's text json.loads to the same value (types and float bits), in json.dumps'
compact form wherever that is well defined, and the strings unescaped. A body the reference refuses
is never read by C. Bodies it must take are asserted taken. Plus a leak check.
The table built from the texts is compared with the per-record reference in test_ingest_columns.
"""

from __future__ import annotations

import json
import math
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups
from kfx_notebook.backends.local import ingest, json_texts
from kfx_notebook.errors import IngestionError
from tests.speedup_checks import assert_no_memory_growth

reader = _speedups.load("json_records")
pytestmark = pytest.mark.skipif(reader is None, reason="unreachable where a compiler is: test_speedups_build fails")


def _same(a, b) -> bool:
    """Equal values of equal types, floats bit for bit, dict keys in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def _dumps_defined(text: str) -> bool:
    """json.dumps' text of json.loads(text) is what C should have written: no repeated key, all finite."""
    def pairs(items):
        if len({k for k, _ in items}) != len(items):
            raise ValueError
        return dict(items)
    try:
        json.loads(text, object_pairs_hook=pairs, parse_constant=lambda c: (_ for _ in ()).throw(ValueError))
        value = json.loads(text)
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _reference(body: bytes):
    try:
        return ingest.parse_json_records(body.decode("utf-8-sig"))
    except (IngestionError, UnicodeDecodeError):
        return None


def agrees(body: bytes, keys, verbatim=None) -> bool:
    """Assert the C reading of *body* is None or the reference's; True when C read it. A *verbatim* key's
    top-level numbers may keep the payload's spelling (json.loads still gives the same value)."""
    got = json_texts.record_texts(body, keys, verbatim)
    kept = {k for k, v in zip(keys or [], verbatim or []) if v}
    records = _reference(body)
    if records is None or not records:
        assert got is None, body
        return False
    if got is None:
        return False
    names, columns = got
    if keys is None:
        seen = list(dict.fromkeys(k for r in records for k in r))
        assert names == seen
    assert names == (keys if keys is not None else names)
    assert all(any(k in r for k in names) for r in records)      # C refuses a record holding none of the keys
    for name, (texts, strings) in zip(names, columns):
        assert len(texts) == len(strings) == len(records)
        for record, text, string in zip(records, texts.to_pylist(), strings.to_pylist()):
            value = record.get(name)
            if value is None:
                assert text is None and string is None, (name, record)
                continue
            assert _same(json.loads(text), value), (text, value)
            if isinstance(value, str):
                assert string == value
            else:
                assert string is None
                if name in kept and type(value) in (int, float):
                    assert text == "0" if text.lstrip("-") == "0" else (text[:1] in "-0123456789")
                elif _dumps_defined(text):
                    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return True


# -- generated records ---------------------------------------------------------------------------
NASTY_STRINGS = ["", "x", 'q"\\/', "\x00\x01\x1f\x7f", "é\u2028😀", "\b\f\n\r\t", "\\u0041", "a,b:c", "\ud7ff\ue000"]
FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from([-0.0, 0.0, 1e-4, 9.999e-5, 1e-5, 1e15, 1e16, 1e16 - 2, 0.1, 1 / 3, 5e-324, 1.7e308]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), FLOATS,
                    st.text(max_size=5), st.sampled_from(NASTY_STRINGS))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["k", "é", "a", ""]), inner, max_size=3)),
    max_leaves=8)
KEYS = ["a", "B", "é", "a b", ""]


@st.composite
def bodies(draw):
    records = draw(st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=4),
                            min_size=1, max_size=4))
    layout = draw(st.sampled_from(["array", "lines", "indented", "commas", "spaced"]))
    ws = draw(st.sampled_from(["", " ", "\n", "\t\r\n "]))
    texts = [json.dumps(r, ensure_ascii=draw(st.booleans()), indent=2 if layout == "indented" else None,
                        separators=(", ", ": ") if layout == "spaced" else None) for r in records]
    if draw(st.booleans()):     # '/' is only ever inside strings: written escaped there, the same text
        texts = [t.replace("/", "\\/") for t in texts]
    if layout == "array":
        body = ws + "[" + ws + ("," + ws).join(texts) + ws + "]" + ws
    elif layout == "commas":
        body = ",".join(texts)
    else:
        body = (ws + "\n").join(texts)
    if draw(st.booleans()):
        body = "\ufeff" + body
    return body.encode("utf-8", "surrogatepass"), records


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=bodies(), requested=st.one_of(st.none(), st.lists(st.sampled_from(KEYS + ["zz"]), min_size=1,
                                                               max_size=3, unique=True)), data=st.data())
def test_generated_bodies_read_as_json_reads_them(case, requested, data):
    body, records = case
    verbatim = None if requested is None else data.draw(st.none() | st.lists(
        st.booleans(), min_size=len(requested), max_size=len(requested)))
    took = agrees(body, requested, verbatim)
    wanted = requested if requested is not None else KEYS
    if all(any(k in r for k in wanted) for r in records):
        assert took      # valid JSON, no lone surrogate, every record holding a key: C must take it


@pytest.mark.parametrize("token", ["0", "-0", "-0.0", "0.0", "1E2", "1e2", "1e-5", "1.5e16", "1e400", "-1e400", "1e-400",
                                   "123456789012345678901234567890", "-9223372036854775809", "0.1", "0.30000000000000004",
                                   "0.3000000000000000444", "1.50", "100.0", "1e16", "9999999999999998.0",
                                   "123456789012345.6", "0.0001", "0.00001", "0.00012345678901234", "2.5E+3", "7e0",
                                   "1234567890123456", "12345678901234567", "0.000123456789012345", "5e-324"])
def test_number_texts_are_json_dumps_of_json_loads(token):
    body = f'{{"a": {token}, "b": [{token}], "c": {{"n": {token}}}}}'.encode()
    _, columns = json_texts.record_texts(body, ["a", "b", "c"])
    value = json.loads(token)
    expected = json.dumps(value) if math.isfinite(value) else token
    assert [c[0].to_pylist()[0] for c in columns] == [expected, f"[{expected}]", f'{{"n":{expected}}}']
    assert agrees(body, None)


@settings(max_examples=500, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False), digits=st.integers(1, 17))
def test_float_texts_are_repr(x, digits):
    for token in (repr(x), f"{x:.{digits}g}", f"{x:.{digits}f}", f"{x:.{digits}e}"):
        if "." not in token and "e" not in token:
            token += ".0"
        body = f'{{"a": [{token}]}}'.encode()
        text = json_texts.record_texts(body, ["a"])[1][0][0].to_pylist()[0]
        value = float(token)
        assert text == f"[{value!r}]" if math.isfinite(value) else text == f"[{token}]", token


@pytest.mark.parametrize("body", [
    b'{"a": 1, "a": 2}', b'{"a": 1,}', b'{"a": [1,]}', b"null", b'{"a": 1}\nnull', b'[{"a": 1}, 2]',
    b'{"a": 1}\n[{"a": 2}]', b'{"zz": 1}', b"", b"[]", b"{}", b'{"a": "\\ud800"}', b'{"a": "\\udc00\\ud800"}',
    b'{"zz": ["\\ud83d"]}', b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc0\xaf"}', b'{"a": "x\ny"}',
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 01}', b'{"a": 1.}', b'{"a": .5}', b'{"a": +1}',
    b'{"a": 1e}', b'{"a": "\\x"}', b'{"a": "\\u12"}', b'{"a": tru}', b'{"a" 1}', b"{'a': 1}", b'{"a": 1}}',
    b'[{"a": 1}] [{"a": 2}]', b'[{"a": 1}] {"a": 2}', b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"zz": ' + b"9" * 641 + b', "a": 1}', b'{"\\u0061": 1, "a": 2}', b'\xef\xbb\xbf\xef\xbb\xbf{"a": 1}', b"1", b'"a"',
])
def test_bodies_the_reader_leaves_to_the_old_path(body):
    assert json_texts.record_texts(body, ["a"]) is None
    assert json_texts.record_texts(body, None) is None or body == b'{"zz": 1}'
    agrees(body, ["a"])


@pytest.mark.parametrize("body", [
    b'{"a": 1},{"a": 2},', b'\xef\xbb\xbf [{"a": 1} ,\n{"a": 2}] ,', b'{"a":1}{"a":2}', b'{"\\u0061": 1, "A": 2}',
    b'{"a": null, "b": 1}', b'{"zz": 1, "zz": 2, "a": 3}', b'{"a": {"k": 1, "k": 2}}', b'{"a": "\\ud83d\\ude00"}',
    b'{"a": "\\u00e9\\/\\"\\\\\\b\\f\\n\\r\\t\\u0001"}', b'{"a": ["\\u00e9\\/\\u0001", {"\\n": "\\u007f"}]}',
    b'{"a": ' + b"9" * 640 + b"}", b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}", b'{"a": 1e400, "b": [-1e400, 1E2]}',
])
def test_bodies_the_reader_takes(body):
    assert agrees(body, ["a", "b"])
    assert agrees(body, None) != body.startswith(b'{"zz": 1, "zz"')    # every key: a repeated one is refused


def test_verbatim_keys_keep_top_level_number_tokens_and_only_those():
    body = b'{"a": 1.50, "b": 1.50, "c": [1.50, -0], "d": -0, "e": 1E2}'
    _, columns = json_texts.record_texts(body, ["a", "b", "c", "d", "e"], [True, False, True, True, True])
    assert [c[0].to_pylist()[0] for c in columns] == ["1.50", "1.5", "[1.5,0]", "0", "1E2"]
    with pytest.raises(TypeError):
        reader.read(body, ["a", "b"], [True])
    with pytest.raises(TypeError):
        reader.read(body, None, [True])
    _, every = json_texts.record_texts(body, None, True)     # one bool for every key: each kept as written
    assert [c[0].to_pylist()[0] for c in every] == ["1.50", "1.50", "[1.5,0]", "0", "1E2"]
    _, none = json_texts.record_texts(body, None, False)
    assert [c[0].to_pylist()[0] for c in none] == ["1.5", "1.5", "[1.5,0]", "0", "100.0"]
    with pytest.raises(TypeError):
        reader.read(body, None, 1)


def test_keys_missing_late_and_first_seen_order():
    body = b'{"b": 1}\n{"a": "x", "b": 2}\n{"c": [1]}\n{"b": null, "a": "y"}'
    names, columns = json_texts.record_texts(body, None)
    assert names == ["b", "a", "c"]
    assert [c[0].to_pylist() for c in columns] == [["1", "2", None, None], [None, '"x"', None, '"y"'],
                                                   [None, None, "[1]", None]]
    assert [c[1].to_pylist() for c in columns] == [[None] * 4, [None, "x", None, "y"], [None] * 4]


# -- fuzz: random and mutated bytes never crash and never disagree ---------------------------------
SEEDS = [b'[{"a": 1, "b": "x\\u00e9\\ud83d\\ude00", "c": [1.5, -0, {"k": null}]}, {"a": -2e-5, "b": true}]',
         b'{\n  "a": "q\\"\\\\",\n  "b": [[], {}],\n  "c": 12345678901234567890\n}\n{\n  "a": false\n}',
         '{"é": "ü\u2028", "a": 0.1}'.encode()]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_truncation_and_every_one_byte_change(seed):
    for cut in range(len(seed) + 1):
        agrees(seed[:cut], ["a", "b", "c"])
        agrees(seed[:cut], None)
    rng = random.Random(seed)
    for at in range(len(seed)):
        for byte in {rng.randrange(256), 0x22, 0x5C, 0x2C, 0x7D, 0x5D, 0x80, 0xFF, 0x0A}:
            mutated = seed[:at] + bytes([byte]) + seed[at + 1:]
            agrees(mutated, ["a", "b"])
            agrees(mutated, None)


@settings(max_examples=2000, deadline=None)
@given(data=st.one_of(st.binary(max_size=40),
                      st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b'"a"', b":", b",", b" ", b"\\", b"1",
                                                b"-0", b"e5", b".", b"true", b"null", b"\\u", b"d83d", b"\xc3\xa9",
                                                b"\xff", b"\n"]), max_size=30).map(b"".join)))
def test_random_bytes_never_crash_and_never_disagree(data):
    agrees(data, ["a"])
    agrees(data, None)


def test_wrong_arguments_are_type_errors_and_unencodable_keys_are_not_handled():
    with pytest.raises(TypeError):
        reader.read(b"{}", "a")
    with pytest.raises(TypeError):
        reader.read(b"{}", [1])
    with pytest.raises(TypeError):
        reader.read("text", ["a"])
    with pytest.raises(ValueError):
        reader.read(b'{"a": 1}', ["a", "a"])
    assert reader.read(b'{"a": 1}', ["\ud800"]) is None
    assert reader.read(memoryview(b'{"a": 1}'), ["a"])[0] == 1


def test_no_memory_is_kept_across_calls():
    body = b"\n".join([b'{"a": 1.25, "b": "x\\u00e9", "c": {"k": [1, 2.5e-7]}, "d": "p"}'] * 200)
    for keys in (["a", "b", "c"], None):
        def run(keys=keys):
            for _ in range(150):
                reader.read(body, keys)
                reader.read(body + b",}", keys)       # refused late: every buffer allocated, then freed
        assert_no_memory_growth(run)


@settings(max_examples=3000, deadline=None)
@given(data=st.lists(st.one_of(st.binary(max_size=4), st.sampled_from(
    [b"abcdefgh", b"abcdefg", b"\xc3\xa9", b"\xc2\x80", b"\xc1\xbf", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xee\x80\x80",
     b"\xe0\xa0\x80", b"\xe0\x9f\xbf", b"\xf0\x90\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
     b"\xf5\x80\x80\x80", b"\xf0\x9f\x98", b"\x80", b"\xff"])), max_size=12).map(b"".join))
def test_valid_utf8_is_pythons_strict_rule(data):
    try:
        data.decode("utf-8")
        python_reads = True
    except UnicodeDecodeError:
        python_reads = False
    assert reader.valid_utf8(data) is python_reads
    assert reader.valid_utf8(memoryview(b"12345678" + data)[8:]) is python_reads


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_bodies_past_the_presizing_point_read_as_the_reference(layout):
    """Past PRESIZE_ROWS records the buffers are grown once from an estimate: a body whose later records
    are longer than the first ones, hold a key first seen late, and mix strings, nulls and containers."""
    records = [{"a": i, "s": "x" * (i % 7)} for i in range(1500)]
    records += [{"a": i, "s": "é" * 50 + str(i), "late": [i, {"k": None}], "n": None} for i in range(1500, 3000)]
    body = ("\n".join(map(json.dumps, records)) if layout == "lines" else json.dumps(records)).encode()
    assert agrees(body, None)
    assert agrees(body, ["s", "late"])
