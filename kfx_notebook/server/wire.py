"""Python rows -> Kusto REST JSON (v1 Tables, v2 frames), values encoded exactly as Kusto does.

Pure: no I/O, nothing heavy imported. One rule: every value goes out in the encoding the
official SDK parses back to the same value (datetime ISO UTC with 7 fraction digits,
timespan `[-][d.]hh:mm:ss[.fffffff]`, decimal as a string, dynamic as native JSON, real
NaN/Infinity as strings); `FrameType` is the first key of every v2 frame (the SDK's
streaming parser requires it). An Arrow answer's rows are written by row_join's C loop
(kfx_notebook/_speedups/rows.c) when it is built and takes them, else joined in Arrow: the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from ..codec import format_timespan, kusto_datetime, wire_json_pieces
from ..kusto_types import BY_NAME

_EPOCH = dt.datetime(1970, 1, 1)


def encode_datetime(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return kusto_datetime(value)


def encode_timespan(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.time):
        value = dt.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second,
                             microseconds=value.microsecond)
    if isinstance(value, (int, float)):  # ticks
        value = dt.timedelta(microseconds=value / 10)
    return format_timespan(value)


def encode_real(value: Any) -> float | str | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def encode_decimal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        value = Decimal(repr(value))
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def encode_dynamic(value: Any) -> Any:
    """DuckDB gives dynamic as JSON text; the wire carries it as native JSON.

    DuckDB's JSON may hold NaN and ±Infinity (`to_json` of a real NaN writes `NaN`), which JSON
    cannot carry: Kusto serializes "values that JSON can't represent into string values"
    (learn.microsoft.com/kusto/query/scalar-data-types/dynamic), so they go out as the texts
    "NaN", "Infinity", "-Infinity", as a real column's do."""
    if isinstance(value, (str, bytes)):
        try:
            return _plain(json.loads(value))
        except ValueError:
            return value
    return _plain(value)


def _plain(value: Any) -> Any:
    """Nested values (lists/dicts from DuckDB LIST/STRUCT columns) as JSON-able values.

    Not codec.json_ready, deliberately: Kusto's wire writes NaN/±Infinity as "NaN"/"Infinity" texts
    (the payload nulls NaN) and a timespan without a zero fraction (the payload always writes 7 digits).
    """
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return encode_datetime(value)
    if isinstance(value, dt.timedelta):
        return encode_timespan(value)
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return encode_real(value)
    return value


def _to_int(value: Any) -> Any:
    return None if value is None else int(value)


def _to_bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _to_str(value: Any) -> Any:
    return None if value is None else str(value)


def _string(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(_plain(value)) if isinstance(value, (dict, list)) else str(value)


#: Kusto type -> the function that turns a DuckDB/Python value into its JSON wire value.
ENCODERS: dict[str, Callable[[Any], Any]] = {
    "bool": _to_bool,
    "int": _to_int,
    "long": _to_int,
    "real": encode_real,
    "decimal": encode_decimal,
    "string": _string,
    "guid": _to_str,
    "datetime": encode_datetime,
    "timespan": encode_timespan,
    "dynamic": encode_dynamic,
}


def wire_type(kusto_type: str) -> str:
    """The lowercase ColumnType for a Kusto type name or alias (unknown names become string)."""
    row = BY_NAME.get(kusto_type.lower())
    return row.name if row else "string"


def encode_rows(column_types: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows of Python values -> rows of JSON wire values, one encoder per column."""
    encoders = [ENCODERS[wire_type(t)] for _, t in column_types]
    pairs = list(enumerate(encoders))
    return [[enc(row[i]) for i, enc in pairs] for row in rows]


def rows_json(column_types: Sequence[tuple[str, str]], table) -> bytes:
    """An Arrow table -> the JSON text (UTF-8) of its encoded rows, built column by column."""
    return b"".join(_rows_json_parts(column_types, table))


def _rows_json_parts(column_types: Sequence[tuple[str, str]], table) -> list:
    """rows_json's text in consecutive bytes-like parts (the rows in Arrow's buffer, not copied).

    The same bytes `_dumps(encode_rows(...))` writes for the table's rows (tests/test_wire_arrow.py
    holds the two equal); a column codec.wire_json_pieces has no rule for goes value by value.
    Rows are joined in Arrow, in one pass that also writes the brackets, commas and the quotes
    of columns without nulls: no Python work per row.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table.num_rows:
        return [b"[]"]
    if not table.num_columns:
        return [b"[" + b",".join([b"[]"] * table.num_rows) + b"]"]
    literals, columns = _row_pieces(column_types, table, lambda column, kusto_type: None)
    pieces: list = [literals[0]]
    for texts, literal in zip(columns, literals[1:]):
        pieces += [texts, literal]
    pieces[-1] += ","
    size = sum(p.nbytes for p in pieces[1::2]) + sum(map(len, pieces[::2])) * table.num_rows
    kind = pa.string() if size < 2**31 - 1 else pa.large_string()   # the offsets' width Arrow needs
    rows = pc.binary_join_element_wise(*(pa.scalar(p, kind) if isinstance(p, str) else p.cast(kind) for p in pieces),
                                       pa.scalar("", kind))
    width = "int32" if kind == pa.string() else "int64"
    offsets = np.frombuffer(rows.buffers()[1], dtype=width, count=len(rows) + 1, offset=rows.offset * np.dtype(width).itemsize)
    data = memoryview(rows.buffers()[2])[offsets[0]:offsets[-1] - 1]   # the last row's "," dropped
    return [b"[", data, b"]"]


