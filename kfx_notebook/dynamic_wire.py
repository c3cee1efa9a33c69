"""A dynamic column's stored JSON texts -> the REST wire's compact texts, token for token, without decoding.

The rule it keeps: the result is exactly what the per-value encoder writes for each text
(`json.loads`, then compact `json.dumps`), or None (then the caller goes value by value). The
texts are minified by msgspec (which copies every string and number token as it is and refuses
what is not JSON); that equals the encoder's text exactly when every token is already the one
json writes for its value, which is checked on the tokens themselves, with numpy over the bytes:
- strings: every backslash escape is one json writes (`\\"`, `\\\\`, `\\n` ..., `\\u00XX` for the
  other control characters); `\\/`, `\\u00e9` or a surrogate pair is not;
- numbers: an integer is not `-0` and short enough for `int()`, a real is finite and is
  `float.__repr__` of itself (`1.0`, `1e+16`; not `1e16`, `1.50`, `1e400`);
- objects: no key twice in one object (json keeps one, minifying would keep both).
NaN and Infinity tokens, control characters and bare fragments (`[1` and `2]` in two rows) are
not JSON or not whole values, and go value by value too.
"""

from __future__ import annotations

import json
import re

#: The escapes json.dumps writes inside a string (ensure_ascii=False): one per character it escapes.
_JSON_ESCAPES = frozenset(json.dumps(chr(c))[1:-1].encode() for c in [*range(0x20), ord('"'), ord("\\")])
_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|.)", re.DOTALL)
#: A byte's class for _Scan (bytes.translate writes it): a quote, a separator, a number's first byte, or 0.
_QUOTE, _SEPARATOR, _NUMERIC_START = 1, 2, 3
_BYTE_CLASSES = bytes(_QUOTE if b == ord('"') else _SEPARATOR if b in b"[]{},:" else
                      _NUMERIC_START if b in b"-0123456789" else 0 for b in range(256))
#: bytes.translate tables: a real's marks -> 1; a bracket -> 1 + how it changes the nesting depth.
_REAL_MARKS = bytes(1 if b in b".eE" else 0 for b in range(256))
_DEPTH_STEP = bytes(2 if b in b"{[" else 0 if b in b"}]" else 1 for b in range(256))
#: Longer integers than this may exceed int()'s digit limit (then json.loads refuses the text).
_MAX_INT_DIGITS = 4000


def compact_wire_texts(column):
    """An Arrow string column of dynamic JSON texts -> an Arrow string array of each one's wire text
    (a null as "null"), or None when a text is not already json's own tokens."""
    import msgspec
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(column):
        return pa.array([], pa.string())
    texts = pc.fill_null(column, "null")   # a SQL null and a JSON null are both written null
    joined = b"[" + _comma_joined(texts) + b"]"
    try:
        elements = msgspec.json.decode(joined, type=list[msgspec.Raw])
        compact = msgspec.json.format(joined, indent=-1)
    except msgspec.DecodeError:
        return None
    if not _one_value_each(texts, elements) or b"\\" in compact and not _escapes_are_jsons(compact):
        return None
    scan = _Scan(compact)
    if not (scan.numbers_are_jsons() and scan.no_repeated_key()):
        return None
    return scan.rows()


