"""The C row join (kfx_notebook/_speedups/rows.c through row_join) writes what the Python paths write.

- differential: Arrow tables of every column kind C writes itself (ints of each width, bools,
  strings with every escape, datetimes, timespans; nulls, sliced and chunked arrays) and the
  texts it copies (reals, dynamic) give serve's rows byte for byte as wire's Arrow join does;
- a pure-Python model of rows.join (the existing per-value rules: json.dumps, kusto_datetime,
  format_timespan) equals the C result on generated and on random and mutated buffers, None
  included (a bad offset, a short buffer, a datetime out of range): it never crashes and never
  disagrees;
- sizes: a row count whose reply passes Py_ssize_t is declined, offsets past 2 GiB are read;
- no leak: tracemalloc's traced memory does not grow over a few hundred calls.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import mmap
import struct

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups, row_join
from kfx_notebook.codec import format_timespan, kusto_datetime
from kfx_notebook.server import wire
from tests.frame_strategies import EDGE_FLOATS, JSONISH
from tests.speedup_checks import assert_no_memory_growth

rows = _speedups.load("rows")

MIN_MICROS, MAX_MICROS = -62135596800 * 10**6, 253402300800 * 10**6 - 1
_EPOCH = dt.datetime(1970, 1, 1)
#: json.dumps' escape of each byte it escapes (ensure_ascii=False): every other byte stays as it is.
_ESCAPES = {c: json.dumps(chr(c))[1:-1].encode() for c in [*range(0x20), ord('"'), ord("\\")]}


# -- a pure-Python model of rows.join: the existing per-value rules -------------------------------
class _Ticks:
    """100-ns ticks as format_timespan reads a pandas.Timedelta (.as_unit('ns').value): any size."""

    def __init__(self, ticks: int):
        self.value = ticks * 100

    def as_unit(self, _unit):
        return self


def _int(raw: bytes, width: int, i: int) -> int:
    return int.from_bytes(raw[i * width:(i + 1) * width], "little", signed=True)


def _bit(raw: bytes, i: int) -> bool:
    return bool(raw[i >> 3] >> (i & 7) & 1)


def _value(kind: int, width: int, offset: int, values: bytes, data: bytes, i: int) -> bytes | None:
    if kind in (row_join.TEXTS, row_join.STRINGS):
        start, stop = _int(values, width, offset + i), _int(values, width, offset + i + 1)
        if not 0 <= start <= stop <= len(data):
            return None
        text = data[start:stop]
        return text if kind == row_join.TEXTS else b'"' + b"".join(_ESCAPES.get(b, bytes([b])) for b in text) + b'"'
    if kind == row_join.INTS:
        return str(_int(values, width, offset + i)).encode()
    if kind == row_join.BOOLS:
        return b"true" if _bit(values, offset + i) else b"false"
    if kind == row_join.REALS:
        return _real(struct.unpack_from("<f" if width == 4 else "<d", values, (offset + i) * width)[0])
    if kind == row_join.INTERVALS:   # codec._interval_ticks' rule, one value
        months, days, nanos = struct.unpack_from("<iiq", values, (offset + i) * 16)
        days += months * 30
        if abs(days) > 10_000_000 or abs(nanos) > 86_400 * 10**9 * 100:
            return None
        return f'"{format_timespan(_Ticks(days * 864 * 10**9 + nanos // 100))}"'.encode()
    number = _int(values, 8, offset + i)
    if kind == row_join.DATETIMES:
        if not MIN_MICROS <= number <= MAX_MICROS:
            return None
        return f'"{kusto_datetime(dt.datetime(1, 1, 1) + dt.timedelta(microseconds=number - MIN_MICROS))}"'.encode()
    return f'"{format_timespan(_Ticks(number))}"'.encode()


def _real(x: float) -> bytes:
    """The REST wire's text of a real: float.__repr__, NaN and ±Infinity as its quoted texts."""
    if math.isnan(x):
        return b'"NaN"'
    if math.isinf(x):
        return b'"Infinity"' if x > 0 else b'"-Infinity"'
    return repr(x).encode()


