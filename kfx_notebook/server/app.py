"""The HTTP server for `kfx-notebook serve`, and `LocalServer` to start and stop it from Python.

Standard library only (ThreadingHTTPServer, HTTP/1.1 keep-alive, one thread per
connection). One rule: this layer only moves bytes: it bounds what it reads (size, time),
hands a `Request` to `protocol.Protocol` and writes the `Reply`; nothing a client sends
can raise out of a handler thread or stop the server.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from .protocol import BadRequest, Protocol, Reply, Request, _bad_request_reply

DEFAULT_DATABASE = "NetDefaultDB"
DEFAULT_MAX_BODY = 128 * 1024 * 1024   # above the SDK's 64 MiB single-shot blob upload
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kfx-notebook-serve"
    sys_version = ""
    timeout = 60  # seconds a connection may sit idle or trickle a body
    default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line back

    def send_error(self, code, message=None, explain=None):
        """Errors the stdlib raises before routing (bad request line, bad headers, 501) as OneApiErrors."""
        self.close_connection = True
        self._send(_bad_request_reply(BadRequest(message or explain or "The request could not be parsed.",
                                                 code="BadRequest_InvalidRequest", status=code)))

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        try:
            reply = self._reply()
        except Exception as exc:  # noqa: BLE001 - the last guard: a broken handler must not kill the thread's server
            reply = _bad_request_reply(BadRequest(f"The request could not be read ({type(exc).__name__}).",
                                                  status=400))
            self.close_connection = True
        self._send(reply)

    def _reply(self) -> Reply:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return _bad_request_reply(BadRequest("Chunked request bodies are not supported; send Content-Length.",
                                                 code="BadRequest_LengthRequired", status=411))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return _bad_request_reply(BadRequest("Content-Length is not a valid length."))
        if length > self.server.max_body_bytes:
            self.close_connection = True  # the body is not read; the connection cannot be reused
            return _bad_request_reply(BadRequest(
                f"The request body ({length:,} bytes) is larger than this server accepts "
                f"({self.server.max_body_bytes:,} bytes).", code="BadRequest_RequestTooLarge", status=413))
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            self.close_connection = True
            return _bad_request_reply(BadRequest("The request body ended before Content-Length bytes."))
        url = urlsplit(self.path)
        query = {}
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            query.setdefault(key, value)
        return self.server.protocol.handle(Request(self.command, url.path, query, self.headers, body))

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class KustoHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that carries the protocol object and its limits."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, protocol: Protocol, *, max_body_bytes: int, verbose: bool = False):
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.protocol = protocol
        self.max_body_bytes = max_body_bytes
        self.verbose = verbose


class LocalServer:
    """Serve a local database over the Kusto REST protocol on a background thread.

    ``with LocalServer() as srv: KustoClient(srv.url)...`` -- port 0 picks a free port;
    ``db_file=None`` serves a fresh in-memory database of its own; a ``db_file`` is shared with
    any LocalBackend of the process open on the same file; ``backend=`` serves an
    existing LocalBackend (for example ``LocalBackend.open(None)``, the notebook's one).
    """

    def __init__(self, db_file: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 database: str = DEFAULT_DATABASE, backend=None, max_body_bytes: int = DEFAULT_MAX_BODY,
                 verbose: bool = False):
        self.db_file = db_file
        self.host = host
        self.requested_port = port
        self.database = database
        self.max_body_bytes = max_body_bytes
        self.verbose = verbose
        self._backend = backend
        self._owns_backend = backend is None
        self._server: KustoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def backend(self):
        return self._backend

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalServer is not started; call start() or use it in a with block")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def connection_string(self) -> str:
        return f"Data Source={self.url};Database={self.database}"

    def start(self) -> LocalServer:
        if self._server is not None:
            return self
        from .ingestion import Storage

        if self._backend is None:
            from ..backends.local import LocalBackend

            if self.db_file:
                # One backend per file in a process: DuckDB refuses to attach a file twice, and the
                # notebook's own cells may already have it open. Shared, so stop() leaves it open.
                self._backend = LocalBackend.open(self.db_file)
                self._owns_backend = False
            else:
                self._backend = LocalBackend(None)  # a fresh in-memory database of its own
        with self._backend.lock:
            self._backend.catalog.ensure_database(self.database)
        storage = Storage(self._backend, self.max_body_bytes)
        protocol = Protocol(self._backend, default_database=self.database, storage=storage)
        self._server = KustoHTTPServer((self.host, self.requested_port), protocol,
                                       max_body_bytes=self.max_body_bytes, verbose=self.verbose)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"kfx-serve:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until stop() is called from another thread (or KeyboardInterrupt)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
        if self._owns_backend and self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"LocalServer({self.db_file or 'memory'}, {state}, database={self.database!r})"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
