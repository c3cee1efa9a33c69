"""Checks the export tests share: tree-sitter parses (C#, Java), javac against tests/java_stubs, and the
JavaScript invocation path (tests/js/invoke_harness.js). Helpers only; the tests are in test_export_*.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
JAVA_STUBS = HERE / "java_stubs"
JS_HARNESS = HERE / "js" / "invoke_harness.js"

# The isolated worker's attributes (Azure/Webjobs.Extensions.Kusto, Worker.Extensions.Kusto/Kusto*Attribute.cs at
# 3076cac): the one constructor argument, then every settable property. One row per attribute.
CSHARP_ATTRIBUTES = {
    "KustoInput": {"constructor": ("Database",),
                   "properties": {"KqlCommand", "KqlParameters", "ClientRequestProperties", "Connection",
                                  "ManagedServiceIdentity"}},
    "KustoOutput": {"constructor": ("Database",),
                    "properties": {"TableName", "MappingRef", "DataFormat", "Connection", "ManagedServiceIdentity",
                                   "IngestionType", "IngestionProperties"}},
}


def _parser(language: str):
    import tree_sitter

    if language == "csharp":
        import tree_sitter_c_sharp as grammar
    else:
        import tree_sitter_java as grammar
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def parse(language: str, text: str):
    """The tree-sitter tree of a C# or Java source."""
    return _parser(language).parse(text.encode("utf-8"))


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def syntax_errors(language: str, text: str) -> list[str]:
    """Every ERROR or MISSING node of the source, as 'line:column type' (empty: it parses cleanly)."""
    return [f"{n.start_point[0] + 1}:{n.start_point[1] + 1} {'MISSING' if n.is_missing else 'ERROR'} {n.type}"
            for n in walk(parse(language, text).root_node) if n.is_error or n.is_missing]


def identifiers(language: str, text: str) -> set[str]:
    """The identifier tokens of the source (what names code, not what a string literal or comment holds)."""
    return {n.text.decode() for n in walk(parse(language, text).root_node) if n.type == "identifier"}


def csharp_attributes(text: str) -> list[tuple[str, list[tuple[str | None, str]]]]:
    """(attribute name, [(argument name or None for positional, ':' or '=' form)]) for each Kusto attribute."""
    found = []
    for node in walk(parse("csharp", text).root_node):
        if node.type != "attribute":
            continue
        name = node.child_by_field_name("name").text.decode()
        if name not in CSHARP_ATTRIBUTES:
            continue
        args = []
        arg_list = next((c for c in node.children if c.type == "attribute_argument_list"), None)
        for arg in (c for c in (arg_list.children if arg_list else []) if c.type == "attribute_argument"):
            head = arg.children[0]
            if len(arg.children) > 1 and head.type == "identifier":
                args.append((head.text.decode(), arg.children[1].text.decode()))
            else:
                args.append((None, ""))
        found.append((name, args))
    return found


def javac(sources: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    """Compile the given Java sources (relative path -> text) with the stubs, into folder/classes."""
    paths = []
    for rel, text in sources.items():
        path = folder / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    stubs = [str(p) for p in JAVA_STUBS.rglob("*.java")]
    return subprocess.run(["javac", "-encoding", "UTF-8", "-Xlint:none", "-d", str(folder / "classes"),
                           *stubs, *paths], capture_output=True, text=True, timeout=120, check=False)


def run_js(app: Path, node_modules: Path, calls: dict) -> list[dict]:
    """Every function of an exported JS app through @azure/functions' invocation path; their responses."""
    if not (app / "node_modules").exists():
        shutil.copytree(node_modules, app / "node_modules", symlinks=True)
    (app / "calls.json").write_text(json.dumps(calls))
    sources = sorted(str(p) for p in (app / "src" / "functions").glob("*.js"))
    done = subprocess.run(["node", str(JS_HARNESS), "calls.json", *sources], cwd=app, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
