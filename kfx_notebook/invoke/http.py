"""The HTTP request an invocation sends: route template, method, URL, headers, body. Pure.

The rule it keeps: the request is what the Functions host would hand the function for the same
call on `http://localhost:7071/api/...` — route values filled into the trigger's template (a
missing required one is refused), the method one the trigger accepts.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BindingError

_ROUTE_PARAM = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^{}?]*)?(\?)?\}")
BASE_URL = "http://localhost:7071/api/"


@dataclass(frozen=True)
class HttpCall:
    """One request to an HTTP-triggered function."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def route_names(template: str | None) -> list[tuple[str, bool]]:
    """(name, optional) for each `{name}` / `{name?}` / `{*name}` / `{name:constraint}` of a route template."""
    return [(m[1], bool(m[2])) for m in _ROUTE_PARAM.finditer(template or "")]


def fill_route(template: str | None, values: Mapping[str, str]) -> str:
    """The route template with its values filled in (URL-quoted), empty segments dropped."""
    def repl(m):
        return urllib.parse.quote(values.get(m[1], ""), safe="")

    return re.sub(r"/+", "/", _ROUTE_PARAM.sub(repl, template or "")).strip("/")


def http_call(trigger: Mapping, function_name: str, route: Mapping[str, str], query: Mapping[str, str],
              body: bytes | str | None, method: str | None, headers: Mapping[str, str] | None) -> HttpCall:
    """The request for an httpTrigger (its function.json form), refusing what the host would not route."""
    template = trigger.get("route") or function_name
    for param, optional in route_names(template):
        if param not in route and not optional:
            raise BindingError(f"function {function_name}: route {template!r} needs {{{param}}}",
                               hint=f"Pass --route {param}=VALUE.")
    methods = [str(getattr(m, "value", m)).upper() for m in (trigger.get("methods") or [])]
    verb = (method or (methods[0] if methods else ("POST" if body is not None else "GET"))).upper()
    if methods and verb not in methods:
        raise BindingError(f"function {function_name} accepts {', '.join(methods)}, not {verb}",
                           hint=f"Pass --method {methods[0]}.")
    data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    url = BASE_URL + fill_route(template, route)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request_headers = {"content-type": "application/json"} if data else {}
    request_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    return HttpCall(verb, url, request_headers, data)


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names as the host writes them (Content-Type), whichever case the worker used."""
    return {"-".join(part.capitalize() for part in key.split("-")): value for key, value in headers.items()}
