"""A dynamic column's stored JSON texts -> the REST wire's compact texts, token for token, without decoding.

The rule it keeps: the result is exactly what the per-value encoder writes for each text
(`json.loads`, then compact `json.dumps`), or None (then the caller goes value by value). The
texts are minified by msgspec (which copies every string and number token as it is and refuses
what is not JSON); that equals the encoder's text exactly when every token is already the one
json writes for its value, which is checked on the tokens themselves, at C speed:
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
#: Outside strings, the punctuation between tokens (and the quote standing for a string) -> a space.
_BETWEEN_TOKENS = bytes.maketrans(b'[]{},:"', b"       ")
_LITERALS = frozenset({b"true", b"false", b"null"})
#: Longer integers than this may exceed int()'s digit limit (then json.loads refuses the text).
_MAX_INT_DIGITS = 4000


def compact_wire_texts(column):
    """An Arrow string column of dynamic JSON texts -> an Arrow string array of each one's wire text
    (a null as "null"), or None when a text is not already json's own tokens."""
    import msgspec
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pc.fill_null(column, "null")   # a SQL null and a JSON null are both written null
    joined = ("[" + ",".join(texts.to_pylist()) + "]").encode("utf-8")
    try:
        elements = msgspec.json.decode(joined, type=list[msgspec.Raw])
        compact = msgspec.json.format(joined, indent=-1)
        rows = msgspec.json.decode(compact, type=list[msgspec.Raw])
    except msgspec.DecodeError:
        return None
    if not (_one_value_each(texts, elements) and _tokens_are_jsons(compact)):
        return None
    # The rows lie in `compact` one after the other, each followed by one ',' (the last by ']')
    ends = np.cumsum(np.fromiter(map(len, rows), "int64", len(rows)) + 1)
    offsets = pa.py_buffer(np.concatenate([[1], 1 + ends]).astype("int64"))
    with_comma = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(rows), [None, offsets, pa.py_buffer(compact)])
    return pc.binary_slice(with_comma, 0, -1).cast(pa.large_string())


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


def _tokens_are_jsons(compact: bytes) -> bool:
    """Whether every token of minified JSON text is the one json.dumps writes for its value."""
    if b"\\" in compact and not set(_ESCAPE.findall(compact)) <= _JSON_ESCAPES:
        return False
    # An escaped backslash, then an escaped quote, become two bytes valid JSON cannot hold raw (so
    # distinct strings stay distinct): what is left of the quotes bounds the strings (parts at odd
    # places are string contents).
    parts = compact.replace(b"\\\\", b"\0\0").replace(b'\\"', b"\1\1").split(b'"')
    outside = b'"'.join(parts[::2])
    return _numbers_are_jsons(outside) and _no_repeated_key(outside, parts[1::2])


def _numbers_are_jsons(outside: bytes) -> bool:
    """Whether every number token (outside strings) is json's spelling of the value it reads as."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from .codec import real_texts

    tokens = set(outside.translate(_BETWEEN_TOKENS).split()) - _LITERALS
    if not tokens:
        return True
    if b"-0" in tokens or max(map(len, tokens)) > _MAX_INT_DIGITS:
        return False
    spelled = pa.array(list(tokens), pa.binary()).cast(pa.string())
    reals = spelled.filter(pc.match_substring_regex(spelled, "[.eE]"))
    if not len(reals):
        return True
    numbers = reals.cast(pa.float64()).to_numpy()   # Arrow's parse rounds correctly, as float() does
    return bool(np.isfinite(numbers).all()) and pc.all(pc.equal(real_texts(numbers), reals)).as_py()


def _no_repeated_key(outside: bytes, strings: list) -> bool:
    """Whether no object has a key twice. `outside` is the text with each string a bare quote,
    `strings` the strings' contents in order; a key is a string followed by ':'. Each key's object
    is the last '{' before it at its own nesting depth."""
    import numpy as np
    import pyarrow as pa

    chars = np.frombuffer(outside, dtype="uint8")
    quotes = np.flatnonzero(chars == ord('"'))
    after = quotes + 1
    is_key = chars[np.minimum(after, len(chars) - 1)] == ord(":")
    if is_key.sum() < 2:
        return True
    depth = np.cumsum((chars == ord("{")).astype("int64") + (chars == ord("[")) - (chars == ord("}")) - (chars == ord("]")))
    opens = np.flatnonzero(chars == ord("{"))
    span = len(chars) + 1
    open_keys = depth[opens] * span + opens            # sorted by depth, then position
    order = np.argsort(open_keys, kind="stable")
    keys_at = quotes[is_key]
    owner = np.searchsorted(open_keys[order], depth[keys_at] * span + keys_at) - 1
    names = pa.array(strings, pa.binary()).filter(pa.array(is_key)).dictionary_encode()
    pairs = np.sort(owner.astype("int64") * (len(names.dictionary) + 1) + names.indices.to_numpy())
    return not (pairs[1:] == pairs[:-1]).any()
