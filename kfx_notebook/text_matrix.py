"""Texts of a fixed layout (timespans) built as a numpy byte matrix, one column per value.

The rule it keeps: value v's text is the bytes matrix[start[v]:stop[v], v] it wrote itself (ASCII
digits and punctuation), turned into one Arrow string array in one pass; no Python work per value.
The matrix is position-major (each write is one contiguous row) and the arithmetic int32 where the
values fit, both several times faster in numpy than the value-major, int64 forms.
Each layout is held value for value to codec's per-value formatter by the tests (test_codec.py,
test_wire_arrow.py). numpy and pyarrow are imported on first use.
"""

from __future__ import annotations


def texts(matrix, start=None, stop=None):
    """A W x N uint8 matrix (text position x value) and each value's [start, stop) positions
    (default: all W) -> an Arrow string array of N texts."""
    import numpy as np
    import pyarrow as pa

    width, count = matrix.shape
    by_value = np.ascontiguousarray(matrix.T)
    if start is None and stop is None:
        data, lengths = by_value, np.full(count, width, "int64")
    else:
        positions = np.arange(width)
        data, lengths = by_value[(positions >= start[:, None]) & (positions < stop[:, None])], stop - start
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype("int32")
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def put(matrix, position: int, text: bytes) -> None:
    """Write the same ASCII *text* into every value's text, from *position* on."""
    for k, byte in enumerate(text):
        matrix[position + k] = byte


def put_digits(matrix, position: int, values, width: int) -> None:
    """Write each value's non-negative integer, zero-padded to *width* digits, from *position* on."""
    for k in range(width):
        matrix[position + k] = values // 10 ** (width - 1 - k) % 10 + 48


def timespan_texts(negative, ticks, *, fraction: bool, before: bytes = b"", after: bytes = b""):
    """Signs and absolute 100-ns ticks (numpy) -> '[-][d.]hh:mm:ss[.fffffff]' texts between *before* and
    *after*; the fraction always (fraction=True, the payload) or only when not zero (the wire)."""
    import numpy as np

    days, rest = np.divmod(ticks, 864_000_000_000)
    seconds, subsecond = (part.astype("int32") for part in np.divmod(rest, 10_000_000))
    day_width = len(str(int(days.max()))) if len(days) else 1
    head = len(before) + 1 + day_width + 1          # before, '-', the day digits and '.', right-aligned
    count = len(ticks)
    matrix = np.zeros((head + 8 + 8 + len(after), count), "uint8")
    values = np.arange(count)
    digit_count = np.searchsorted(10 ** np.arange(1, 19, dtype="int64"), days, side="right") + 1
    day_text = np.where(days > 0, digit_count + 1, 0)   # 'd.' or nothing
    for distance in range(1, day_width + 1):       # the day digits, right to left, before the '.'
        matrix[head - 1 - distance] = days // 10 ** (distance - 1) % 10 + 48
    matrix[head - 1] = ord(".")
    matrix[(head - 1 - day_text)[negative], values[negative]] = ord("-")
    start = head - day_text - negative - len(before)
    for k, byte in enumerate(before):
        matrix[start + k, values] = byte
    for part, position in ((seconds // 3600, head), (seconds // 60 % 60, head + 3), (seconds % 60, head + 6)):
        put_digits(matrix, position, part, 2)
    put(matrix, head + 2, b":")
    put(matrix, head + 5, b":")
    put(matrix, head + 8, b".")
    put_digits(matrix, head + 9, subsecond, 7)
    stop = head + 8 + 8 * (np.ones(count, bool) if fraction else subsecond > 0)
    for k, byte in enumerate(after):
        matrix[stop + k, values] = byte
    return texts(matrix, start, stop + len(after))