def _held(kind: int, width: int, offset: int, values: bytes, validity, validity_offset: int, count: int) -> bool:
    if offset < 0 or (validity is not None and kind != row_join.TEXTS
                      and not (validity_offset >= 0 and (validity_offset + count + 7) // 8 <= len(validity))):
        return False
    if kind == row_join.BOOLS:
        return (offset + count + 7) // 8 <= len(values)
    return offset + count + (kind in (row_join.TEXTS, row_join.STRINGS)) <= len(values) // width


def model(count, literals, columns, separator=b",", head=b"", tail=b"") -> bytes | None:
    """What rows.join writes, by the Python rules; None where it declines."""
    cells = []
    for kind, width, offset, values, data, validity, validity_offset in columns:
        values, data = bytes(values), bytes(data) if data is not None else None
        validity = None if validity is None else bytes(validity)
        if not _held(kind, width, offset, values, validity, validity_offset, count):
            return None
        column = []
        for i in range(count):
            null = kind != row_join.TEXTS and validity is not None and not _bit(validity, validity_offset + i)
            text = b"null" if null else _value(kind, width, offset, values, data, i)
            if text is None:
                return None
            column.append(text)
        cells.append(column)
    body = separator.join(b"".join(lit + cells[k][i] for k, lit in enumerate(literals[:-1])) + literals[-1]
                          for i in range(count))
    return head + body + tail


def c_join(count, literals, columns, separator=b",", head=b"", tail=b""):
    """rows.join's answer, checked to be the same whether C cuts the rows into 1, 2, 3 or 4 parts
    (each sized and written on its own thread) or decides by itself."""
    answers = {parts: rows.join(count, literals, columns, separator, head, tail, parts) for parts in range(5)}
    assert len(set(answers.values())) == 1, answers
    return answers[0]


# -- generated columns ---------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=["Cs"]) | st.sampled_from([*map(chr, range(0x20)), '"', "\\", "\x7f",
                                                                          "é", "\u2028", "😀"]), max_size=8)
INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
INTERVALS = st.builds(pa.MonthDayNano, st.tuples(st.integers(-1000, 1000), st.integers(-3_650_000, 3_650_000),
                                                 st.integers(-86_400 * 10**10, 86_400 * 10**10)))


@st.composite
def arrow_columns(draw, size: int):
    """(kusto type, an Arrow array of `size` values) of a kind serve writes, nulls included."""
    def nullable(values):
        return draw(st.lists(st.none() | values, min_size=size, max_size=size))

    choice = draw(st.sampled_from(["int", "bool", "string", "large_string", "datetime", "datetimetz", "timespan",
                                   "real", "dynamic"]))
    if choice == "int":
        kind = draw(st.sampled_from(INT_TYPES))
        low, high = -(2 ** (kind.bit_width - 1)), 2 ** (kind.bit_width - 1) - 1
        return "long", pa.array(nullable(st.integers(low, high) | st.sampled_from([low, high, 0, -1])), kind)
    if choice == "bool":
        return "bool", pa.array(nullable(st.booleans()), pa.bool_())
    if choice == "string":
        return "string", pa.array(nullable(TEXT), pa.string())
    if choice == "large_string":   # without nulls: codec._between cannot join a large_string with nulls
        return "string", pa.array(draw(st.lists(TEXT, min_size=size, max_size=size)), pa.large_string())
    if choice.startswith("datetime"):
        micros = nullable(st.integers(MIN_MICROS, MAX_MICROS) | st.sampled_from([MIN_MICROS, MAX_MICROS, 0, -1]))
        return "datetime", pa.array(micros, pa.timestamp("us", "UTC" if choice == "datetimetz" else None))
    if choice == "timespan":
        return "timespan", pa.array(nullable(INTERVALS), pa.month_day_nano_interval())
    if choice == "real":
        return "real", pa.array(nullable(st.floats() | st.sampled_from(EDGE_FLOATS)), pa.float64())
    texts = nullable(st.sampled_from(['{"a":[1,2.5,"x"]}', "[]", '"s"', "1", "null", "true"]))
    return "dynamic", pa.array(texts, pa.string())


@st.composite
def arrow_tables(draw):
    """(column types, an Arrow table), sliced or in two chunks to give its arrays an offset."""
    size = draw(st.integers(0, 12))
    pairs = draw(st.lists(arrow_columns(size + 2), min_size=0, max_size=5))
    table = pa.table({f"c{k}": array for k, (_, array) in enumerate(pairs)}) if pairs else \
        pa.table({"x": range(size)}).drop_columns(["x"])   # rows of no columns
    shape = draw(st.sampled_from(["whole", "sliced", "chunked"]))
    if pairs and shape == "sliced":
        table = table.slice(1, size)
    elif pairs and shape == "chunked":
        table = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    return [(f"c{k}", t) for k, (t, _) in enumerate(pairs)], table


