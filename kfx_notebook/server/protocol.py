"""The Kusto REST routes over a LocalBackend, and errors as OneApiError replies.

Transport-free: `Protocol.handle(Request) -> Reply`, so the HTTP layer (http_server.py) only
moves bytes, after guard.py has admitted the request against ROUTES. One rule: every request
gets a reply a Kusto client understands. A request we cannot serve gets a 4xx with a
OneApiErrors body (or an Azure Storage error on the storage routes), never an exception out
of `handle`, so no request can stop the server.
Routes and error kinds are tables (ROUTES, ERROR_KINDS, DM_COMMANDS).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import (
    IngestionError,
    KfxError,
    KustoSemanticError,
    KustoSyntaxError,
    ResultTruncatedError,
    UnknownEntityError,
    UnsupportedError,
)
from . import wire
from .ingestion import (
    AUTHORIZATION_CONTEXT,
    CONTAINER,
    RESOURCES,
    QueuedIngestion,
    StorageError,
    gunzip,
    messages_xml,
    storage_error_xml,
)
from .limits import Limits, TooLarge

JSON = "application/json; charset=utf-8"
XML = "application/xml"


@dataclass
class Request:
    method: str
    path: str                                   # percent-encoded path, no query
    query: dict[str, str]                       # first value of each query parameter
    headers: Mapping[str, str]                  # case-insensitive mapping
    body: bytes = b""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """The request itself is malformed (not JSON, no csl, ...): a permanent 400."""

    def __init__(self, message: str, code: str = "BadRequest_InvalidArgument", status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True)
class ErrorKind:
    """How one kind of engine error goes on the wire: HTTP status and OneApiError code
    (https://learn.microsoft.com/kusto/api/rest/response-v2)."""

    code: str | None          # None: the exception's own .code
    type_name: str
    prefix: str               # put before the message in @message
    strip: str                # a prefix the engine's message already carries
    with_hint: bool


#: kfx error class -> wire form. Looked up along the class's MRO, most specific first.
ERROR_KINDS: dict[type, ErrorKind] = {
    KustoSyntaxError: ErrorKind("BadRequest_SyntaxError", "Kusto.Data.Exceptions.SyntaxException",
                                "Syntax error: SYN0002: ", "Syntax error: ", False),
    KustoSemanticError: ErrorKind("General_BadRequest", "Kusto.Data.Exceptions.SemanticException",
                                  "Semantic error: SEM0100: ", "Semantic error: ", False),
    UnsupportedError: ErrorKind(None, "Kusto.Data.Exceptions.KustoBadRequestException", "", "", True),
    IngestionError: ErrorKind(None, "Kusto.DataNode.Exceptions.IngestionException", "", "", True),
    KfxError: ErrorKind(None, "Kusto.Data.Exceptions.KustoBadRequestException", "", "", True),
}
# An unknown mapping or database is not a query's semantic error: Kusto reports it as an entity.
ENTITY_NOT_FOUND = ErrorKind("BadRequest_EntityNotFound", "Kusto.Data.Exceptions.EntityNotFoundException",
                             "", "", True)
GENERIC_MESSAGE = "Request is invalid and cannot be executed."


def error_body(exc: KfxError, client_request_id: str = "") -> tuple[int, bytes]:
    """A kfx error -> (HTTP status, OneApiErrors body) that makes the SDK raise KustoApiError."""
    kind = next(ERROR_KINDS[c] for c in type(exc).__mro__ if c in ERROR_KINDS)
    if isinstance(exc, UnknownEntityError) and not exc.message.startswith("Semantic error:"):
        kind = ENTITY_NOT_FOUND
    text = exc.message[len(kind.strip):] if kind.strip and exc.message.startswith(kind.strip) else exc.message
    detail = kind.prefix + text
    if exc.line:
        # Kusto's convention, which ClusterBackend reads back: line 1-based, position 0-based in the line.
        detail += f" [line:position={exc.line}:{max((exc.column or 1) - 1, 0)}]"
    if kind.with_hint and exc.hint:
        detail += f" {exc.hint}"
    status = 400 if exc.permanent else 503
    return status, wire.one_api_error(kind.code or exc.code, GENERIC_MESSAGE, detail, type_name=kind.type_name,
                                      permanent=exc.permanent, client_request_id=client_request_id)


def _bad_request_reply(exc: BadRequest, client_request_id: str = "") -> Reply:
    return Reply(exc.status, wire.one_api_error(exc.code, GENERIC_MESSAGE, exc.message,
                                                type_name="Kusto.Data.Exceptions.KustoBadRequestException",
                                                permanent=True, client_request_id=client_request_id))


# -- request bodies ------------------------------------------------------------------------------
@dataclass
class QueryRequest:
    database: str
    csl: str
    parameters: dict[str, Any]
    options: dict[str, Any]
    client_request_id: str


def parse_json(data: bytes | str, what: str = "The request body") -> Any:
    """JSON from a client: anything that does not parse (bad UTF-8, bad syntax, nesting too deep) is a 400."""
    try:
        return json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"{what} is not valid JSON ({str(exc).splitlines()[0][:200]}).") from None
    except RecursionError:
        raise BadRequest(f"{what} is nested too deeply to parse; flatten it.") from None


