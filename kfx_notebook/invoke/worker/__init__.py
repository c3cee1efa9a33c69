"""`kfx-notebook invoke --worker`: one function run in the real Python worker, kfx-notebook acting as the host.

The rule it keeps: the function is indexed, loaded and invoked by the real worker library
(azure-functions-runtime, in its own interpreter, see environment.py) over the real
host<->worker protocol (rpc.py, host.py, proxy.py), and everything the host does is done
by the same code as the library path (`fulfil`: the binding models and the one binding
runner; `http`: the request; `host_json`: what the host makes of the worker's values):
the Kusto input arrives as TypedData string holding the extension's JArray
text; outputs come back as the worker's TypedData (string re-parsed, json kept, bytes
dropped with a warning); a failed invocation is answered and logged as the host does (`failure`:
500, nothing ingested, the worker's RpcException with the host's frames cut). Imports grpc and
protobuf (the `worker` extra) only when used.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from ...errors import BindingError, KfxError

TIMER_DATA = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False}


def _failed(what: str, result, secrets: list[str]) -> KfxError | None:
    from ...display import scrub
    from .rpc import protos

    if result.status == protos().StatusResult.Success:
        return None
    message = scrub(result.exception.message or result.result or "no message", secrets)
    return KfxError(f"{what}: {message}", hint="The Python worker refused it; fix the app and invoke again.")


def _trigger_data(name: str, trigger: dict, route, query, body, method, headers):
    from ..http import http_call
    from .rpc import protos

    p = protos()
    if trigger["type"] == "httpTrigger":
        call = http_call(trigger, name, route, query, body, method, headers)
        try:
            text = p.TypedData(string=call.body.decode("utf-8")) if call.body else None
        except UnicodeDecodeError:
            text = p.TypedData(bytes=call.body)
        http = p.RpcHttp(method=call.method, url=call.url, headers=call.headers, params=route, query=query,
                         body=text, rawBody=p.TypedData(bytes=call.body) if call.body else None)
        return p.TypedData(http=http)
    if trigger["type"] == "timerTrigger":
        return p.TypedData(json=json.dumps(TIMER_DATA))
    raise KfxError(f"function {name} has a {trigger['type']} trigger, which invoke cannot raise",
                   hint="invoke supports HTTP and timer triggers.")


def _http_response(name: str, returned) -> tuple[int, dict[str, str], bytes]:
    """The worker's $return RpcHttp -> status, headers (as the host writes them), body."""
    from ..http import response_headers

    if returned is None or returned.WhichOneof("data") != "http":
        raise BindingError(f"function {name} returned no HTTP response",
                           hint="Return func.HttpResponse(...) from an HTTP function.")
    http = returned.http
    body = _body(http.body if http.HasField("body") else None)
    return int(http.status_code or 200), response_headers(dict(http.headers)), body


def _body(data) -> bytes:
    kind = data.WhichOneof("data") if data is not None else None
    if kind in ("string", "json"):
        return getattr(data, kind).encode("utf-8")
    if kind in ("bytes", "stream"):
        return getattr(data, kind)
    return b""


def _index_and_load(host, app_dir: Path, function: str, secrets: list[str]):
    """WorkerInit (the worker indexes the app), FunctionsMetadata, FunctionLoad: the function's metadata."""
    from ..library import pick_function
    from .host import HOST_VERSION
    from .rpc import protos

    p = protos()
    init = host.request("worker_init_request", p.WorkerInitRequest(
        host_version=HOST_VERSION, function_app_directory=str(app_dir), worker_directory=str(app_dir)))
    if error := _failed("the worker could not index the app", init.result, secrets):
        raise error
    listed = host.request("functions_metadata_request", p.FunctionsMetadataRequest(function_app_directory=str(app_dir)))
    if error := _failed("the worker could not list the functions", listed.result, secrets):
        raise error
    metadata = pick_function({m.name: m for m in listed.function_metadata_results}, function)
    loaded = host.request("function_load_request",
                          p.FunctionLoadRequest(function_id=metadata.function_id, metadata=metadata))
    if error := _failed(f"the worker could not load {metadata.name}", loaded.result, secrets):
        raise error
    return metadata


