"""A faster token-set membership test for the ANTLR runtime under duckdb-kql; rule: the same answers.

duckdb-kql parses with ANTLR's pure-Python runtime, whose parser asks "is the next token in
this set?" about 550 times per short query (`DefaultErrorStrategy.sync` before each loop and
rule, prediction). `IntervalSet.__contains__` answers with `any()` over a generator of the
set's ranges; the same loop written out, without the generator, takes about a fifth of a parse
off (bench/bench_translate.py).

The runtime is pinned by duckdb-kql (`antlr4-python3-runtime==4.13.2`, which `kql.install`
pins in turn by duckdb-kql's exact version); the method is replaced only for that runtime
version, and tests/test_translation_speedups.py fails if the original changes.
"""

from __future__ import annotations

#: The runtime whose `IntervalSet.__contains__` this stands for.
ANTLR_RUNTIME_VERSION = "4.13.2"

#: Marks the replacement so a second install does not replace it again.
_MARK = "kfx_fast_contains"

#: The original, kept for the differential test.
ORIGINALS: dict[str, object] = {}


def contains(self, item) -> bool:
    """Whether *item* (a token type) is in the set: in any of its ranges."""
    intervals = self.intervals
    if intervals is None:
        return False
    for interval in intervals:
        if item in interval:
            return True
    return False


def owner():
    """Where the method lives: the runtime's `IntervalSet`."""
    from antlr4.IntervalSet import IntervalSet

    return IntervalSet


def install() -> None:
    """Replace `IntervalSet.__contains__` (idempotent; only on the runtime version it was written for)."""
    from importlib.metadata import version

    from antlr4.IntervalSet import IntervalSet

    if getattr(IntervalSet.__contains__, _MARK, False):
        return
    installed = version("antlr4-python3-runtime")
    if installed != ANTLR_RUNTIME_VERSION:
        raise RuntimeError(f"kfx_notebook's KQL layer speeds up antlr4-python3-runtime {ANTLR_RUNTIME_VERSION} "
                           f"exactly; {installed} is installed. Install duckdb-kql==1.1.2 and its pinned runtime.")
    ORIGINALS["__contains__"] = IntervalSet.__contains__
    setattr(contains, _MARK, True)
    IntervalSet.__contains__ = contains
