"""What a function returns -> rows -> the exact bytes the Kusto output binding would ingest.

The rule it keeps: reproduce the host and the extension (KustoAsyncCollector in
github.com/Azure/Webjobs.Extensions.Kusto), quirks included, and say so in a warning line instead
of fixing them. A DataFrame's rows are written column-wise (codec.py; byte for byte what the row
encoder writes). Pure: pandas, numpy and msgspec are imported only when a DataFrame is handed in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from json import encoder

# The per-value rules live in the codec; named here too, as the payload is where they apply.
from .codec import json_ready, kusto_datetime, kusto_timespan, object_cell  # noqa: F401
from .errors import BindingError

OUT_OF_PROCESS = ("python", "javascript", "java", "powershell")


@dataclass
class Rows:
    """The rows the binding collects (dicts; strings only for C# rows) and one-line warnings."""

    rows: list
    warnings: list[str] = field(default_factory=list)


@dataclass
class Payload:
    """One ingestion call's body: the bytes, the format sent with them, the row count."""

    data: bytes
    data_format: str
    rows: int
    warnings: list[str] = field(default_factory=list)


# -- DataFrame -> records -------------------------------------------------------------------------

class FrameRecords(Sequence):
    """A returned DataFrame's rows, read lazily: `serialize` writes them column-wise, byte for byte the same."""

    def __init__(self, frame):
        self.frame = frame
        self._records: list[dict] | None = None

    def records(self) -> list[dict]:
        if self._records is None:
            self._records = records_from_frame(self.frame)
        return self._records

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index):
        return self.records()[index]

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


def records_from_frame(df) -> list[dict]:
    """A DataFrame -> one dict per row, values in the form Kusto ingests back unchanged."""
    from .codec import json_ready_column

    columns = [json_ready_column(df.iloc[:, i]) for i in range(df.shape[1])]
    names = [str(c) for c in df.columns]
    return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in range(len(df))]


# -- what the host does with a function's return (ReadAsEnumerable) ------------------------------

def rows_from_return(value, *, language: str = "python") -> Rows:
    """A function's return value -> the rows the extension collects (one per array item), nulls skipped."""
    if language not in (*OUT_OF_PROCESS, "csharp"):
        raise ValueError(f"language must be one of {', '.join((*OUT_OF_PROCESS, 'csharp'))}, not {language!r}")
    warnings: list[str] = []
    if value is None:
        return Rows([], warnings)
    if type(value).__name__ == "DataFrame" and hasattr(value, "columns"):
        return Rows(FrameRecords(value), warnings)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        if language == "csharp":
            if value.lstrip().startswith("["):
                warnings.append("a JSON array in a C# in-process `out string` is ONE row; Kusto rejects it as "
                                "json: return a list of objects instead")
            return Rows([value], warnings)
        try:
            parsed = json.loads(value)
        except ValueError:
            warnings.append("the returned string is not JSON (e.g. CSV text): the deployed host turns it into "
                            "null and drops it silently, so nothing is ingested: return JSON objects")
            return Rows([], warnings)
        return _fan_out(parsed, warnings)
    if isinstance(value, dict):
        return Rows([json_ready(value)], warnings)
    if isinstance(value, (list, tuple)):
        return _fan_out(list(value), warnings)
    raise BindingError(f"the cell returned a {type(value).__name__}, which an output binding cannot take",
                       hint="Return a DataFrame, a dict, a list of dicts or a JSON string.")


def _fan_out(parsed, warnings: list[str]) -> Rows:
    if isinstance(parsed, dict):
        return Rows([json_ready(parsed)], warnings)
    if not isinstance(parsed, list):
        warnings.append(f"the returned JSON is a {type(parsed).__name__}, not an object or array: the deployed "
                        "host drops it, so nothing is ingested")
        return Rows([], warnings)
    rows, dropped = [], 0
    for item in parsed:
        if item is None:
            continue
        if isinstance(item, dict):
            rows.append(json_ready(item))
        else:
            dropped += 1
    if dropped:
        warnings.append(f"{dropped} array element{'s' if dropped != 1 else ''} that "
                        f"{'are' if dropped != 1 else 'is'} not a JSON object dropped, as the deployed host "
                        "drops them")
    return Rows(rows, warnings)


# -- rows -> bytes (KustoAsyncCollector) ---------------------------------------------------------

def _minified(row) -> str:
    if isinstance(row, str):
        return row
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _indented(row) -> str:
    """JObject.ToString(): Newtonsoft Formatting.Indented (2 spaces, `"key": value`)."""
    if isinstance(row, str):
        return row
    return json.dumps(row, ensure_ascii=False, indent=2, allow_nan=False)


def serialize(rows: list, data_format: str | None) -> Payload:
    """The bytes one FlushAsync sends: json (1 row, minified) / multijson (indented rows) / row text."""
    if isinstance(rows, FrameRecords) and len(rows) > 1 and rows.frame.columns.is_unique:
        fmt = "multijson" if (data_format or "json") == "json" else data_format
        return Payload(_indented_frame(rows.frame), fmt, len(rows), _object_rows_warning(fmt))
    warnings: list[str] = []
    rows = [r for r in rows if r is not None]
    fmt = data_format or ("json" if len(rows) <= 1 else "multijson")
    if fmt == "json" and len(rows) > 1:
        fmt = "multijson"
    if not rows:
        return Payload(b"", fmt, 0, warnings)
    if fmt == "json":
        text = _minified(rows[0])
    else:
        text = "\n".join(_indented(r) for r in rows)
        if any(not isinstance(r, str) for r in rows):
            warnings.extend(_object_rows_warning(fmt))
    return Payload(text.encode("utf-8"), fmt, len(rows), warnings)