def parse_query_request(request: Request, default_database: str) -> QueryRequest:
    body = parse_json(request.body or b"null", "The request body (send {\"db\": ..., \"csl\": ...})")
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object {\"db\": ..., \"csl\": ..., \"properties\": ...}.")
    csl = body.get("csl")
    if csl is not None and not isinstance(csl, str):
        raise BadRequest(f"The request's 'csl' is a JSON {type(csl).__name__}; send the query or command text "
                         "as a string.")
    if not isinstance(csl, str) or not csl.strip():
        raise BadRequest("The request has no 'csl' (the query or command text). Put it in the body's 'csl'.")
    database = body.get("db") or default_database
    if not isinstance(database, str):
        raise BadRequest("The request's 'db' must be a string naming the database.")
    props = body.get("properties")
    if isinstance(props, str):
        props = parse_json(props, "The request's 'properties' string") if props.strip() else {}
    props = props or {}
    if not isinstance(props, dict):
        raise BadRequest("The request's 'properties' must be a JSON object or a JSON string of one.")
    options, parameters = props.get("Options") or {}, props.get("Parameters") or {}
    if not isinstance(options, dict) or not isinstance(parameters, dict):
        raise BadRequest("'properties.Options' and 'properties.Parameters' must be JSON objects.")
    request_id = (request.headers.get("x-ms-client-request-id") or props.get("ClientRequestId")
                  or options.get("client_request_id") or f"KFX.serve;{uuid.uuid4()}")
    return QueryRequest(database, csl, dict(parameters), dict(options), str(request_id))


# -- the protocol --------------------------------------------------------------------------------
#: Data-management commands the ingest SDK sends to NetDefaultDB; answered here, not by the engine.
DM_COMMANDS: dict[str, str] = {
    ".get ingestion resources": "_ingestion_resources",
    ".get kusto identity token": "_identity_token",
}

_QUEUES = "|".join(re.escape(p) for p in RESOURCES.values() if p != CONTAINER)
_CONTAINER = re.escape(CONTAINER)

