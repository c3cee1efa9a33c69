"""Hostile cell ids, notebook names, function names and binding values cannot become code in any of the four
export languages (issue 10): every one is written as a literal of the target language, names are derived and
validated. The exports are imported (Python, with the real azure-functions library), run under node through
@azure/functions (JavaScript), parsed by tree-sitter (C#, Java) and compiled with javac (Java); no hostile line
runs, no hostile word becomes an identifier, and every value reads back exactly as the notebook wrote it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kfx_notebook.errors import BindingError
from kfx_notebook.export.command import export_notebook
from kfx_notebook.export.model import checked_identifier
from kfx_notebook.export.python import literal as python_literal
from kfx_notebook.expressions import unescape_template

from .export_tools import identifiers, javac, run_js, syntax_errors

# One line of attack per language and per way a line or a literal can end early: LF, CR, CRLF, U+2028/U+2029
# (JavaScript and C# line terminators), U+0085 (C#), a Java unicode escape read before lexing, a closing
# comment, quotes of every kind, backslashes and a template-literal opener.
PY = '__import__("pathlib").Path("PWNED-py").write_text("x")'
JS = 'require("fs").writeFileSync("PWNED-js", "x");'
HOSTILE = ("x\n" + PY + "\n#\r" + PY + "\r\n" + JS + "\u2028" + JS + "\u2029pwned_marker();\u0085pwned_marker();"
           "\\u000a pwned_marker(); */ pwned_marker(); /* \" + pwned_marker() + \" ' + pwned_marker() + ' "
           "`${pwned_marker()}` \\\" \\ -->")
NOTEBOOK = "nb\n" + PY + "\n#coding=utf-7 -- *\u2028.ipynb"


def hostile_notebook(folder: Path) -> Path:
    """A notebook file whose name and cell ids are hostile, with hostile binding values: written as raw JSON,
    as a tool other than Jupyter could write it."""
    cells = [
        ("in", '%%kusto_input rows --database "Shop\\"db" --kql-parameters "@p={p}"\n'
               "declare query_parameters(p:string);\nProducts | where Name == p\n"
               "// " + HOSTILE + "\n| extend Note = 'a\u2028b\\\\c'"),
        ("out", "%%kusto_output --database Shop --table-name 'T\"); pwned_marker(); (\"' --mapping-ref 'm`${x}`'\n[]"),
    ]
    nb = nbformat.v4.new_notebook()
    for suffix, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = HOSTILE + suffix
        nb.cells.append(cell)
    path = folder / NOTEBOOK
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def hostile(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    return hostile_notebook(folder)


def exported(hostile: Path, language: str) -> Path:
    return export_notebook(hostile, hostile.parent.parent / f"app-{language}", language=language)


def no_pwned(*folders: Path) -> None:
    for folder in folders:
        assert not [p for p in folder.rglob("PWNED*")], f"a hostile line ran in {folder}"


IMPORT = r"""
import json, sys
sys.path.insert(0, ".")
import function_app
print(json.dumps([{"name": f.get_function_name(), "bindings": json.loads(f.get_function_json())["bindings"]}
                  for f in function_app.app.get_functions()]))
