"""The faster internals (kql/tree_walks.py, kql/antlr_runtime.py) translate every query exactly as
duckdb-kql as released.

A corpus of the repository's own KQL (every string in tests/ that parses as KQL, every function
row's example) and generated pipelines is translated twice, with the released internals
(`kql.as_released`) and with the layer's, and the SQL text (or the error) compared exactly. The
originals are pinned by their source, so a new duckdb-kql or ANTLR runtime that changes them
fails here before anything else.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook.backends.local import kql as layer
from kfx_notebook.backends.local.kql import antlr_runtime, tree_walks

#: sha256 of the source of each duckdb-kql 1.1.2 function the replacements stand for.
ORIGINAL_SOURCES = {
    "_find_all": "957b096ba647d52a160c167beb0ffaf41bcd5e81d4f1614e1fd0cc56749f9762",
    "_rule_children": "3edcd4bba93c8edaec61463a59ed78c90f1a163493f14d16e38b2f8e5ae8e693",
    "_children": "e0f37b92ede2bbe45499f9c4336161113d8de49053576a64d323b0cae9ae4d72",
    "_cls": "c600dbdd8c62af1fa801dd88a108c36b23179ec51991526b78a800add4ee9d0c",
}

#: sha256 of the source of each ANTLR 4.13.2 method replaced (LA is BufferedTokenStream's, inherited).
ORIGINAL_RUNTIME = {
    "__contains__": "12c7a3dde2cccf7a7e623f3f7105c7f2bdbd36a64ccac1c1defcbb5cf6cd48bc",
    "LT": "16c3ccb9dcef35f5689c758be02bd99a1d969d8b3802e3d38354ed43ea12b0ec",
    "LA": "016997755a308735ac8cbfe31252095d569226e7102d46add25db86b53b33a5e",
}

#: Strings of tests/ that start like KQL (a statement keyword, or a pipeline).
_KQL_START = ("print", "datatable", "let", "range", "declare", "union", "set", "evaluate", ".")


def _source_hash(fn) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()


def _repository_kql() -> list[str]:
    import duckdb_kql

    from kfx_notebook.backends.local.kql.functions import FUNCTIONS

    found = {row.example for row in FUNCTIONS.values()}
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 3 <= len(node.value) <= 5000:
                text = node.value
                if ("|" in text or text.lstrip().startswith(_KQL_START)) and not duckdb_kql.validate(text):
                    found.add(text)
    return sorted(found)


def _translation(text: str):
    """What duckdb-kql makes of *text* with the layer installed: the SQL, or the error."""
    import duckdb_kql
    from duckdb_kql.translate import CLOCK_SLOT

    try:
        prepared = layer.prepare(text)[0]
        result = duckdb_kql.to_sql(prepared, schema=SCHEMA, database="Db")
    except Exception as exc:  # the same refusal, with the same message, is part of "the same"
        return type(exc).__name__, _recovery_unworded(str(exc))
    bound = {k: v for k, v in result.parameters.items() if k != CLOCK_SLOT}  # now() is the time of the call
    return str(result), repr(sorted(bound.items())), list(result.unbound)


def _recovery_unworded(message: str) -> str:
    """A parse error up to its position: how ANTLR words its recovery after it ("missing ')' at 'has'"
    or "extraneous input 'has' ...") depends on its process-wide prediction cache, i.e. on which
    queries were parsed before, with or without the speedups (hypothesis saw both for one query)."""
    head, found, _ = message.partition(": ") if message.startswith("could not parse KQL at ") else (message, "", "")
    return head + found if found else message


def _as_released(fn, *args):
    with layer.as_released():
        return fn(*args)


SCHEMA = {name: ["a", "b", "x", "y", "s", "t", "d", "Host", "Level", "Duration", "Timestamp"]
          for name in ("T", "Db.T", "Events", "Db.Events", "U", "Db.U")}


def test_the_originals_are_the_ones_the_replacements_were_written_for():
    from duckdb_kql import lower

    layer.install()
    functions = {"_children": lower._children, "_cls": lower._cls, **tree_walks.ORIGINALS}
    assert {name: _source_hash(fn) for name, fn in functions.items()} == ORIGINAL_SOURCES
    assert lower._find_all is tree_walks.find_all and lower._rule_children is tree_walks.rule_children


def _outcome(fn, *args):
    """What a call answers, or the type of what it raises (LA before the first token has none)."""
    try:
        return fn(*args)
    except Exception as exc:
        return type(exc)


def test_the_original_runtime_methods_are_the_ones_replaced():
    layer.install()
    assert {name: _source_hash(fn) for name, fn in antlr_runtime.ORIGINALS.items()} == ORIGINAL_RUNTIME
    assert all(getattr(antlr_runtime.owner(name), name) is not fn for name, fn in antlr_runtime.ORIGINALS.items())


def test_the_token_stream_answers_as_the_original_at_every_position():
    from antlr4 import CommonTokenStream, InputStream
    from duckdb_kql._antlr.KqlLexer import KqlLexer

    layer.install()
    fast_lt, fast_la = antlr_runtime.next_token, antlr_runtime.next_type
    original_lt, original_la = antlr_runtime.ORIGINALS["LT"], antlr_runtime.ORIGINALS["LA"]
    for text in _repository_kql()[:60] + ["", "T", "// only a comment\n"]:
        stream = CommonTokenStream(KqlLexer(InputStream(text)))
        first = fast_lt(stream, 1)  # before the stream is started: the original way, which starts it
        assert first is original_lt(stream, 1)
        while True:
            for k in (-2, -1, 0, 1, 2, 3):
                assert fast_lt(stream, k) is original_lt(stream, k), (text, stream.index, k)
                if k:
                    assert _outcome(fast_la, stream, k) == _outcome(original_la, stream, k), (text, stream.index, k)
            if stream.LA(1) == -1:  # EOF
                break
            stream.consume()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 60), st.integers(0, 6)), max_size=8), st.integers(-3, 70))
def test_membership_answers_as_the_original(ranges, item):
    from antlr4.IntervalSet import IntervalSet

    layer.install()
    token_set = IntervalSet()
    for start, length in ranges:
        token_set.addRange(range(start, start + length + 1))
    assert antlr_runtime.contains(token_set, item) == antlr_runtime.ORIGINALS["__contains__"](token_set, item)
    assert antlr_runtime.contains(IntervalSet(), item) is False


def test_every_rule_class_of_the_grammar_is_a_context_and_nothing_else_is():
    """`rule_children` keeps a child by its class name, as the original does after its getText check."""
    from antlr4 import ParserRuleContext
    from antlr4.tree.Tree import TerminalNodeImpl
    from duckdb_kql._antlr.KqlParser import KqlParser

    classes = [c for c in vars(KqlParser).values() if isinstance(c, type)]
    assert len(classes) > 100
    assert all(c.__name__.endswith("Context") == issubclass(c, ParserRuleContext) for c in classes)
    assert not TerminalNodeImpl.__name__.endswith("Context") and hasattr(ParserRuleContext, "getText")


def test_the_repository_kql_translates_to_the_same_sql():
    layer.install()
    corpus = _repository_kql()
    assert len(corpus) > 250
    translated = 0
    for text in corpus:
        fast = _translation(text)
        assert fast == _as_released(_translation, text), text
        translated += not fast[0].endswith("Error")
    assert translated > 200  # most of the corpus translates: the comparison is of SQL, not of errors


def test_the_walks_find_what_the_originals_find_on_every_node():
    """Not only through the queries' paths: every node of a large tree, every rule class in it."""
    import duckdb_kql

    layer.install()
    text = ("let f = (a:long) { a * 2 }; T | where a > 1 and s has 'x' | extend y = f(a), z = strcat(s, 'a') "
            "| summarize n = count(), m = max(y) by bin(t, 1h), s | join kind=inner (U | project a) on a "
            "| order by n desc | take 10")
    tree = duckdb_kql.parse(text).tree
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(getattr(node, "children", None) or [])
    names = sorted({type(n).__name__.removesuffix("Context") for n in nodes}) + ["NoSuchRule"]
    find_all, rule_children = tree_walks.ORIGINALS["_find_all"], tree_walks.ORIGINALS["_rule_children"]
    for node in nodes:
        assert tree_walks.rule_children(node) == _as_released(rule_children, node)
        for name in names:
            assert tree_walks.find_all(node, name) == _as_released(find_all, node, name), name


