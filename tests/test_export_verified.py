"""C#, Java and JavaScript exports verified as far as this machine allows: tree-sitter parses every C# and
Java export with no ERROR/MISSING node, javac 17 compiles the Java against stubs of the published library
API, C# attributes match the isolated worker's attribute table, and the JavaScript handlers run through
@azure/functions' own invocation path. Each check has a negative control that shows it can fail."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from kfx_notebook.export.command import build
from kfx_notebook.export.notebook import Cell
from kfx_notebook.export.project import write_project

from .export_tools import CSHARP_ATTRIBUTES, csharp_attributes, javac, run_js, syntax_errors
from .test_export import rendered

# Every binding property and the shapes an export can take: route and query parameters, multi-line KQL
# with braces, quotes and non-ASCII text, a read-only command (a function), a setup command (no function).
SHAPES = [
    ('%%kusto_input products --database Shop --kql-parameters "@category={category},@min={Query.min}" '
     '--client-request-properties "@servertimeout=00:00:30" --managed-service-identity system\n'
     'declare query_parameters(category:string, min:real);\n'
     'Products | where Category == category and Price >= min\n'
     '| extend Note = "café — \\"quoted\\" \\\\ ✓ 😀", Tags = dynamic({"a": 1})'),
    "%%kusto_input tables --database Shop\n.show tables",
    "%%kusto_input created --database Shop\n.create-merge table Orders (Id:long, Product:string)",
    ("%%kusto_output --database Shop --table-name Orders --mapping-ref OrdersMap --data-format multijson "
     '--ingestion-type queued --ingestion-properties "@flushImmediately=true" --managed-service-identity system'),
]
TIMER_SHAPES = [SHAPES[1], "%%kusto_input recent --database Shop\nOrders | take 10"]


def shapes(language: str, sources=SHAPES, trigger: str = "http") -> dict[str, str]:
    cells = [Cell(f"c{i}", s + ("\n[]" if s.startswith("%%kusto_output") else ""), (), i)
             for i, s in enumerate(sources, start=1)]
    return build(cells, "shapes.ipynb", language=language, trigger=trigger)[1]


def exports(language: str) -> list[tuple[str, dict[str, str]]]:
    return [("products", rendered("products.ipynb", language)), ("shapes", shapes(language)),
            ("timer", shapes(language, TIMER_SHAPES, "timer"))]


def sources(files: dict[str, str], suffix: str) -> dict[str, str]:
    return {rel: text for rel, text in files.items() if rel.endswith(suffix)}


@pytest.mark.parametrize("language,suffix", [("csharp", ".cs"), ("java", ".java")])
def test_every_csharp_and_java_export_parses_without_error_nodes(language, suffix):
    for name, files in exports(language):
        assert sources(files, suffix), name
        for rel, text in sources(files, suffix).items():
            assert syntax_errors(language, text) == [], f"{name}/{rel}"


@pytest.mark.parametrize("language,broken", [
    ("csharp", 'var x = "one\ntwo";'), ("csharp", "[KustoInput(Database: \"a\") JsonArray x"),
    ("java", 'String x = "one;'), ("java", "@KustoInput(name = \"a\" String x"),
])
def test_negative_control_a_broken_source_has_error_nodes(language, broken):
    text = f"class C {{ void f() {{ {broken} }} }}"
    assert syntax_errors(language, text)


def test_java_compiles_against_the_library_api(tmp_path):
    for name, files in exports("java"):
        done = javac(sources(files, ".java"), tmp_path / name)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert (tmp_path / name / "classes" / "com" / "function" / "Functions.class").is_file()


@pytest.mark.parametrize("change,message", [
    (lambda t: t.replace('kqlCommand = "', 'query = "', 1), "cannot find symbol"),            # unknown element
    (lambda t: t.replace("kqlParameters = ", "clientRequestProperties = ", 1), "missing"),   # required element
    (lambda t: t.replace("OutputBinding<String>", "String", 1), "cannot find symbol"),       # wrong type
])
def test_negative_control_javac_refuses_what_the_library_would(tmp_path, change, message):
    files = sources(rendered("products.ipynb", "java"), ".java")
    broken = {rel: change(text) for rel, text in files.items()}
    assert broken != files
    done = javac(broken, tmp_path)
    assert done.returncode != 0 and message in done.stderr


def check_attributes(text: str) -> list[str]:
    """Every Kusto attribute's arguments against CSHARP_ATTRIBUTES: the constructor's by name with ':',
    then known properties with '='; what breaks a rule is listed."""
    wrong = []
    for name, args in csharp_attributes(text):
        row = CSHARP_ATTRIBUTES[name]
        given = [a for a, _sep in args]
        if given[:len(row["constructor"])] != list(row["constructor"]):
            wrong.append(f"{name}: constructor arguments {given[:1]} instead of {row['constructor']}")
        for arg, sep in args[len(row["constructor"]):]:
            if arg not in row["properties"] or sep != "=":
                wrong.append(f"{name}: {arg}{sep} is not a settable property")
    return wrong


def test_csharp_attributes_match_the_isolated_worker_table():
    for name, files in exports("csharp"):
        text = files["Functions.cs"]
        assert csharp_attributes(text), name
        assert check_attributes(text) == [], name
    every = {a for _n, args in csharp_attributes(shapes("csharp")["Functions.cs"]) for a, _s in args}
    assert every == {"Database"} | CSHARP_ATTRIBUTES["KustoInput"]["properties"] \
        | CSHARP_ATTRIBUTES["KustoOutput"]["properties"]   # the shapes use every property of both tables


def test_negative_control_an_unknown_attribute_property_is_caught():
    text = shapes("csharp")["Functions.cs"].replace("TableName = ", "Table = ", 1)
    assert any("Table= is not a settable property" in w for w in check_attributes(text))
    text = shapes("csharp")["Functions.cs"].replace("Database: ", "Db: ", 1)
    assert any("constructor" in w for w in check_attributes(text))


def test_packages_are_current_and_the_timer_extension_only_with_a_timer():
    def refs(files):
        proj = ET.fromstring(next(t for r, t in files.items() if r.endswith(".csproj")))
        return {e.get("Include"): e.get("Version") for e in proj.iter("PackageReference")}

    http = refs(shapes("csharp"))
    assert http["Microsoft.Azure.Functions.Worker"] == "2.52.0"
    assert http["Microsoft.Azure.Functions.Worker.Sdk"] == "2.1.0"
    assert "Microsoft.Azure.Functions.Worker.Extensions.Timer" in refs(shapes("csharp", TIMER_SHAPES, "timer"))
    assert "Microsoft.Azure.Functions.Worker.Extensions.Timer" not in http
    pom = ET.fromstring(shapes("java")["pom.xml"].split("\n", 1)[1])
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    versions = {p.find("m:artifactId", ns).text: p.find("m:version", ns).text
                for p in [*pom.iterfind(".//m:dependency", ns), *pom.iterfind(".//m:plugin", ns)]}
    assert versions["azure-functions-java-library"] == "3.2.3"
    assert versions["azure-functions-maven-plugin"] == "1.40.0"


def test_javascript_runs_through_the_library_invocation_path(tmp_path, azure_functions_node):
    app = write_project(shapes("javascript"), tmp_path / "app")
    rows = [{"Name": "Bike", "Price": 3.5}]
    calls = {"getProducts": {"rows": rows, "route": {"category": "Bikes"}, "query": {"min": "1"}},
             "getTables": {"rows": [{"TableName": "Orders"}]},
             "addOrders": [{"body": json.dumps([{"Id": 1}, {"Id": 2}])}, {"body": "not json"}]}
    seen = run_js(app, azure_functions_node, calls)
    by = {}
    for r in seen:
        by.setdefault(r["name"], []).append(r)
    assert sorted(by) == ["addOrders", "getProducts", "getTables"]   # the setup command is no function
    get = by["getProducts"][0]
    assert get["returnValue"]["http"]["statusCode"] == "200" and get["outputData"] == []
    assert get["returnValue"]["http"]["headers"]["content-type"].startswith("application/json")
    assert json.loads(get["returnValue"]["http"]["body"]["bytes"]) == rows
    kusto = {k: v for k, v in get["bindings"].items() if v["type"] == "kusto"}
    assert [v["direction"] for v in kusto.values()] == ["in"]
    assert next(iter(kusto.values()))["kqlParameters"] == "@category={category},@min={Query.min}"
    ok, bad = by["addOrders"]
    assert ok["returnValue"]["http"]["statusCode"] == "201"
    assert len(ok["outputData"]) == 1 and json.loads(ok["outputData"][0]["data"]["json"]) == [{"Id": 1}, {"Id": 2}]
    assert bad["returnValue"]["http"]["statusCode"] == "400" and bad["outputData"] == []


def test_javascript_timer_runs_and_logs(tmp_path, azure_functions_node):
    app = write_project(shapes("javascript", TIMER_SHAPES, "timer"), tmp_path / "app")
    seen = run_js(app, azure_functions_node, {"getRecent": {"rows": [{"Id": 1}, {"Id": 2}]}})
    recent = next(r for r in seen if r["name"] == "getRecent")
    assert any(b["type"] == "timerTrigger" for b in recent["bindings"].values())
    assert "getRecent: 2 rows" in " ".join(recent["logs"])
