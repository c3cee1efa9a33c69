"""JavaScript v4 writer: the model -> src/functions/*.js (app.http / app.timer with input.generic /
output.generic) and package.json. Text only; the rule: the same camelCase binding keys as
function.json, templates escaped, one file per function, deterministic.
"""

from __future__ import annotations

import json

from ..errors import BindingError
from .model import FunctionApp, camel
from .python import binding_properties, header, literal, markers


def _binding(var: str, binding, kind: str) -> list[str]:
    lines = [f"const {var} = {kind}.generic({{", "    type: 'kusto',"]
    lines += [f"    {key}: {literal(value)}," for key, value in binding_properties(binding)]
    return lines + ["});"]


def function_file(app: FunctionApp, function) -> str:
    if function.shape == "code":
        raise BindingError(f"function '{function.name}' is a Python cell; only --language python exports function "
                           "cells", hint="Export with --language python, or untag the cell to export the binding "
                                         "cells as GET/POST functions.")
    name = camel(function.name)
    kinds = sorted({"input"} if function.inputs else set()) + (["output"] if function.outputs else [])
    lines = [header(app, "//"), *markers(app, function, "//"),
             f"const {{ {', '.join(['app', *kinds])} }} = require('@azure/functions');", ""]
    for b in function.inputs:
        lines += _binding(camel(b.name) + "Input", b, "input")
    for b in function.outputs:
        lines += _binding(camel(b.name) + "Output", b, "output")
    lines.append("")
    extra = []
    if function.inputs:
        extra.append(f"    extraInputs: [{', '.join(camel(b.name) + 'Input' for b in function.inputs)}],")
    if function.outputs:
        extra.append(f"    extraOutputs: [{', '.join(camel(b.name) + 'Output' for b in function.outputs)}],")
    if function.trigger == "http":
        methods = ", ".join(f"'{m}'" for m in function.methods)
        lines += [f"app.http('{name}', {{", f"    methods: [{methods}],", "    authLevel: 'function',",
                  f"    route: {literal(function.route)},", *extra]
        if function.shape == "rows":
            var = camel(function.inputs[0].name) + "Input"
            lines += ["    handler: async (request, context) => {",
                      f"        return {{ jsonBody: context.extraInputs.get({var}) }};", "    },", "});"]
        else:
            var = camel(function.outputs[0].name) + "Output"
            lines += ["    handler: async (request, context) => {", "        let body;", "        try {",
                      "            body = await request.json();", "        } catch {",
                      ("            return { status: 400, body: 'The request body must be JSON: an object (one row) "
                       "or an array of objects (one row each).' };"),
                      "        }",
                      (f"        context.extraOutputs.set({var}, body); // an object is one row; an array, one per "
                       "element"),
                      "        return { status: 201 };", "    },", "});"]
    else:
        var = camel(function.inputs[0].name) + "Input"
        lines += [f"app.timer('{name}', {{", f"    schedule: {literal(function.schedule)},", *extra,
                  "    handler: async (timer, context) => {",
                  f"        context.log(`{name}: ${{context.extraInputs.get({var}).length}} rows`);", "    },", "});"]
    return "\n".join(lines) + "\n"


def package_json(app: FunctionApp) -> str:
    stem = app.notebook.rsplit(".", 1)[0]
    name = "".join(c if c.isalnum() else "-" for c in stem.lower()).strip("-") or "functions"
    data = {"name": name, "version": "1.0.0", "description": f"Exported from {app.notebook} by kfx-notebook",
            "main": "src/functions/*.js", "scripts": {"start": "func start"},
            "dependencies": {"@azure/functions": "^4.x"}}
    return json.dumps(data, indent=2) + "\n"


def files(app: FunctionApp) -> dict[str, str]:
    out = {"package.json": package_json(app)}
    for function in app.functions:
        out[f"src/functions/{camel(function.name)}.js"] = function_file(app, function)
    return out