def _comma_joined(texts) -> bytes:
    """An Arrow string array's values joined by commas (one Arrow kernel and one copy)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pa.large_string()
    with_commas = pc.binary_join_element_wise(texts.cast(kind), pa.scalar(",", kind), pa.scalar("", kind))
    offsets = np.frombuffer(with_commas.buffers()[1], "int64", len(with_commas) + 1, with_commas.offset * 8)
    return bytes(memoryview(with_commas.buffers()[2])[offsets[0]:offsets[-1] - 1])


def _one_value_each(texts, elements) -> bool:
    """Whether the JSON values read from the texts joined by commas are the texts themselves: as many,
    each as long as its text, and no text starting with whitespace (so each value starts where its
    text does, and ends where it ends)."""
    import numpy as np
    import pyarrow.compute as pc

    if len(elements) != len(texts):
        return False
    if pc.any(pc.match_substring_regex(texts, r"^[ \t\n\r]")).as_py():
        return False
    lengths = np.fromiter(map(len, elements), "int64", len(elements))
    return bool(np.array_equal(lengths, pc.binary_length(texts).to_numpy(zero_copy_only=False)))


def _escapes_are_jsons(compact: bytes) -> bool:
    """Whether every backslash escape in the (valid JSON) text is one json.dumps writes."""
    return set(_ESCAPE.findall(compact)) <= _JSON_ESCAPES


def _pieces(chars, starts, ends):
    """An Arrow binary array of the byte runs chars[starts[i]:ends[i]], gathered in one numpy take."""
    import numpy as np
    import pyarrow as pa

    lengths = ends - starts
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype("int64")
    where = np.arange(offsets[-1]) + np.repeat(starts - offsets[:-1], lengths)
    data = pa.py_buffer(chars[where].tobytes())
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(starts), [None, pa.py_buffer(offsets), data])


class _Scan:
    """Minified JSON text (an array of rows) read as bytes: where its strings, separators and numbers are.

    Few passes over the bytes (their classes by bytes.translate, the quotes' running parity), then
    work on positions: a byte is inside a string when an odd number of quotes comes before it;
    the nesting depth after each separator outside strings is the running sum of its brackets."""

    def __init__(self, compact: bytes):
        import numpy as np

        # An escaped backslash, then an escaped quote, become two bytes valid JSON cannot hold raw
        # (so distinct strings stay distinct): every quote left bounds a string.
        self.compact = compact
        neutral = compact.replace(b"\\\\", b"\0\0").replace(b'\\"', b"\1\1")
        chars = self.chars = np.frombuffer(neutral, "uint8")
        classes = np.frombuffer(neutral.translate(_BYTE_CLASSES), "uint8")
        is_quote = classes == _QUOTE
        self.parity = np.cumsum(is_quote.view("uint8"), dtype="uint8") & 1   # 1: inside a string
        quotes = np.flatnonzero(is_quote)
        self.opening, self.closing = quotes[0::2], quotes[1::2]
        separators = np.flatnonzero(classes == _SEPARATOR)
        self.separators = separators[self.parity[separators] == 0]
        self.kinds = chars[self.separators]
        steps = np.frombuffer(self.kinds.tobytes().translate(_DEPTH_STEP), "uint8").astype("int64") - 1
        self.depth = np.cumsum(steps)   # after each separator
        # a number starts with '-' or a digit right after '[', ',' or ':' (outside strings)
        starts = np.flatnonzero((classes[1:] == _NUMERIC_START) & (classes[:-1] == _SEPARATOR)) + 1
        self.number_starts = starts[self.parity[starts] == 0]

    def _depth_at(self, positions):
        """The nesting depth at each of these positions (outside strings, or a string's opening quote)."""
        import numpy as np

        before = np.searchsorted(self.separators, positions) - 1
        return np.where(before >= 0, self.depth[np.maximum(before, 0)], 0)

    def numbers_are_jsons(self) -> bool:
        """Whether every number token is json's spelling of the value it reads as (it ends at the
        next separator)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from .codec import real_texts

        chars, starts = self.chars, self.number_starts
        if not len(starts):
            return True
        ends = self.separators[np.searchsorted(self.separators, starts)]
        tokens = _pieces(chars, starts, ends)
        offsets = np.frombuffer(tokens.buffers()[1], "int64", len(tokens) + 1)
        marks = np.frombuffer(tokens.buffers()[2].to_pybytes().translate(_REAL_MARKS), "uint8")
        real = np.maximum.reduceat(marks, offsets[:-1]).astype(bool)
        lengths = ends - starts
        integer = ~real
        if integer.any():
            s, n = starts[integer], lengths[integer]
            if n.max() > _MAX_INT_DIGITS or ((n == 2) & (chars[s] == ord("-")) & (chars[s + 1] == ord("0"))).any():
                return False
        if not real.any():
            return True
        spelled = tokens.filter(pa.array(real)).cast(pa.large_string())
        numbers = spelled.cast(pa.float64()).to_numpy()   # Arrow's parse rounds correctly, as float() does
        return bool(np.isfinite(numbers).all()) and \
            pc.all(pc.equal(real_texts(numbers).cast(pa.large_string()), spelled)).as_py()

    def no_repeated_key(self) -> bool:
        """Whether no object has a key twice. A key is a string followed by ':'; its object is the
        last '{' before it at its own nesting depth."""
        import numpy as np

        is_key = self.chars[self.closing + 1] == ord(":")
        if is_key.sum() < 2:
            return True
        key_open, key_close = self.opening[is_key], self.closing[is_key]
        names = _pieces(self.chars, key_open + 1, key_close).dictionary_encode()
        is_object = self.kinds == ord("{")
        objects, object_depth = self.separators[is_object], self.depth[is_object]
        span = len(self.chars) + 1
        object_keys = np.sort(object_depth * span + objects)        # by depth, then position
        owner = np.searchsorted(object_keys, self._depth_at(key_open) * span + key_open) - 1
        pairs = np.sort(owner.astype("int64") * (len(names.dictionary) + 1) + names.indices.to_numpy())
        return not (pairs[1:] == pairs[:-1]).any()

    def rows(self):
        """The array's elements, as an Arrow string array: the text between its top-level commas."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        commas = self.separators[(self.kinds == ord(",")) & (self.depth == 1)]
        # each row with the ',' (the last with the ']') after it, then that byte cut
        offsets = np.concatenate([[1], commas + 1, [len(self.chars)]]).astype("int64")
        with_comma = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offsets) - 1,
                                                      [None, pa.py_buffer(offsets), pa.py_buffer(self.compact)])
        return pc.binary_slice(with_comma, 0, -1).cast(pa.large_string())
