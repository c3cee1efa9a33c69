"""A Kusto v2 query response read in pieces -> events: small frames decoded whole, each table's
Rows handed on in chunks of whole rows as the bytes arrive.

The rule it keeps: the events carry exactly what decoding the whole body would (msgspec decodes
every byte as the JSON it is, so strings, escapes and nesting are respected), a body that is not
JSON raises ValueError as a whole-body decode does, and only the rows not yet decoded are held.

Events, in body order:
  ("frame", value)       a frame (or any other element of the frame list), decoded whole
  ("table", header)      a frame whose "Rows" array follows: its keys before "Rows" (Rows=None)
  ("rows", [row, ...])   the next whole rows of that array
  ("columns", LexedRows) the next whole rows, read by the C lexer per column (when the consumer
                         asked for it: `lexer_modes()` after a "table" event; see v2_columns)
  ("table_end", tail)    its keys after "Rows" (Rows=None)
  ("document", value)    the body is not a frame list (an error object, ...): decoded whole

Where a row ends is found by trying: the last `]`/`}` followed by `,` or `]` is a row boundary
exactly when the rows before it decode as a JSON array (a cut inside a string or a nested value
leaves a string or bracket open, which never decodes). After a few refused tries, a token scan
from the chunk's start finds it instead. msgspec is imported on first use.

The C lexer (`_speedups/v2_rows.c`), when asked, reads the whole rows itself: it validates every
byte with msgspec's lexical rules (json_lex.h) and takes only rows that are arrays of exactly the
table's width, so the rows it takes are rows msgspec would decode; from the first row it does not
take, the chunk goes the msgspec way above, which decides and words any error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from . import _speedups

PIECE = 1 << 20      # bytes asked of the socket per read
CHUNK = 4 << 20      # rows are decoded once this many bytes of them wait (or at the end); at 100k
                     # rows 2 MB chunks took 1.2x this CPU and 256 KB 2x (per-chunk costs)
_TRIES = 4           # boundary guesses tried before the token scan

_WS = b" \t\r\n"
# A JSON string (group 1 is None when the buffer ends inside it) or a bracket.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+(")?|[\[\]{}]', re.DOTALL)
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*+(")?|[^ \t\r\n,\[\]{}"]+', re.DOTALL)
_CUT = re.compile(rb"[\]}](?=[ \t\r\n]*[,\]])")
_ARRAY_VALUE = re.compile(rb"[ \t\r\n]*:[ \t\r\n]*\[")
_PARTIAL_KEY = re.compile(rb"[ \t\r\n]*(?::[ \t\r\n]*)?")
_ROWS_KEY = b'"Rows"'
_MORE = ("more", None)


def _decoder():
    import msgspec

    return msgspec.json.Decoder().decode


def _scan(buf, start: int, depth: int, find_rows: bool):
    """Scan a value from `start` (at bracket depth `depth`): ("end", after its close),
    ("rows", (key_at, after_bracket)) at a `"Rows": [` key of the object at depth 1, or _MORE."""
    for m in _TOKEN.finditer(buf, start):
        first = buf[m.start()]
        if first == 0x22:  # a string
            if m.group(1) is None:
                return _MORE
            if find_rows and depth == 1 and buf[m.start():m.end()] == _ROWS_KEY:
                value = _ARRAY_VALUE.match(buf, m.end())
                if value:
                    return "rows", (m.start(), value.end())
                if _PARTIAL_KEY.match(buf, m.end()).end() == len(buf):
                    return _MORE
            continue
        depth += 1 if first in b"[{" else -1
        if depth == 0:
            return "end", m.end()
    return _MORE


class _Body:
    """The unread part of the response: a bytearray, a position in it, and the read function."""

    def __init__(self, read: Callable[[int], bytes], first: bytes = b"", piece: int = PIECE):
        self.read, self.piece = read, piece
        self.buf = bytearray(first)
        self.pos = 0
        self.eof = False
        self.decode = _decoder()
        self.lexer_modes: Callable[[], bytes | None] | None = None

    def fill(self, at_least: int = 0) -> bool:
        """Read one more piece (at least `at_least` bytes when the body has them); False at the end."""
        if self.eof:
            return False
        wanted = max(self.piece, at_least)
        got = 0
        while got < wanted:
            data = self.read(wanted - got)
            if not data:
                self.eof = True
                break
            self.buf += data
            got += len(data)
        return got > 0

    def grow(self, start: int) -> None:
        """More bytes for a value that began at `start`: doubling what is held, so rescans stay linear."""
        if not self.fill(len(self.buf) - start):
            raise ValueError("the response ends in the middle of a value (truncated body)")

    def skip_ws(self) -> int | None:
        """The next non-whitespace byte (pos moved to it), None at the end of the body."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.fill():
                return None

    def expect(self, allowed: bytes) -> int:
        byte = self.skip_ws()
        if byte is None or byte not in allowed:
            shown = "the end" if byte is None else repr(chr(byte))
            raise ValueError(f"malformed v2 response: {shown} where one of {allowed.decode()!r} belongs")
        self.pos += 1
        return byte

    def compact(self) -> None:
        """Drop what was consumed, keeping one byte before pos (the rows' separator slot)."""
        if self.pos > 1:
            del self.buf[:self.pos - 1]
            self.pos = 1

    def value(self, start: int, end: int, prefix: bytes = b"", suffix: bytes = b""):
        return self.decode(prefix + bytes(self.buf[start:end]) + suffix)


