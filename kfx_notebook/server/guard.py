"""The one door of `kfx-notebook serve`: which requests may reach a route at all, decided from headers alone.

Pure: no I/O, standard library only. One rule: a request is admitted before its body is
read, or refused as a OneApiError that says what to do -- the way Jupyter Server guards
its loopback port (check_host, check_origin): the Host must be a loopback name or address
or one the user allowed (DNS rebinding); a browser's Origin must be loopback or allowed
(a web page the user visits cannot drive the server); a JSON route takes only
application/json and no route takes the content types a browser may post without asking
(the CSRF "simple request"); the body's declared length is within the route's limit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .limits import Limits, TooLarge, flag_of
from .protocol import BODY_JSON, BODY_NONE, BadRequest, Protocol, Route

#: Content types an HTML form or a no-cors fetch may send cross-site without a preflight.
BROWSER_SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
ANY_HOST = "*"


@functools.lru_cache(maxsize=256)  # a server sees a handful of Host values, on every request
def is_loopback_host(host: str) -> bool:
    """'localhost', 127.0.0.0/8 or ::1 (no port, no brackets): the one loopback rule, backends.cluster's."""
    from ..backends.cluster import is_loopback

    return is_loopback(f"http://[{host}]" if ":" in host else f"http://{host}")


def host_name(value: str) -> str | None:
    """The host of a Host header ('name', 'name:port', '[v6]', '[v6]:port'), lowercased; None if malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[1:end], value[end + 1:]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return name.lower() if name else None
    name, colon, port = value.partition(":")
    if (colon and not port.isdigit()) or not name or any(c in name for c in "/@ \\"):
        return None
    return name.lower()[:-1] if name.endswith(".") and len(name) > 1 else name.lower()   # `localhost.` is localhost


@dataclass(frozen=True)
class Admitted:
    """A request the guard let through: its route, the route's path parameters, its body length."""

    route: Route
    params: dict[str, str]
    length: int


class Guard:
    """Admits or refuses a request from its method, path and headers (see the module docstring)."""

    def __init__(self, protocol: Protocol, limits: Limits, allow_hosts: Iterable[str] = ()):
        self.protocol = protocol
        self.limits = limits
        self.allow_hosts = frozenset(h.strip().lower().strip("[]") for h in allow_hosts if h.strip())

    def allowed(self, host: str) -> bool:
        return is_loopback_host(host) or host in self.allow_hosts or ANY_HOST in self.allow_hosts

    def admit(self, method: str, path: str, headers: Mapping[str, str], authority: str | None = None) -> Admitted:
        """*authority*: the host of an absolute-form request target (`POST http://name/...`), which HTTP/1.1
        says wins over the Host header: checked the same way."""
        every = headers.get_all("Host") if hasattr(headers, "get_all") else None
        if every is not None and len(every) > 1:
            raise BadRequest("The request has more than one Host header; send one.")
        self._check_host(headers.get("Host"))
        if authority:
            self._check_host(authority)
        self._check_origin(headers.get("Origin"))
        route, params = self.protocol.match(method, path)
        self._check_content_type(route, headers.get("Content-Type"))
        self._check_content_encoding(route, headers.get("Content-Encoding"))
        return Admitted(route, params, self._length(route, headers))

    def _check_host(self, value: str | None) -> None:
        if value is None:
            raise BadRequest("The request has no Host header; send one (HTTP/1.1 requires it).")
        name = host_name(value)
        if name is None:
            raise BadRequest("The request's Host header is not a host name or address.")
        if not self.allowed(name):
            raise BadRequest(f"Host '{name}' is not allowed: this server answers loopback names only. "
                             f"Connect to 127.0.0.1, or start serve with --allow-host {name}.",
                             code="Forbidden_HostNotAllowed", status=403)

    def _check_origin(self, value: str | None) -> None:
        if value is None:
            return  # not a browser, or a same-origin GET: nothing to protect against here
        parts = urlsplit(value.strip())
        try:
            name = (parts.hostname or "") if parts.scheme in ("http", "https") else ""
        except ValueError:
            name = ""
        if not name or not self.allowed(name):
            raise BadRequest("Cross-origin requests from web pages are refused (Origin is not loopback). "
                             "Call the server from a Kusto client, not a browser page, or start serve with "
                             "--allow-host for that page's host.", code="Forbidden_OriginNotAllowed", status=403)

    @staticmethod
    def _check_content_type(route: Route, value: str | None) -> None:
        media = (value or "").split(";", 1)[0].strip().lower()
        if route.body == BODY_JSON and media != "application/json":
            raise BadRequest(f"{route.method} {route.name} takes a JSON body; send Content-Type: application/json.",
                             code="BadRequest_UnsupportedMediaType", status=415)
        if media in BROWSER_SIMPLE_TYPES:
            raise BadRequest(f"Content-Type {media} is refused (it is what a web page can send unasked); "
                             "send the body with its real type (application/octet-stream for data).",
                             code="BadRequest_UnsupportedMediaType", status=415)

    @staticmethod
    def _check_content_encoding(route: Route, value: str | None) -> None:
        """A query or command body is one UTF-8 JSON document (the Kusto REST docs name no request encoding):
        a compressed one would only fail as 'not valid JSON'. Data routes read gzip by its bytes, as Kusto does."""
        encoding = (value or "").strip().lower()
        if route.body == BODY_JSON and encoding not in ("", "identity"):
            raise BadRequest(f"{route.method} {route.name} takes its JSON body uncompressed; Content-Encoding "
                             f"{encoding[:40]!r} is not accepted here. Send the body as is.",
                             code="BadRequest_UnsupportedMediaType", status=415)

    def _length(self, route: Route, headers: Mapping[str, str]) -> int:
        if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            raise BadRequest("Chunked request bodies are not supported; send Content-Length.",
                             code="BadRequest_LengthRequired", status=411)
        text = (headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            raise BadRequest("Content-Length is not a valid length; send the body's size in bytes.")
        length = int(text)
        if route.body == BODY_NONE and length:
            raise BadRequest(f"{route.method} {route.name} takes no body; send none.")
        field = "max_json_bytes" if route.body == BODY_JSON else "max_body_bytes"
        limit = getattr(self.limits, field)
        if length > limit:
            raise BadRequest(TooLarge(f"The request body ({length:,} bytes)", limit, flag_of(field)).message,
                             code="BadRequest_RequestTooLarge", status=413)
        return length
