"""Kusto wire values (as JSON decodes them) -> pandas DataFrames, column by column, in one pass.

The rule it keeps: no value is silently changed. Every Kusto type gets the dtype of
``kusto_types.py`` (the nullable one when the column has a null); longs above 2^53 stay
exact, decimals stay ``Decimal``, null bools stay ``<NA>``, negative timespans with a day
part keep their sign on the whole span, and a datetime outside pandas' nanosecond range is
reported (kept at microsecond resolution with a warning), never turned into ``NaT``.
A truncated result raises ``ResultTruncatedError`` with the numbers.

Pure: no I/O; pandas, numpy and pyarrow are imported inside the functions.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import KfxError, KustoQueryError, ResultTruncatedError
from .kusto_types import kusto_type


class DatetimeRangeWarning(UserWarning):
    """A datetime column holds values outside pandas' nanosecond range (1677-2262)."""


class ConversionError(KfxError):
    """A value on the wire is not what its Kusto column type says."""

    code = "KfxResultConversion"


# -- one converter per Kusto type --------------------------------------------------------------

def _nulls(values: Sequence[Any]):
    import numpy as np

    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _integers(np_type: str):
    def convert(values, name):
        import numpy as np
        import pandas as pd

        try:
            if None not in values:
                return pd.Series(np.array(values, dtype=np_type), copy=False)
            if set(map(type, values)) <= _INT_OR_NONE:
                fast = _nullable_via_arrow(values, np_type, pd.arrays.IntegerArray)
                if fast is not None:
                    return fast
            mask = _nulls(values)
            filled = np.array([0 if v is None else v for v in values], dtype=np_type)
            return pd.Series(pd.arrays.IntegerArray(filled, mask), copy=False)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _bad(name, np_type, values, exc) from None
    return convert


_INT_OR_NONE = frozenset((int, type(None)))  # exact ints (type bool is not int)


def _nullable_via_arrow(values, np_type: str, array_class):
    """A column of exact values and nulls built in Arrow's C loop (3x the list comprehension);
    None when Arrow refuses a value (out of range), so the per-value path decides and reports."""
    import pyarrow as pa

    try:
        array = pa.array(values, type=pa.from_numpy_dtype(np_type))
    except (pa.ArrowException, OverflowError):
        return None
    return _nullable_from_arrow(array, np_type, array_class)


def _nullable_from_arrow(array, np_type: str, array_class):
    """The pandas nullable column of an Arrow array with nulls (its values filled, its mask)."""
    import pandas as pd

    filled = array.fill_null(False if np_type == "bool" else 0).to_numpy(zero_copy_only=False)
    return pd.Series(array_class(filled, array.is_null().to_numpy(zero_copy_only=False)), copy=False)


def _reals(values, name):
    import numpy as np
    import pandas as pd

    try:  # numpy reads None as NaN and the strings "NaN", "Infinity", "-Infinity" as floats
        return pd.Series(np.array(values, dtype="float64"), copy=False)
    except (TypeError, ValueError) as exc:
        raise _bad(name, "real", values, exc) from None


_BOOL_OR_NONE = frozenset((bool, type(None)))  # bool cannot be subclassed: type is bool <=> True/False


def _bools(values, name):
    import numpy as np
    import pandas as pd

    if not set(map(type, values)) <= _BOOL_OR_NONE:  # in C: 25x the per-value generator at 500k
        raise _bad(name, "bool", values, None)
    if None not in values:
        return pd.Series(np.array(values, dtype=bool), copy=False)
    fast = _nullable_via_arrow(values, "bool", pd.arrays.BooleanArray)
    if fast is not None:
        return fast
    mask = _nulls(values)
    filled = np.array([False if v is None else v for v in values], dtype=bool)
    return pd.Series(pd.arrays.BooleanArray(filled, mask), copy=False)


def _decimal(value):
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _decimals(values, name):
    import pandas as pd

    try:
        if set(map(type, values)) <= _STR_OR_NONE:  # Decimal(text) directly: 1.5x the per-value helper
            return pd.Series([None if v is None else Decimal(v) for v in values], dtype=object)
        return pd.Series([_decimal(v) for v in values], dtype=object)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise _bad(name, "decimal", values, exc) from None


