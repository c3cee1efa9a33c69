"""The worker process: a gRPC client that hands the host's messages to azure-functions-runtime.

The rule it keeps: it runs in the WORKER's interpreter (the app's environment, Python >=
3.13) and does only what the platform's proxy worker does, nothing of kfx-notebook's own:
connect to the host's EventStream, say StartStream, pass each request to the library's
handler unchanged (init, indexing, load, invocation), send back its response, answer
status pings, and forward log records as RpcLog. It imports only the standard library,
grpc, protobuf, rpc.py and the worker library.

    python -P proxy.py --host 127.0.0.1 --port N --workerId ID --requestId ID

(run as a file with -P, so neither its folder nor kfx-notebook's environment is on the
worker's sys.path: rpc.py, beside it, is loaded by its path).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import queue
import sys
import types
from pathlib import Path

# request field -> (library handler, response field)
HANDLERS = {
    "worker_init_request": ("worker_init_request", "worker_init_response"),
    "functions_metadata_request": ("functions_metadata_request", "function_metadata_response"),
    "function_load_request": ("function_load_request", "function_load_response"),
    "invocation_request": ("invocation_request", "invocation_response"),
}
_LEVELS = [(logging.CRITICAL, "Critical"), (logging.ERROR, "Error"), (logging.WARNING, "Warning"),
           (logging.INFO, "Information")]
_SYSTEM = ("azure.functions", "azure_functions_runtime", "grpc")  # the library's loggers, not the function's


class _Forward(logging.Handler):
    """Log records -> RpcLog messages on the stream (user logs as User, the library's as System)."""

    def __init__(self, outbox: queue.Queue, protos, invocation_id):
        super().__init__(logging.INFO)
        self.outbox, self.protos, self.invocation_id = outbox, protos, invocation_id

    def emit(self, record: logging.LogRecord) -> None:
        level = next((name for number, name in _LEVELS if record.levelno >= number), "Debug")
        system = record.name.startswith(_SYSTEM)
        log = self.protos.RpcLog(invocation_id=self.invocation_id.get("") or "", category=record.name,
                                 level=getattr(self.protos.RpcLog, level), message=self.format(record),
                                 log_category=self.protos.RpcLog.System if system else self.protos.RpcLog.User)
        self.outbox.put(self.protos.StreamingMessage(rpc_log=log))


def _outgoing(outbox: queue.Queue):
    while (message := outbox.get()) is not None:
        yield message


def _rpc():
    if __package__:
        from . import rpc

        return rpc
    spec = importlib.util.spec_from_file_location("_kfx_function_rpc", Path(__file__).with_name("rpc.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve(host: str, port: int, worker_id: str, request_id: str, max_message: int) -> None:
    import azure_functions_runtime as runtime
    import grpc

    rpc = _rpc()
    protos = rpc.protos()
    outbox: queue.Queue = queue.Queue()
    logging.getLogger().addHandler(_Forward(outbox, protos, runtime.invocation_id_cv))
    logging.getLogger().setLevel(logging.INFO)
    options = [("grpc.max_send_message_length", max_message), ("grpc.max_receive_message_length", max_message)]
    channel = grpc.insecure_channel(f"{host}:{port}", options=options)
    stream = channel.stream_stream(rpc.EVENT_STREAM, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=protos.StreamingMessage.FromString)
    outbox.put(protos.StreamingMessage(request_id=request_id, start_stream=protos.StartStream(worker_id=worker_id)))
    loop = asyncio.new_event_loop()
    runtime.start_threadpool_executor()
    try:
        for message in stream(_outgoing(outbox)):
            kind = message.WhichOneof("content")
            if kind == "worker_status_request":
                outbox.put(protos.StreamingMessage(request_id=message.request_id,
                                                   worker_status_response=protos.WorkerStatusResponse()))
                continue
            if kind not in HANDLERS:
                continue  # as the platform's worker: a message it has no handler for is ignored
            if kind == "worker_init_request":
                app_dir = message.worker_init_request.function_app_directory
                sys.path.insert(0, app_dir)
                os.chdir(app_dir)
            handler, reply = HANDLERS[kind]
            request = types.SimpleNamespace(request=message, properties={"host": host, "protos": protos})
            response = loop.run_until_complete(getattr(runtime, handler)(request))
            outbox.put(protos.StreamingMessage(request_id=message.request_id, **{reply: response}))
    except grpc.RpcError:
        pass  # the host closed the stream: the worker's work is done
    finally:
        outbox.put(None)
        runtime.stop_threadpool_executor()
        loop.close()
        channel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxy.py")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workerId", required=True)
    parser.add_argument("--requestId", required=True)
    parser.add_argument("--grpcMaxMessageLength", type=int, default=2**31 - 1)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.workerId, args.requestId, args.grpcMaxMessageLength)
    return 0


if __name__ == "__main__":
    sys.exit(main())