class LexedRows:
    """`count` whole rows as the C lexer read them: `columns` per column (v2_rows.c's tuples);
    `rows()` decodes the same bytes with msgspec, and only while the event is being handled."""

    __slots__ = ("columns", "count", "rows")

    def __init__(self, count: int, columns: list, rows: Callable[[], list]):
        self.count, self.columns, self.rows = count, columns, rows


def v2_events(read: Callable[[int], bytes], first: bytes = b"", *, piece: int = PIECE,
              chunk: int = CHUNK, lexer_modes: Callable[[], bytes | None] | None = None
              ) -> Iterator[tuple[str, Any]]:
    """The events of the v2 body that `read(n)` returns piece by piece (b"" at its end).
    `lexer_modes()`, called once a "table" event has been handled, gives the C lexer's modes
    for its columns when its rows should come as "columns" events (None: as "rows")."""
    body = _Body(read, first, piece)
    body.lexer_modes = lexer_modes
    while len(body.buf) < 3 and body.fill():
        pass
    if body.buf.startswith(b"\xef\xbb\xbf"):
        body.pos = 3
    byte = body.skip_ws()
    if byte != 0x5B:  # not "[": read it all and decode it as it is
        while body.fill():
            pass
        yield "document", body.value(body.pos, len(body.buf))
        return
    body.pos += 1
    if body.skip_ws() == 0x5D:
        body.pos += 1
    else:
        while True:
            yield from _element(body, chunk)
            body.compact()
            if body.expect(b",]") == 0x5D:
                break
    if body.skip_ws() is not None:
        raise ValueError("malformed v2 response: data after the frame list")


def _element(body: _Body, chunk: int) -> Iterator[tuple[str, Any]]:
    """One element of the frame list: a frame with its rows streamed, or any value decoded whole."""
    if body.skip_ws() is None:
        raise ValueError("the response ends where a frame belongs (truncated body)")
    start = body.pos
    if body.buf[start] not in b"[{":
        while True:
            m = _SCALAR.match(body.buf, start)
            if m is None:
                raise ValueError("malformed v2 response: a frame list with an empty element")
            whole = m.group(1) is not None if body.buf[start] == 0x22 else m.end() < len(body.buf)
            if whole or body.eof:
                body.pos = m.end()
                yield "frame", body.value(start, m.end())
                return
            body.grow(start)
    while (found := _scan(body.buf, start, 0, body.buf[start] == 0x7B))[0] == "more":
        body.grow(start)
    kind, where = found
    if kind == "end":
        body.pos = where
        yield "frame", body.value(start, where)
        return
    key_at, body.pos = where
    yield "table", body.value(start, key_at, suffix=b'"Rows":null}')
    yield from _rows(body, chunk, body.lexer_modes() if body.lexer_modes else None)
    tail = body.pos
    while (found := _scan(body.buf, tail, 1, False))[0] == "more":
        body.grow(tail)
    body.pos = found[1]
    yield "table_end", body.value(tail, found[1], prefix=b'{"Rows":null')


