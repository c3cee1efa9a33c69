"""Kusto's series_* functions over dynamic arrays: element-wise operations as data, and the few
whole-series ones (fill, iir, seasonal, dot product).

A series arrives as JSON text and leaves as JSON text (udfs.py registers these). Rules, from
the documentation: an element that is null or not a number gives a null element; a scalar
second operand applies to every element; arrays of different lengths are refused rather than
padded (the documentation does not say how Kusto pads).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from typing import Any

Number = (int, float)


def _num(v: Any) -> float | int | None:
    return v if isinstance(v, Number) and not isinstance(v, bool) else None


def _guard(fn: Callable) -> Callable:
    """None in, None out; a math domain error is NaN, as Kusto's series math answers."""
    def call(*values):
        if any(v is None for v in values):
            return None
        try:
            return fn(*values)
        except ValueError:
            return float("nan")
        except ZeroDivisionError:
            raise ValueError("unsupported: a series_* division by zero (Kusto's answer is not documented)") from None
    return call


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


#: Element-wise functions of one series: KQL name -> Python function of one number.
UNARY: dict[str, Callable] = {
    "series_abs": abs, "series_acos": math.acos, "series_asin": math.asin, "series_atan": math.atan,
    "series_cos": math.cos, "series_sin": math.sin, "series_tan": math.tan, "series_exp": math.exp,
    "series_log": math.log, "series_sign": _sign, "series_floor": math.floor, "series_ceiling": math.ceil,
}

#: Element-wise functions of two series (or a series and a number).
BINARY: dict[str, Callable] = {
    "series_add": lambda a, b: a + b, "series_subtract": lambda a, b: a - b,
    "series_multiply": lambda a, b: a * b, "series_divide": lambda a, b: float(a) / b,
    "series_pow": lambda a, b: float(a) ** b,
    "series_greater": lambda a, b: a > b, "series_greater_equals": lambda a, b: a >= b,
    "series_less": lambda a, b: a < b, "series_less_equals": lambda a, b: a <= b,
    "series_equals": lambda a, b: a == b, "series_not_equals": lambda a, b: a != b,
}


def _series(text: str) -> list | None:
    value = json.loads(text)
    return value if isinstance(value, list) else None


def unary(name: str, series: str) -> str | None:
    values = _series(series)
    if values is None:
        return None
    fn = _guard(UNARY[name])
    return json.dumps([fn(_num(v)) for v in values])


def binary(name: str, left: str, right: str) -> str | None:
    a, b = json.loads(left), json.loads(right)
    if not isinstance(a, list) and not isinstance(b, list):
        return None
    a = a if isinstance(a, list) else [a] * len(b)
    b = b if isinstance(b, list) else [b] * len(a)
    if len(a) != len(b):
        raise ValueError(f"unsupported: {name} of series of different lengths ({len(a)} and {len(b)})")
    fn = _guard(BINARY[name])
    return json.dumps([fn(_num(x), _num(y)) for x, y in zip(a, b)])


def dot_product(left: str, right: str) -> float | None:
    products = json.loads(binary("series_multiply", left, right) or "null")
    if products is None or any(p is None for p in products):
        return None
    return float(sum(products))


def product(series: str) -> float | None:
    values = _series(series)
    if values is None:
        return None
    return float(math.prod(v for v in (_num(x) for x in values) if v is not None))


def fill_const(series: str, constant: str) -> str | None:
    values = _series(series)
    if values is None:
        return None
    fill = json.loads(constant)
    return json.dumps([fill if v is None else v for v in values])


def fill_forward(series: str) -> str | None:
    values = _series(series)
    if values is None:
        return None
    out, last = [], None
    for v in values:
        last = v if v is not None else last
        out.append(last)
    return json.dumps(out)


def fill_linear(series: str, fill_edges: bool = True, constant: str | None = None) -> str | None:
    """Interpolate nulls linearly between known neighbours; an all-integer series stays integer
    (truncated, as the documented example shows). Edges take the nearest value when
    fill_edges; a series with no value at all takes the constant (its row renders Kusto's
    default 0 when the call omits it; an explicit null keeps the nulls)."""
    values = _series(series)
    if values is None:
        return None
    known = [i for i, v in enumerate(values) if _num(v) is not None]
    if not known:
        fill = None if constant is None else json.loads(constant)
        return json.dumps([fill] * len(values))
    integral = all(isinstance(values[i], int) for i in known)
    out: list = list(values)
    for left, right in itertools.pairwise(known):
        for i in range(left + 1, right):
            x = values[left] + (values[right] - values[left]) * (i - left) / (right - left)
            out[i] = int(x) if integral else x
    if fill_edges:
        out[:known[0]] = [values[known[0]]] * known[0]
        out[known[-1] + 1:] = [values[known[-1]]] * (len(values) - known[-1] - 1)
    return json.dumps(out)


def iir(series: str, numerators: str, denominators: str) -> str | None:
    """y[n] = (sum b[i] x[n-i] - sum_{j>=1} a[j] y[n-j]) / a[0]."""
    x, b, a = _series(series), _series(numerators), _series(denominators)
    if x is None or not b or not a or not a[0]:
        return None
    y: list[float] = []
    for n in range(len(x)):
        acc = sum(b[i] * (x[n - i] or 0) for i in range(len(b)) if n - i >= 0)
        acc -= sum(a[j] * y[n - j] for j in range(1, len(a)) if n - j >= 0)
        y.append(float(acc) / a[0])
    return json.dumps(y)


def seasonal(series: str, period: int) -> str | None:
    """Each element becomes the median of its phase (documented examples: medians, not means)."""
    values = _series(series)
    if values is None:
        return None
    period = int(period)
    if period <= 0:
        raise ValueError("unsupported: series_seasonal without a positive period (automatic detection)")
    phases = [[v for v in values[p::period] if _num(v) is not None] for p in range(period)]
    medians = [float(statistics.median(ph)) if ph else None for ph in phases]
    return json.dumps([medians[i % period] for i in range(len(values))])
