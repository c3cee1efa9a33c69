"""The JSON text an input binding hands a Python function: rows -> an indented JSON array.

The extension serializes the first result table with Newtonsoft (Formatting.Indented,
two spaces, non-ASCII kept) and the Python worker receives that string (a generic binding: str): `[]`
when empty, an array even for one row. Values render as Newtonsoft renders the .NET
types the Kusto client returns: datetime ISO 8601 UTC with up to 7 fraction digits and
trailing zeros trimmed, timespan as `[-][d.]hh:mm:ss[.fffffff]`, decimal and numbers as
JSON numbers, dynamic as nested JSON, guid as a string. Pure: pandas imported inside.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any

from .codec import newtonsoft_datetime as format_datetime
from .literals import format_timespan


def json_value(value: Any) -> Any:
    """One cell -> the JSON value Newtonsoft would write for it."""
    import pandas as pd

    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, (str, bool)):
        return value
    if value is pd.NaT or (not isinstance(value, (int, decimal.Decimal)) and pd.isna(value)):
        return None  # a pandas null: float64 and str columns hold nulls as NaN
    if isinstance(value, pd.Timestamp):
        return format_datetime(value.to_pydatetime())
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, pd.Timedelta):
        return format_timespan(value.to_pytimedelta())
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, decimal.Decimal):
        return _DecimalNumber(value)
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value if isinstance(value, (int, float)) else str(value)


class _DecimalNumber(float):
    """A decimal written as its exact digits (json writes float subclasses with repr)."""

    def __new__(cls, value: decimal.Decimal):
        obj = super().__new__(cls, float(value))
        obj.text = format(value.normalize(), "f") if value == value.to_integral() else str(value.normalize())
        return obj

    def __repr__(self) -> str:
        return self.text


def rows_json(frame) -> str:
    """A DataFrame (a query result) -> the string a Python function's input binding receives."""
    columns = list(frame.columns)
    records = [{name: json_value(v) for name, v in zip(columns, row)}
               for row in frame.itertuples(index=False, name=None)]
    return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
