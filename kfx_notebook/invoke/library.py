"""The azure-functions library path of invoke: load the app with the real library and call one function.

The rule it keeps: the app is imported and called with the REAL azure-functions library, and its
bindings are read from the library's own metadata (`app.get_functions()`, `fn.get_bindings()`),
never from kfx-notebook's model; the bindings are fulfilled by `fulfil` (the one binding runner).
What the real worker would check and send (annotations, TypedData kinds, `$return`, the
response's content type) is modelled by `worker_model`, so both paths answer alike; a function
that raises is answered and logged as the host does (`failure`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import BindingError, KfxError
from . import InvokeResult, fulfil
from .failure import Failure, exception_message, exception_stack, failed_answer, user_stack
from .http import http_call, response_headers
from .worker_model import UnencodableValue, check_annotations, typed_data


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

def app_script(app_dir: Path) -> Path:
    """APP_DIR/function_app.py, or a one-line error saying what invoke needs."""
    script = app_dir / "function_app.py"
    if not script.is_file():
        raise KfxError(f"No function_app.py in {app_dir}",
                       hint="Point invoke at a Python v2 app folder (kfx-notebook export --language python).")
    return script


def load_app(app_dir: str | Path):
    """Import APP_DIR/function_app.py (the real library) and return its FunctionApp."""
    import azure.functions as func

    app_dir = Path(app_dir).resolve()
    script = app_script(app_dir)
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


def pick_function(functions: dict, name: str):
    """The function named `name` (exactly, else ignoring case) among {name: function}, or say which exist."""
    if name in functions:
        return functions[name]
    for known, fn in functions.items():
        if known.lower() == name.lower():
            return fn
    names = ", ".join(sorted(functions)) or "none"
    raise KfxError(f"No function named {name!r} in the app (it has: {names})", hint="Pick one of those names.")


def _find(app, name: str):
    return pick_function({fn.get_function_name(): fn for fn in app.get_functions()}, name)


# -- invoking ---------------------------------------------------------------------------------------

def invoke_with_library(app_dir: str | Path, function: str, route: dict[str, str] | None = None,
                        query: dict[str, str] | None = None, body: bytes | str | None = None,
                        connection_string: str | None = None, method: str | None = None,
                        headers: dict[str, str] | None = None) -> InvokeResult:
    """Invoke one function of an exported Python v2 app, with its kusto bindings served by the backends."""
    app_dir = Path(app_dir).resolve()
    route, query = dict(route or {}), dict(query or {})
    warnings: list[str] = []
    host = fulfil.app_host(app_dir, connection_string, warnings)
    fn = _find(load_app(app_dir), function)
    name, trigger = fn.get_function_name(), fn.get_trigger()
    if trigger is None:
        raise KfxError(f"function {name} has no trigger", hint="Decorate it with a trigger (e.g. app.route).")
    user = fn.get_user_function()
    check_annotations(name, user, {b.name: _direction(b)  # as the worker's indexing does
                                   for b in fn.get_bindings() if b.type.lower() == "kusto"})
    kwargs = {trigger.name: _trigger_argument(trigger, name, route, query, body, method, headers)}
    inputs, outputs = _kusto_bindings(fn, trigger, name, route, query)
    kwargs.update(fulfil.input_values(inputs, host, route, query))
    kwargs.update({holder.name: holder for binding, holder in outputs if binding.name != "$return"})
    started = time.monotonic()
    returned, raised = _call(user, kwargs, name)

    def failed(message: str, stack: str) -> InvokeResult:
        """As the host: nothing ingested, a 500 for HTTP, the exception logged (secrets masked)."""
        from ..display import scrub

        secrets = fulfil.app_secrets(host.settings, connection_string)
        failure = Failure(name, str(uuid.uuid4()), round((time.monotonic() - started) * 1000),
                          scrub(message, secrets), scrub(stack, secrets))
        return InvokeResult(*failed_answer(trigger.type == "httpTrigger"), [], warnings, failure=failure)

    if raised is not None:
        return failed(exception_message(raised), user_stack(exception_stack(raised), app_dir))
    values = [(b, returned if b.name == "$return" else (h.value if h.was_set else None)) for b, h in outputs]
    try:  # the worker encodes every output and the response before the host sends or ingests any
        sent = [(b, *typed_data(value, b.name)) for b, value in values if value is not None]
        response = _response(returned, name) if trigger.type == "httpTrigger" else None
    except UnencodableValue as exc:
        return failed(exc.worker_message, "")
    receipts = fulfil.flush_outputs(sent, host, route, query)
    if response is None:
        return InvokeResult(None, {}, b"", receipts, warnings)
    return InvokeResult(*response, receipts, warnings)


def _trigger_argument(trigger, name: str, route, query, body, method, headers):
    """What the function's trigger parameter receives: a func.HttpRequest or a TimerRequest."""
    import azure.functions as func

    if trigger.type == "httpTrigger":
        call = http_call(trigger.get_dict_repr(), name, route, query, body, method, headers)
        return func.HttpRequest(method=call.method, url=call.url, headers=call.headers, params=query,
                                route_params=route, body=call.body)
    if trigger.type == "timerTrigger":
        from azure.functions.timer import TimerRequest

        return TimerRequest(past_due=False)
    raise KfxError(f"function {name} has a {trigger.type} trigger, which invoke cannot raise",
                   hint="invoke supports HTTP and timer triggers.")