def _rows_json_joined(column_types: Sequence[tuple[str, str]], table, head: bytes, tail: bytes) -> bytes | None:
    """head + rows_json's text + tail written by the C row join (row_join), or None without it.

    The same bytes as _rows_json_parts: each column a row_join spec C writes from its buffers, or
    the texts _rows_json_parts would join."""
    from .. import _speedups

    if _speedups.load("rows") is None:
        return None
    joined = _rows_json_by_c(column_types, table, head, tail, dynamic=True)
    if joined is None and any(wire_type(t) == "dynamic" for _, t in column_types):
        # a dynamic text not in the wire's form: that column's texts as _rows_json_parts writes them
        joined = _rows_json_by_c(column_types, table, head, tail, dynamic=False)
    return joined


def _rows_json_by_c(column_types, table, head: bytes, tail: bytes, *, dynamic: bool) -> bytes | None:
    """_rows_json_joined's bytes by row_join.join; dynamic=False takes dynamic columns' texts from
    wire_json_pieces (or value by value) instead of C's check of them."""
    from .. import row_join

    def spec(column, kusto_type: str):
        return row_join.wire_column(column, kusto_type) if dynamic or kusto_type != "dynamic" else None

    literals, columns = _row_pieces(column_types, table, spec)
    return row_join.join(table.num_rows, literals, columns, separator=b",", head=head + b"[", tail=b"]" + tail)


def _row_pieces(column_types, table, spec) -> tuple[list[str], list]:
    """One row's literals (one more than columns: brackets, commas, the quotes wire_json_pieces leaves to
    the join) and each column's texts: `spec(column, wire type)` where it gives one (a row_join spec),
    else the column's wire_json_pieces, else its values one by one. A row of no columns is `[]`."""
    literals, columns = ["["], []
    for (_, kusto_type), column in zip(column_types, table.columns):
        given = spec(column, wire_type(kusto_type))
        before, texts, after = ("", given, "") if given is not None else \
            (wire_json_pieces(column, wire_type(kusto_type)) or _per_value_pieces(column, kusto_type))
        literals[-1] += before
        columns.append(texts)
        literals.append(after + ",")
    literals[-1] = literals[-1][:-1] + "]" if columns else "[]"
    return literals, columns


def _per_value_pieces(column, kusto_type: str):
    """("", each value's JSON text by the per-value encoder, "") for a column without a column-wise rule."""
    import pyarrow as pa

    encode = ENCODERS[wire_type(kusto_type)]
    return "", pa.array([_dumps(encode(v)).decode("utf-8") for v in column.to_pylist()], pa.string()), ""


def _is_table(rows) -> bool:
    return hasattr(rows, "num_rows") and hasattr(rows, "columns")


def _rows_slot(column_types, rows, slots: list) -> tuple[Any, int]:
    """What a document's "Rows" holds and the row count: encoded Python rows, or for an Arrow table
    a one-off placeholder text `_dumps_filled` replaces with the table's rows_json."""
    if not _is_table(rows):
        encoded = encode_rows(column_types, rows)
        return encoded, len(encoded)
    placeholder = f"kfx-rows-{uuid.uuid4()}"
    slots.append((placeholder, column_types, rows))
    return placeholder, rows.num_rows


