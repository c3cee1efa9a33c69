"""json_lex.h, the JSON lexical rules the C speedups share, accepts exactly what msgspec accepts
(strings, numbers, whole values), unescapes strings to the bytes msgspec decodes, minifies values
to the same value, and never reads past its input: differential tests over generated and mutated
texts through the header's test module `kfx_notebook._speedups.json_lex`."""

from __future__ import annotations

import re

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups

from .speedup_checks import assert_no_memory_growth, mutate

lex = _speedups.load("json_lex")
assert lex is not None, "kfx_notebook._speedups.json_lex is not built: python setup.py build_ext --inplace"

NUMBER = re.compile(rb"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class FloatText(str):
    """A float's text as msgspec saw it (its float_hook): no "Number out of range" for 1e400."""


# The reference: msgspec, with floats kept as their text so that only the spelling is judged.
LEXICAL = msgspec.json.Decoder(float_hook=FloatText)
# msgspec refuses an integer of more than 4300 digits for its value (Python's limit), not its
# spelling, and says so before it notices a later error; the lexer leaves values to its caller.
INTEGER_TOO_LONG = "Integer value out of range"


def decoded(data: bytes):
    """msgspec's value of data (floats as FloatText), or the exception it raises."""
    try:
        return LEXICAL.decode(data)
    except msgspec.DecodeError as exc:
        return exc


def is_integer_too_long(result) -> bool:
    return isinstance(result, msgspec.DecodeError) and str(result).startswith(INTEGER_TOO_LONG)


# --- strings --------------------------------------------------------------------------------------

HEX = st.text("0123456789abcdefABCDEF", min_size=4, max_size=4)
SURROGATE = st.integers(0xD800, 0xDFFF).map(lambda u: f"\\u{u:04x}")
ESCAPE = st.one_of(st.sampled_from(['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\uD83D\\uDE00",
                                    "\\udbff\\udfff", "\\x", "\\", "\\u00G0", "\\u12", "\\U0041"]),
                   HEX.map(lambda h: "\\u" + h), SURROGATE, st.tuples(SURROGATE, SURROGATE).map("".join))
RAW = st.one_of(st.binary(max_size=3),  # control characters, invalid UTF-8, stray quotes
                st.sampled_from([b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xf4\x90\x80\x80",
                                 b"\xf0\x9f\x98\x80", b"\xef\xbf\xbe", b"\x7f", b"\x1f", b"\xc2", b"\xe2\x82"]))
PIECE = st.one_of(st.text(max_size=12).map(str.encode), ESCAPE.map(str.encode), RAW)
STRING_TEXT = st.lists(PIECE, max_size=8).map(lambda pieces: b'"' + b"".join(pieces) + b'"')


def assert_string_agrees(data: bytes):
    want = decoded(data)
    got = lex.string(data)  # one string, no whitespace around it
    if not (isinstance(want, str) and data[:1] == data[-1:] == b'"'):
        assert got is None, (data, want)
        return
    assert got is not None, (data, want)
    content, flags = got
    assert content == want.encode()
    raw = data[1:-1]
    assert bool(flags & lex.ESCAPED) == (b"\\" in raw)
    assert bool(flags & lex.NON_ASCII) == any(b >= 0x80 for b in raw)


@settings(max_examples=3000, deadline=None)
@given(STRING_TEXT)
def test_a_string_is_accepted_and_unescaped_exactly_as_msgspec_does(data):
    assert_string_agrees(data)


def test_the_nasty_strings():
    for text in [b'""', b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\u0041"', b'"\\ud800\\udbff"', b'"\\ud83d\\ude00"',
                 b'"\\udbff\\udfff"', b'"\xed\xa0\x80"', b'"\x7f"', b'"\x1f"', b'"\\u0000"', b'"a\\"b"', b'"\\\\"',
                 b'"' + b"x" * 7 + b'\\n"', b'"' + b"y" * 16 + b"\xc3\xa9" + b"z" * 9 + b'"', b'"' + b"q" * 8]:
        assert_string_agrees(text)
    assert lex.string(b'"\\ud83d\\ude00"') == ("😀".encode(), lex.ESCAPED)


def test_a_string_cut_at_any_byte_is_refused():
    text = '"ab\\n\\u00e9\\ud83d\\ude00 \u20ac\U0001f600 \\"end"'.encode()
    for cut in range(len(text)):
        assert lex.string(text[:cut]) is None
    assert lex.string(text) is not None


# --- numbers --------------------------------------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.from_regex(NUMBER, fullmatch=True),
    st.text("-+0123456789.eE", max_size=8).map(str.encode),
    st.sampled_from([b"-0", b"1E2", b"1e400", b"-1e-400", b"01", b"1.", b".5", b"-", b"1e", b"1e+", b"00",
                     b"99999999999999999999999", b"1" * 5000, b"0.0e0", b"-0.0"]))


@settings(max_examples=2000, deadline=None)
@given(NUMBER_TEXT)
def test_a_number_follows_jsons_grammar_and_says_whether_it_is_an_integer(data):
    got = lex.number(data)
    want = decoded(data)
    assert (got is not None) == bool(NUMBER.fullmatch(data)), data
    if isinstance(want, msgspec.DecodeError):
        assert got is None or is_integer_too_long(want), (data, want)
    else:
        assert got is not None and got == (not isinstance(want, FloatText)), (data, want)


# --- whole values ---------------------------------------------------------------------------------