BODY_JSON, BODY_DATA, BODY_NONE = "json", "data", "none"


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path pattern, the Protocol method that serves it, the body it takes."""

    method: str
    pattern: re.Pattern
    handler: str
    body: str          # BODY_JSON (application/json only), BODY_DATA (bytes), BODY_NONE

    @property
    def name(self) -> str:
        return self.pattern.pattern.strip("^$").replace("/?", "")


#: Every endpoint. Storage routes answer only the names the ingestion resources hand out.
ROUTES: list[Route] = [Route(m, re.compile(p), h, b) for m, p, h, b in [
    ("POST", r"^/v2/rest/query/?$", "query_v2", BODY_JSON),
    ("POST", r"^/v1/rest/query/?$", "query_v1", BODY_JSON),
    ("POST", r"^/v1/rest/mgmt/?$", "mgmt", BODY_JSON),
    ("POST", r"^/v1/rest/ingest/(?P<db>[^/]+)/(?P<table>[^/]+)/?$", "stream_ingest", BODY_DATA),
    ("GET", r"^/v1/rest/auth/metadata/?$", "auth_metadata", BODY_NONE),
    ("GET", rf"^/(?P<queue>{_QUEUES})/messages$", "get_messages", BODY_NONE),
    ("POST", rf"^/(?P<queue>{_QUEUES})/messages$", "post_message", BODY_DATA),
    ("DELETE", rf"^/(?P<queue>{_QUEUES})/messages/(?P<id>[^/]+)$", "delete_message", BODY_NONE),
    ("PUT", rf"^/(?P<container>{_CONTAINER})/(?P<blob>[^/]+)$", "put_blob", BODY_DATA),
    ("GET", rf"^/(?P<container>{_CONTAINER})/(?P<blob>[^/]+)$", "get_blob", BODY_NONE),
]]


class Protocol:
    """Routes one request to the backend or the storage emulation and encodes the reply."""

    def __init__(self, backend, *, default_database: str, storage: QueuedIngestion, limits: Limits):
        self.backend = backend
        self.default_database = default_database
        self.storage = storage
        self.limits = limits

    @staticmethod
    def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request and its path parameters, or a 404/405 BadRequest."""
        allowed = []
        for route in ROUTES:
            m = route.pattern.match(path)
            if not m:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            return route, {k: unquote(v) for k, v in m.groupdict().items()}
        shown = path if len(path) <= 200 else path[:200] + "..."
        if allowed:
            raise BadRequest(f"{method} is not allowed on {shown}; use {', '.join(allowed)}.",
                             code="BadRequest_MethodNotAllowed", status=405)
        raise BadRequest(f"The requested endpoint '{shown}' does not exist.",
                         code="BadRequest_EndpointNotFound", status=404)

    def handle(self, request: Request, matched: tuple[Route, dict[str, str]] | None = None) -> Reply:
        request_id = request.headers.get("x-ms-client-request-id") or ""
        try:
            route, params = matched or self.match(request.method, request.path)
            return getattr(self, route.handler)(request, **params)
        except BadRequest as exc:
            return _bad_request_reply(exc, request_id)
        except TooLarge as exc:
            return _bad_request_reply(BadRequest(exc.message, code="BadRequest_RequestTooLarge", status=413),
                                      request_id)
        except KfxError as exc:
            status, body = error_body(exc, request_id)
            return Reply(status, body)
        except StorageError as exc:
            return Reply(exc.status, storage_error_xml(exc), XML, {"x-ms-error-code": exc.code})
        except RecursionError:  # the engine's parser recurses per nesting level: the client's text is too deep
            return _bad_request_reply(BadRequest("The request is nested too deeply for the local engine "
                                                 "(parentheses, brackets or JSON); flatten it.",
                                                 code="BadRequest_TooDeep"), request_id)
        except Exception as exc:  # noqa: BLE001 - never let one request stop the server
            return Reply(500, wire.one_api_error("Internal_Error", "Internal error.",
                                                 f"The local server failed on this request: {type(exc).__name__}: "
                                                 f"{str(exc)[:300]}", type_name="System.Exception",
                                                 permanent=False, client_request_id=request_id))

    # -- engine ------------------------------------------------------------------------------------
    def _rows(self, q: QueryRequest):
        """Column types and the answer: an Arrow table for a query, Python rows for a command."""
        return self.backend.query_table(q.database, q.csl, q.parameters or None, q.options or None,
                                        q.client_request_id)

    def query_v2(self, request: Request) -> Reply:
        q = parse_query_request(request, self.default_database)
        try:
            column_types, rows = self._rows(q)
        except ResultTruncatedError as exc:  # Kusto reports this inside a 200 reply
            return Reply(200, truncated_v2(exc, q.client_request_id))
        return Reply(200, wire.v2_response(column_types, rows, client_request_id=q.client_request_id))

    def query_v1(self, request: Request) -> Reply:
        q = parse_query_request(request, self.default_database)
        column_types, rows = self._rows(q)
        return Reply(200, wire.v1_response(column_types, rows))

    def mgmt(self, request: Request) -> Reply:
        q = parse_query_request(request, self.default_database)
        dm = DM_COMMANDS.get(" ".join(q.csl.split()).lower())
        if dm:
            column_types, rows = getattr(self, dm)(request)
        else:
            column_types, rows = self._rows(q)
        return Reply(200, wire.v1_response(column_types, rows))

    def _ingestion_resources(self, request: Request):
        return [("ResourceTypeName", "string"), ("StorageRoot", "string")], \
            self.storage.resource_rows(base_url(request))

    def _identity_token(self, request: Request):
        return [("AuthorizationContext", "string")], [(AUTHORIZATION_CONTEXT,)]

    def auth_metadata(self, request: Request) -> Reply:
        return Reply(200, b'{"AzureAD":null,"dSTS":null}')

    # -- streaming ingestion -----------------------------------------------------------------------
    def stream_ingest(self, request: Request, db: str, table: str) -> Reply:
        fmt = request.query.get("streamFormat") or request.query.get("streamformat")
        if not fmt:
            raise BadRequest("Streaming ingestion needs ?streamFormat=<json|multijson|csv|...>.",
                             code="BadRequest_MissingArgument")
        data = request.body
        if (request.query.get("sourceKind") or "").lower() == "uri":
            body = parse_json(data)
            source = next((body[k] for k in ("sourceUri", "SourceUri") if k in body), None) \
                if isinstance(body, dict) else None
            if not isinstance(source, str):
                raise BadRequest("With sourceKind=uri the body must be {\"sourceUri\": \"<blob url>\"}.")
            _, data = self.storage.blob_from_url(source)
        data = gunzip(data, self.limits, "The stream")
        receipt = self.backend.ingest(db, table, data, data_format=fmt,
                                      mapping_ref=request.query.get("mappingName") or None,
                                      ingestion_type="streaming")
        return Reply(200, wire.v1_response(
            [("ConsumedRecordsCount", "long"), ("UpdatePolicyStatus", "string"),
             ("UpdatePolicyFailureCode", "string"), ("UpdatePolicyFailureReason", "string")],
            [(receipt.rows, "Inactive", "Unknown", None)]))

    # -- storage -----------------------------------------------------------------------------------
    def put_blob(self, request: Request, container: str, blob: str) -> Reply:
        headers = self.storage.put_blob(container, blob, request.body, request.query)
        return Reply(201, b"", "application/octet-stream", {**headers, "x-ms-request-server-encrypted": "false"})

    def get_blob(self, request: Request, container: str, blob: str) -> Reply:
        data = self.storage.get_blob(container, blob)
        return Reply(200, data, "application/octet-stream", {"x-ms-blob-type": "BlockBlob"})

    def post_message(self, request: Request, queue: str) -> Reply:
        message = self.storage.post_message(queue, request.body)
        return Reply(201, messages_xml([message], with_text=False), XML)

    def get_messages(self, request: Request, queue: str) -> Reply:
        peek = request.query.get("peekonly", "").lower() == "true"
        return Reply(200, messages_xml(self.storage.get_messages(queue, request.query), peek=peek), XML)

    def delete_message(self, request: Request, queue: str, id: str) -> Reply:
        self.storage.delete_message(queue, id)
        return Reply(204, b"", XML)


def base_url(request: Request) -> str:
    """The URL the client used to reach us, so storage roots point back at this server."""
    host = request.headers.get("Host") or "127.0.0.1"
    return f"http://{host}"


def truncated_v2(exc: ResultTruncatedError, client_request_id: str) -> bytes:
    """A 200 v2 reply whose result carries the truncation error inline, as Kusto sends it."""
    error = json.loads(wire.one_api_error(exc.code, exc.message, f"{exc.message} {exc.hint or ''}".strip(),
                                          type_name="Kusto.Data.Exceptions.KustoServicePartialQueryFailure"
                                                    "LimitsExceededException", permanent=True,
                                          client_request_id=client_request_id))
    frames = json.loads(wire.v2_response([("Error", "string")], [], client_request_id=client_request_id))
    for frame in frames:
        if frame.get("TableKind") == "PrimaryResult":
            frame["Rows"] = [{"OneApiErrors": [error]}]
        if frame.get("FrameType") == "DataSetCompletion":
            frame["HasErrors"] = True
    return json.dumps(frames, separators=(",", ":")).encode()