def _direction(binding) -> str:
    return "in" if int(binding.direction) == 0 else "out"


def _kusto_bindings(fn, trigger, name: str, route, query) -> tuple[list, list[tuple[Any, _Out]]]:
    """(input bindings, (output binding, its func.Out holder)) from the library's metadata, all checked."""
    _register_out()
    inputs, outputs = [], []
    for binding in fn.get_bindings():
        if binding is trigger or binding.type.lower() != "kusto":
            continue
        direction = _direction(binding)
        model = fulfil.kusto_binding(binding.get_dict_repr(), direction, binding.name, name)
        fulfil.check_expressions(model, route, query, name)
        if direction == "in":
            inputs.append(model)
        else:
            outputs.append((model, _Out(binding.name)))
    return inputs, outputs


def _call(user, kwargs: dict[str, Any], name: str) -> tuple[Any, Exception | None]:
    """Call the user's function with its arguments (awaiting a coroutine), refusing an unbound parameter:
    (what it returned, None), or (None, what it raised) — the worker catches any Exception of the function."""
    missing = [p for p in inspect.signature(user).parameters if p not in kwargs]
    if missing:
        raise BindingError(f"function {name}: parameter '{missing[0]}' has no binding",
                           hint="Every parameter must be the trigger or a binding's arg_name.")
    try:
        returned = user(**kwargs)
        return (asyncio.run(_await(returned)) if inspect.isawaitable(returned) else returned), None
    except Exception as exc:  # noqa: BLE001 -- as the worker's invocation_request: any Exception is a failure
        return None, exc


async def _await(value):
    return await value


def _response(returned, name: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the func.HttpResponse an HTTP function returned."""
    import azure.functions as func

    if isinstance(returned, str) or returned is None:   # the worker sends it, not as an HTTP response
        raise BindingError(f"function {name} returned no HTTP response",
                           hint="Return func.HttpResponse(...) from an HTTP function.")
    if not isinstance(returned, func.HttpResponse):    # the worker cannot encode it: the invocation fails
        raise UnencodableValue("http", returned, "$return", hint=f"Return func.HttpResponse(...) from {name}.")
    headers = dict(returned.headers)
    if returned.mimetype and "content-type" not in {k.lower() for k in headers}:
        # as the library's HttpResponseConverter: a charset only for text/*
        headers["content-type"] = (f"{returned.mimetype}; charset={returned.charset}"
                                   if returned.mimetype.startswith("text/") else returned.mimetype)
    return returned.status_code, response_headers(headers), returned.get_body() or b""
