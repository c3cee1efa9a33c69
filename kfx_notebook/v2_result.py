"""A Kusto v2 query response -> (DataFrame of its first PrimaryResult, column types, completion
facts), from the events of `v2_split` as the body arrives or from frames decoded whole.

The rule it keeps: the verdict inside the response is never lost, and is the same whichever way the
body came. Kusto cutting the result (inline OneApiErrors, a QueryCompletionInformation row with
Level < 4, DataSetCompletion errors) raises ResultTruncatedError, any other inline error
KustoQueryError: raising, not warning, since a cell that goes on with a silently partial frame is
the pain this project exists to remove. The chosen table's rows are converted chunk by chunk
(dataframes.ChunkedFrame); other tables' rows are dropped, except QueryCompletionInformation's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dataframes import ChunkedFrame, ConversionError, _error_text, completion_errors, raise_for_errors
from .errors import KustoQueryError

_COMPLETION = "QueryCompletionInformation"


def _columns(table: dict) -> list[tuple[str, str]]:
    return [(c["ColumnName"], c.get("ColumnType") or c.get("DataType")) for c in table["Columns"]]


class _Table:
    """A DataTable while its rows arrive: converted (the candidate result), kept (completion
    information, or a candidate whose Columns come after its Rows), or dropped."""

    def __init__(self, header: dict, candidate: bool):
        self.header = header
        self.kind = header.get("TableKind")
        self.candidate = candidate
        self.frame = ChunkedFrame(_columns(header)) if candidate and "Columns" in header else None
        self.kept: list | None = [] if self.kind == _COMPLETION or (candidate and self.frame is None) else None
        self.inline: list = []   # OneApiErrors rows of a candidate

    def add(self, rows: list) -> None:
        if self.kept is not None:
            self.kept.extend(rows)
        if self.frame is not None:
            self._convert(rows)
        else:
            rows.clear()

    def lexer_modes(self) -> bytes | None:
        """The C lexer's modes when this table's rows can come as columns (a converted candidate)."""
        return self.frame.lexer_modes() if self.frame is not None and self.kept is None else None

    def add_lexed(self, lexed) -> None:
        if self.kept is not None or self.frame is None or not self.frame.add_lexed(lexed.columns, lexed.count):
            self.add(lexed.rows())

    def _convert(self, rows: list) -> None:
        if dict in set(map(type, rows)):  # in C; rows are lists, error rows dicts
            self.inline.extend(r for r in rows if isinstance(r, dict))
            rows[:] = [r for r in rows if not isinstance(r, dict)]
        self.frame.add(rows)

    def end(self, tail: dict) -> None:
        self.header.update((k, v) for k, v in tail.items() if k != "Rows")
        if self.candidate and self.frame is None and "Columns" in self.header:
            self.frame = ChunkedFrame(_columns(self.header))
            self._convert(list(self.kept))


class _Response:
    """The facts gathered from a response's frames, in order; `result` decides as the whole-body rule does."""

    def __init__(self):
        self.tables = 0
        self.chosen: _Table | None = None
        self.current: _Table | None = None
        self.completion_errors: list = []
        self.set_errors: list = []
        self.warnings: list[str] = []
        self._other: dict = {}   # a non-DataTable frame whose rows are streaming (dropped)

    def table(self, header: dict) -> None:
        """A frame whose rows follow (header: its keys before Rows)."""
        if header.get("FrameType") != "DataTable":
            self.current = None
            self._other = header
            return
        self.tables += 1
        primary = header.get("TableKind") == "PrimaryResult"
        chosen_primary = self.chosen is not None and self.chosen.kind == "PrimaryResult"
        # the first PrimaryResult, or the first table (the result when it is the only one)
        self.current = _Table(header, candidate=(primary and not chosen_primary) or self.tables == 1)
        if self.current.candidate:
            self.chosen = self.current

    def rows(self, rows: list) -> None:
        if self.current is not None:
            self.current.add(rows)

    def columns(self, lexed) -> None:
        """Rows the C lexer read (v2_split.LexedRows)."""
        if self.current is not None:
            self.current.add_lexed(lexed)

    def lexer_modes(self) -> bytes | None:
        return self.current.lexer_modes() if self.current is not None else None

    def table_end(self, tail: dict) -> None:
        table, self.current = self.current, None
        if table is None:
            self.frame({**self._other, **{k: v for k, v in tail.items() if k != "Rows"}})
            return
        table.end(tail)
        if table.kind == _COMPLETION:
            found, seen = completion_errors([c["ColumnName"] for c in table.header.get("Columns", [])],
                                            table.kept)
            self.completion_errors.extend(found)
            self.warnings.extend(seen)
        if table is not self.chosen:
            table.kept = None

    def frame(self, frame: Any) -> None:
        """A frame decoded whole."""
        if not isinstance(frame, dict):
            return
        if frame.get("FrameType") == "DataTable":
            rows = frame.pop("Rows", None)
            self.table(frame)
            self.rows(list(rows) if isinstance(rows, list) else [])
            self.table_end({})
        elif frame.get("FrameType") == "DataSetCompletion":
            self.set_errors.extend(frame.get("OneApiErrors") or [])

    def result(self):
        chosen = self.chosen
        if chosen is None or (chosen.kind != "PrimaryResult" and self.tables != 1):
            raise ConversionError("the response has no PrimaryResult table",
                                  hint="The server sent no result table; report it with the query.")
        columns = _columns(chosen.header)  # a result without Columns raises KeyError, as ever
        errors = self.completion_errors + self.set_errors
        for row in chosen.inline:
            errors.extend(row.get("OneApiErrors") or [row])
        count = chosen.frame.rows
        frame = chosen.frame.finish()
        completion: dict[str, Any] = {"rows": count, "truncated": False}
        if self.warnings:
            completion["warnings"] = self.warnings
        raise_for_errors(errors, count, frame)
        return frame, columns, completion


def frame_from_v2_frames(frames: list):
    """A JSON-decoded v2 query response (which it consumes: empties) -> (DataFrame of the first
    PrimaryResult, column types, completion facts)."""
    if isinstance(frames, dict) and "error" in frames:
        _code, message = _error_text(frames)
        raise KustoQueryError(f"Kusto refused the query: {message[:300]}", code=_code or None)
    if not isinstance(frames, list):
        raise ConversionError("the response is not a v2 frame list",
                              hint="Point the connection at a Kusto v2 query endpoint.")
    response = _Response()
    for frame in frames:
        response.frame(frame)
    frames.clear()
    return response.result()


def frame_from_v2_stream(read: Callable[[int], bytes], first: bytes = b"", **sizes):
    """The same triple from a body read piece by piece (`read(n)`, b"" at its end; `first` the bytes
    already read), its rows converted as they arrive. A body that is not JSON raises ValueError."""
    from .v2_split import v2_events

    response = _Response()
    for kind, value in v2_events(read, first, lexer_modes=response.lexer_modes, **sizes):
        if kind == "document":
            return frame_from_v2_frames(value)
        getattr(response, kind)(value)
    return response.result()