def _arrow_reply(column_types, table) -> bytes:
    return b"".join(wire._rows_json_parts(column_types, table))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arrow_tables())
def test_serve_rows_by_c_are_the_arrow_joins_bytes(case):
    column_types, table = case
    assert wire._rows_json_joined(column_types, table, b"", b"") == _arrow_reply(column_types, table)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(arrow_tables(), st.integers(1, 4))
def test_serve_rows_cut_into_parts_are_the_same_bytes(case, parts):
    column_types, table = case
    literals, columns = wire._row_pieces(column_types, table, row_join.wire_column)
    assert row_join.join(table.num_rows, literals, columns, separator=b",", head=b"[", tail=b"]", parts=parts) \
        == _arrow_reply(column_types, table)


def test_a_large_reply_cut_by_the_cpus_is_the_arrow_joins_bytes():
    """Above 16384 rows a part, C cuts the reply by itself (on a machine of more than one CPU)."""
    size = 50_000
    table = pa.table({"i": pa.array(range(size), pa.int64()),
                      "s": pa.array([f'n"{i}' if i % 3 else None for i in range(size)]),
                      "r": pa.array([i / 7 for i in range(size)]),
                      "d": pa.array([i * 86_400_000_123 for i in range(size)], pa.timestamp("us")),
                      "j": pa.array(['{"a":[1,2.5]}' if i % 2 else "null" for i in range(size)])})
    column_types = [("i", "long"), ("s", "string"), ("r", "real"), ("d", "datetime"), ("j", "dynamic")]
    assert wire._rows_json_joined(column_types, table, b"", b"") == _arrow_reply(column_types, table)


def test_rows_of_no_columns_are_empty_arrays_as_the_arrow_join_writes_them():
    table = pa.table({"a": [1, 2, 3]}).drop_columns(["a"])
    assert wire._rows_json_joined([], table, b"", b"") == _arrow_reply([], table) == b"[[],[],[]]"


def test_a_whole_reply_is_the_same_with_and_without_the_c_join(monkeypatch):
    table = pa.table({"s": pa.array(['a"\\\n\x01é', None]), "n": pa.array([1, None], pa.int64()),
                      "d": pa.array([0, None], pa.timestamp("us"))})
    column_types = [("s", "string"), ("n", "long"), ("d", "datetime")]
    fixed = {"client_request_id": "r", "activity_id": "a", "now": dt.datetime(2026, 1, 1)}
    with_c = wire.v2_response(column_types, table, **fixed), wire.v1_response(column_types, table)
    monkeypatch.setitem(_speedups._LOADED, "rows", None)
    assert with_c == (wire.v2_response(column_types, table, **fixed), wire.v1_response(column_types, table))


#: Texts long enough that C scans them eight bytes at a time, an escape at any place of a word.
LONG_TEXT = st.builds(lambda plain, escape, at: plain[:at] + escape + plain[at:],
                      st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
                      st.sampled_from(["", '"', "\\", "\n", "\x00", "\x1f", "\x7f", "\x80", "é", "\u2028", "😀"]),
                      st.integers(0, 40))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.none() | TEXT | LONG_TEXT, max_size=10))
def test_strings_are_escaped_as_json_dumps_escapes_them(values):
    array = pa.array(values, pa.string())
    expected = b",".join(b"null" if v is None else json.dumps(v, ensure_ascii=False).encode() for v in values)
    assert c_join(len(values), [b"", b""], [row_join.strings(array)]) == expected


#: Doubles at every edge of the fast path: its 15 digits, 1e-4 and 1e15, decimals of few places.
DECIMALS = st.builds(lambda n, k: n / 10**k, st.integers(-10**17, 10**17), st.integers(0, 22))
REALS = (st.floats() | st.floats(width=32) | DECIMALS | st.sampled_from(
    [*EDGE_FLOATS, 1e-4, math.nextafter(1e-4, 0), math.nextafter(1e-4, 1), 1e15, math.nextafter(1e15, 0),
     999999999999999.9, 99999999999999.98, 0.1 + 0.2, 1 / 3, 2**53, 2**53 + 2.0, 5e-324, 1e-5, 123456.789e-3]))


