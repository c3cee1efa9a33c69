"""The HTTP server of `kfx-notebook serve`, and `LocalServer` to start and stop it from Python.

Standard library only (ThreadingHTTPServer, HTTP/1.1 keep-alive, one thread per
connection). One rule: this layer only moves bytes, within limits: every request passes
the one guard (guard.Guard: Host, Origin, route, content type, declared length) before its
body is read; reading it has a deadline (Limits.request_timeout from its first byte, so a
client trickling bytes is cut off) and an idle timeout; then `protocol.Protocol` answers and
the `Reply` is written. Nothing a client sends can raise out of a handler thread.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from .allocator import keep_freed_memory
from .guard import Guard
from .limits import Limits
from .protocol import BadRequest, Protocol, Reply, Request, _bad_request_reply

DEFAULT_DATABASE = "NetDefaultDB"


#: The stdlib's 5xx answers to a client's request line, as the client mistakes they are.
STDLIB_REFUSALS: dict[int, tuple[int, str]] = {
    501: (405, "This method is not supported; use GET, POST, PUT or DELETE."),
    505: (400, "This HTTP version is not supported; use HTTP/1.1."),
}


class _DeadlineSocket(io.RawIOBase):
    """The socket's reading side with two clocks: idle until a request's first byte, then its deadline."""

    def __init__(self, sock: socket.socket, limits: Limits):
        self.sock, self.limits = sock, limits
        self.deadline: float | None = None   # set at the first byte of a request, cleared after it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.deadline is None:
            self.sock.settimeout(self.limits.idle_timeout)
        else:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request deadline passed")
            self.sock.settimeout(min(left, self.limits.idle_timeout))
        count = self.sock.recv_into(buffer)
        if count and self.deadline is None:
            self.deadline = time.monotonic() + self.limits.request_timeout
        return count


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kfx-notebook-serve"
    sys_version = ""
    default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line back

    def setup(self) -> None:
        super().setup()
        self.reader = _DeadlineSocket(self.connection, self.server.limits)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except TimeoutError:
            self.close_connection = True  # the deadline passed while reading the request line or headers
        except ConnectionError:
            self.close_connection = True  # the client reset or closed its side: nothing to answer, nothing to log
        finally:
            self.reader.deadline = None  # the next request's clock starts at its first byte

    def send_error(self, code, message=None, explain=None):
        """Errors the stdlib raises before routing (bad request line, bad headers) as 4xx OneApiErrors."""
        self.close_connection = True
        status, message = STDLIB_REFUSALS.get(code, (code, message or explain or "The request could not be parsed."))
        self._send(_bad_request_reply(BadRequest(message, code="BadRequest_InvalidRequest", status=status)))

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        try:
            reply = self._reply()
        except BadRequest as exc:
            reply = _bad_request_reply(exc, self.headers.get("x-ms-client-request-id") or "")
            self.close_connection = True  # the body (if any) was not read; the connection cannot be reused
        except TimeoutError:
            reply = _bad_request_reply(BadRequest(
                f"The request was not received within {self.server.limits.request_timeout:g} s; send it faster, "
                "or start serve with a larger --request-timeout.", code="BadRequest_RequestTimeout", status=408))
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - the last guard: a broken handler must not kill the thread's server
            reply = _bad_request_reply(BadRequest(f"The request could not be read ({type(exc).__name__}).",
                                                  status=400))
            self.close_connection = True
        self._send(reply)

    def _reply(self) -> Reply:
        url = urlsplit(self.path)
        admitted = self.server.guard.admit(self.command, url.path, self.headers, authority=url.netloc or None)
        body = self.rfile.read(admitted.length) if admitted.length else b""
        if len(body) != admitted.length:
            raise BadRequest("The request body ended before Content-Length bytes; send the whole body.")
        query = {}
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            query.setdefault(key, value)
        request = Request(self.command, url.path, query, self.headers, body)
        return self.server.protocol.handle(request, (admitted.route, admitted.params))

    def _send(self, reply: Reply) -> None:
        self.connection.settimeout(self.server.limits.idle_timeout)  # a slow reader gets the idle time per write
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
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve


class KustoHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that carries the protocol, its guard and its limits."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, protocol: Protocol, guard: Guard, *, verbose: bool = False):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        keep_freed_memory()  # process-wide: answers reuse freed pages instead of faulting them in (allocator.py)
        self.protocol = protocol
        self.guard = guard
        self.limits = guard.limits
        self.verbose = verbose
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)

    def process_request(self, request, client_address) -> None:
        """A thread for the connection while there are slots; past Limits.max_connections, a 429 and close."""
        if not self._slots.acquire(blocking=False):
            self._refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse_busy(self, request: socket.socket) -> None:
        reply = _bad_request_reply(BadRequest(
            f"The server has {self.limits.max_connections} connections open, its limit; close idle ones, retry "
            "later, or start serve with a larger --max-connections.", code="TooManyRequests", status=429))
        head = (f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
        try:
            request.settimeout(1.0)  # this runs on the accepting thread: never wait long on one client
            request.sendall(head.encode() + reply.body)
        except OSError:
            pass


class LocalServer:
    """Serve a local database over the Kusto REST protocol on a background thread.

    ``with LocalServer() as srv: KustoClient(srv.url)...`` -- port 0 picks a free port;
    ``db_file=None`` serves a fresh in-memory database of its own; a ``db_file`` is shared with
    any LocalBackend of the process open on the same file; ``backend=`` serves an
    existing LocalBackend (for example ``LocalBackend.open(None)``, the notebook's one).
    ``limits=Limits(...)`` changes what one client may send (limits.py); ``allow_hosts=["name"]``
    answers Host and Origin names beyond loopback ("*" any: only behind something that checks them).
    ``max_body_bytes=`` is the older spelling of ``Limits.max_body_bytes``.
    Starting a server sets glibc's trim and mmap thresholds for the whole process (allocator.py):
    large answers reuse freed pages, and the process may stay up to 64 MB per arena larger.
    """

    def __init__(self, db_file: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 database: str = DEFAULT_DATABASE, backend=None, limits: Limits | None = None,
                 allow_hosts: Iterable[str] = (), max_body_bytes: int | None = None, verbose: bool = False):
        self.db_file = db_file
        self.host = host
        self.requested_port = port
        self.database = database
        self.limits = limits or Limits()
        if max_body_bytes is not None:
            self.limits = dataclasses.replace(self.limits, max_body_bytes=max_body_bytes)
        self.allow_hosts = tuple(allow_hosts)
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
        from .ingestion import QueuedIngestion

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
        storage = QueuedIngestion(self._backend, self.limits)
        protocol = Protocol(self._backend, default_database=self.database, storage=storage, limits=self.limits)
        guard = Guard(protocol, self.limits, self.allow_hosts)
        self._server = KustoHTTPServer((self.host, self.requested_port), protocol, guard, verbose=self.verbose)
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

