"""In a `where`, a comparison that only has to be true keeps no null guard; rule: the same rows.

duckdb-kql gives `==`, `has`, `contains`... KQL's null behaviour by wrapping each in
`coalesce(..., FALSE)` (`_apply_null_semantics`): right where the comparison is a value, and
needless where `where` only asks whether it is TRUE, since FALSE and NULL both drop the row.
The wrapper costs more than its evaluation: DuckDB cannot push `coalesce(Level = 'Error', FALSE)`
into the table scan as it pushes `Level = 'Error'`, and the filter+summarize query of
bench/bench_local.py ran 1.25x slower for it over 1M rows.

So a comparison is rendered without the guard when it is a *positive* term of a `where`
predicate: reached from the predicate through `and`/`or` only (not under `not`, a function, a
comparison, `iff`...), and occurring once in the predicate (a term shared with another position
keeps its guard everywhere). Why the rows are the same: `and` and `or` are TRUE exactly when the
same terms are TRUE whether a term is FALSE or NULL, and `coalesce(x, FALSE)` is TRUE exactly
when x is. Everything else renders as duckdb-kql renders it.

Internals of duckdb-kql (`translate.render_operator`, `translate._apply_null_semantics`),
replaced only under the exact version `kql.install` checks; tests/test_where_truth.py pins their
source and runs generated predicates over rows with nulls both ways, comparing the rows.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar

#: Marks the wrappers so a second install does not wrap again.
_MARK = "kfx_where_truth"

#: The originals, for the differential test.
ORIGINALS: dict[str, object] = {}

#: While a `where` renders: the (left, right) operands of its positive terms.
_POSITIVE: ContextVar[tuple[tuple[object, object], ...]] = ContextVar("kfx_where_positive", default=())

#: A predicate whose walk visits more nodes than this (a deeply shared tree) keeps every guard.
_MAX_VISITS = 20_000


def positive_terms(predicate) -> tuple[tuple[object, object], ...]:
    """The (left, right) of each comparison reached from *predicate* through and/or only, when it,
    its left and its right are each visited once in a walk of the whole predicate."""
    from duckdb_kql import ir

    visits = _visit_counts(predicate)
    if visits is None:
        return ()
    terms, stack = [], [predicate]
    while stack:
        node = stack.pop()
        if not isinstance(node, ir.BinaryOp):
            continue
        if node.op in ("and", "or"):
            stack.extend((node.right, node.left))
        elif all(visits[id(part)] == 1 for part in (node, node.left, node.right)):
            terms.append((node.left, node.right))
    return tuple(terms)


def _visit_counts(root) -> dict[int, int] | None:
    """How many times a walk into every field meets each object; None past _MAX_VISITS."""
    counts: dict[int, int] = {}
    stack, seen = [root], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > _MAX_VISITS:
            return None
        counts[id(node)] = counts.get(id(node), 0) + 1
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))
    return counts


def owner(name: str = ""):
    """Where the two functions live: duckdb-kql's translate package."""
    from duckdb_kql import translate

    return translate


def install() -> None:
    """Wrap `render_operator` and `_apply_null_semantics` (idempotent)."""
    from duckdb_kql import ir

    translate = owner()
    if getattr(translate.render_operator, _MARK, False):
        return
    render_operator, apply_null_semantics = translate.render_operator, translate._apply_null_semantics
    ORIGINALS.update(render_operator=render_operator, _apply_null_semantics=apply_null_semantics)

    def rendering_operator(op, prev, cols=None):
        token = _POSITIVE.set(positive_terms(op.predicate) if isinstance(op, ir.Where) else ())
        try:
            return render_operator(op, prev, cols)
        finally:
            _POSITIVE.reset(token)

    def null_semantics(rendered, when_null, operands):
        if when_null == "FALSE" and len(operands) == 2:
            (left, _), (right, _) = operands
            if any(left is term_left and right is term_right for term_left, term_right in _POSITIVE.get()):
                return rendered
        return apply_null_semantics(rendered, when_null, operands)

    for wrapper in (rendering_operator, null_semantics):
        setattr(wrapper, _MARK, True)
    translate.render_operator = rendering_operator
    translate._apply_null_semantics = null_semantics