@settings(max_examples=1500, deadline=None)
@given(st.lists(REALS, min_size=1, max_size=8), st.booleans())
def test_reals_are_float_repr_for_every_double_and_float(values, as_float32):
    import numpy as np

    width, code = (4, "f") if as_float32 else (8, "d")
    with np.errstate(over="ignore"):
        raw = np.array(values, "float64").astype(f"<f{width}").tobytes()   # beyond float32: ±inf
    doubles = struct.unpack(f"<{len(values)}{code}", raw)
    assert c_join(len(values), [b"", b""], [(row_join.REALS, width, 0, raw, None, None, 0)]) == \
        b",".join(map(_real, doubles))


# -- dynamic: JSON texts written minified only when that is the per-value encoder's text ------------
def _dynamic(texts: list) -> bytes | None:
    """rows.join of one DYNAMIC column of these texts (str, or bytes as they are), rows by commas."""
    raw = [t.encode("utf-8", "surrogatepass") if isinstance(t, str) else t for t in texts]
    offsets = [0]
    for text in raw:
        offsets.append(offsets[-1] + len(text))
    spec = (row_join.DYNAMIC, 8, 0, struct.pack(f"<{len(offsets)}q", *offsets), b"".join(raw), None, 0)
    return c_join(len(texts), [b"", b""], [spec])


def _per_value(text: str) -> bytes:
    return wire._dumps(wire.encode_dynamic(text))


def _agrees(texts: list) -> bytes | None:
    """C's result for the texts, asserted equal to the per-value encoder's when C writes them."""
    written = _dynamic(texts)
    if written is not None:
        decoded = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]   # C took them: UTF-8
        assert written == b",".join(map(_per_value, decoded))
    return written


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSONISH, min_size=1, max_size=4))
def test_dynamic_texts_json_writes_are_taken_and_others_only_when_exact(values):
    compact = [json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values]
    spaced = [json.dumps(v, ensure_ascii=False) for v in values]
    indented = [json.dumps(v, ensure_ascii=False, indent=2) for v in values]
    ascii_escaped = [json.dumps(v) for v in values]   # \u00e9 is not json's own (ensure_ascii=False) text
    exact = all(_per_value(t) == t.encode() for t in compact)
    assert (_agrees(compact) is not None) == exact   # json's own texts are all taken, the others never
    for texts in (spaced, indented, ascii_escaped):
        _agrees(texts)


JSON_BYTES = st.sampled_from([*'{}[]",:0123456789-+.eE \t\n\r\\/tfnrulasebu', "true", "null", "1e400", "-0",
                              "NaN", "Infinity", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\u001f", "\\u000a", "\\u0008",
                              "é", "\x01", "\x7f", "😀"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(JSON_BYTES, max_size=12).map("".join), min_size=1, max_size=3))
def test_dynamic_fragments_never_disagree_with_the_per_value_encoder(texts):
    _agrees(texts)


@settings(max_examples=800, deadline=None)
@given(JSONISH, st.data())
def test_dynamic_bytes_mutated_or_truncated_never_crash_or_disagree(value, data):
    raw = bytearray(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]   # truncated at every byte
    else:
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    written = _dynamic([bytes(raw)])
    if written is not None:
        assert written == _per_value(bytes(raw).decode("utf-8"))


def test_dynamic_limits_and_invalid_utf8_are_declined():
    assert _agrees(["[" * 128 + "]" * 128]) is not None
    assert _dynamic(["[" * 129 + "]" * 129]) is None   # deeper than C tracks: the Python path decides
    keys = {f"k{n}": n for n in range(65)}
    assert _agrees([json.dumps(dict(list(keys.items())[:64]), separators=(",", ":"))]) is not None
    assert _dynamic([json.dumps(keys, separators=(",", ":"))]) is None
    for raw in [b'"\xff"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xf4\x90\x80\x80"', b'"\xe2\x82"']:
        assert _dynamic([raw]) is None, raw
    for code in range(0x20):   # json's own escape of each control character taken, any other spelling not
        assert _agrees([json.dumps(chr(code))]) is not None
        if json.dumps(chr(code)) != f'"\\u{code:04x}"':
            assert _dynamic([f'"\\u{code:04x}"']) is None
        if f"{code:04X}" != f"{code:04x}":   # json writes lowercase hex
            assert _dynamic([f'"\\u{code:04X}"']) is None
    assert _agrees(['{"a":1,"a":2}']) is None and _agrees(['{"a":{"a":1},"b":{"a":2}}']) is not None
    assert _agrees(['1' * 4000]) is not None and _dynamic(['1' * 4001]) is None
    assert _agrees([' { "a" : [ 1 , 2.5 , "x y" ] } ', "null"]) == b'{"a":[1,2.5,"x y"]},null'