_NAME = st.sampled_from(["a", "b", "x", "s", "t", "Host"])
_SCALAR = st.one_of(_NAME, st.integers(-5, 1000).map(str), st.sampled_from(["'x'", '"h\\u00e9"', "1h", "now()"]))


@st.composite
def _expression(draw, depth: int = 0):
    if depth > 2 or draw(st.booleans()):
        return draw(_SCALAR)
    kind = draw(st.sampled_from(["binary", "call", "paren", "case"]))
    left, right = draw(_expression(depth + 1)), draw(_expression(depth + 1))
    if kind == "binary":
        return f"{left} {draw(st.sampled_from(['+', '*', '==', '!=', '>', 'and', 'or', 'has', 'contains']))} {right}"
    if kind == "call":
        name = draw(st.sampled_from(["strcat", "max_of", "iff", "tostring", "strlen", "bin", "coalesce"]))
        return f"{name}({left}, {right})" if name not in ("tostring", "strlen") else f"{name}({left})"
    if kind == "case":
        return f"case({left} > 1, {right}, 0)"
    return f"({left})"


@st.composite
def _pipeline(draw):
    operators = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["where", "extend", "project", "summarize", "order", "take", "top", "distinct",
                                     "mv-expand", "join"]))
        e = draw(_expression())
        operators.append({
            "where": f"where {e}",
            "extend": f"extend n{len(operators)} = {e}",
            "project": f"project {draw(_NAME)}, p = {e}",
            "summarize": f"summarize c = count(), m = max({draw(_NAME)}) by {draw(_NAME)}, bin(t, 1h)",
            "order": f"order by {draw(_NAME)} desc",
            "take": f"take {draw(st.integers(0, 100))}",
            "top": f"top 3 by {draw(_NAME)}",
            "distinct": f"distinct {draw(_NAME)}",
            "mv-expand": f"mv-expand {draw(_NAME)}",
            "join": f"join kind={draw(st.sampled_from(['inner', 'leftouter']))} (U | where {e}) on a",
        }[kind])
    head = draw(st.sampled_from(["T", "Events", "let v = 5; T", "union T, U", "datatable(a:long, s:string)[1, 'x']"]))
    return " | ".join([head, *operators])


@settings(max_examples=150, deadline=None)
@given(_pipeline())
def test_generated_queries_translate_to_the_same_sql(text):
    layer.install()
    assert _translation(text) == _as_released(_translation, text)
