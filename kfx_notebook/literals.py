"""Kusto literal text -> Python values, the way Kusto parses a typed value.

Used for query-parameter values (which travel as strings: `@productId=42`,
`datetime(2024-01-01)`, `1h`) and for ingesting text formats (CSV fields, JSON
scalars). Pure: standard library only.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from typing import Any, Callable

from .codec import format_timespan  # noqa: F401  (formatted by the codec, the one place; named here too)

_WRAPPED = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.DOTALL)
_CLOCK = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$")
_UNIT = re.compile(r"^(-)?(\d+(?:\.\d+)?)\s*(d|day|days|h|hr|hrs|hour|hours|m|min|minute|minutes|s|sec|second|"
                   r"seconds|ms|milli|millis|millisecond|milliseconds|microsecond|microseconds|tick|ticks)$")
_ISO_DURATION = re.compile(r"^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
                           r"(?:(\d+(?:\.\d+)?)S)?)?$")
_PANDAS_TD = re.compile(r"^(-?\d+) days? ([+-]?)(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")
_UNIT_SECONDS = {"d": 86400, "day": 86400, "days": 86400, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600,
                 "hours": 3600, "m": 60, "min": 60, "minute": 60, "minutes": 60, "s": 1, "sec": 1,
                 "second": 1, "seconds": 1, "ms": 1e-3, "milli": 1e-3, "millis": 1e-3,
                 "millisecond": 1e-3, "milliseconds": 1e-3, "microsecond": 1e-6, "microseconds": 1e-6,
                 "tick": 1e-7, "ticks": 1e-7}


class ValueParseError(ValueError):
    """A text that is not a literal of the declared type."""


def _unwrap(text: str, *names: str) -> str:
    """`datetime(2024-01-01)` -> `2024-01-01` when the wrapper is one of *names*."""
    m = _WRAPPED.match(text)
    if m and m.group(1).lower() in names:
        return m.group(2).strip()
    return text.strip()


def parse_long(text: Any, bits: int = 64) -> int | None:
    """A whole number that fits the type: 64 bits for long, 32 for int (parse_int); else ValueParseError."""
    if isinstance(text, bool):
        raise ValueParseError(f"{text!r} is not a long")
    if isinstance(text, int):
        value = text
    elif isinstance(text, float) and text.is_integer():
        value = int(text)
    else:
        s = _unwrap(str(text), "long", "int")
        if s.lower() == "null":
            return None
        try:
            value = int(s, 0) if s.lower().startswith(("0x", "-0x")) else int(s)
        except ValueError:
            raise ValueParseError(f"{text!r} is not a whole number") from None
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueParseError(f"{text!r} is out of range for a {bits}-bit {'long' if bits == 64 else 'int'}")
    return value


def parse_int(text: Any) -> int | None:
    return parse_long(text, 32)


def parse_real(text: Any) -> float | None:
    if isinstance(text, bool):
        raise ValueParseError(f"{text!r} is not a real")
    if isinstance(text, (int, float)):
        return float(text)
    s = _unwrap(str(text), "real", "double")
    if s.lower() == "null":
        return None
    special = {"nan": float("nan"), "+inf": float("inf"), "inf": float("inf"), "infinity": float("inf"),
               "-inf": float("-inf"), "-infinity": float("-inf")}
    if s.lower() in special:
        return special[s.lower()]
    try:
        return float(s)
    except ValueError:
        raise ValueParseError(f"{text!r} is not a number") from None


def parse_decimal(text: Any) -> decimal.Decimal | None:
    if isinstance(text, decimal.Decimal):
        return text
    if isinstance(text, bool):
        raise ValueParseError(f"{text!r} is not a decimal")
    s = _unwrap(str(text), "decimal")
    if s.lower() == "null":
        return None
    try:
        return decimal.Decimal(s)
    except decimal.InvalidOperation:
        raise ValueParseError(f"{text!r} is not a decimal") from None


def parse_bool(text: Any) -> bool | None:
    if isinstance(text, bool):
        return text
    if isinstance(text, int):
        return bool(text)
    s = _unwrap(str(text), "bool", "boolean").lower()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    if s == "null":
        return None
    raise ValueParseError(f"{text!r} is not true or false")


def parse_datetime(text: Any) -> dt.datetime | None:
    """A naive UTC datetime (microsecond precision, as the local database stores it)."""
    if isinstance(text, dt.datetime):
        return text.astimezone(dt.timezone.utc).replace(tzinfo=None) if text.tzinfo else text
    if isinstance(text, dt.date):
        return dt.datetime(text.year, text.month, text.day)
    s = _unwrap(str(text), "datetime", "date")
    if s.lower() == "null":
        return None
    iso = s.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", s) else s
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    # Python keeps 6 fraction digits; Kusto sends up to 7 (ticks).
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        value = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueParseError(f"{text!r} is not a datetime (use ISO 8601, e.g. 2024-01-31T12:00:00Z)") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def parse_timespan(text: Any) -> dt.timedelta | None:
    """Kusto timespan text: `1.02:03:04.5`, `02:00`, `1h`, `-3d`, `time(...)`, ISO `P1DT2H`, ticks."""
    if isinstance(text, dt.timedelta):
        return text
    if isinstance(text, bool):
        raise ValueParseError(f"{text!r} is not a timespan")
    if isinstance(text, int):  # a tick count, as the wire allows
        return dt.timedelta(microseconds=text // 10)
    s = _unwrap(str(text), "time", "timespan")
    if s.lower() == "null":
        return None
    m = _CLOCK.match(s)
    if m:
        neg, days, hours, minutes, seconds, frac = m.groups()
        micros = int((frac or "0")[:6].ljust(6, "0"))
        td = dt.timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes),
                          seconds=int(seconds or 0), microseconds=micros)
        return -td if neg else td
    m = _UNIT.match(s)
    if m:
        neg, amount, unit = m.groups()
        td = dt.timedelta(seconds=float(decimal.Decimal(amount) * decimal.Decimal(str(_UNIT_SECONDS[unit]))))
        return -td if neg else td
    m = _ISO_DURATION.match(s)
    if m and any(m.groups()[1:]):
        neg, d, h, mi, sec = m.groups()
        td = dt.timedelta(days=float(d or 0), hours=float(h or 0), minutes=float(mi or 0), seconds=float(sec or 0))
        return -td if neg else td
    m = _PANDAS_TD.match(s)
    if m:
        days, sign, h, mi, sec, frac = m.groups()
        rest = dt.timedelta(hours=int(h), minutes=int(mi), seconds=int(sec),
                            microseconds=int((frac or "0")[:6].ljust(6, "0")))
        return dt.timedelta(days=int(days)) + (-rest if sign == "-" else rest)
    raise ValueParseError(f"{text!r} is not a timespan (e.g. 1h, 00:30:00, 1.02:00:00)")


def parse_guid(text: Any) -> str | None:
    if isinstance(text, uuid.UUID):
        return str(text)
    s = _unwrap(str(text), "guid", "uuid")
    if s.lower() == "null":
        return None
    try:
        return str(uuid.UUID(s))
    except ValueError:
        raise ValueParseError(f"{text!r} is not a guid") from None


def parse_dynamic(text: Any) -> str | None:
    """JSON text (the local database stores dynamic as DuckDB JSON)."""
    if not isinstance(text, str):
        return json.dumps(text, ensure_ascii=False, default=str)
    s = _unwrap(text, "dynamic")
    if s.lower() == "null":
        return None
    try:
        return json.dumps(json.loads(s), ensure_ascii=False)
    except ValueError:
        # Kusto's dynamic literals allow single-quoted strings: dynamic(['a','b']).
        try:
            return json.dumps(json.loads(_single_to_double_quotes(s)), ensure_ascii=False)
        except ValueError:
            raise ValueParseError(f"{text!r} is not a dynamic literal (JSON)") from None


def _single_to_double_quotes(s: str) -> str:
    return re.sub(r"'((?:[^'\\]|\\.)*)'", lambda m: json.dumps(m.group(1)), s)


def parse_string(text: Any) -> str:
    return text if isinstance(text, str) else str(text)


#: Kusto type -> parser. A parameter value is parsed by its declared type.
PARSERS: dict[str, Callable[[Any], Any]] = {
    "long": parse_long,
    "int": parse_int,
    "real": parse_real,
    "decimal": parse_decimal,
    "bool": parse_bool,
    "datetime": parse_datetime,
    "timespan": parse_timespan,
    "guid": parse_guid,
    "dynamic": parse_dynamic,
    "string": parse_string,
}
