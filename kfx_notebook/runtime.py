"""`kfx-notebook invoke`: run one function of an exported app locally, its Kusto bindings fulfilled.

The rule it keeps: the app is loaded and called with the REAL azure-functions library and its
bindings are read from the library's own metadata (`app.get_functions()`,
`fn.get_bindings()`), never from kfx-notebook's model; inputs run through the backends and
outputs are ingested after the function returns, serialized as the output binding would
(spec/bindings.md §4, §9). Settings come from the app's local.settings.json, then the
environment. No secret is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import json
import os
import re
import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .display import scrub
from .errors import BindingError, KfxError, SettingError

_ROUTE_PARAM = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^{}?]*)?(\?)?\}")
_EXPR = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_.\-]+)\}")
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 404: "Not Found",
           500: "Internal Server Error"}


@dataclass
class InvokeResult:
    """What the invocation returned. `status` is None for a non-HTTP trigger (e.g. a timer)."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    ingested: list = field(default_factory=list)      # IngestReceipt per output binding that ingested rows
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _Out:
    """The value holder the worker hands a `func.Out[str]` parameter (registered as a func.Out)."""

    def __init__(self, name: str):
        self.name = name
        self.value = None
        self.was_set = False

    def set(self, val) -> None:
        self.value = val
        self.was_set = True

    def get(self):
        return self.value


def _register_out() -> None:
    import azure.functions as func

    func.Out.register(_Out)


# -- loading --------------------------------------------------------------------------------------

def load_app(app_dir: str | Path):
    """Import APP_DIR/function_app.py (the real library) and return its FunctionApp."""
    import azure.functions as func

    app_dir = Path(app_dir).resolve()
    script = app_dir / "function_app.py"
    if not script.is_file():
        raise KfxError(f"No function_app.py in {app_dir}",
                       hint="Point invoke at a Python v2 app folder (kfx-notebook export --language python).")
    module_name = f"_kfx_app_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(app_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        try:
            sys.path.remove(str(app_dir))
        except ValueError:
            pass
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionApp)]
    if len(apps) != 1:
        raise KfxError(f"function_app.py defines {len(apps)} FunctionApp objects, not one",
                       hint="Keep one `app = func.FunctionApp()` in function_app.py.")
    return apps[0]


def _find(app, name: str):
    functions = app.get_functions()
    for fn in functions:
        if fn.get_function_name() == name:
            return fn
    for fn in functions:
        if (fn.get_function_name() or "").lower() == name.lower():
            return fn
    names = ", ".join(sorted(fn.get_function_name() for fn in functions)) or "none"
    raise KfxError(f"No function named {name!r} in the app (it has: {names})", hint="Pick one of those names.")


def _settings(app_dir: Path):
    from .settings import Settings

    path = app_dir / "local.settings.json"
    return Settings(path if path.is_file() else None, os.environ)


# -- bindings from the library's metadata -----------------------------------------------------------

def _direction(binding) -> str:
    return "in" if int(binding.direction) == 0 else "out"


def _model_binding(binding, function_name: str):
    """A library binding (its dict repr) -> KustoInput / KustoOutput, refusing keys the extension lacks."""
    from . import bindings

    data = {k: v for k, v in binding.get_dict_repr().items() if k not in ("type", "direction", "name")}
    direction = _direction(binding)
    by_key = {p.key.lower(): p for p in bindings.PROPERTIES if direction in p.directions}
    values = {}
    for key, value in data.items():
        prop = by_key.get(key.lower())
        if prop is None:
            raise BindingError(f"function {function_name}: kusto binding '{binding.name}' has property {key!r}, "
                               "which the Kusto extension does not read",
                               hint="Use the camelCase keys of spec/bindings.md §1/§7.")
        values[prop.attr] = value
    values.setdefault("connection", None)
    if direction == "in":
        return bindings.KustoInput(name=binding.name, kql_command=values.pop("kql_command", ""),
                                   **{"database": None, **values})
    return bindings.KustoOutput(name=binding.name, **{"database": None, "table_name": None, **values})


def _route_names(template: str | None) -> list[tuple[str, bool]]:
    return [(m[1], bool(m[2])) for m in _ROUTE_PARAM.finditer(template or "")]


def _fill_route(template: str | None, values: dict[str, str]) -> str:
    def repl(m):
        return urllib.parse.quote(values.get(m[1], ""), safe="")

    return re.sub(r"/+", "/", _ROUTE_PARAM.sub(repl, template or "")).strip("/")


