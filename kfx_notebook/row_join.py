"""Rows of JSON text written by one C loop (kfx_notebook/_speedups/rows.c) from per-column pieces.

The one row-join rule the REST wire (server/wire.py) and the binding's payload (payload.py)
share: row i is literals[0] + columns[0][i] + literals[1] + ... + literals[n], the rows written
between head and tail with the separator between two. A column is an Arrow string array of its
texts, or one of the specs below, which C writes from the column's own buffers (ints, bools,
strings escaped, datetimes, timespans, reals: no Arrow kernel per column). `join` is None when the
module is not built or does not handle the input (a bad offset, a datetime outside years 1-9999);
the caller then joins in Arrow as before, the reference the tests hold this path to.
pyarrow is imported only by the callers' arrays; nothing heavy here.
"""

from __future__ import annotations

from . import _speedups

#: The column kinds rows.c writes (its enum).
TEXTS, STRINGS, INTS, BOOLS, DATETIMES, TIMESPANS, REALS, INTERVALS, DYNAMIC, NS_DATETIMES, NS_TIMESPANS = range(11)


def join(count: int, literals: list[str], columns: list, *, separator: bytes,
         head: bytes = b"", tail: bytes = b"", parts: int = 0) -> bytes | None:
    """The rows' bytes from one more literal than columns (Arrow string arrays or specs), or None.

    C cuts large replies into parts written on threads of their own (by default one a CPU for
    every 16384 rows, at most 4); `parts` asks for that many, so tests can hold every cut to one."""
    rows = _speedups.load("rows")
    if rows is None:
        return None
    specs = [column if isinstance(column, tuple) else texts(column) for column in columns]
    return rows.join(count, [text.encode("utf-8") for text in literals], specs, separator, head, tail, parts)


def _offsets_width(array) -> int:
    import pyarrow as pa

    return 8 if pa.types.is_large_string(array.type) else 4


def texts(array) -> tuple:
    """An Arrow string/large_string array (or one-chunk column) written as its texts (nulls ignored)."""
    import pyarrow as pa

    array = array.combine_chunks() if hasattr(array, "combine_chunks") else array
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())   # a view type keeps short strings outside its data buffer
    _validity, offsets, data = array.buffers()
    return (TEXTS, _offsets_width(array), array.offset, offsets, b"" if data is None else data, None, 0)


def _validity(array) -> tuple:
    """(the array's validity bitmap or None, its bit offset) for a spec."""
    bitmap = array.buffers()[0] if array.null_count else None
    return bitmap, array.offset


def strings(array) -> tuple:
    """An Arrow string/large_string array written as JSON strings (json.dumps' escapes), nulls null."""
    _bitmap, offsets, data = array.buffers()
    return (STRINGS, _offsets_width(array), array.offset, offsets, b"" if data is None else data, *_validity(array))


def nanoseconds(kind: int, values, mask) -> tuple:
    """int64 nanoseconds (a numpy array) and their null mask -> a spec C writes as the payload's
    datetime (NS_DATETIMES: UTC since 1970) or timespan (NS_TIMESPANS) texts, nulls null."""
    import pyarrow as pa

    array = pa.array(values, pa.int64(), mask=mask if mask.any() else None)
    return (kind, 8, array.offset, array.buffers()[1], None, *_validity(array))


def wire_column(column, kusto_type: str) -> tuple | None:
    """A spec for the columns C writes as server/wire.py's per-value encoder does, from an Arrow
    column of a (lowercase) Kusto type; None for the others (the caller takes their texts from
    codec.wire_json_pieces). The same choice of rule by Arrow type as wire_json_pieces makes."""
    import pyarrow as pa

    from .codec import _WIRE_COLUMN_WISE

    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    kind = array.type
    if kusto_type == "dynamic" and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return (DYNAMIC, *strings(array)[1:])   # C writes them when all are in the wire's form
    if kusto_type not in _WIRE_COLUMN_WISE:
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return strings(array)
    if pa.types.is_boolean(kind):
        return (BOOLS, 1, array.offset, array.buffers()[1], None, *_validity(array))
    if pa.types.is_signed_integer(kind):
        return (INTS, kind.bit_width // 8, array.offset, array.buffers()[1], None, *_validity(array))
    if kusto_type == "decimal":
        return None   # wire_json_pieces' decimal rule (or the per-value encoder) decides
    if pa.types.is_floating(kind) and kind.bit_width in (32, 64):   # repr of each as a double
        return (REALS, kind.bit_width // 8, array.offset, array.buffers()[1], None, *_validity(array))
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        return (DATETIMES, 8, array.offset, array.buffers()[1], None, *_validity(array))
    if kind == pa.month_day_nano_interval():   # ticks as codec._interval_ticks counts them, in C
        return (INTERVALS, 16, array.offset, array.buffers()[1], None, *_validity(array))
    return None
