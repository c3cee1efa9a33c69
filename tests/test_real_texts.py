"""codec.real_texts writes every double exactly as float.__repr__ does, a whole column at a time."""

from __future__ import annotations

import math
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook import codec


def _reprs(values) -> list[str]:
    return [float.__repr__(float(v)) for v in values]


def _double(bits: int) -> float:
    return struct.unpack("<d", bits.to_bytes(8, "little"))[0]


#: Doubles at the edges: signed zeros, subnormals, the largest, integers-as-floats, non-finite.
EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
         1e16, 1e-5, 1e-4, 1e-7, 1e10, 2.0, -2.0, 1e15, 9007199254740993.0, 123456789012345.6, 0.1, 1 / 3,
         math.nan, math.inf, -math.inf, -math.nan]


def _neighbours(center: float) -> list[float]:
    """`center` and the 3 doubles on each side of it."""
    values, low, high = [center], center, center
    for _ in range(3):
        low, high = math.nextafter(low, -math.inf), math.nextafter(high, math.inf)
        values += [low, high]
    return values


def test_edges_and_both_sides_of_every_power_of_ten_and_range_limit():
    values = EDGES + [v for exponent in range(-324, 309) for v in _neighbours(float(f"1e{exponent}"))]
    values += [-v for v in values]
    assert codec.real_texts(values).to_pylist() == _reprs(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(), max_size=40))
def test_any_floats(values):
    assert codec.real_texts(values).to_pylist() == _reprs(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1).map(_double), max_size=40))
def test_any_bit_pattern(values):
    assert codec.real_texts(values).to_pylist() == _reprs(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2**53, 2**53).map(float) | st.floats(-1e16, 1e16), max_size=40))
def test_integers_as_floats_and_fixed_notation_magnitudes(values):
    assert codec.real_texts(values).to_pylist() == _reprs(values)


def test_a_large_sample_of_bit_patterns_and_of_ordinary_magnitudes():
    rng = np.random.default_rng(13)
    bits = rng.integers(0, 2**63, size=50_000, dtype="uint64") | (rng.integers(0, 2, 50_000, dtype="uint64") << 63)
    ordinary = rng.normal(size=50_000) * 10.0 ** rng.integers(-8, 20, size=50_000)
    for values in (bits.view("float64"), ordinary, np.round(ordinary)):
        assert codec.real_texts(values).to_pylist() == _reprs(values)


def test_an_empty_column():
    assert codec.real_texts([]).to_pylist() == []