# -- random and mutated buffers: never a crash, never a disagreement -----------------------------
KINDS = {row_join.TEXTS: [4, 8], row_join.STRINGS: [4, 8], row_join.INTS: [1, 2, 4, 8], row_join.BOOLS: [1],
         row_join.DATETIMES: [8], row_join.TIMESPANS: [8], row_join.REALS: [4, 8],
         row_join.INTERVALS: [16]}


@st.composite
def random_columns(draw, count: int):
    kind = draw(st.sampled_from(list(KINDS)))
    width = draw(st.sampled_from(KINDS[kind]))
    values = draw(st.binary(max_size=(count + 2) * width + 2))
    if kind in (row_join.TEXTS, row_join.STRINGS) and draw(st.booleans()):   # plausible offsets, often valid
        steps = draw(st.lists(st.integers(-1, 4), min_size=count + 2, max_size=count + 2))
        points = [sum(steps[:k]) for k in range(len(steps))]
        values = b"".join(p.to_bytes(width, "little", signed=True) for p in points)
    data = draw(st.binary(max_size=40)) if kind in (row_join.TEXTS, row_join.STRINGS) else None
    validity = draw(st.none() | st.binary(max_size=4))
    return (kind, width, draw(st.integers(-2, 3)), values, data, validity, draw(st.integers(-2, 9)))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_buffers_never_crash_and_agree_with_the_model(data):
    count = data.draw(st.integers(0, 6))
    columns = data.draw(st.lists(random_columns(count), max_size=3))
    literals = data.draw(st.lists(st.binary(max_size=3), min_size=len(columns) + 1, max_size=len(columns) + 1))
    ends = data.draw(st.tuples(st.binary(max_size=2), st.binary(max_size=2), st.binary(max_size=2)))
    assert c_join(count, literals, columns, *ends) == model(count, literals, columns, *ends)


def _valid_spec(draw_kind: str):
    """A spec of a real Arrow column of 6 values with nulls, as serve builds it."""
    arrays = {
        "strings": lambda: row_join.strings(pa.array(['a"b', None, "é\\", "", "\x1f", "xyz"])),
        "texts": lambda: row_join.texts(pa.array(["1", "null", "2.5", "", '"x"', "[]"], pa.large_string())),
        "ints": lambda: row_join.wire_column(pa.array([1, None, -2**63, 2**63 - 1, 0, 7]), "long"),
        "datetimes": lambda: row_join.wire_column(pa.array([0, None, MIN_MICROS, MAX_MICROS, -1, 86_400 * 10**6],
                                                           pa.timestamp("us")), "datetime"),
        "intervals": lambda: row_join.wire_column(pa.array(
            [pa.MonthDayNano([0, 10_000_000, 0]), None, pa.MonthDayNano([-1000, -3_650_000, -150]),
             pa.MonthDayNano([0, 0, 86_400 * 10**11]), pa.MonthDayNano([1, 1, 99]), pa.MonthDayNano([0, 0, 0])],
            pa.month_day_nano_interval()), "timespan"),
    }
    return arrays[draw_kind]()


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(["strings", "texts", "ints", "datetimes", "intervals"]), st.data())
def test_mutated_and_truncated_buffers_never_crash_and_agree_with_the_model(name, data):
    spec = list(_valid_spec(name))
    field = data.draw(st.sampled_from([3, 4, 5] if spec[4] is not None else [3, 5]))
    raw = bytearray(bytes(spec[field]) if spec[field] is not None else b"\xff")
    if raw and data.draw(st.booleans()):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    else:
        raw = raw[:data.draw(st.integers(0, len(raw)))]   # truncated at every byte
    spec[field] = bytes(raw)
    columns = [tuple(spec)]
    assert c_join(6, [b"[", b"]"], columns) == model(6, [b"[", b"]"], columns)


def test_the_model_itself_matches_the_per_value_rules_on_a_known_row():
    columns = [_valid_spec("ints"), _valid_spec("datetimes")]
    assert model(1, [b"[", b",", b"]"], columns) == c_join(1, [b"[", b",", b"]"], columns) == \
        b'[1,"1970-01-01T00:00:00.0000000Z"]'