WS = st.text(" \t\r\n", max_size=2)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=6))
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(st.text(max_size=4), inner, max_size=4)),
                    max_leaves=12)


@st.composite
def spelled(draw, value):
    """value as JSON text with whitespace drawn around every token."""
    if isinstance(value, list):
        items = [draw(spelled(v)) for v in value]
        return draw(WS) + "[" + draw(WS) + ",".join(items) + draw(WS) + "]" + draw(WS)
    if isinstance(value, dict):
        items = [draw(WS) + msgspec.json.encode(k).decode() + draw(WS) + ":" + draw(spelled(v)) for k, v in value.items()]
        return draw(WS) + "{" + ",".join(items) + draw(WS) + "}" + draw(WS)
    return draw(WS) + msgspec.json.encode(value).decode() + draw(WS)


VALUE_TEXT = JSON.flatmap(spelled).map(str.encode)


@st.composite
def mutated(draw, texts):
    """A text with a few bytes deleted, inserted or replaced, or cut short."""
    return mutate(draw, draw(texts), draw(st.integers(0, 3)))


def minified(data: bytes) -> bytes:
    """data without the whitespace outside its strings (the reference for jl_copy_minified)."""
    out, inside, escaped = bytearray(), False, False
    for byte in data:
        if inside:
            out.append(byte)
            inside = escaped or byte != ord('"')
            escaped = not escaped and byte == ord("\\")
        elif byte not in b" \t\r\n":
            out.append(byte)
            inside = byte == ord('"')
    return bytes(out)


def kind_of(value) -> int:
    if value is None:
        return lex.NULL
    if isinstance(value, bool):
        return lex.TRUE if value else lex.FALSE
    if isinstance(value, int):
        return lex.INTEGER
    if isinstance(value, FloatText):
        return lex.NUMBER
    return lex.STRING if isinstance(value, str) else lex.CONTAINER


def assert_value_agrees(data: bytes):
    want = decoded(data)
    got = lex.value(data, lex.MAX_DEPTH)
    if isinstance(want, msgspec.DecodeError):
        assert got is None or is_integer_too_long(want), (data, want)
        return
    assert got is not None, (data, want)
    kind, text = got
    assert kind == kind_of(want)
    assert text == minified(data)
    assert LEXICAL.decode(text) == want


@settings(max_examples=1500, deadline=None)
@given(VALUE_TEXT)
def test_a_value_is_accepted_and_minified_as_msgspec_reads_it(data):
    assert_value_agrees(data)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(mutated(VALUE_TEXT), mutated(STRING_TEXT), st.binary(max_size=40)))
def test_fuzz_mutated_and_random_bytes_never_disagree_with_msgspec(data):
    assert_value_agrees(data)
    assert_string_agrees(data)
    assert lex.skip_ws(data) == len(data) - len(data.lstrip(b" \t\r\n"))


def test_a_value_cut_at_any_byte_agrees_with_msgspec():
    text = b' {"a" : [1, -0, 1E2, 1e400, 2.5e-3, true, false, null, "\\u00e9\\ud83d\\ude00", {}, []], "b\\"" : {"c": ""}} '
    for cut in range(len(text) + 1):
        assert_value_agrees(text[:cut])


def test_the_nasty_values():
    for text in [b"[1,]", b'{"a":1,}', b"[1 2]", b'{"a" 1}', b"{1:2}", b"[01]", b"[-]", b"[1true]", b"tru", b"nul",
                 b"\x0c1", b"\x0b1", b"\xc2\xa01", b"[]", b"{}", b" [ ] ", b"[[]]", b'{"":{"":[]}}', b"[,1]", b"[1,,2]",
                 b'{"a":}', b'{"a"}', b"]", b"}", b"", b" ", b"1 2", b'"a" "b"', b"[1e400]", b"-01", b"[0x1]"]:
        assert_value_agrees(text)
    assert lex.value(b"[1e400, " + b"9" * 5000 + b"]", 1) == (lex.CONTAINER, b"[1e400," + b"9" * 5000 + b"]")


def test_nesting_deeper_than_the_limit_is_refused():
    for depth in range(6):
        text = b"[" * depth + b"1" + b"]" * depth
        for limit in range(6):
            assert (lex.value(text, limit) is not None) == (depth <= limit)
    deep = b'{"a":' * 3 + b"[" * 3 + b"]" * 3 + b"}" * 3
    assert lex.value(deep, 6) is not None and lex.value(deep, 5) is None
    too_deep = b"[" * (lex.MAX_DEPTH + 1) + b"]" * (lex.MAX_DEPTH + 1)
    assert lex.value(too_deep, 10 * lex.MAX_DEPTH) is None
    assert lex.value(too_deep[1:-1], lex.MAX_DEPTH) is not None


def test_the_buffer_protocol_is_read_without_a_copy():
    text = b'["\\u00e9", 1]'
    assert lex.value(memoryview(text), 4) == lex.value(bytearray(text), 4) == (lex.CONTAINER, b'["\\u00e9",1]')


def test_no_memory_grows_over_many_calls():
    texts = [b'"a\\u00e9\\ud83d\\ude00' + b"x" * 200 + b'"', b'{"a": [1, 2.5, "b", null]}' * 1, b"[1,", b"-0.5e3"]

    def run():
        for _ in range(300):
            for text in texts:
                lex.string(text)
                lex.value(text, 8)
                lex.number(text)

    assert_no_memory_growth(run)