def _dumps_filled(document: Any, slots: list) -> bytes:
    """`_dumps(document)` with each placeholder of `slots` (in document order) replaced by its
    table's rows text, copied once into the reply."""
    parts, rest = [], _dumps(document)
    for n, (placeholder, column_types, table) in enumerate(slots):
        head, rest = rest.split(json.dumps(placeholder).encode("utf-8"))
        last = n == len(slots) - 1   # the C join writes the document's rest too: one copy of the rows
        joined = _rows_json_joined(column_types, table, head, rest if last else b"")
        if joined is None:
            parts += [head, *_rows_json_parts(column_types, table)]
        else:
            parts.append(joined)
            rest = b"" if last else rest
    return b"".join([*parts, rest]) if len(parts) != 1 or rest else parts[0]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# -- v1 ------------------------------------------------------------------------------------------
def v1_table(name: str, column_types: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]],
             slots: list | None = None) -> dict:
    """A v1 table; rows are Python rows, or an Arrow table when `slots` collects it for _dumps_filled."""
    columns = [{"ColumnName": n, "DataType": BY_NAME[wire_type(t)].net, "ColumnType": wire_type(t)}
               for n, t in column_types]
    encoded, _ = _rows_slot(column_types, rows, slots if slots is not None else [])
    return {"TableName": name, "Columns": columns, "Rows": encoded}


def v1_response(column_types: Sequence[tuple[str, str]], rows) -> bytes:
    """One primary table as a v1 `{"Tables": [...]}` body (the SDK reads table 0 as the result).

    `rows`: Python rows, or an Arrow table (encoded column-wise, the same bytes)."""
    slots: list = []
    return _dumps_filled({"Tables": [v1_table("Table_0", column_types, rows, slots)]}, slots)


# -- v2 ------------------------------------------------------------------------------------------
def _data_table(table_id: int, kind: str, name: str, column_types, rows) -> dict:
    return {"FrameType": "DataTable", "TableId": table_id, "TableKind": kind, "TableName": name,
            "Columns": [{"ColumnName": n, "ColumnType": wire_type(t)} for n, t in column_types],
            "Rows": rows}


def v2_response(column_types: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]], *,
                client_request_id: str = "", activity_id: str = "", now: dt.datetime | None = None) -> bytes:
    """DataSetHeader, QueryProperties, PrimaryResult, QueryCompletionInformation, DataSetCompletion."""
    now = now or dt.datetime.now(dt.UTC)
    activity_id = activity_id or str(uuid.uuid4())
    slots: list = []
    encoded, count = _rows_slot(column_types, rows, slots)
    props = [[1, "Visualization", {"Visualization": None, "Title": None, "XColumn": None, "Series": None,
                                   "YColumns": None, "AnomalyColumns": None, "XTitle": None, "YTitle": None,
                                   "XAxis": None, "YAxis": None, "Legend": None, "YSplit": None,
                                   "Accumulate": False, "IsQuerySorted": False, "Kind": None, "Ymin": "NaN",
                                   "Ymax": "NaN", "Xmin": None, "Xmax": None}]]
    completion = [[encode_datetime(now), client_request_id, activity_id, activity_id, activity_id, 4, "Info",
                   0, "S_OK (0)", 4, "QueryInfo",
                   {"Count": 1, "Text": f"Query completed successfully; {count} records"}]]
    frames = [
        {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0", "IsFragmented": False,
         "ErrorReportingPlacement": "InData"},
        _data_table(0, "QueryProperties", "@ExtendedProperties",
                    [("TableId", "int"), ("Key", "string"), ("Value", "dynamic")], props),
        _data_table(1, "PrimaryResult", "PrimaryResult", column_types, encoded),
        _data_table(2, "QueryCompletionInformation", "QueryCompletionInformation",
                    [("Timestamp", "datetime"), ("ClientRequestId", "string"), ("ActivityId", "guid"),
                     ("SubActivityId", "guid"), ("ParentActivityId", "guid"), ("Level", "int"),
                     ("LevelName", "string"), ("StatusCode", "int"), ("StatusCodeName", "string"),
                     ("EventType", "int"), ("EventTypeName", "string"), ("Payload", "string")],
                    [[*row[:11], json.dumps(row[11])] for row in completion]),
        {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False},
    ]
    return _dumps_filled(frames, slots)


# -- errors --------------------------------------------------------------------------------------
def one_api_error(code: str, message: str, detail: str, *, type_name: str, permanent: bool,
                  client_request_id: str = "", activity_id: str = "", now: dt.datetime | None = None) -> bytes:
    """The OneApiErrors body Kusto sends with a 4xx/5xx (the SDK raises KustoApiError from it)."""
    now = now or dt.datetime.now(dt.UTC)
    return _dumps({"error": {
        "code": code, "message": message, "@type": type_name, "@message": detail,
        "@context": {"timestamp": encode_datetime(now), "clientRequestId": client_request_id,
                     "activityId": activity_id or str(uuid.uuid4())},
        "@permanent": permanent}})