def invoke_in_worker(app_dir: str | Path, function: str, route: dict[str, str] | None = None,
                     query: dict[str, str] | None = None, body: bytes | str | None = None,
                     connection_string: str | None = None, method: str | None = None,
                     headers: dict[str, str] | None = None, python: str | None = None):
    """As kfx_notebook.invoke.invoke, with the function run by the real worker in a child process."""
    from ...extras import require

    require("grpc")
    require("google.protobuf")
    from ...display import scrub
    from .. import InvokeResult, fulfil
    from ..library import app_script
    from .environment import worker_python
    from .host import WorkerHost
    from .rpc import protos

    p = protos()
    app_dir = Path(app_dir).resolve()
    app_script(app_dir)
    route, query = dict(route or {}), dict(query or {})
    warnings: list[str] = []
    host = fulfil.app_host(app_dir, connection_string, warnings)
    secrets = fulfil.app_secrets(host.settings, connection_string)  # all the worker could echo back
    interpreter = worker_python(app_dir, python, say=lambda line: print(line, file=sys.stderr))
    with WorkerHost(interpreter, app_dir, host.settings.values, secrets) as worker:
        metadata = _index_and_load(worker, app_dir, function, secrets)
        name = metadata.name
        raw = [json.loads(text) for text in metadata.raw_bindings]
        trigger = next((b for b in raw if str(b.get("type", "")).endswith("Trigger")), None)
        if trigger is None:
            raise KfxError(f"function {name} has no trigger", hint="Decorate it with a trigger (e.g. app.route).")
        inputs = [p.ParameterBinding(name=trigger["name"],
                                     data=_trigger_data(name, trigger, route, query, body, method, headers))]
        ins, outs = _kusto_bindings(raw, name, route, query)
        inputs += [p.ParameterBinding(name=n, data=p.TypedData(string=text))
                   for n, text in fulfil.input_values(ins, host, route, query).items()]
        invocation_id, started = str(uuid.uuid4()), time.monotonic()
        done = worker.request("invocation_request", p.InvocationRequest(
            invocation_id=invocation_id, function_id=metadata.function_id, input_data=inputs,
            trace_context=p.RpcTraceContext(), retry_context=p.RetryContext()))
        duration_ms = round((time.monotonic() - started) * 1000)
        logs = [scrub(log.message, secrets) for log in worker.logs if log.log_category == p.RpcLog.User]
    if done.result.status != p.StatusResult.Success:  # as the host: nothing ingested, a 500, the exception logged
        from ..failure import Failure, failed_answer, user_stack

        exception = done.result.exception
        failure = Failure(name, invocation_id, duration_ms,
                          scrub(exception.message or done.result.result or "no message", secrets),
                          scrub(user_stack(exception.stack_trace, app_dir), secrets))
        answer = failed_answer(trigger["type"] == "httpTrigger")
        return InvokeResult(*answer, [], warnings, logs, failure=failure)
    sent_data = {binding.name: binding.data for binding in done.output_data}
    if done.HasField("return_value"):
        sent_data["$return"] = done.return_value
    sent = [(model, kind, getattr(sent_data[model.name], kind)) for model in outs
            if model.name in sent_data and (kind := sent_data[model.name].WhichOneof("data"))]
    receipts = fulfil.flush_outputs(sent, host, route, query)
    if trigger["type"] != "httpTrigger":
        return InvokeResult(None, {}, b"", receipts, warnings, logs)
    return InvokeResult(*_http_response(name, sent_data.get("$return")), receipts, warnings, logs)


def _kusto_bindings(raw: list[dict], name: str, route, query) -> tuple[list, list]:
    """(inputs, outputs): the function's kusto bindings from the worker's raw metadata, all checked."""
    from .. import fulfil

    inputs, outputs = [], []
    for data in raw:
        if str(data.get("type", "")).lower() != "kusto":
            continue
        direction = "in" if str(data.get("direction", "")).lower() in ("in", "0") else "out"
        model = fulfil.kusto_binding(data, direction, data["name"], name)
        fulfil.check_expressions(model, route, query, name)
        (inputs if direction == "in" else outputs).append(model)
    return inputs, outputs


__all__ = ["invoke_in_worker"]