# -- sizes, errors, leaks --------------------------------------------------------------------------
def test_texts_of_a_view_type_are_read_as_their_strings():
    view = pa.array(["a short one", None, "a string longer than twelve bytes"]).cast(pa.string_view())
    assert c_join(3, [b"<", b">"], [row_join.texts(view)], b",") == b"<a short one>,<>,<a string longer than twelve bytes>"


def test_a_reply_beyond_py_ssize_t_is_declined_before_anything_is_allocated():
    assert c_join(2**62, [b"[x]"], []) is None
    assert c_join(2**61, [b"", b""], [(row_join.TEXTS, 8, 0, b"\0" * 16, b"", None, 0)]) is None   # short offsets


def test_offsets_past_2_gib_are_read_as_64_bit():
    size = 2**31 + 64
    with mmap.mmap(-1, size) as data:   # untouched pages cost nothing
        data[2**31 + 5:2**31 + 8] = b"abc"
        offsets = (2**31 + 5).to_bytes(8, "little") + (2**31 + 8).to_bytes(8, "little")
        assert c_join(1, [b"<", b">"], [(row_join.TEXTS, 8, 0, offsets, data, None, 0)]) == b"<abc>"
        assert c_join(1, [b"<", b">"], [(row_join.TEXTS, 4, 0, offsets[:4] + offsets[8:12], data, None, 0)]) \
            is None   # 32-bit offsets do not reach it: negative, declined


@pytest.mark.parametrize("args, error", [
    ((1, [b""], [(row_join.INTS, 3, 0, b"\0" * 8, None, None, 0)]), ValueError),     # no such width
    ((1, [b"", b""], [(row_join.NS_TIMESPANS + 1, 8, 0, b"\0" * 8, None, None, 0)]), ValueError),   # no such kind
    ((1, ["text", b""], [(row_join.INTS, 8, 0, b"\0" * 8, None, None, 0)]), TypeError),
    ((1, [b""], [(row_join.INTS, 8, 0, b"\0" * 8, None, None, 0)]), ValueError),     # one literal too few
    ((1, [b"", b""], [(row_join.STRINGS, 8, 0, b"\0" * 16, None, None, 0)]), ValueError),   # no data
    ((1, [b"", b""], [[row_join.INTS, 8, 0, b"\0" * 8, None, None, 0]]), TypeError),
])
def test_a_malformed_call_is_a_clear_error(args, error):
    with pytest.raises(error):
        c_join(*args)


def test_no_memory_is_left_behind_after_hundreds_of_calls():
    columns = [_valid_spec(name) for name in ("strings", "texts", "ints", "datetimes")]
    literals = [b"[", b",", b",", b",", b"]"]

    def calls(n: int) -> None:
        for _ in range(n):
            assert c_join(6, literals, columns) is not None
            assert c_join(6, literals, [*columns[:3], (row_join.DATETIMES, 8, 0, (b"\xff" * 7 + b"\x7f") * 6, None, None, 0)]) is None
            try:   # not pytest.raises: its bookkeeping grows the traced memory itself
                c_join(6, literals[:-1], columns)
                raise AssertionError("one literal too few was accepted")
            except ValueError:
                pass

    assert_no_memory_growth(lambda: calls(400))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.integers(-2**63 + 1, 2**63 - 1), st.integers(-10**12, 10**12),
                                 st.sampled_from([0, 1, 99, 100, -1, -99, -100, -101, 86_400 * 10**9 - 1,
                                                  -86_400 * 10**9, 2**63 - 1, -2**63 + 1])), min_size=1, max_size=40),
       nulls=st.lists(st.booleans(), min_size=40, max_size=40))
def test_nanosecond_times_are_the_payloads_arrow_texts(values, nulls):
    """NS_DATETIMES and NS_TIMESPANS write codec's Arrow texts of the same nanoseconds (the payload's)."""
    import numpy as np
    import pandas as pd

    from kfx_notebook import codec

    ns, mask = np.array(values, dtype="int64"), np.array(nulls[:len(values)])
    for kind, series, texts in (
            (row_join.NS_DATETIMES, pd.Series(ns.view("datetime64[ns]")), codec.datetime_text_array),
            (row_join.NS_TIMESPANS, pd.Series(ns.view("timedelta64[ns]")), codec.timespan_text_array)):
        expected = ["null" if null else text for text, null in zip(texts(series, '"').to_pylist(), mask)]
        written = c_join(len(ns), [b"", b""], [row_join.nanoseconds(kind, ns, mask)], separator=b"\n")
        assert written.decode().split("\n") == expected
