"""kfx-notebook as the Functions host of one worker process: the gRPC EventStream server and the worker's life.

The rule it keeps: the worker is started and spoken to as the Functions host does it — a
gRPC server on loopback (an ephemeral port), the worker process started with `--host
--port --workerId --requestId --grpcMaxMessageLength`, the app's settings in its
environment, the app folder as its working directory; the worker opens EventStream and
says StartStream; every request gets the response whose request_id matches; RpcLog
messages are collected, never mistaken for a response. The child is always ended when
the host closes, and its own error output is shown when it stops early.
"""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...display import scrub
from ...errors import KfxError
from .rpc import EVENT_STREAM, protos

HOST_VERSION = "4.1040.0"  # reported to the worker as the host's version (the Functions v4 line)
START_TIMEOUT = 120.0       # seconds for the worker's interpreter to import the library and connect
REPLY_TIMEOUT = 300.0       # seconds for one request (indexing imports the app; an invocation runs it)
MAX_MESSAGE = 2**31 - 1
PROXY = Path(__file__).with_name("proxy.py")


class _Stream:
    """The server's side of one EventStream: what the worker sent (inbox), what to send it (outbox)."""

    def __init__(self):
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()

    def handle(self, incoming, context):
        threading.Thread(target=self._read, args=(incoming,), daemon=True).start()
        while (message := self.outbox.get()) is not None:
            yield message

    def _read(self, incoming) -> None:
        import grpc

        try:
            for message in incoming:
                self.inbox.put(message)
        except grpc.RpcError:
            pass
        self.inbox.put(None)


class WorkerHost:
    """`with WorkerHost(python, app_dir, app_settings, secrets) as host: host.request("worker_init_request", ...)`.

    The app's settings go into the worker's environment, as the host's do; `secrets` are
    masked in anything of the worker's shown (its error output).
    """

    def __init__(self, python: Path, app_dir: Path, app_settings: dict[str, str], secrets: list[str]):
        self.python, self.app_dir, self.app_settings, self.secrets = python, app_dir, app_settings, secrets
        self.logs: list = []  # RpcLog messages, in the order the worker sent them
        self._stream = _Stream()
        self._server = None
        self._child: subprocess.Popen | None = None
        self._stderr = None

    def __enter__(self) -> "WorkerHost":
        import grpc

        messages = protos()
        options = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
        self._server = grpc.server(ThreadPoolExecutor(max_workers=2), options=options)
        service, method = EVENT_STREAM.strip("/").split("/")
        handler = grpc.stream_stream_rpc_method_handler(
            self._stream.handle, request_deserializer=messages.StreamingMessage.FromString,
            response_serializer=lambda m: m.SerializeToString())
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, {method: handler})])
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        try:
            self._start_worker(port)
            first = self._next(START_TIMEOUT, "connect")
            if first.WhichOneof("content") != "start_stream":
                raise KfxError(f"the worker opened the stream with {first.WhichOneof('content')}, not StartStream",
                               hint="Check the worker library version (azure-functions-runtime).")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_worker(self, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(self.app_settings)
        env.update({"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsScriptRoot": str(self.app_dir),
                    "PYTHONUNBUFFERED": "1"})
        self._stderr = tempfile.TemporaryFile()
        command = [str(self.python), "-P", str(PROXY), "--host", "127.0.0.1", "--port", str(port),
                   "--workerId", str(uuid.uuid4()), "--requestId", str(uuid.uuid4()),
                   "--grpcMaxMessageLength", str(MAX_MESSAGE)]
        self._child = subprocess.Popen(command, cwd=self.app_dir, env=env, stdin=subprocess.DEVNULL,
                                       stdout=self._stderr, stderr=self._stderr)

    def _next(self, timeout: float, waiting_for: str):
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._stream.inbox.get(timeout=0.2)
            except queue.Empty:
                if self._child.poll() is not None:
                    raise self._died(waiting_for) from None
                if time.monotonic() > deadline:
                    raise KfxError(f"the worker did not answer {waiting_for} within {timeout:.0f} s",
                                   hint="Run the app's function_app.py in the worker's Python to see why.") from None
                continue
            if message is None:
                raise self._died(waiting_for)
            if message.WhichOneof("content") == "rpc_log":
                self.logs.append(message.rpc_log)
                continue
            return message

    def _died(self, waiting_for: str) -> KfxError:
        self._child.wait(timeout=10)
        self._stderr.seek(0)
        output = scrub(self._stderr.read().decode("utf-8", "replace"), self.secrets)
        tail = output.strip().splitlines()[-1:] or ["no output"]
        return KfxError(f"the worker process stopped (exit code {self._child.returncode}) before {waiting_for}: "
                        f"{tail[0]}", hint="Check the worker's environment installs the app's requirements.")

    def request(self, field: str, message, timeout: float = REPLY_TIMEOUT):
        """Send one request (StreamingMessage field `field`) and return the worker's response payload."""
        request_id = str(uuid.uuid4())
        self._stream.outbox.put(protos().StreamingMessage(request_id=request_id, **{field: message}))
        while True:
            reply = self._next(timeout, field)
            if reply.request_id == request_id:
                return getattr(reply, reply.WhichOneof("content"))

    def __exit__(self, *exc) -> None:
        self._stream.outbox.put(None)  # ends the stream: the worker's loop returns
        if self._child is not None:
            try:
                self._child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        if self._server is not None:
            self._server.stop(grace=None)
        if self._stderr is not None:
            self._stderr.close()
