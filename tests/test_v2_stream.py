"""A v2 body read in pieces and converted chunk by chunk gives exactly what the whole body decoded at
once gives: the same frame (values and dtypes), warnings and errors, for any piece and chunk size."""

from __future__ import annotations

import gzip
import io
import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import dataframes, v2_result, v2_split
from kfx_notebook.backends.cluster import ClusterBackend
from kfx_notebook.errors import KfxError, KustoQueryError, ResultTruncatedError

from .test_dataframes import WIRE

# Texts that look like the structure around them: a cut guessed inside one of them must be refused.
NASTY = st.sampled_from(['"]', "],[", "], [", "]]", "}", "\\", '\\"', "\\]", "\u00e9", "\u2028", "\x01", "[", '"}, {"'])
TEXT = st.one_of(st.text(max_size=6), NASTY, st.lists(NASTY, max_size=4).map("".join))
DYNAMIC = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), TEXT),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
                       max_leaves=6)
VALUES = {**WIRE, "string": TEXT, "dynamic": DYNAMIC}
HEADER = {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"}
DONE = {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}
PROPERTIES = {"FrameType": "DataTable", "TableId": 0, "TableKind": "QueryProperties", "TableName": "@ExtendedProperties",
              "Columns": [{"ColumnName": "Value", "ColumnType": "dynamic"}], "Rows": [[{"Visualization": None}]]}


@st.composite
def tables(draw):
    types = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=5))
    columns = [(f"c{i}", t) for i, t in enumerate(types)]
    rows = draw(st.lists(st.tuples(*[st.one_of(st.none(), VALUES[t]) for t in types]).map(list), max_size=12))
    return columns, rows


def body_of(columns, rows, *, extra=(), properties=False, ascii=False, compact=False) -> bytes:
    primary = {"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult", "TableName": "PrimaryResult",
               "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in columns], "Rows": rows}
    frames = [HEADER, *([PROPERTIES] if properties else []), primary, *extra, DONE]
    return json.dumps(frames, ensure_ascii=ascii, separators=(",", ":") if compact else None).encode()


def whole(body: bytes):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            return dataframes.frame_from_v2_frames(dataframes.decode_json(body)), [str(w.message) for w in seen]
        except (KfxError, ValueError) as exc:
            return exc, [str(w.message) for w in seen]


def streamed(body: bytes, piece: int, chunk: int):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            return (v2_result.frame_from_v2_stream(io.BytesIO(body).read, piece=piece, chunk=chunk),
                    [str(w.message) for w in seen])
        except (KfxError, ValueError) as exc:
            return exc, [str(w.message) for w in seen]


def assert_same(got, want):
    import pandas as pd

    (got, got_warnings), (want, want_warnings) = got, want
    assert got_warnings == want_warnings
    if isinstance(want, KfxError):
        assert type(got) is type(want) and str(got) == str(want)
        return
    if isinstance(want, ValueError):  # not JSON: the backend says so in one message, whatever the detail
        assert isinstance(got, ValueError) and not isinstance(got, KfxError), got
        return
    assert not isinstance(got, Exception), got
    (frame, columns, completion), (want_frame, want_columns, want_completion) = got, want
    assert (columns, completion) == (want_columns, want_completion)
    assert [str(d) for d in frame.dtypes] == [str(d) for d in want_frame.dtypes]
    pd.testing.assert_frame_equal(frame, want_frame, check_exact=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 40), st.integers(1, 300), st.booleans(), st.booleans(), st.booleans())
def test_any_table_in_any_pieces_is_the_whole_body_frame(table, piece, chunk, ascii, compact, properties):
    columns, rows = table
    body = body_of(columns, rows, ascii=ascii, compact=compact, properties=properties)
    assert_same(streamed(body, piece, chunk), whole(body))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.lists(st.integers(1, 12), min_size=1, max_size=12))
