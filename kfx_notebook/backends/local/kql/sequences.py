"""Kusto's range() function: a dynamic array of equally spaced numbers, datetimes or timespans.

Rule, from the documentation: start, start + step, ... up to and including stop; the step
defaults to 1 for numbers and 1h for datetimes and timespans; the array is cut at 2^20 values;
a null argument gives null. A zero step, or a step that walks away from stop, gives an empty
array only where it provably would (stop before start); otherwise it is refused.
"""

from __future__ import annotations

import datetime as dt
import json

from ....errors import UnsupportedError
from ....literals import format_timespan

#: The documented cap on range()'s values.
MAX_VALUES = 1 << 20
#: The default step of a datetime or timespan range (one hour, in microseconds).
HOUR_US = 3_600_000_000
_EPOCH = dt.datetime(1970, 1, 1)


def _steps(start, stop, step) -> int:
    """How many values the range holds (capped), or refuses a step that never reaches stop."""
    if step == 0:
        raise UnsupportedError("unsupported: range() with a zero step")
    if (stop - start) * step < 0:
        return 0
    return min(int((stop - start) // step) + 1, MAX_VALUES)


def time_range(kind: str, start_us: int, stop_us: int, step_us: int | None) -> str:
    """A datetime or timespan range, on microseconds, as Kusto's JSON text."""
    step_us = HOUR_US if step_us is None else int(step_us)
    values = [start_us + i * step_us for i in range(_steps(start_us, stop_us, step_us))]
    if kind == "datetime":
        return json.dumps([f"{_EPOCH + dt.timedelta(microseconds=v):%Y-%m-%dT%H:%M:%S.%f}0Z" for v in values])
    return json.dumps([format_timespan(dt.timedelta(microseconds=v)) for v in values])


def number_range(start_json: str, stop_json: str, step_json: str | None) -> str:
    """A range of longs (all three integers) or reals, as JSON text."""
    start, stop = json.loads(start_json), json.loads(stop_json)
    step = 1 if step_json is None else json.loads(step_json)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop, step)):
        raise UnsupportedError("unsupported: range() of values that are not numbers, datetimes or timespans")
    values = [start + i * step for i in range(_steps(start, stop, step))]
    return json.dumps(values if all(isinstance(v, int) for v in (start, stop, step)) else [float(v) for v in values])