"""


def test_python_export_imports_runs_nothing_hostile_and_reads_back_every_value(hostile):
    app = exported(hostile, "python")
    text = (app / "function_app.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    assert "pwned_marker" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "__import__"]
    assert all("\u2028" not in line and "\x85" not in line for line in text.split("\n"))
    done = subprocess.run([sys.executable, "-c", IMPORT], cwd=app, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    no_pwned(app, hostile.parent)
    functions = {f["name"]: f for f in json.loads(done.stdout)}
    assert sorted(functions) == ["add_t_pwned_marker", "get_rows"]
    kusto = {b["direction"]: b for f in functions.values() for b in f["bindings"] if b["type"] == "kusto"}
    assert kusto["IN"]["database"] == 'Shop"db'
    values = {k: v for b in kusto.values() for k, v in b.items()}
    assert HOSTILE in unescape_template(values["kqlCommand"]) and "a\u2028b\\\\c" in values["kqlCommand"]
    assert values["tableName"] == 'T"); pwned_marker(); ("' and values["mappingRef"] == "m`${x}`"


def test_javascript_export_runs_under_node_with_nothing_hostile(hostile, azure_functions_node):
    app = exported(hostile, "javascript")
    seen = run_js(app, azure_functions_node, {"getRows": {"rows": [], "route": {"p": "x"}},
                                              "addTPwnedMarker": {"body": "[]"}})
    no_pwned(app, hostile.parent)
    assert sorted(r["name"] for r in seen) == ["addTPwnedMarker", "getRows"]
    kusto = {k: v for r in seen for b in r["bindings"].values() if b["type"] == "kusto" for k, v in b.items()}
    assert HOSTILE in unescape_template(kusto["kqlCommand"]) and "a\u2028b\\\\c" in kusto["kqlCommand"]
    assert kusto["tableName"] == 'T"); pwned_marker(); ("' and kusto["mappingRef"] == "m`${x}`"
    for source in (app / "src" / "functions").glob("*.js"):
        text = source.read_text(encoding="utf-8")
        assert text.isascii(), source.name      # no raw line terminator of any kind
        check = subprocess.run(["node", "--check", str(source)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("language,suffix", [("csharp", ".cs"), ("java", ".java")])
def test_csharp_and_java_exports_parse_and_hold_hostile_text_only_in_literals(hostile, language, suffix):
    app = exported(hostile, language)
    for source in app.rglob(f"*{suffix}"):
        text = source.read_text(encoding="utf-8")
        assert syntax_errors(language, text) == [], source.name
        assert "pwned_marker" not in identifiers(language, text), source.name
        assert text.isascii(), source.name      # no raw line terminator of any kind


def test_java_export_with_hostile_values_compiles(hostile, tmp_path):
    app = exported(hostile, "java")
    files = {str(p.relative_to(app)): p.read_text(encoding="utf-8") for p in app.rglob("*.java")}
    done = javac(files, tmp_path / "javac")
    assert done.returncode == 0, done.stderr


def test_hostile_function_tag_becomes_a_plain_identifier(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('%%kusto_input rows --database D\nT'),
                nbformat.v4.new_code_cell('rows', metadata={"tags": ['function:x");pwned_marker();print("']})]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, str(path))
    app = export_notebook(path, tmp_path / "app")
    text = (app / "function_app.py").read_text(encoding="utf-8")
    names = {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name[0] != "_"}
    assert names == {"x_pwned_marker_print"}


@pytest.mark.parametrize("name", ["a\nb", "class", "für", "1x", "", "a-b", "x\u2028y"])
def test_identifiers_that_are_not_plain_ascii_names_are_refused(name):
    with pytest.raises(BindingError, match="cannot be a name"):
        checked_identifier(name, frozenset({"class"}), "binding name")


@pytest.mark.parametrize("text", [HOSTILE, NOTEBOOK, "\x00\x1b\x7f\ud7ff\U0001F600", "'\"", "\\"])
def test_the_python_literal_reads_back_as_the_text_on_one_line(text):
    lit = python_literal(text)
    assert ast.literal_eval(lit) == text and "\n" not in lit and "\r" not in lit


def test_negative_control_a_pasted_comment_would_run_the_hostile_line(tmp_path):
    """What the writers must never do: paste notebook text into a comment. The checks above would catch it."""
    (tmp_path / "pasted.py").write_text(f"# cell {HOSTILE.split(chr(13))[0]}\n", encoding="utf-8")  # up to CR
    subprocess.run([sys.executable, "pasted.py"], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    with pytest.raises(AssertionError, match="a hostile line ran"):
        no_pwned(tmp_path)


@pytest.mark.parametrize("language", ["python", "javascript", "csharp", "java"])
def test_manifests_and_readme_hold_the_hostile_name_on_one_line(hostile, language):
    import xml.etree.ElementTree as ET

    app = exported(hostile, language)
    readme = (app / "README.md").read_text(encoding="utf-8").splitlines()
    assert readme[1].startswith("# Azure Functions app exported from nb\\\\n")   # the name's newline, escaped
    assert readme[1].endswith(".ipynb")   # and its U+2028 too: the title is one line
    assert not any(line.startswith(("__import__", "require(")) for line in readme)
    for manifest in [*app.glob("*.csproj"), *app.glob("pom.xml")]:
        root = ET.fromstring(manifest.read_text(encoding="utf-8").split("\n", 1)[1] if manifest.name == "pom.xml"
                             else manifest.read_text(encoding="utf-8"))
        described = [e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1].lower() == "description"]
        assert described and described[0].isascii() and "nb\\n" in described[0]
    if language == "javascript":
        assert json.loads((app / "package.json").read_text())["description"].startswith(f"Exported from {NOTEBOOK}")


def _decode(literal: str) -> str:
    """Read back a C# or Java literal as `literal` writes it (named escapes, \\uXXXX, C#'s \\UXXXXXXXX)."""
    import re

    named = {"\\\\": "\\", '\\"': '"', "\\0": "\0", "\\a": "\a", "\\b": "\b", "\\f": "\f", "\\n": "\n", "\\r": "\r",
             "\\t": "\t", "\\v": "\v"}

    def one(m):
        token = m.group(0)
        if token in named:
            return named[token]
        return chr(int(token[2:], 16))

    text = re.sub(r"\\U[0-9a-f]{8}|\\u[0-9a-f]{4}|\\.", one, literal[1:-1])
    return text.encode("utf-16", "surrogatepass").decode("utf-16")   # Java's surrogate pairs -> one character


def test_every_literal_writer_reads_back_any_text_on_one_line():
    import re

    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from kfx_notebook.export import csharp, java, javascript

    @settings(max_examples=150, deadline=None)
    @example("\\u000a \\\\u000d \u2028 \x85 \U0001F600")
    @given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40))
    def check(text):
        py = python_literal(text)
        assert ast.literal_eval(py) == text and "\n" not in py and "\r" not in py
        js = javascript.literal(text)
        assert js.isascii() and json.loads(js) == text
        for language, lit in (("csharp", csharp.literal(text)), ("java", java.literal(text))):
            assert lit.isascii() and _decode(lit) == text
            source = f"class C {{ void f() {{ var s = {lit}; }} }}"
            assert syntax_errors(language, source) == [], lit
        # javac reads a unicode escape (a backslash, itself unescaped, then u...) before lexing: never a line break
        assert not re.search(r"(?<!\\)(?:\\\\)*\\u+000[adAD]", java.literal(text))

    assert re.search(r"(?<!\\)(?:\\\\)*\\u+000[adAD]", '"\\u000a"')   # the check sees an eligible escape
    check()