def test_rows_converted_in_chunks_of_any_size_are_the_table_converted_at_once(table, sizes):
    import pandas as pd

    columns, rows = table
    with warnings.catch_warnings(record=True) as seen_at_once:
        warnings.simplefilter("always")
        try:
            want = dataframes.frame_from_columns(columns, [list(r) for r in rows])
        except dataframes.ConversionError as exc:
            want = exc
    chunked = dataframes.ChunkedFrame(columns)
    start, i = 0, 0
    while start < len(rows):  # the sizes cycle: chunks of 1 row, of several, of more than the table
        size = sizes[i % len(sizes)]
        chunked.add([list(r) for r in rows[start:start + size]])
        start, i = start + size, i + 1
    with warnings.catch_warnings(record=True) as seen_chunked:
        warnings.simplefilter("always")
        try:
            got = chunked.finish()
        except dataframes.ConversionError as exc:
            got = exc
    assert [str(w.message) for w in seen_chunked] == [str(w.message) for w in seen_at_once]
    if isinstance(want, Exception):
        assert str(got) == str(want)
    else:
        assert [str(d) for d in got.dtypes] == [str(d) for d in want.dtypes]
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_one_row_per_chunk_when_the_body_comes_a_byte_at_a_time():
    rows = [[i, f"r{i}]"] for i in range(5)]
    events = list(v2_split.v2_events(io.BytesIO(body_of([("i", "long"), ("s", "string")], rows)).read,
                                     piece=1, chunk=1))
    chunks = [value for kind, value in events if kind == "rows"]
    assert [len(c) for c in chunks] == [1] * 5 and [r for c in chunks for r in c] == rows
    assert [kind for kind, _ in events] == ["frame", "table", *["rows"] * 5, "table_end", "frame"]


def test_a_null_only_in_a_later_chunk_makes_the_whole_column_nullable():
    rows = [[i, i % 2 == 0] for i in range(50)] + [[None, None]]
    body = body_of([("i", "long"), ("b", "bool")], rows)
    (frame, _, _), _ = streamed(body, 16, 64)
    assert [str(d) for d in frame.dtypes] == ["Int64", "boolean"]
    assert_same(streamed(body, 16, 64), whole(body))


def test_one_datetime_outside_the_ns_range_in_a_later_chunk_warns_once_for_the_whole_column():
    rows = [[f"2024-01-01T00:00:{i:02d}.1234567Z"] for i in range(40)] + [["9999-12-31T23:59:59.9999999Z"]]
    body = body_of([("d", "datetime")], rows)
    (frame, _, _), seen = streamed(body, 32, 100)
    assert str(frame["d"].dtype) == "datetime64[us, UTC]" and len(seen) == 1 and "1 datetime(s)" in seen[0]
    assert_same(streamed(body, 32, 100), whole(body))


def test_inline_errors_and_truncation_raise_as_for_the_whole_body():
    qci = {"FrameType": "DataTable", "TableKind": "QueryCompletionInformation",
           "Columns": [{"ColumnName": "Level"}, {"ColumnName": "StatusCodeName"}, {"ColumnName": "Payload"}],
           "Rows": [[2, "LimitsExceeded", json.dumps({"Text": "exceeded the internal record count limit 30 "
                                                              "(E_QUERY_RESULT_SET_TOO_LARGE)."})]]}
    rows = [[i] for i in range(30)]
    truncated = body_of([("x", "long")], rows, extra=[qci])
    got, _ = streamed(truncated, 8, 20)
    assert isinstance(got, ResultTruncatedError) and (got.rows, got.limit) == (30, 30)
    assert len(got.partial_frame) == 30
    inline = body_of([("x", "long")], [*rows, {"OneApiErrors": [{"error": {"code": "General", "@message": "boom"}}]}])
    got, _ = streamed(inline, 8, 20)
    assert isinstance(got, KustoQueryError) and "boom" in str(got)
    for body in (truncated, inline):
        assert_same(streamed(body, 8, 20), whole(body))


