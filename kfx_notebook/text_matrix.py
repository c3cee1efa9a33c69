"""Texts of a fixed layout (timespans) built as a numpy byte matrix, one column per value.

The rule it keeps: value v's text is the bytes of matrix[:, v] it wrote itself (ASCII digits and
punctuation) between NUL padding, which Arrow trims in one pass; no Python work per value.
The matrix is position-major (each write is one contiguous row) and the arithmetic int32 where the
values fit, both several times faster in numpy than the value-major, int64 forms.
Each layout is held value for value to codec's per-value formatter by the tests (test_codec.py,
test_wire_arrow.py). numpy and pyarrow are imported on first use.
"""

from __future__ import annotations


def texts(matrix):
    """A W x N uint8 matrix (text position x value) whose texts are padded with NUL bytes on either
    side -> an Arrow string array of the N texts without them (the NULs trimmed by Arrow, in C++)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    width, count = matrix.shape
    small = count * width < 2**31 - 1                   # int32 offsets reach it
    offsets = np.arange(0, (count + 1) * width, width, dtype="int32" if small else "int64")
    kind = pa.StringArray if small else pa.LargeStringArray
    padded = kind.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix.T)))
    return pc.ascii_trim(padded, "\x00").cast(pa.string())


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
        matrix[head - 1 - distance] = np.where(distance < day_text, days // 10 ** (distance - 1) % 10 + 48, 0)
    matrix[head - 1] = np.where(days > 0, ord("."), 0)
    matrix[(head - 1 - day_text)[negative], values[negative]] = ord("-")
    start = head - day_text - negative - len(before)
    for k, byte in enumerate(before):
        matrix[start + k, values] = byte
    for part, position in ((seconds // 3600, head), (seconds // 60 % 60, head + 3), (seconds % 60, head + 6)):
        put_digits(matrix, position, part, 2)
    put(matrix, head + 2, b":")
    put(matrix, head + 5, b":")
    written = np.ones(count, bool) if fraction else subsecond > 0
    put(matrix, head + 8, b".")
    put_digits(matrix, head + 9, subsecond, 7)
    if not written.all():
        matrix[head + 8:head + 16, ~written] = 0
    stop = head + 8 + 8 * written
    for k, byte in enumerate(after):
        matrix[stop + k, values] = byte
    return texts(matrix)