def _objects(values, name):
    import pandas as pd

    return pd.Series(list(values), dtype=object)


_STR_OR_NONE = frozenset((str, type(None)))


def _strings(values, name):
    import pandas as pd
    import pyarrow as pa

    if set(map(type, values)) <= _STR_OR_NONE:
        try:  # text straight into Arrow: 4x pandas' own conversion of a list
            return pd.Series(pa.array(values, type=pa.string()), dtype=_default_string_dtype())
        except (pa.ArrowException, UnicodeError):
            pass  # e.g. a lone surrogate: pandas decides
    return pd.Series(list(values), dtype=_default_string_dtype())


_STRING_DTYPE: list = []


def _default_string_dtype():
    """The dtype pandas of the day gives a column of str (``str`` in pandas 3, object before)."""
    if not _STRING_DTYPE:
        import pandas as pd

        _STRING_DTYPE.append(pd.Series(["x"]).dtype)
    return _STRING_DTYPE[0]


def _dynamic(value):
    # v2 sends dynamic as native JSON; v1 (management results) sends a JSON text. Only a text
    # that opens an object or array is decoded, so a dynamic string scalar stays a string.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _dynamics(values, name):
    import pandas as pd

    if str not in set(map(type, values)):  # only texts are ever decoded
        return pd.Series(list(values), dtype=object)
    return pd.Series([_dynamic(v) for v in values], dtype=object)


def _datetime_texts(values):
    """The values as an Arrow string array, or None when one of them is not text."""
    import pyarrow as pa

    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None


