"""gzip_write: one gzip member whatever the size, inflating to the input, about one pass's size."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from kfx_notebook import gzip_stream
from kfx_notebook.gzip_write import BLOCK_BYTES, gzipped


def _text(size: int, alphabet: str = "abcdefghij {}\":,\n", seed: int = 5) -> bytes:
    return "".join(random.Random(seed).choices(alphabet, k=size)).encode()


# one row per shape of input: (name, bytes); sizes around the block edges, compressible and not
INPUTS = [
    ("empty", b""),
    ("one byte", b"x"),
    ("unicode", "é✓\U0001f600".encode() * 1000),
    ("just under two blocks (one pass)", _text(2 * BLOCK_BYTES - 1)),
    ("exactly two blocks", _text(2 * BLOCK_BYTES)),
    ("two blocks and a byte", _text(2 * BLOCK_BYTES + 1)),
    ("repetitive, refers back across blocks", b'{"a": 1, "b": "same"}\n' * (3 * BLOCK_BYTES // 22)),
    ("incompressible, five blocks and a bit", random.Random(1).randbytes(5 * BLOCK_BYTES + 12345)),
]


@pytest.mark.parametrize(("name", "data"), INPUTS, ids=[name for name, _ in INPUTS])
def test_one_member_that_inflates_to_the_input_at_about_one_pass_size(name, data):
    from zlib_ng import gzip_ng

    out = gzipped(data, 6, threads=2)
    inflater = zlib.decompressobj(wbits=31)
    assert inflater.decompress(out) == data
    assert inflater.eof and inflater.unused_data == b"", "exactly one gzip member, nothing after it"
    assert gzip.decompress(out) == data
    assert gzip_stream.inflate(out, cap=len(data)) == data      # the server's reader
    one_pass = len(gzip_ng.compress(data, 6, mtime=0))             # what one thread writes (the writer before)
    blocks = max(1, -(-len(data) // BLOCK_BYTES))
    assert abs(len(out) - one_pass) <= 64 * blocks + 0.001 * one_pass, (len(out), one_pass)


def test_one_thread_is_the_single_pass_bytes():
    from zlib_ng import gzip_ng

    data = _text(2 * BLOCK_BYTES + 99)
    assert gzipped(data, 6, threads=1) == gzip_ng.compress(data, 6, mtime=0)


def test_the_header_states_no_time_and_the_level_between_fastest_and_best():
    out = gzipped(_text(3 * BLOCK_BYTES), 6, threads=2)
    assert out[:4] == b"\x1f\x8b\x08\x00" and out[4:8] == b"\0\0\0\0" and out[8] == 0
