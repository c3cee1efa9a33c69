"""C# isolated-worker writer: the model -> Functions.cs ([KustoInput] / [KustoOutput]), Program.cs and
the .csproj with Microsoft.Azure.Functions.Worker.Extensions.Kusto. Text only, deterministic; the
rule: property names from the binding table's C# column, templates escaped.
"""

from __future__ import annotations

from .. import bindings
from ..errors import BindingError
from .model import FunctionApp, pascal
from .python import binding_properties, header, literal, markers

PACKAGES = (("Microsoft.Azure.Functions.Worker", "1.24.0"), ("Microsoft.Azure.Functions.Worker.Sdk", "2.0.1"),
            ("Microsoft.Azure.Functions.Worker.Extensions.Http", "3.3.0"),
            ("Microsoft.Azure.Functions.Worker.Extensions.Timer", "4.3.1"),
            ("Microsoft.Azure.Functions.Worker.Extensions.Kusto", "1.0.13-Preview"))
_CSHARP = {p.key: p.csharp for p in bindings.PROPERTIES}


def project_name(app: FunctionApp) -> str:
    return pascal("_".join("".join(c if c.isalnum() else " " for c in app.notebook.rsplit(".", 1)[0]).split())) \
        or "Functions"


def attribute(kind: str, binding) -> str:
    props = binding_properties(binding)
    args = [f"Database: {literal(v)}" for k, v in props if k == "database"]
    args += [f"{_CSHARP[k]} = {literal(v)}" for k, v in props if k != "database"]
    return f"[{kind}({', '.join(args)})]"


def _function(app: FunctionApp, function) -> tuple[list[str], list[str]]:
    if function.shape == "code":
        raise BindingError(f"function '{function.name}' is a Python cell; only --language python exports function "
                           "cells", hint="Export with --language python, or untag the cell.")
    name = pascal(function.name)
    lines = ["", *(f"    {m}" for m in markers(app, function, "//"))]
    extra: list[str] = []
    if function.trigger == "http":
        verbs = ", ".join(literal(m.lower()) for m in function.methods)
        trigger = (f"[HttpTrigger(AuthorizationLevel.Function, {verbs}, Route = {literal(function.route)})] "
                   "HttpRequestData req")
    else:
        trigger = f"[TimerTrigger({literal(function.schedule)})] TimerInfo timer"
    if function.shape == "rows":
        b = function.inputs[0]
        if b.kql_command.lstrip().startswith("."):
            lines.append("    // A management command: bound to JsonArray, not IAsyncEnumerable<T> (which yields no rows "
                         "for commands).")
        returns = "async Task<HttpResponseData>" if function.trigger == "http" else "void"
        lines += [f"    [Function({literal(name)})]", f"    public static {returns} {name}(",
                  f"        {trigger},", f"        {attribute('KustoInput', b)} JsonArray {b.name})", "    {"]
        if function.trigger == "http":
            lines += ["        var response = req.CreateResponse(HttpStatusCode.OK);",
                      f"        await response.WriteAsJsonAsync({b.name});", "        return response;", "    }"]
        else:
            lines += [f"        Console.WriteLine($\"{name}: {{{b.name}.Count}} rows\");", "    }"]
        return lines, extra
    b = function.outputs[0]
    out_class = f"{name}Output"
    lines += [f"    [Function({literal(name)})]", f"    public static async Task<{out_class}> {name}({trigger})", "    {",
              "        JsonNode? body;",
              "        try { body = await JsonNode.ParseAsync(req.Body); }",
              "        catch (JsonException) { return new() { HttpResponse = req.CreateResponse(HttpStatusCode.BadRequest) }; }",
              "        // An object is one row; an array is one row per element. Do not serialize to a string first.",
              f"        return new() {{ {pascal(b.name)} = body, HttpResponse = req.CreateResponse(HttpStatusCode.Created) }};",
              "    }"]
    extra += ["", f"public class {out_class}", "{", f"    {attribute('KustoOutput', b)}",
              f"    public JsonNode? {pascal(b.name)} {{ get; set; }}", "",
              "    public HttpResponseData? HttpResponse { get; set; }", "}"]
    return lines, extra


def functions_cs(app: FunctionApp) -> str:
    body, extra = [], []
    for function in app.functions:
        lines, more = _function(app, function)
        body += lines
        extra += more
    out = [header(app, "//"), "using System.Net;", "using System.Text.Json;", "using System.Text.Json.Nodes;",
           "using Microsoft.Azure.Functions.Worker;", "using Microsoft.Azure.Functions.Worker.Extensions.Kusto;",
           "using Microsoft.Azure.Functions.Worker.Http;", "", f"namespace {project_name(app)};", "",
           "public static class Functions", "{"]
    out += body[1:] if body and body[0] == "" else body
    out += ["}", *extra]
    return "\n".join(out) + "\n"


PROGRAM = """{header}
using Microsoft.Extensions.Hosting;

var host = new HostBuilder()
    .ConfigureFunctionsWorkerDefaults()
    .Build();

host.Run();
"""


def csproj(app: FunctionApp) -> str:
    refs = "\n".join(f'    <PackageReference Include="{n}" Version="{v}" />' for n, v in PACKAGES)
    return f"""<!-- AUTOGENERATED from {app.notebook} — edit the notebook, then re-export -->
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <AzureFunctionsVersion>v4</AzureFunctionsVersion>
    <OutputType>Exe</OutputType>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
{refs}
  </ItemGroup>
  <ItemGroup>
    <None Update="host.json">
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
    </None>
    <None Update="local.settings.json">
      <CopyToOutputDirectory>PreserveNewest</CopyToOutputDirectory>
      <CopyToPublishDirectory>Never</CopyToPublishDirectory>
    </None>
  </ItemGroup>
</Project>
"""


def files(app: FunctionApp) -> dict[str, str]:
    name = project_name(app)
    return {f"{name}.csproj": csproj(app), "Program.cs": PROGRAM.format(header=header(app, "//")),
            "Functions.cs": functions_cs(app)}
