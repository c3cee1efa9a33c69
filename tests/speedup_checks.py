"""What the C speedups' tests share: the fuzz tests' byte mutations, and the leak check (a
function called many times must not grow the memory tracemalloc sees: PyMem_Malloc'd buffers and
Python objects alike)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

from hypothesis import strategies as st

# Bytes that matter to a JSON lexer, and any byte.
BYTE = st.one_of(st.sampled_from(b'"\\,:[]{}0-.eE \n\x00\x80\xff'), st.integers(0, 255))


def mutate(draw, data: bytes, times: int, start: int = 0) -> bytes:
    """data with `times` bytes deleted, inserted or replaced, or cut short, at or after `start`."""
    data = bytearray(data)
    for _ in range(times):
        at = draw(st.integers(start, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        byte = draw(BYTE)
        if action == "delete":
            del data[at:at + 1]
        elif action == "insert":
            data.insert(at, byte)
        elif action == "replace" and at < len(data):
            data[at] = byte
        elif action == "cut":
            del data[at:]
    return bytes(data)


def assert_no_memory_growth(run: Callable[[], None], slack: int = 4096) -> None:
    """run() once to warm up, then twice under tracemalloc: the second adds at most `slack` bytes."""
    run()
    tracemalloc.start()
    try:
        run()
        before = tracemalloc.get_traced_memory()[0]
        run()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < slack
