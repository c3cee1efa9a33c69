"""Faster hot paths of the ANTLR runtime under duckdb-kql; rule: the same answers.

duckdb-kql parses with ANTLR's pure-Python runtime. Per short query its parser asks "is the
next token in this set?" about 550 times (`DefaultErrorStrategy.sync` before each loop and
rule, prediction) and "what is the next token?" about 1,700 times. `IntervalSet.__contains__`
answers the first with `any()` over a generator of the set's ranges: the same loop written out
takes about a fifth of a parse off (bench/bench_translate.py). `CommonTokenStream.LT(1)` /
`LA(1)` answer the second through `lazyInit`, a look-ahead loop and (LA) a second call: for the
next token of a started stream they now read it directly; any other request goes the original way.

The runtime is pinned by duckdb-kql (`antlr4-python3-runtime==4.13.2`, which `kql.install`
pins in turn by duckdb-kql's exact version); the methods are replaced only for that runtime
version, and tests/test_translation_speedups.py fails if the originals change.
"""

from __future__ import annotations

#: The runtime whose methods these stand for.
ANTLR_RUNTIME_VERSION = "4.13.2"

#: Marks the replacement so a second install does not replace it again.
_MARK = "kfx_fast_contains"

#: The originals, kept for the differential test.
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


def next_token(self, k: int):
    """`CommonTokenStream.LT`: the k-th token ahead; the current one read directly."""
    index = self.index
    if k == 1 and index != -1:
        return self.tokens[index]
    return _LT(self, k)


def next_type(self, i: int) -> int:
    """`CommonTokenStream.LA`: the type of the i-th token ahead; the current one's read directly."""
    index = self.index
    if i == 1 and index != -1:
        return self.tokens[index].type
    return self.LT(i).type


def owner(name: str):
    """The runtime class each replaced method lives on."""
    from antlr4.CommonTokenStream import CommonTokenStream
    from antlr4.IntervalSet import IntervalSet

    return IntervalSet if name == "__contains__" else CommonTokenStream


def install() -> None:
    """Replace the methods (idempotent; only on the runtime version they were written for)."""
    from importlib.metadata import version

    global _LT
    if getattr(owner("__contains__").__contains__, _MARK, False):
        return
    installed = version("antlr4-python3-runtime")
    if installed != ANTLR_RUNTIME_VERSION:
        raise RuntimeError(f"kfx_notebook's KQL layer speeds up antlr4-python3-runtime {ANTLR_RUNTIME_VERSION} "
                           f"exactly; {installed} is installed. Install duckdb-kql==1.1.2 and its pinned runtime.")
    replacements = {"__contains__": contains, "LT": next_token, "LA": next_type}
    ORIGINALS.update({name: getattr(owner(name), name) for name in replacements})
    _LT = ORIGINALS["LT"]
    for name, replacement in replacements.items():
        setattr(replacement, _MARK, True)
        setattr(owner(name), name, replacement)


#: The original `CommonTokenStream.LT`, for the requests next_token does not answer itself.
_LT = None
