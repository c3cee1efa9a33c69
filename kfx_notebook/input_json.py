"""The JSON text an input binding hands a Python function: rows -> Newtonsoft's indented JArray text.

The extension builds a JArray of the first result table and passes `JArray.ToString()`
(WEK `src/Bindings/KustoQueryConverters.cs`): Newtonsoft's indented writer, two spaces,
`"name": value`, `[]` / `{}` when empty, an array even for one row, non-ASCII kept, only
`"`, `\\`, control characters and U+0085/U+2028/U+2029 escaped. Values are written as
Newtonsoft writes the .NET values the Kusto client returns: datetime ISO 8601 UTC with up
to 7 fraction digits (100 ns ticks, trailing zeros trimmed), timespan as
`[-][d.]hh:mm:ss[.fffffff]`, real as .NET's shortest round-trip text (`1.0`, `1E+15`),
decimal with all its digits, NaN/Infinity as strings, dynamic as nested JSON, guid as a
string. The rule it keeps: the text is built by this module's writer, never by
`json.dumps` (which writes a float's repr and would drop decimal digits). Pure.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

from .codec import format_timespan
from .codec import newtonsoft_datetime as format_datetime

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
            "\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def format_double(value: float) -> str:
    """A double as Newtonsoft writes it: .NET's shortest round-trip text, with `.0` on integral values."""
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    digits_text = "".join(map(str, digits)) or "0"
    power = len(digits_text) - 1 + exponent  # the decimal exponent of the first digit
    prefix = "-" if sign else ""
    if value != 0 and (power >= 15 or power < -4):
        mantissa = digits_text[0] + (f".{digits_text[1:]}" if len(digits_text) > 1 else "")
        return f"{prefix}{mantissa}E{'+' if power >= 0 else '-'}{abs(power):02d}"
    text = format(decimal.Decimal(repr(abs(value))), "f")
    return f"{prefix}{text}" if "." in text else f"{prefix}{text}.0"


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    """One value as Newtonsoft's JSON text (not codec.json_ready, deliberately: the input binding hands
    the function the text the .NET host writes: shortest doubles, trimmed datetime fractions)."""
    import pandas as pd

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return _string(str(value))
        return format(value, "f")
    if isinstance(value, float):
        return format_double(value)
    if value is pd.NaT or (hasattr(value, "dtype") and pd.isna(value)):
        return "null"  # a pandas null: float64 and str columns hold nulls as NaN
    if isinstance(value, pd.Timestamp):
        return _string(format_datetime(value.to_pydatetime(warn=False), (value.value % 1_000_000_000) // 100))
    if isinstance(value, dt.datetime):
        return _string(format_datetime(value))
    if isinstance(value, pd.Timedelta):
        return _string(format_timespan(value.to_pytimedelta()))
    if isinstance(value, dt.timedelta):
        return _string(format_timespan(value))
    if hasattr(value, "item"):  # numpy scalars
        return _scalar(value.item())
    return _string(str(value))


def _cell(value: Any) -> Any:
    """A pandas NaN (float or object column) is a null; everything else as it is."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_indented(value: Any, depth: int = 0) -> str:
    """A JSON value (dicts, lists, scalars) as Newtonsoft's Formatting.Indented writes it."""
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_string(str(k))}: {write_indented(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [f"{inner}{write_indented(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return _scalar(value)


def rows_json(frame) -> str:
    """A DataFrame (a query result) -> the string a Python function's input binding receives."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    records = [{name: (None if value is pd.NaT else _cell(value)) for name, value in zip(columns, row)}
               for row in frame.itertuples(index=False, name=None)]
    return write_indented(records)
