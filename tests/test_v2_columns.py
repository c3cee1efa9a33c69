"""The C lexer of v2 rows (`_speedups/v2_rows.c`) and the columns built from its texts
(`v2_columns.py`) give exactly the frame, warnings and errors of the msgspec path: differential
tests over v2 bodies whose Rows are spelled by hand (every type, nulls, wrong-typed values,
spellings json.dumps never writes), a fuzz test over mutated bodies, the lexer's own answers,
and a leak test. Both paths run: with the lexer and with it taken away."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import _speedups, dataframes, v2_result, v2_split
from kfx_notebook.errors import KfxError

from .speedup_checks import assert_no_memory_growth, mutate
from .test_dataframes import WIRE
from .test_v2_stream import assert_same, whole

lexer = _speedups.load("v2_rows")
assert lexer is not None, "kfx_notebook._speedups.v2_rows is not built: python setup.py build_ext --inplace"

NUMBERS = ["0", "-0", "1", "-1", "1E2", "1e+2", "-1.5e-3", "0.1", "1e400", "-1e400", "1e-400", "1e250", "1e251",
           "2.5e-320", "12345678901234567890123", "9223372036854775807", "9223372036854775808",
           "-9223372036854775808", "-9223372036854775809", "2147483647", "2147483648", "-2147483649",
           "1" * 40, "1" * 41, "0." + "3" * 38, "17976931348623157" + "0" * 292, "4.9e-324"]
STRINGS = ['""', '"NaN"', '"Infinity"', '"-Infinity"', '"inf"', '"nan"', '"1.5"', '" 1"', '"-NaN"',
           '"\\u00e9\\ud83d\\ude00"', '"\\ud800"', '"\\udc00x"', '"a\\"b],["', '"\\\\"', '"\\/"', '"\\b\\f\\n\\r\\t"',
           '"\\u0000"', '"\xff"', '"\xed\xa0\x80"', '"\x01"', '"\u2028"', '"{\\"x\\": 1}"', '"[1,"', '"[1, 2]"',
           '"2024-01-02T03:04:05.1234567Z"', '"0001-01-01T00:00:00Z"', '"2024-13-01T00:00:00Z"',
           '"1.02:03:04.5"', '"-00:00:01"', '"123456.00:00:00"', '"1:2:3"', '"abc"', '"1.5e3"',
           '"8f4e1d2c-0000-4000-8000-000000000001"']
OTHERS = ["null", "true", "false", "[]", "{}", '{"a":[1,{"b":null}]}', "[1e400]", '{"a":1,"a":2}',
          "[" * 40 + "]" * 40, '[ 1 , "x" ]']
RAW = st.sampled_from(NUMBERS + STRINGS + OTHERS)
WS = st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n  "])


class Raw(str):
    """A token from the raw lists (maybe another type's, maybe not JSON)."""


def _spelled(ktype: str):
    """A value of this type as json writes it (msgspec's encoder: the same spelling)."""
    import msgspec

    return WIRE[ktype].map(lambda v: msgspec.json.encode(v).decode())


@st.composite
def raw_tables(draw):
    """(columns, the Rows array's text) with values of the column's type or raw, nulls, odd rows."""
    types = draw(st.lists(st.sampled_from(sorted(WIRE)), min_size=1, max_size=5))
    rows, uniform = [], True
    for _ in range(draw(st.integers(0, 10))):
        tokens = [draw(st.one_of(_spelled(t), _spelled(t), st.just("null"), RAW.map(Raw))) for t in types]
        uniform = uniform and not any(isinstance(t, Raw) for t in tokens)
        shape = draw(st.sampled_from(["row"] * 12 + ["longer", "shorter", "object"]))
        uniform = uniform and shape != "longer" and shape != "shorter"
        if shape == "longer":
            tokens.append(draw(RAW))
        elif shape == "shorter":
            tokens = tokens[:-1]
        sep = draw(WS) + "," + draw(WS)
        text = "[" + draw(WS) + sep.join(tokens) + draw(WS) + "]"
        rows.append('{"OneApiErrors":[{"error":{"code":"X","@message":"m"}}]}' if shape == "object" else text)
    rows_text = "[" + draw(WS) + ("," + draw(WS)).join(rows) + draw(WS) + "]"
    return [(f"c{i}", t) for i, t in enumerate(types)], rows_text, uniform


def body_with_rows(columns, rows_text: str) -> bytes:
    import json

    header = json.dumps({"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"})
    table = json.dumps({"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult",
                        "TableName": "PrimaryResult",
                        "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in columns]})
    done = json.dumps({"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False})
    return ("[" + header + "," + table[:-1] + ', "Rows": ' + rows_text + "}," + done + "]").encode("utf-8", "surrogatepass")


def streamed(body: bytes, piece: int, chunk: int, lexed: list | None = None):
    """v2_result's frame of the body read in pieces, and its warnings; `lexed` collects how many
    rows came as "columns" events."""
    original = v2_split.v2_events

    def events(read, first=b"", **sizes):
        for kind, value in original(read, first, **sizes):
            if kind == "columns" and lexed is not None:
                lexed.append(value.count)
            yield kind, value

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        v2_split.v2_events = events
        try:
            return (v2_result.frame_from_v2_stream(io.BytesIO(body).read, piece=piece, chunk=chunk),
                    [str(w.message) for w in seen])
        except Exception as exc:  # noqa: BLE001 - a row that is not a list raises TypeError on both paths
            return exc, [str(w.message) for w in seen]
        finally:
            v2_split.v2_events = original


def assert_same_bits(got, want):
    """assert_same, and every float column's bits equal (assert_frame_equal takes -0.0 for 0.0)."""
    if isinstance(want[0], Exception) and not isinstance(want[0], (KfxError, ValueError)):
        assert (type(got[0]), str(got[0]), got[1]) == (type(want[0]), str(want[0]), want[1])
        return
    assert_same(got, want)
    if isinstance(want[0], Exception):
        return
    for name, column in want[0][0].items():
        if column.dtype == np.float64:
            assert (got[0][0][name].to_numpy().view(np.uint64) == column.to_numpy().view(np.uint64)).all(), name


@pytest.fixture(params=["lexer", "msgspec-only"])
def path(request, monkeypatch):
    if request.param == "msgspec-only":
        monkeypatch.setitem(_speedups._LOADED, "v2_rows", None)
    return request.param


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw_tables(), st.integers(1, 64), st.integers(1, 400))
def test_hand_spelled_rows_give_the_whole_body_frame(path, table, piece, chunk):
    columns, rows_text, uniform = table
    body = body_with_rows(columns, rows_text)
    got = streamed(body, piece, chunk)
    assert_same_bits(got, msgspec_streamed(body, piece, chunk))
    if uniform:  # where a chunk is cut decides, on both paths, which of several wrong values an error
        assert_same_bits(got, whole(body))  # names and whether a longer row is truncated by zip


def msgspec_streamed(body: bytes, piece: int, chunk: int):
    """The reference: the same stream without the lexer (today's msgspec path)."""
    saved = _speedups._LOADED.get("v2_rows")
    _speedups._LOADED["v2_rows"] = None
    try:
        return streamed(body, piece, chunk)
    finally:
        _speedups._LOADED["v2_rows"] = saved


@st.composite
def mutated_bodies(draw):
    columns, rows_text, _ = draw(raw_tables())
    data = body_with_rows(columns, rows_text)
    return mutate(draw, data, draw(st.integers(1, 4)), start=data.index(b'"Rows": ') + 8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies(), st.integers(1, 64), st.integers(1, 400))
def test_fuzz_mutated_bodies_never_crash_and_never_disagree(body, piece, chunk):
    assert_same_bits(streamed(body, piece, chunk), msgspec_streamed(body, piece, chunk))


# One column of each Kusto type, every tenth value null: the shape of bench_results' body, built here
# so the suite needs nothing outside tests/.
_TYPED = [("b", "bool", lambda i: i % 3 == 0), ("i", "int", lambda i: i % 100_000),
          ("l", "long", lambda i: 9_007_199_254_740_993 + i), ("r", "real", lambda i: i / 7),
          ("dec", "decimal", lambda i: f"{i}.{i % 997:03d}0000000000000001"), ("s", "string", lambda i: f"name-{i}"),
          ("dt", "datetime", lambda i: f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i:07d}Z"),
          ("ts", "timespan", lambda i: f"{'-' if i % 4 == 0 else ''}{i % 3}.{i % 24:02d}:{i % 60:02d}:00.{i:07d}"),
          ("g", "guid", lambda i: f"{i:08x}-0000-4000-8000-{i:012x}"), ("d", "dynamic", lambda i: {"k": i, "tags": ["a"]})]


def bench_like_body(rows: int) -> bytes:
    table = {"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult", "TableName": "PrimaryResult",
             "Columns": [{"ColumnName": n, "ColumnType": t} for n, t, _ in _TYPED],
             "Rows": [[None if i % 10 == 7 else make(i) for _, _, make in _TYPED] for i in range(rows)]}
    return json.dumps([{"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0",
                        "IsFragmented": False, "ErrorReportingPlacement": "InData"}, table,
                       {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}]).encode()


def test_a_well_typed_body_goes_through_the_lexer_whole():
    body = bench_like_body(3000)
    lexed: list = []
    got = streamed(body, 4096, 64 << 10, lexed)
    assert sum(lexed) == 3000 and len(lexed) > 5  # every row, in many chunks
    assert_same_bits(got, whole(body))


def test_wrong_typed_values_take_the_per_value_path_with_its_error():
    body = body_with_rows([("x", "long"), ("b", "bool")], '[[1, true], [2, 3]]')
    lexed: list = []
    got = streamed(body, 1 << 20, 1 << 20, lexed)
    assert lexed == [2]  # read by the lexer, converted by msgspec's path: the bool column holds 3
    assert isinstance(got[0], dataframes.ConversionError) and "holds 3" in str(got[0])
    assert_same(got, whole(body))


def test_kusto_nonfinite_reals_minus_zero_and_nulls_keep_their_bits():
    body = body_with_rows([("r", "real")], '[[-0], [-0.0], [0], ["NaN"], ["Infinity"], ["-Infinity"], [null], '
                                           '[1E2], [2.5e-250], [12345678901234567890123]]')
    lexed: list = []
    got = streamed(body, 1 << 20, 1 << 20, lexed)
    assert lexed == [10]
    assert_same_bits(got, whole(body))
    assert np.signbit(got[0][0]["r"].to_numpy()[:3]).tolist() == [False, True, False]


@pytest.mark.parametrize("text", ['"inf"', '"nan"', '" 1"', '"1.5"', '"-NaN"', '"infinity"', '"abc"'])
def test_other_texts_in_a_real_column_take_numpys_path(text):
    body = body_with_rows([("r", "real")], f'[[1.5], [{text}], ["NaN"]]')
    lexed: list = []
    got = streamed(body, 1 << 20, 1 << 20, lexed)
    assert lexed == [3]
    assert_same_bits(got, whole(body))


def test_the_lexer_answers():
    modes = bytes([0, 0, 1])
    data = bytearray(b' [ [1, "a\\n\\u00e9", {"k": [1, 2]}] , [null, "", "s"],[-0.5e3,true, null]] ')
    end, count, columns = lexer.columns(data, 2, 3, modes)
    assert (count, data[end - 1:end], data[end:].strip()) == (3, b"]", b"]")
    (seen, nulls, kinds, offsets, text), strings, dynamic = columns
    assert (kinds, nulls, text) == (bytes([3, 0, 4]), 1, b"1-0.5e3")
    assert np.frombuffer(offsets, np.int32).tolist() == [0, 1, 1, 7]
    assert seen == (1 << 3) | (1 << 0) | (1 << 4)
    assert strings[4] == "a\n\u00e9".encode() and strings[2] == bytes([5, 5, 2])
    assert dynamic[3] is None and dynamic[4] == b'[{"k":[1,2]},"s",null]'
    # a row cut by the end of the buffer ends the chunk before it
    assert lexer.columns(data[:-12], 2, 3, modes)[1] == 2
    # a whole row of another width, a row that is not an array, a number it is unsure of: None
    for rows in (b'[[1,2,3],[1,2]]', b'[[1,2,3],{"a":1}]', b'[[1,2,3],[1e400,2,3]]', b'[[1,2,3],[' + b"1" * 41 + b",2,3]]",
                 b'[[1,2]]', b"[1,2,3]", b"[[1,2,3] [1,2,3]]"[:9]):
        assert lexer.columns(rows, 1, 3, modes) is None, rows
    assert lexer.columns(b'[[1,2,3],[1,2,x]]', 1, 3, modes)[1] == 1  # malformed after a whole row
    with pytest.raises(ValueError):
        lexer.columns(b"[[1]]", 1, 2, b"\x00")
    with pytest.raises(ValueError):
        lexer.columns(b"[[1]]", 9, 1, b"\x00")


def test_no_memory_grows_over_many_calls():
    data = bench_like_body(200)
    start = data.index(b'"Rows": [') + 9
    modes = bytes([0] * 9 + [1])

    def run():
        for _ in range(100):
            lexer.columns(data, start, 10, modes)
            lexer.columns(data[:start + 5000], start, 10, modes)
            lexer.columns(data, start, 9, modes[:9])

    assert_no_memory_growth(run)


def test_an_empty_row_among_others_is_a_conversion_error_not_an_index_error():
    with pytest.raises(dataframes.ConversionError, match="different lengths"):
        dataframes.frame_from_columns([("x", "bool")], [[False], []])


@pytest.mark.parametrize("rows", [[[False], [True, 1]], [[False, 1], [True, 2], [True]], [[1, 2], [3, 4, 5]]])
def test_a_longer_or_shorter_row_is_a_conversion_error_not_cut(rows):
    width = len(rows[0])
    with pytest.raises(dataframes.ConversionError, match="different lengths"):
        dataframes.frame_from_columns([(f"c{i}", "long") for i in range(width)], rows)


@pytest.mark.parametrize("row", [False, None, "ab", 7])
def test_a_row_that_is_not_a_list_is_a_conversion_error_not_a_type_error(row):
    """A row that is not a JSON array was a TypeError traceback (false, null, a number) or read
    as its characters (a string of the row's width); it is the malformed table. (An object there
    is Kusto's inline error, a KustoQueryError: tested with the errors.)"""
    body = json.dumps([{"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"},
                       {"FrameType": "DataTable", "TableId": 0, "TableKind": "PrimaryResult",
                        "TableName": "PrimaryResult",
                        "Columns": [{"ColumnName": "a", "ColumnType": "string"},
                                    {"ColumnName": "b", "ColumnType": "string"}],
                        "Rows": [["x", "y"], row]},
                       {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}]).encode()
    with pytest.raises(dataframes.ConversionError, match="not a list of values"):
        v2_result.frame_from_v2_stream(io.BytesIO(body).read)
