"""`kfx-notebook invoke`: run one function of an exported app locally, its Kusto bindings fulfilled.

The rule it keeps: the app's bindings run through the one binding runner (kfx_notebook.run) with
the settings of the app's own local.settings.json, then the environment, exactly as the Functions
host would look them up (no embedded fallback: a missing setting fails as it would when deployed);
no secret is printed. This module is the command and the result type; `library` is the path that
loads the app with the real azure-functions library, `worker` (--worker) the path that runs it in
the real Python worker with kfx-notebook as the host, `fulfil` the bindings, `http` the request,
`host_json` what the host does with the worker's values, `worker_model` what the worker checks
and sends (for the library path) and `failure` what the host answers and logs when the function raises.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KfxError

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 404: "Not Found",
           500: "Internal Server Error"}


@dataclass(frozen=True)
class InvokeResult:
    """What the invocation returned. `status` is None for a non-HTTP trigger (e.g. a timer)."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    ingested: list = field(default_factory=list)      # IngestReceipt per output binding that ingested rows
    warnings: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)     # what the function logged (--worker: its User RpcLogs)
    failure: Any = None                               # failure.Failure when the function raised (status 500)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def invoke(app_dir: str | Path, function: str, route: dict[str, str] | None = None,
           query: dict[str, str] | None = None, body: bytes | str | None = None,
           connection_string: str | None = None, method: str | None = None,
           headers: dict[str, str] | None = None, worker: bool = False, python: str | None = None) -> InvokeResult:
    """Invoke one function of an exported Python v2 app, with its kusto bindings served by the backends.

    `worker=True` runs it in the real Python worker (azure-functions-runtime) in a child process,
    kfx-notebook acting as the Functions host (`worker`); `python` is the interpreter its
    environment is created with when the app has no .venv.
    """
    if worker:
        from .worker import invoke_in_worker

        return invoke_in_worker(app_dir, function, route=route, query=query, body=body,
                                connection_string=connection_string, method=method, headers=headers, python=python)
    if python:
        raise KfxError("--python only applies with --worker", hint="Add --worker, or drop --python.")
    from .library import invoke_with_library

    return invoke_with_library(app_dir, function, route=route, query=query, body=body,
                               connection_string=connection_string, method=method, headers=headers)


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
    parser.add_argument("--worker", action="store_true",
                        help="run the function in the real Azure Functions Python worker (azure-functions-runtime) "
                             "in a child process, kfx-notebook acting as the host")
    parser.add_argument("--python", default=None, metavar="PATH",
                        help="with --worker: the Python (>= 3.13) to create the worker's environment with "
                             "(default: the newest found; the app's .venv is used when present)")


def run(args: argparse.Namespace) -> int:
    from ..display import scrub
    from ..settings import secret_values

    body = args.body
    if body is not None and body.startswith("@"):
        body = Path(body[1:]).read_bytes()
    result = invoke(args.app_dir, args.function, route=_pairs(args.route, "--route"),
                    query=_pairs(args.query, "--query"), body=body, connection_string=args.connection_string,
                    method=args.method, worker=args.worker, python=args.python)
    secrets = secret_values(args.connection_string or "")
    for line in result.logs:
        print(f"log: {scrub(line, secrets)}", file=sys.stderr)
    for line in result.warnings:
        print(f"warning: {scrub(line, secrets)}", file=sys.stderr)
    for receipt in result.ingested:
        print(f"ingested {receipt.rows} row{'s' if receipt.rows != 1 else ''} into {receipt.table} "
              f"({receipt.data_format}, {receipt.path}, {receipt.status})", file=sys.stderr)
    if result.failure is not None:   # as the host logs it; the answer (500 for HTTP) is printed below
        for line in result.failure.log_lines():
            print(scrub(line, secrets), file=sys.stderr)
    if result.status is None:
        print("(no HTTP response: not an HTTP trigger)")
        return 0 if result.failure is None else 1
    print(f"HTTP/1.1 {result.status} {REASONS.get(result.status, '')}".rstrip())
    for key, value in result.headers.items():
        print(f"{key}: {value}")
    print()
    print(scrub(result.text(), secrets))
    return 0 if result.status < 400 else 1