def _datetimes_fast(texts):
    """Arrow parses ISO-8601 with 'Z' and up to 9 fraction digits in C++; None when it refuses one."""
    import pandas as pd
    import pyarrow as pa

    try:
        return pd.Series(texts.cast(pa.timestamp("ns", "UTC")).to_pandas(), copy=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None


def _datetimes(values, name):
    texts = _datetime_texts(values)
    fast = None if texts is None else _datetimes_fast(texts)
    return fast if fast is not None else _datetimes_slow(values, name)


_FRACTION = re.compile(r"(\.\d{6})(\d+)")


def _datetimes_slow(values, name):
    """Values Arrow refused: other ISO shapes, out-of-range years, or junk (which raises)."""
    import pandas as pd

    if any(v is not None and not isinstance(v, str) for v in values):
        raise _bad(name, "datetime", values, None)
    try:
        return pd.Series(pd.to_datetime(list(values), format="ISO8601", utc=True), copy=False) \
            .astype("datetime64[ns, UTC]")
    except pd.errors.OutOfBoundsDatetime:
        pass
    except ValueError as exc:
        raise _bad(name, "datetime", values, exc) from None
    # Outside 1677-2262: microseconds hold years 1-9999; the 7th fraction digit (100 ns) cannot stay.
    dropped = sum(1 for v in values if v is not None and (m := _FRACTION.search(v)) and m.group(2).strip("0Z"))
    trimmed = [None if v is None else _FRACTION.sub(r"\1", v) for v in values]
    try:
        series = pd.Series(pd.to_datetime(trimmed, format="ISO8601", utc=True), copy=False) \
            .astype("datetime64[us, UTC]")
    except (ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        raise _bad(name, "datetime", values, exc) from None
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    outside = series[(series < low) | (series > high)]
    first = outside.iloc[0] if len(outside) else None
    warnings.warn(
        f"column {name!r}: {len(outside)} datetime(s) outside pandas' nanosecond range (1677-2262), "
        f"e.g. {first}; kept the column as datetime64[us, UTC]"
        + (f", dropping the 100-ns digit of {dropped} value(s)" if dropped else ""),
        DatetimeRangeWarning, stacklevel=4)
    return series


_NS_PER = (86_400_000_000_000, 3_600_000_000_000, 60_000_000_000, 1_000_000_000)


def _timespan_ns(value) -> int | None:
    """``[-][d.]hh:mm:ss[.fffffff]`` or a tick count -> nanoseconds; the sign covers the whole span."""
    if value is None:
        return None
    if isinstance(value, str):
        negative = value[:1] == "-"
        text = value[1:] if negative else value
        hours, minutes, seconds = text.split(":")
        days = 0
        if "." in hours:
            days, hours = hours.split(".")
        if "." in seconds:
            seconds, fraction = seconds.split(".")
            if not fraction.isdigit() or len(fraction) > 9:
                raise ValueError(value)
            nanos = int(fraction.ljust(9, "0"))
        else:
            nanos = 0
        if not (hours.isdigit() and minutes.isdigit() and seconds.isdigit()):
            raise ValueError(value)
        total = (int(days) * _NS_PER[0] + int(hours) * _NS_PER[1] + int(minutes) * _NS_PER[2]
                 + int(seconds) * _NS_PER[3] + nanos)
        return -total if negative else total
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value * 100  # ticks of 100 ns
    raise TypeError(value)


_TIMESPAN_PATTERN = r"^(?P<neg>-?)(?:(?P<d>\d+)\.)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)(?:\.(?P<f>\d{1,9}))?$"


_CANONICAL_TIMESPAN = r"^-?(?:\d+\.)?\d\d:\d\d:\d\d(?:\.\d{1,9})?$"  # what Kusto writes: 2-digit fields


def _timespans_vectorized(values):
    """All-text timespans parsed in Arrow's C++ kernels (6x the per-value parser at 100k);
    None when any non-null value is not plain `[-][d.]hh:mm:ss[.f]` text (the slow path decides)."""
    import pyarrow as pa

    try:
        text = pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # tick counts (numbers) among the values
    return _timespan_texts_ns(text)


def _timespan_texts_ns(text):
    """_timespans_vectorized of an Arrow string array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    canonical = pc.all(pc.match_substring_regex(text, _CANONICAL_TIMESPAN)).as_py() is not False
    if canonical and (ns := _canonical_timespan_ns(text)) is not None:
        return ns
    found = (_canonical_timespan_fields if canonical else _timespan_fields)(text)
    if found is None:
        return None
    days, hours, minutes, seconds, nanos = found
    add, times = pc.add_checked, pc.multiply_checked  # beyond int64 nanoseconds: the slow path reports it
    try:
        total = add(add(add(times(days, _NS_PER[0]), times(hours, _NS_PER[1])),
                        add(times(minutes, _NS_PER[2]), times(seconds, _NS_PER[3]))), nanos)
    except pa.ArrowInvalid:
        return None
    signed = pc.if_else(pc.starts_with(text, "-"), pc.negate(total), total)
    ns = np.array(pc.fill_null(signed, 0).to_numpy(zero_copy_only=False), dtype="int64")  # exact: no float
    if text.null_count:
        ns[np.asarray(text.is_null().to_numpy(zero_copy_only=False))] = np.iinfo("int64").min  # NaT
    return ns


_MAX_DAY_DIGITS = 5  # 99,999 days and a clock fit int64 nanoseconds (it holds 106,751 days)


def _canonical_timespan_ns(text):
    """Nanoseconds (int64, NaT for nulls) of texts that all match _CANONICAL_TIMESPAN, read digit by
    digit from the Arrow buffer with numpy: hh:mm:ss sit at fixed places around the first `:`, the
    days before it and the fraction after it (about 2x the Arrow kernels). None when a day count has more
    than 5 digits, where the checked arithmetic of _canonical_timespan_fields decides."""
    import numpy as np
    import pyarrow.compute as pc

    if not len(text):
        return np.zeros(0, dtype="int64")
    nulls = np.asarray(text.is_null().to_numpy(zero_copy_only=False))
    filled = pc.fill_null(text, "00:00:00")
    _, offsets, data = filled.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(filled) + 1, offset=filled.offset * 4).astype(np.int64)
    data = np.frombuffer(data, dtype=np.uint8)
    start, end = bounds[:-1], bounds[1:]
    colon = start + np.asarray(pc.find_substring(filled, ":").to_numpy(zero_copy_only=False), dtype=np.int64)

    def digit(at):
        return data[at].astype(np.int64) - 48

    def number(first, count):
        """The number the `count` digits from `first` write (0 where count <= 0)."""
        value = np.zeros(len(first), dtype=np.int64)
        for j in range(int(count.max(initial=0))):
            has = count > j
            value = np.where(has, value * 10 + digit(np.where(has, first + j, 0)), value)
        return value

    negative = data[start] == 0x2D
    head = start + negative
    day_count = colon - 3 - head  # "[-]ddd.hh:": the digits from head to the dot before hh
    if day_count.max(initial=0) > _MAX_DAY_DIGITS:
        return None
    clock = ((digit(colon - 2) * 10 + digit(colon - 1)) * _NS_PER[1] + (digit(colon + 1) * 10 + digit(colon + 2))
             * _NS_PER[2] + (digit(colon + 4) * 10 + digit(colon + 5)) * _NS_PER[3])
    fraction_count = end - colon - 7  # "ss.f...": the digits after the dot, 1-9 (none: <= -1)
    nanos = number(colon + 7, fraction_count) * 10 ** (9 - np.clip(fraction_count, 0, 9))
    total = number(head, day_count) * _NS_PER[0] + clock + np.where(fraction_count > 0, nanos, 0)
    total = np.where(negative, -total, total)
    total[nulls] = np.iinfo("int64").min  # NaT
    return total


def _canonical_timespan_fields(text):
    """(days, hours, minutes, seconds, nanoseconds) of texts that all match _CANONICAL_TIMESPAN, from
    fixed places: "[-][d.]hh" without its sign and dot is the integer days * 100 + hours (4x the regex)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def number(strings):
        return pc.cast(strings, pa.int64())

    parts = pc.split_pattern(text, ":")
    head = number(pc.replace_substring(pc.replace_substring(pc.list_element(parts, 0), "-", ""), ".", ""))
    days = pc.divide(head, 100)  # integer division: head >= 0
    tail = pc.list_element(parts, 2)
    nanos = number(pc.utf8_rpad(pc.utf8_slice_codeunits(tail, 3, 12), 9, "0"))
    return (days, pc.subtract(head, pc.multiply(days, 100)), number(pc.list_element(parts, 1)),
            number(pc.utf8_slice_codeunits(tail, 0, 2)), nanos)


def _timespan_fields(text):
    """The same fields by a regex with groups, for any digit widths; None when a value does not match."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(text, _TIMESPAN_PATTERN)
    if parts.null_count != text.null_count:
        return None

    def field(name, width=1, pad="lpad"):
        column = pc.struct_field(parts, name)
        padded = pc.utf8_lpad(column, width, "0") if pad == "lpad" else pc.utf8_rpad(column, width, "0")
        return pc.cast(padded, pa.int64())

    return field("d"), field("h"), field("m"), field("s"), field("f", 9, "rpad")


def _timespans(values, name):
    import pandas as pd

    fast = _timespans_vectorized(values)
    if fast is not None:
        return pd.Series(fast.view("timedelta64[ns]"), copy=False)
    return _timespans_slow(values, name)


def _timespans_of_texts(text, name):
    """_timespans of the values an Arrow string array holds."""
    import pandas as pd

    fast = _timespan_texts_ns(text)
    if fast is not None:
        return pd.Series(fast.view("timedelta64[ns]"), copy=False)
    return _timespans_slow(text.to_pylist(), name)


def _timespans_slow(values, name):
    """Values the vectorized parse refused: tick counts, other shapes, junk (which raises)."""
    import numpy as np
    import pandas as pd

    try:
        if None not in values:
            ns = np.array([_timespan_ns(v) for v in values], dtype="int64")
        else:
            mask = _nulls(values)
            ns = np.array([0 if v is None else _timespan_ns(v) for v in values], dtype="int64")
            ns[mask] = np.iinfo("int64").min  # NaT
    except OverflowError:
        raise _timespan_range(name, values) from None
    except (TypeError, ValueError) as exc:
        raise _bad(name, "timespan", values, exc) from None
    return pd.Series(ns.view("timedelta64[ns]"), copy=False)


def _timespan_range(name: str, values) -> ConversionError:
    """A timespan past pandas' timedelta64[ns] (about 292 years; .NET's go to 29,000): said, not wrapped."""
    first = next(v for v in values if v is not None and not -2**63 <= _timespan_ns(v) < 2**63)
    return ConversionError(f"column {name!r} holds the timespan {first!r}, beyond pandas' range (about 292 years)",
                           hint=f"Convert it in the query, e.g. extend {name} = tostring({name}) or {name} / 1d.")


# One converter per canonical Kusto type name (kusto_types.TYPES); tests walk every row.
CONVERTERS: dict[str, Callable[[Sequence[Any], str], Any]] = {
    "bool": _bools,
    "int": _integers("int32"),
    "long": _integers("int64"),
    "real": _reals,
    "decimal": _decimals,
    "string": _strings,
    "datetime": _datetimes,
    "timespan": _timespans,
    "guid": _objects,
    "dynamic": _dynamics,
}


def _bad(name: str, ktype: str, values, exc) -> ConversionError:
    first = next((v for v in values if v is not None and not _fits(ktype, v)), None)
    shown = repr(first)[:80] if first is not None else (str(exc)[:80] if exc else "?")
    return ConversionError(f"column {name!r} of Kusto type {ktype} holds {shown}, which is not a {ktype}",
                           hint="Cast the column in the query (e.g. tostring()) or report the server's encoding.")


def _fits(ktype: str, value) -> bool:
    try:
        if ktype == "bool":
            return isinstance(value, bool)
        if ktype in ("int32", "int64"):
            return isinstance(value, int) and not isinstance(value, bool) and \
                (-2**31 <= value < 2**31 if ktype == "int32" else -2**63 <= value < 2**63)
        if ktype == "real":
            float(value)
        elif ktype == "decimal":
            _decimal(value)
        elif ktype == "timespan":
            _timespan_ns(value)
        elif ktype == "datetime":
            import pandas as pd

            pd.Timestamp(value)
        return True
    except Exception:  # noqa: BLE001 - any failure means "this is the bad value"
        return False


# -- public -----------------------------------------------------------------------------------

def frame_from_columns(columns: list[tuple[str, str]], rows: list[list], *, consume: bool = False):
    """A DataFrame from (name, Kusto type) columns and JSON-decoded rows (v1 or v2 encodings).

    With ``consume=True`` the ``rows`` list is emptied once transposed, so each row's list is
    freed before conversion (lower peak memory); the caller must not need it any more.
    """
    frame = ChunkedFrame(columns)
    frame.add(rows if consume else list(rows))
    return frame.finish()


# -- chunk by chunk: rows that arrive in pieces, the same frame as all of them at once -------------

_NULLABLE = ("Int32", "Int64", "boolean")


class _Column:
    """One column converted chunk by chunk by its CONVERTERS row; ``finish`` joins the parts so the
    result is what the converter gives the whole column (a null in any part makes the whole
    int/bool column nullable). A ConversionError waits for ``finish``, so columns fail in order."""

    def __init__(self, name: str, ktype: str):
        self.name, self.convert = name, CONVERTERS[ktype]
        self.parts: list = []
        self.error: ConversionError | None = None

    def add(self, values) -> None:
        self.add_prepared(lambda: self.convert(values, self.name))

    def add_prepared(self, convert) -> None:
        """Add the part `convert()` makes (a ConversionError waits for finish)."""
        if self.error is None:
            try:
                self.parts.append(convert())
            except ConversionError as exc:
                self.error, self.parts = exc, []

    def finish(self):
        if self.error is not None:
            raise self.error
        parts, self.parts = self.parts, []
        if not parts:
            return self.convert((), self.name)
        return parts[0] if len(parts) == 1 else _joined(parts)


def _joined(parts: list):
    import pandas as pd

    dtypes = {str(p.dtype) for p in parts}
    nullable = next((d for d in _NULLABLE if d in dtypes), None)
    if len(dtypes) > 1 and nullable:
        parts = [p if str(p.dtype) == nullable else p.astype(nullable) for p in parts]
    return pd.concat(parts, ignore_index=True)


class _DatetimeColumn(_Column):
    """Datetimes decide for the whole column: Arrow's parse when every part takes it, else the slow
    path (and its one warning) over all the column's values, kept as Arrow text meanwhile."""

    def __init__(self, name: str, ktype: str):
        super().__init__(name, ktype)
        self.texts: list = []
        self.slow = False

    def add(self, values) -> None:
        texts = _datetime_texts(values)
        self.texts.append(list(values) if texts is None else texts)
        self._decide(texts)

    def add_prepared(self, texts) -> None:
        """Add a part already as Arrow texts (v2_columns)."""
        self.texts.append(texts)
        self._decide(texts)

    def _decide(self, texts) -> None:
        if texts is None:
            self.slow, self.parts = True, []
        elif not self.slow:
            fast = _datetimes_fast(texts)
            if fast is None:
                self.slow, self.parts = True, []
            else:
                self.parts.append(fast)

    def finish(self):
        if not self.slow:
            return super().finish()
        values = [v for part in self.texts for v in (part if isinstance(part, list) else part.to_pylist())]
        self.texts = []
        return _datetimes_slow(values, self.name)


_COLUMN_KINDS = {"datetime": _DatetimeColumn}


class ChunkedFrame:
    """A DataFrame from (name, Kusto type) columns and rows added in chunks: each chunk is
    converted to its final column form as it comes, so no chunk's Python rows outlive it.
    Errors (malformed rows, bad values) are raised by ``finish`` in the order converting the whole
    table at once raises them."""

    def __init__(self, columns: list[tuple[str, str]]):
        self.names = [name for name, _ in columns]
        self.kinds = [kusto_type(ktype).name for _, ktype in columns]
        self._columns = [_COLUMN_KINDS.get(kind, _Column)(name, kind) for name, kind in zip(self.names, self.kinds)]
        self.rows = 0
        self._first_row_checked = False
        self._error: ConversionError | None = None

    def add(self, rows: list) -> None:
        """Convert these rows (the list is emptied, so each row is freed before its columns are made)."""
        if self._error is not None:
            rows.clear()
            return
        width = len(self._columns)
        if not all(type(row) is list for row in rows):   # a string or object would be read as its characters or keys
            self._fail("a result row is not a list of values", rows)
            return
        if rows and not self._first_row_checked:
            self._first_row_checked = True
            if len(rows[0]) != width:
                self._fail(f"a result row has {len(rows[0])} values for {width} columns", rows)
                return
        count = len(rows)
        try:  # strict: a shorter or longer row among them would otherwise be cut silently
            by_column = list(zip(*rows, strict=True))
        except ValueError:
            by_column = None
        rows.clear()
        if count and (by_column is None or len(by_column) != width):
            self._fail("result rows have different lengths", rows)
            return
        self.rows += count
        if not count:
            return
        for i, column in enumerate(self._columns):
            column.add(by_column[i])
            by_column[i] = None  # free the column's Python values as soon as they are converted

    def lexer_modes(self) -> bytes | None:
        """What the C lexer should write per column for add_lexed, or None when it is not there."""
        from .v2_columns import modes

        return modes(self.kinds) if self._error is None else None

    def add_lexed(self, columns: list[tuple], count: int) -> bool:
        """Add `count` rows the C lexer read (v2_columns); False, with nothing added, when one
        column's values are not what its type takes there (the caller then adds the rows). The
        list is emptied, so no chunk's texts outlive it."""
        if self._error is not None:
            columns.clear()
            return False  # add drops them, after msgspec's decode (which may refuse one: 1e400 in a list)
        from .v2_columns import prepare

        prepared = prepare(self.kinds, self.names, columns, count)
        columns.clear()
        if prepared is None:
            return False
        self._first_row_checked = True  # the lexer read exactly one value per column in each row
        self.rows += count
        for column, part in zip(self._columns, prepared):
            column.add_prepared(part)
        return True

    def _fail(self, message: str, rows: list) -> None:
        rows.clear()
        self._error = ConversionError(message, hint="The server sent a malformed table; report it with the query.")
        self._columns = []

    def finish(self):
        import pandas as pd

        if self._error is not None:
            raise self._error
        series = {}
        for i, column in enumerate(self._columns):
            series[i] = column.finish()
            self._columns[i] = None
        frame = pd.DataFrame(series, copy=False) if series else pd.DataFrame(index=pd.RangeIndex(0))
        frame.columns = self.names
        return frame


def frame_from_sdk_table(table):
    """A DataFrame from a KustoResultTable the official SDK already parsed (from its raw rows)."""
    columns = [(c.column_name, c.column_type) for c in table.columns]
    return frame_from_columns(columns, table.raw_rows)


_TRUNCATION_CODES = ("E_QUERY_RESULT_SET_TOO_LARGE", "LimitsExceeded", "E_LOW_MEMORY_CONDITION")
_NUMBER = re.compile(r"limit(?: of)?\s*(?:\(\w+\)\s*)?(?:of\s*)?(\d[\d,]*)", re.IGNORECASE)


def _error_text(error: Any) -> tuple[str, str]:
    """(code, message) of one OneApiError-ish object or a completion payload."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            code = str(inner.get("code") or inner.get("StatusCodeName") or "")
            message = str(inner.get("@message") or inner.get("message") or inner.get("Text") or "")
            return code, message
    return "", str(error)


def _is_truncation(code: str, message: str) -> bool:
    text = f"{code} {message}"
    return any(c in text for c in _TRUNCATION_CODES) or "truncat" in text.lower()


def raise_for_errors(errors: list[Any], rows: int, frame=None, request_id: str | None = None) -> None:
    """Raise ResultTruncatedError (with the numbers) or KustoQueryError for inline errors."""
    if not errors:
        return
    parsed = [_error_text(e) for e in errors]
    for code, message in parsed:
        if _is_truncation(code, message):
            match = _NUMBER.search(message)
            limit = int(match.group(1).replace(",", "")) if match else None
            exc = ResultTruncatedError(
                f"Kusto truncated the result: {rows} row(s) arrived"
                + (f", the limit is {limit}" if limit else "") + f" ({code or 'truncated'}: {message[:200]})",
                hint="Narrow the query (where/summarize/take), or add 'set notruncation;' before it "
                     "if you really need every row.",
                request_id=request_id)
            exc.rows = rows
            exc.limit = limit
            exc.partial_frame = frame  # what arrived, for whoever wants it anyway
            raise exc
    code, message = parsed[0]
    raise KustoQueryError(f"Kusto reported an error inside the result: {message[:300] or code}",
                          code=code or None, request_id=request_id,
                          hint="The query ran but failed part-way; fix the error and run it again.")


def completion_errors(names: list[str], rows: list) -> tuple[list[dict], list[str]]:
    """(errors, warning texts) from a QueryCompletionInformation table's column names and rows.

    Level < 3 (Critical/Error) is an error; a Level-3 warning that says the result was truncated
    counts as an error too.
    """
    errors: list[dict] = []
    seen: list[str] = []
    for row in rows:
        if not isinstance(row, (list, tuple)):
            continue
        record = dict(zip(names, row))
        level = record.get("Level")
        payload = record.get("Payload")
        if isinstance(payload, str) and payload[:1] == "{":
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        text = payload.get("Text", "") if isinstance(payload, dict) else str(payload or "")
        entry = {"StatusCodeName": record.get("StatusCodeName") or "", "Text": text}
        if isinstance(level, int) and level < 3:
            errors.append(entry)
        elif isinstance(level, int) and level < 4 and text:
            seen.append(text)
            if _is_truncation(entry["StatusCodeName"], text):
                errors.append(entry)
    return errors, seen


def decode_json(body: bytes | str):
    """Response bytes -> Python objects with msgspec: measured on a 100 MB v2 body, 1.5x the
    speed of json and a lower peak (no decoded copy of the body; orjson was fast but builds a
    whole document tree first, +230 MB at 500k rows)."""
    import msgspec

    if isinstance(body, str):
        body = body.encode()
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


class _gc_paused:
    """Parsing makes millions of containers; a cyclic-GC pass every few thousand of them costs more
    than the parse itself (measured: about a third of the time at 100k rows). None of them can form
    a cycle, so the collector is paused while they are made and restored after."""

    def __enter__(self):
        import gc

        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        import gc

        if self.enabled:
            gc.enable()


def frame_from_v2_frames(frames: list):
    """A JSON-decoded v2 query response (which it consumes: empties) -> (DataFrame of the first
    PrimaryResult, column types, completion facts); the rules live in v2_result.

    Raises ResultTruncatedError when Kusto cut the result (inline OneApiErrors, a
    QueryCompletionInformation row with Level < 4, or DataSetCompletion errors), and
    KustoQueryError for any other inline error.
    """
    from .v2_result import frame_from_v2_frames as from_frames

    return from_frames(frames)