def _rows(body: _Body, chunk: int, modes: bytes | None) -> Iterator[tuple[str, Any]]:
    """The rows of an array whose `[` is just before body.pos, in chunks; pos ends after its `]`.
    With `modes`, the rows the C lexer takes come as "columns" events."""
    if body.skip_ws() == 0x5D:
        body.pos += 1
        return
    lexer = _speedups.load("v2_rows") if modes else None
    while True:
        body.compact()
        while len(body.buf) - body.pos < chunk and body.fill():
            pass
        lexed = None if lexer is None else lexer.columns(body.buf, body.pos, len(modes), modes)
        if lexed is not None:
            end, count, columns = lexed
            start, body.pos = body.pos, end
            yield "columns", LexedRows(count, columns, functools.partial(_lexed_rows, body, start, end))
            lexed = columns = None  # the chunk's texts are converted: not held while the next is read
        else:
            found = _whole_rows(body)
            if found is None:
                body.grow(body.pos)
                continue
            rows, body.pos = found
            yield "rows", rows
        if body.expect(b",]") == 0x5D:
            return
        if body.skip_ws() == 0x5D:
            raise ValueError("malformed v2 response: a ',' before the end of Rows")


def _whole_rows(body: _Body):
    """(decoded rows, end) for the longest run of whole rows from body.pos, or None if none is whole."""
    buf, pos = body.buf, body.pos
    tries = 0
    window = 1 << 16
    hi = len(buf)
    lo = max(pos, hi - window)
    while True:
        cuts = []
        for m in _CUT.finditer(buf, lo):
            if m.start() >= hi:
                break
            cuts.append(m.end())
        for cut in reversed(cuts):
            found = _decode_rows(body, pos, cut)
            if found is not None:
                return found
            tries += 1
            if tries >= _TRIES:
                return _scanned_rows(body)
        if lo == pos:
            return None
        hi, lo, window = lo, max(pos, lo - window), window * 4


_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")


def _decode_rows(body: _Body, start: int, end: int):
    """(items, end) of buf[start:end] decoded as the items of an array, or None when it is not a run
    of whole values. The bytes just outside it (a separator and a `,`/`]`/space) are set to `[` and
    `]` meanwhile. When the run holds the array's own `]`, the items before it and its place."""
    buf = body.buf
    before, after = buf[start - 1], buf[end]
    buf[start - 1], buf[end] = 0x5B, 0x5D
    try:
        with memoryview(buf) as view:
            try:
                return body.decode(view[start - 1:end + 1]), end
            except ValueError as exc:
                trailing = _TRAILING.search(str(exc))
        if trailing is None:
            return None
        close = start - 2 + int(trailing.group(1)) - 1  # msgspec names the byte after the array, 1-based
        while close > start and buf[close] in _WS:
            close -= 1
        if close <= start - 1 or buf[close] != 0x5D:
            return None
        with memoryview(buf) as view:  # `[` still stands before the first item
            return body.decode(view[start - 1:close + 1]), close
    except ValueError:
        return None
    finally:
        buf[start - 1], buf[end] = before, after


def _lexed_rows(body: _Body, start: int, end: int) -> list:
    """msgspec's rows of the bytes the C lexer took (it refuses some only for their values: 1e400)."""
    found = _decode_rows(body, start, end)
    if found is None:
        raise ValueError("malformed v2 response: a row that is not JSON")
    return found[0]


def _scanned_rows(body: _Body):
    """The token scan: the last row that closes before the buffer (or the array) ends."""
    buf, pos = body.buf, body.pos
    depth, cut = 0, None
    for m in _TOKEN.finditer(buf, pos):
        first = buf[m.start()]
        if first == 0x22:
            if m.group(1) is None:
                break
            continue
        depth += 1 if first in b"[{" else -1
        if depth < 0:
            break
        if depth == 0:
            cut = m.end()
    if cut is None or cut >= len(buf):
        return None
    found = _decode_rows(body, pos, cut)
    if found is None:
        raise ValueError("malformed v2 response: a row that is not JSON")
    return found