def _check_expressions(binding, route: dict[str, str], query: dict[str, str], function_name: str) -> None:
    """Every {name}/{Query.x} a binding uses must have a value: say which flag supplies it."""
    from . import bindings

    for prop in bindings.PROPERTIES:
        text = getattr(binding, prop.attr, None)
        if not text or not prop.template:
            continue
        for m in _EXPR.finditer(text):
            name = m[1]
            if not name or name.startswith("sys."):
                continue
            if name.startswith("Query."):
                if name[6:] not in query:
                    raise BindingError(f"function {function_name}: {prop.key} of '{binding.name}' uses {{{name}}}, "
                                       "and the query string has no such key (case-sensitive)",
                                       hint=f"Pass --query {name[6:]}=VALUE.")
            elif name.split(".")[0] not in route:
                raise BindingError(f"function {function_name}: {prop.key} of '{binding.name}' uses {{{name}}}, "
                                   "and there is no route value for it",
                                   hint=f"Pass --route {name.split('.')[0]}=VALUE.")


def _connect(binding, settings, connection_string: str | None, identity: str | None, app_dir: Path | None = None):
    from .backends import backend_for
    from .bindings import check_connection_resolved

    if not binding.connection:
        raise BindingError("Value cannot be null. (Parameter 'Connection')",
                           hint=f"Set connection on the binding '{binding.name}'.")
    value = connection_string if connection_string is not None else settings.connection_string(binding.connection)
    if value is None:
        raise SettingError(f"No setting '{binding.connection}' in local.settings.json (ConnectionStrings or Values) "
                           "or the environment", hint="Fill it in the app's local.settings.json, or pass "
                                                      "--connection-string.")
    check_connection_resolved(value)
    if connection_string is None and app_dir is not None:
        value = _relative_to_app(value, app_dir)
    return backend_for(value, identity or None)


def _relative_to_app(value: str, app_dir: Path) -> str:
    """`Data Source=local:data.duckdb` in an app's settings means the file beside the app, wherever
    invoke runs from, so an exported folder with its database is self-contained."""
    from .settings import parse_connection_string

    source = parse_connection_string(value).data_source
    if source.startswith("local:") and not Path(source[6:]).is_absolute():
        return value.replace(source, f"local:{(app_dir / source[6:]).resolve()}", 1)
    return value


# -- invoking ---------------------------------------------------------------------------------------