def _object_rows_warning(fmt: str) -> list[str]:
    if fmt in ("multijson", "singlejson"):
        return []
    return [f"dataFormat {fmt}: object rows are written as indented JSON text (JObject.ToString()), "
            f"which Kusto will not read as {fmt}: drop --data-format or use json"]


def _indented_frame(frame) -> bytes:
    """`_indented` rows of a DataFrame joined by newlines, without Python's indenting encoder.

    Each column's values are written as compact JSON text (`_indented_texts`); an object column
    holding containers (codec.json_array_text) is re-indented at the rows' level. Arrow then
    joins every row's keys and values (row_join's C loop, or one Arrow kernel call with each row
    ending in a newline, the joined array's data buffer the payload without its last newline).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import _speedups, row_join

    if frame.shape[1] == 0:
        return "\n".join(["{}"] * len(frame)).encode("utf-8")
    literals = [("{\n  " if i == 0 else ",\n  ") + encoder.encode_basestring(str(name)) + ": "
                for i, name in enumerate(frame.columns)] + ["\n}"]
    series = [frame.iloc[:, i] for i in range(frame.shape[1])]
    c_join = _speedups.load("rows") is not None   # times as C specs (written from their nanoseconds)
    columns = [(c_join and _time_spec(s)) or _indented_texts(s) for s in series]
    joined = row_join.join(len(frame), literals, columns, separator=b"\n")
    if joined is not None:
        return joined
    columns = [_indented_texts(s) if isinstance(c, tuple) else c for s, c in zip(series, columns)]
    text = pa.large_string()
    parts = [piece for literal, column in zip(literals, columns) for piece in (pa.scalar(literal, text), column)]
    joined = pc.binary_join_element_wise(*parts, pa.scalar(literals[-1] + "\n", text), pa.scalar("", text))
    return _string_data(joined)[:-1]


def _time_spec(series) -> tuple | None:
    """A datetime64 or timedelta64 column as a row_join spec: C writes the texts _indented_texts would
    (codec.datetime_text_array, timespan_text_array) from its nanoseconds; None for any other column,
    and where the nanoseconds cannot be had (that path then decides, as before)."""
    from . import row_join
    from .codec import column_kind, timedelta_nanoseconds, utc_nanoseconds

    kind = column_kind(series.dtype)
    if kind not in ("datetime", "timespan"):
        return None
    try:
        values = (utc_nanoseconds if kind == "datetime" else timedelta_nanoseconds)(series)
    except (ValueError, OverflowError):   # pandas' OutOfBounds errors are ValueErrors
        return None
    return row_join.nanoseconds(row_join.NS_DATETIMES if kind == "datetime" else row_join.NS_TIMESPANS, values,
                                series.isna().to_numpy())


def _indented_texts(column):
    """One column's values as `_indented` writes them one level down: an Arrow large_string array.

    Only an object column holding more than strings can hold structure to re-indent; every other
    column's compact texts (codec.json_text_array) are already what the indenting encoder writes.
    """
    import pyarrow as pa

    from .codec import column_kind, json_array_text, json_text_array, string_json_texts

    if column_kind(column.dtype) != "object":
        return json_text_array(column)
    strings = string_json_texts(column)
    if strings is not None:
        return strings.cast(pa.large_string())
    return _indented_cells(json_array_text(column))


def _indented_cells(array_text: str):
    """One column's compact JSON array text -> its values as `_indented` writes them one level down,
    as an Arrow large_string array.

    msgspec indents the array (whitespace only; every token is kept as written) and it is cut
    at its own level: each ',\\n  ' followed by a non-space, found by numpy, since text never
    holds a raw newline. The cut text is one buffer; Arrow drops each value's separator.
    """
    import msgspec
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if array_text == "[]":
        return pa.array([], pa.large_string())
    body = msgspec.json.format(array_text.encode("utf-8"), indent=2)[4:-2] + _SEPARATOR + b"\0"
    data = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    cuts = newlines[(data[newlines - 1] == 44) & (data[newlines + 1] == 32) & (data[newlines + 2] == 32)
                    & (data[newlines + 3] != 32)] - 1
    offsets = np.concatenate(([0], cuts + len(_SEPARATOR))).astype(np.int64)
    with_separators = pa.LargeStringArray.from_buffers(len(cuts), pa.py_buffer(offsets), pa.py_buffer(body))
    return pc.utf8_slice_codeunits(with_separators, 0, -len(_SEPARATOR))


_SEPARATOR = b",\n  "


def _string_data(array) -> bytes:
    """A null-free Arrow large_string array -> its values back to back, as the bytes they are."""
    import numpy as np

    offsets = np.frombuffer(array.buffers()[1], dtype="int64", count=len(array) + 1, offset=array.offset * 8)
    return array.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


# -- reading a payload back ---------------------------------------------------------------------

JSON_FORMATS = ("json", "multijson", "singlejson")


def iter_json_values(text: str):
    """The top-level JSON values of a json/multijson stream (JSON lines or any layout).

    Raises ValueError (with .pos when json gives one) at the first text that is not JSON.
    """
    decoder = json.JSONDecoder()
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            return
        value, i = decoder.raw_decode(text, i)
        yield value


def count_records(data: bytes, data_format: str) -> int:
    """How many rows a payload holds: JSON objects (arrays fan out) or non-empty lines."""
    text = data.decode("utf-8-sig", "replace")
    if data_format in JSON_FORMATS:
        try:
            return sum(len(v) if isinstance(v, list) else 1 for v in iter_json_values(text))
        except ValueError:
            pass  # not JSON after all: count lines, as for the text formats
    return sum(1 for line in text.splitlines() if line.strip())
