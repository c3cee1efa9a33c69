"""Faster parse-tree walks for duckdb-kql's lowering; rule: the same nodes, in the same order.

duckdb-kql lowers its ANTLR tree through two helpers, `lower._rule_children` (a node's rule
children) and `lower._find_all` (every node of one rule class under a node, in source order,
not descending into a match). Lowering calls them about 2,600 times per short query (eight
walks of the whole tree among them), through three nested Python calls per node: about a fifth
of a cold translation (bench/bench_translate.py). These do the same walk with one call per
node and no intermediate lists, and the whole-tree searches read one index of the root.

Both are internals of duckdb-kql, replaced only under the exact version `kql.install` checks;
tests/test_translation_speedups.py fails if the originals change, and translates a corpus of queries
with the originals and with these, comparing the SQL text exactly.
"""

from __future__ import annotations

#: Marks the replacements so a second install does not replace them again.
_MARK = "kfx_fast_walk"

#: The originals, kept for the differential test (tests/test_translation_speedups.py).
ORIGINALS: dict[str, object] = {}


def rule_children(node) -> list:
    """The children of *node* that are rules (ANTLR contexts), in order; terminals left out."""
    children = getattr(node, "children", None)
    if not children:
        return []
    return [child for child in children if type(child).__name__.endswith("Context")]


def find_all(node, class_name: str) -> list:
    """Every node named *class_name* (without "Context") at or under *node*, in source order;
    the walk does not descend into a match.

    Lowering searches the whole tree (the root: no parent) for eight classes; the first such
    search indexes the root's matches for every class in one walk, and the others read it."""
    global _root_index
    if getattr(node, "parentCtx", False) is None:
        root, index = _root_index
        if root is not node:
            index = _index(node)
            _root_index = (node, index)
        return list(index.get(class_name, ()))
    if type(node).__name__.removesuffix("Context") == class_name:
        return [node]
    found: list = []
    _collect(node, class_name + "Context", found)
    return found


#: The last root searched and its index: class name -> what find_all(root, name) answers. The
#: tree is never changed once parsed; holding the root keeps its identity from being reused.
_root_index: tuple[object, dict[str, list]] = (None, {})


def _index(root) -> dict[str, list]:
    """Class name -> the nodes of that class under *root* (itself included) with no ancestor of
    the same class below *root*: find_all(root, name) for every name, in one walk."""
    index: dict[str, list] = {}
    open_classes: dict[str, int] = {}

    def visit(node):
        name = type(node).__name__.removesuffix("Context")
        depth = open_classes.get(name, 0)
        if not depth:
            index.setdefault(name, []).append(node)
        open_classes[name] = depth + 1
        for child in getattr(node, "children", None) or ():
            if type(child).__name__.endswith("Context"):
                visit(child)
        open_classes[name] = depth

    visit(root)
    return index


def _collect(node, context_name: str, found: list) -> None:
    for child in getattr(node, "children", None) or ():
        name = type(child).__name__
        if name == context_name:
            found.append(child)
        elif name.endswith("Context") and getattr(child, "children", None):
            _collect(child, context_name, found)


def owner(name: str = ""):
    """Where the walks live: duckdb-kql's lowering module."""
    from duckdb_kql import lower

    return lower


def install() -> None:
    """Put the faster walks in duckdb-kql's lowering (idempotent)."""
    from duckdb_kql import lower

    if getattr(lower._find_all, _MARK, False):
        return
    ORIGINALS.update(_find_all=lower._find_all, _rule_children=lower._rule_children)
    for replacement in (find_all, rule_children):
        setattr(replacement, _MARK, True)
    lower._find_all = find_all
    lower._rule_children = rule_children