@pytest.mark.parametrize("body", [
    pytest.param(b'{"error": {"code": "Forbidden", "@message": "no access"}}', id="an-error-object"),
    pytest.param(b'{"Tables": []}', id="not-a-frame-list"),
    pytest.param(b"[]", id="no-frames"),
    pytest.param(b'\xef\xbb\xbf[{"FrameType":"DataTable","Columns":[{"ColumnName":"x","ColumnType":"int"}],'
                 b'"Rows":[[1]]}]', id="a-bom-and-one-table-without-a-kind"),
    pytest.param(b'[{"FrameType":"DataTable","Rows":[[1]],"TableKind":"PrimaryResult",'
                 b'"Columns":[{"ColumnName":"x","ColumnType":"int"}]}]', id="columns-after-rows"),
    pytest.param(b'[{"FrameType":"DataTable","TableKind":"PrimaryResult","Columns":[{"ColumnName":"x",'
                 b'"ColumnType":"int"}],"Rows":[[1],[2,3]]}]', id="a-longer-row"),
    pytest.param(b'[{"FrameType":"DataTable","TableKind":"PrimaryResult","Columns":[{"ColumnName":"x",'
                 b'"ColumnType":"int"},{"ColumnName":"y","ColumnType":"int"}],"Rows":[[1,2],[2]]}]',
                 id="a-shorter-row"),
    pytest.param(b"<html>oops</html>", id="not-json"),
    pytest.param(b'[{"FrameType":"DataSetHeader"},]', id="a-trailing-comma"),
    pytest.param(b'[{"FrameType":"DataTable","TableKind":"PrimaryResult","Columns":[],"Rows":[[],]}]',
                 id="a-trailing-comma-in-rows"),
    pytest.param(b'[{"FrameType":"DataSetHeader"}] x', id="data-after-the-list"),
])
def test_odd_bodies_end_as_for_the_whole_body(body):
    for piece in (1, 3, 1 << 20):
        assert_same(streamed(body, piece, 1), whole(body))


def test_a_body_cut_anywhere_is_refused_as_not_json():
    body = body_of([("s", "string"), ("d", "dynamic")], [[f'x"]{i}', {"a": [i, "]"]}] for i in range(6)],
                   compact=True)
    for cut in range(len(body) - 1):
        got, _ = streamed(body[:cut], 5, 7)
        assert isinstance(got, ValueError), (cut, got)


class _Large(BaseHTTPRequestHandler):
    body = b""
    gzipped = False

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = gzip.compress(self.body) if self.gzipped else self.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if self.gzipped:  # as a real cluster answers
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_body_of_many_pieces_over_real_http_is_the_whole_body_frame(gzipped):
    _Large.gzipped = gzipped
    columns = [("i", "long"), ("s", "string"), ("d", "dynamic"), ("t", "timespan")]
    rows = [[i, f'"{i}"],[', {"k": [i, "]"]}, f"{i % 3}.01:02:03.5"] for i in range(60_000)]
    _Large.body = body_of(columns, rows)
    assert len(_Large.body) > 3 * v2_split.PIECE
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Large)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = ClusterBackend(f"http://127.0.0.1:{httpd.server_address[1]}").query("Db", "T")
    finally:
        httpd.shutdown()
        httpd.server_close()
    want, _ = whole(_Large.body)
    assert_same(((result.frame, result.column_types, result.completion), []), (want, []))


def test_strings_and_dynamics_full_of_row_boundaries_split_where_the_rows_do():
    columns = [("i", "long"), ("s", "string"), ("d", "dynamic")]
    rows = [[i, "],[" * 20 + "]]", [[1], [2], {"x": "],"}]] for i in range(200)]  # every guess near a chunk end is wrong
    body = body_of(columns, rows)
    for piece, chunk in ((500, 700), (64, 1), (1 << 20, 1 << 20)):
        assert_same(streamed(body, piece, chunk), whole(body))
