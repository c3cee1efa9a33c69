"""What the Functions host does to JSON text an out-of-process worker sends: Newtonsoft's date handling.

The rule it keeps: one function, `reparse_dates`, models `JToken.Parse` + re-serialization
(DateParseHandling.DateTime, DateTimeZoneHandling.RoundtripKind, IsoDateFormat) for every
string value, at any depth, in any column — because the host parses the worker's string
before the Kusto collector writes it again. A string is a date when it is exactly
`yyyy-MM-ddTHH:mm:ss[.f{1,7}][Z|±hh[[:]mm]]` (19 to 40 characters, a valid date, hour 24
only at 00:00:00) — Newtonsoft's DateTimeParser. It is then written back as Newtonsoft
writes that DateTime: fraction trimmed of trailing zeros (`.0000000Z` -> `Z`), `Z` kept for
UTC, no suffix when none was given, and an offset converted to the host's local zone
(`+02:00` on a UTC host becomes `+00:00`, the clock moved). Everything else is untouched.
Pure: the host's zone is the process's local zone (TZ), as the host's would be.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?"
                   r"(?:([zZ])|([+-])(\d{2})(?::?(\d{2}))?)?")


def _reparse(text: str) -> str:
    if not 19 <= len(text) <= 40:
        return text
    m = _DATE.fullmatch(text)
    if m is None:
        return text
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    ticks = int((m[7] or "").ljust(7, "0") or 0)
    if not (1 <= month <= 12 and year >= 1 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return text
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and (minute or second or ticks)):
        return text
    try:
        when = dt.datetime(year, month, day, 0, minute, second) + dt.timedelta(hours=hour)
        if m[9]:  # an offset: to UTC, then to the host's local zone (DateTimeKind.Local)
            offset = dt.timedelta(hours=int(m[10]), minutes=int(m[11] or 0))
            utc = when - offset if m[9] == "+" else when + offset
            local = utc.replace(tzinfo=dt.timezone.utc).astimezone()
            shift = local.utcoffset()
            when = local.replace(tzinfo=None)
            sign, shift = ("-", -shift) if shift < dt.timedelta(0) else ("+", shift)
            minutes = int(shift.total_seconds()) // 60
            suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
        else:
            suffix = "Z" if m[8] else ""
    except (OverflowError, ValueError):
        return text
    fraction = f"{ticks:07d}".rstrip("0")
    return when.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + (f".{fraction}" if fraction else "") + suffix


def reparse_dates(value: Any) -> Any:
    """A parsed JSON value -> the same value after the host's JToken.Parse and re-serialization."""
    if isinstance(value, str):
        return _reparse(value)
    if isinstance(value, dict):
        return {key: reparse_dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reparse_dates(item) for item in value]
    return value


def output_rows(kind: str, data: Any, output: str):
    """What the host makes of a Kusto output the worker sent as TypedData `kind` -> payload.Rows.

    `string`: parsed as JSON (an array fans out) and its dates re-parsed as above; `json`
    (the worker's dict/list, json.dumps'd): parsed with dates kept as written; `bytes` and
    anything else: dropped with a warning, nothing ingested.
    """
    from ..payload import Rows, rows_from_return

    if kind == "string":
        rows = rows_from_return(data, language="python")
        return Rows([reparse_dates(row) for row in rows.rows], rows.warnings)
    if kind == "json":
        return rows_from_return(data, language="python")
    return Rows([], [f"output '{output}' was sent as {kind}: the host drops a {kind} value for a Kusto output, "
                     "so nothing is ingested; set a str (json.dumps) or a dict/list"])