def invoke(app_dir: str | Path, function: str, route: dict[str, str] | None = None,
           query: dict[str, str] | None = None, body: bytes | str | None = None,
           connection_string: str | None = None, method: str | None = None,
           headers: dict[str, str] | None = None) -> InvokeResult:
    """Invoke one function of an exported Python v2 app, with its kusto bindings served by the backends."""
    import azure.functions as func

    from . import bindings, payload
    from .input_json import rows_json

    app_dir = Path(app_dir).resolve()
    route, query = dict(route or {}), dict(query or {})
    settings = _settings(app_dir)
    fn = _find(load_app(app_dir), function)
    name = fn.get_function_name()
    trigger = fn.get_trigger()
    warnings: list[str] = []
    kwargs: dict[str, Any] = {}
    outs: list[tuple[Any, _Out]] = []
    ins = []
    if trigger is None:
        raise KfxError(f"function {name} has no trigger", hint="Decorate it with a trigger (e.g. app.route).")
    if trigger.type == "httpTrigger":
        template = trigger.get_dict_repr().get("route") or name
        for param, optional in _route_names(template):
            if param not in route and not optional:
                raise BindingError(f"function {name}: route {template!r} needs {{{param}}}",
                                   hint=f"Pass --route {param}=VALUE.")
        methods = [str(getattr(m, "value", m)).upper() for m in (trigger.get_dict_repr().get("methods") or [])]
        verb = (method or (methods[0] if methods else ("POST" if body is not None else "GET"))).upper()
        if methods and verb not in methods:
            raise BindingError(f"function {name} accepts {', '.join(methods)}, not {verb}",
                               hint=f"Pass --method {methods[0]}.")
        data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        url = f"http://localhost:7071/api/{_fill_route(template, route)}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request_headers = {"content-type": "application/json"} if data else {}
        request_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        kwargs[trigger.name] = func.HttpRequest(method=verb, url=url, headers=request_headers, params=query,
                                                route_params=route, body=data)
    elif trigger.type == "timerTrigger":
        from azure.functions.timer import TimerRequest

        kwargs[trigger.name] = TimerRequest(past_due=False)
    else:
        raise KfxError(f"function {name} has a {trigger.type} trigger, which invoke cannot raise",
                       hint="invoke supports HTTP and timer triggers.")
    _register_out()
    for binding in fn.get_bindings():
        if binding is trigger or binding.type.lower() != "kusto":
            continue
        model = _model_binding(binding, name)
        model.validate()
        _check_expressions(model, route, query, name)
        if _direction(binding) == "in":
            ins.append(model)
        else:
            holder = _Out(binding.name)
            outs.append((model, holder))
            kwargs[binding.name] = holder
    for model in ins:
        resolved = bindings.resolve_input(model, namespace=route, query=query, settings=settings)
        warnings += resolved.warnings
        backend = _connect(model, settings, connection_string, resolved.managed_service_identity, app_dir)
        result = backend.query(resolved.database, resolved.kql, resolved.parameters,
                               options=resolved.client_request_properties or None,
                               request_id=f"AzFunctions.InputBinding;kfx-notebook;{uuid.uuid4()}")
        kwargs[model.name] = rows_json(result.frame)
    user = fn.get_user_function()
    missing = [p for p in inspect.signature(user).parameters if p not in kwargs]
    if missing:
        raise BindingError(f"function {name}: parameter '{missing[0]}' has no binding",
                           hint="Every parameter must be the trigger or a binding's arg_name.")
    returned = user(**kwargs)
    if inspect.isawaitable(returned):
        returned = asyncio.run(_await(returned))
    receipts = []
    for model, holder in outs:  # FlushAsync: after the function returns, one call per output
        if not holder.was_set or holder.value is None:
            continue
        if not isinstance(holder.value, (str, bytes)):
            raise BindingError(f"function {name}: output '{holder.name}' was set to a {type(holder.value).__name__}; "
                               "the Python worker takes only str or bytes for a kusto output (NotImplementedError)",
                               hint=f"Write {holder.name}.set(json.dumps(value)).")
        resolved = bindings.resolve_output(model, namespace=route, query=query, settings=settings)
        rows = payload.rows_from_return(holder.value, language="python")
        sent = payload.serialize(rows.rows, resolved.data_format)
        warnings += [*resolved.warnings, *rows.warnings, *sent.warnings]
        if sent.rows == 0:
            continue
        backend = _connect(model, settings, connection_string, resolved.managed_service_identity, app_dir)
        receipts.append(backend.ingest(resolved.database, resolved.table_name, sent.data,
                                       data_format=sent.data_format, mapping_ref=resolved.mapping_ref,
                                       ingestion_type=resolved.ingestion_type,
                                       properties=resolved.ingestion_properties))
    if trigger.type != "httpTrigger":
        return InvokeResult(None, {}, b"", receipts, warnings)
    if not isinstance(returned, func.HttpResponse):
        raise BindingError(f"function {name} returned {type(returned).__name__}, not func.HttpResponse",
                           hint="Return func.HttpResponse(...) from an HTTP function.")
    response_headers = dict(returned.headers)
    if returned.mimetype and "content-type" not in {k.lower() for k in response_headers}:
        response_headers["Content-Type"] = (f"{returned.mimetype}; charset={returned.charset}"
                                            if returned.charset else returned.mimetype)
    return InvokeResult(returned.status_code, response_headers, returned.get_body() or b"", receipts, warnings)


async def _await(value):
    return await value


# -- CLI --------------------------------------------------------------------------------------------

def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KfxError(f"{flag} {item!r} is not NAME=VALUE", hint=f"Write {flag} name=value.")
        out[key] = value
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app_dir", help="the exported app folder (holds function_app.py)")
    parser.add_argument("function", help="the function's name")
    parser.add_argument("--route", action="append", metavar="NAME=VALUE", help="a route parameter (repeatable)")
    parser.add_argument("--query", action="append", metavar="K=V", help="a query-string parameter (repeatable)")
    parser.add_argument("--body", default=None, help="request body: JSON text, or @FILE")
    parser.add_argument("--method", default=None, help="HTTP method (default: the function's first)")
    parser.add_argument("--connection-string", default=None,
                        help="use this connection string for every kusto binding instead of the settings")


def run(args: argparse.Namespace) -> int:
    from .settings import secret_values

    body = args.body
    if body is not None and body.startswith("@"):
        body = Path(body[1:]).read_bytes()
    result = invoke(args.app_dir, args.function, route=_pairs(args.route, "--route"),
                    query=_pairs(args.query, "--query"), body=body, connection_string=args.connection_string,
                    method=args.method)
    secrets = secret_values(args.connection_string or "")
    for line in result.warnings:
        print(f"warning: {scrub(line, secrets)}", file=sys.stderr)
    for receipt in result.ingested:
        print(f"ingested {receipt.rows} row{'s' if receipt.rows != 1 else ''} into {receipt.table} "
              f"({receipt.data_format}, {receipt.path}, {receipt.status})", file=sys.stderr)
    if result.status is None:
        print("(no HTTP response: not an HTTP trigger)")
        return 0
    print(f"HTTP/1.1 {result.status} {REASONS.get(result.status, '')}".rstrip())
    for key, value in result.headers.items():
        print(f"{key}: {value}")
    print()
    print(scrub(result.text(), secrets))
    return 0 if result.status < 400 else 1
