"""`kfx-notebook serve` refuses what does not belong: foreign Host and Origin, browser content types,
gzip bombs (memory measured), slowloris, blobs never ingested, and any limit that is given."""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kfx_notebook.server import Limits, LocalServer
from kfx_notebook.server.guard import Guard
from kfx_notebook.server.limits import LIMIT_OPTIONS, MIB, TooLarge, inflate, limits_from
from kfx_notebook.server.protocol import BODY_DATA, BODY_JSON, BODY_NONE, ROUTES, BadRequest, Protocol

DB = "NetDefaultDB"
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server():
    with LocalServer(allow_hosts=["kusto.example.test"]) as srv:
        yield srv


def _request(port, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _mgmt(port, csl, headers=None):
    return _request(port, "POST", "/v1/rest/mgmt", json.dumps({"db": DB, "csl": csl}).encode(),
                    {**JSON_TYPE, **(headers or {})})


def _one_line_error(body: bytes) -> str:
    message = json.loads(body)["error"]["@message"]
    assert "\n" not in message and "Traceback" not in message
    return message


def _tables(port) -> set[str]:
    status, body = _mgmt(port, ".show tables")
    assert status == 200
    return {row[0] for row in json.loads(body)["Tables"][0]["Rows"]}


# -- Host: loopback names and addresses, or what the user allowed -----------------------------------
@pytest.mark.parametrize("host", [
    pytest.param("localhost", id="localhost"),
    pytest.param("LocalHost:8080", id="localhost-any-case-with-port"),
    pytest.param("127.0.0.1", id="ipv4-loopback"),
    pytest.param("127.9.8.7:1", id="any-127-address"),
    pytest.param("[::1]", id="ipv6-loopback"),
    pytest.param("[::1]:8080", id="ipv6-loopback-with-port"),
    pytest.param("kusto.example.test:443", id="allowed-by-allow-hosts"),
    pytest.param("localhost.:8080", id="localhost-as-a-fully-qualified-name"),
])
def test_loopback_and_allowed_hosts_are_answered(server, host):
    status, _ = _mgmt(server.port, ".show tables", {"Host": host})
    assert status == 200


@pytest.mark.parametrize("host, status", [
    pytest.param("evil.example", 403, id="foreign-name"),
    pytest.param("evil.example:8080", 403, id="foreign-name-with-port"),
    pytest.param("localhost.evil.example", 403, id="loopback-name-as-a-prefix"),
    pytest.param("127.0.0.1.nip.io", 403, id="rebinding-name-that-resolves-to-loopback"),
    pytest.param("10.0.0.1", 403, id="lan-address"),
    pytest.param("[::2]:80", 403, id="other-ipv6"),
    pytest.param("0.0.0.0", 403, id="wildcard-address"),
    pytest.param("a:b:c", 400, id="malformed"),
    pytest.param("user@localhost", 400, id="userinfo"),
])
def test_foreign_host_is_refused_before_anything_runs(server, host, status):
    table = f"HostProbe_{uuid.uuid4().hex[:8]}"
    got, body = _mgmt(server.port, f".create table {table} (a:long)", {"Host": host})
    assert got == status
    message = _one_line_error(body)
    if status == 403:
        assert "--allow-host" in message
    assert table not in _tables(server.port)


@pytest.mark.parametrize("head", [
    pytest.param(b"POST /v1/rest/mgmt HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n", id="a-second-host"),
    pytest.param(b"POST http://evil.example/v1/rest/mgmt HTTP/1.1\r\nHost: localhost\r\n",
                 id="absolute-form-target"),
])
def test_a_foreign_host_behind_a_loopback_one_is_refused(server, head):
    table = f"HostProbe_{uuid.uuid4().hex[:8]}"
    body = json.dumps({"db": DB, "csl": f".create table {table} (a:long)"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head + b"Content-Type: application/json\r\nConnection: close\r\n"
                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    assert reply.startswith((b"HTTP/1.1 400", b"HTTP/1.1 403")), reply[:80]
    assert table not in _tables(server.port)


def test_request_without_host_is_refused(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /v1/rest/auth/metadata HTTP/1.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400") and b"Host header" in reply


# -- Origin: a web page the user visits cannot drive the server -----------------------------------------
@pytest.mark.parametrize("origin", [
    pytest.param("http://evil.example", id="foreign-page"),
    pytest.param("https://localhost.evil.example", id="lookalike"),
    pytest.param("null", id="sandboxed-iframe-or-file"),
    pytest.param("file://", id="file-page"),
    pytest.param("chrome-extension://abc", id="extension"),
])
def test_foreign_origin_is_refused(server, origin):
    table = f"OriginProbe_{uuid.uuid4().hex[:8]}"
    status, body = _mgmt(server.port, f".create table {table} (a:long)", {"Origin": origin})
    assert status == 403
    assert "Origin" in _one_line_error(body)
    assert table not in _tables(server.port)


@pytest.mark.parametrize("origin", ["http://localhost:8888", "http://127.0.0.1:3000", "http://[::1]",
                                    "https://kusto.example.test"])
def test_loopback_or_allowed_origin_is_answered(server, origin):
    assert _mgmt(server.port, ".show tables", {"Origin": origin})[0] == 200


# -- content types: JSON routes take JSON; no route takes what a form posts ------------------------------
@pytest.mark.parametrize("path, content_type", [
    pytest.param("/v1/rest/mgmt", "text/plain", id="mgmt-as-text-plain"),
    pytest.param("/v2/rest/query", "text/plain;charset=UTF-8", id="query-as-text-plain"),
    pytest.param("/v1/rest/mgmt", "application/x-www-form-urlencoded", id="mgmt-as-form"),
    pytest.param("/v1/rest/mgmt", None, id="mgmt-without-content-type"),
    pytest.param(f"/v1/rest/ingest/{DB}/CsrfT?streamFormat=csv", "text/plain", id="ingest-as-text-plain"),
    pytest.param(f"/v1/rest/ingest/{DB}/CsrfT?streamFormat=csv", "multipart/form-data; boundary=x",
                 id="ingest-as-multipart"),
    pytest.param("/readyforaggregation-secured/messages", "application/x-www-form-urlencoded",
                 id="queue-as-form"),
])
def test_browser_simple_request_content_types_are_refused(server, path, content_type):
    table = f"CsrfProbe_{uuid.uuid4().hex[:8]}"
    body = json.dumps({"db": DB, "csl": f".create table {table} (a:long)"}).encode() if "rest/" in path \
        and "ingest" not in path else b"1\n"
    status, reply = _request(server.port, "POST", path, body,
                             {"Content-Type": content_type} if content_type else {})
    assert status == 415
    assert "Content-Type" in _one_line_error(reply)
    assert table not in _tables(server.port) and "CsrfT" not in _tables(server.port)


def _example_path(route) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: {"queue": "successfulingestions", "container": "tempstorage"}
                  .get(m.group(1), "x1"), route.name)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method}-{r.handler}")
def test_every_route_declares_its_body_and_the_guard_holds_it_to_that(route):
    guard = Guard(Protocol, Limits())
    right = {BODY_JSON: "application/json; charset=utf-8", BODY_DATA: "application/octet-stream"}.get(route.body)
    headers = {"Host": "localhost", "Content-Length": "0", **({"Content-Type": right} if right else {})}
    admitted = guard.admit(route.method, _example_path(route), headers)
    assert admitted.route == route
    with pytest.raises(BadRequest) as refused:
        guard.admit(route.method, _example_path(route), {**headers, "Content-Type": "text/plain"})
    assert refused.value.status == 415
    if route.body == BODY_NONE:
        with pytest.raises(BadRequest, match="takes no body"):
            guard.admit(route.method, _example_path(route), {**headers, "Content-Length": "5"})


def test_preflight_is_not_granted(server):
    status, body = _request(server.port, "OPTIONS", "/v1/rest/mgmt",
                            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 403 and b"Access-Control-Allow" not in body


# -- gzip bombs, with the server's own memory measured -------------------------------------------------
SERVE_AND_REPORT_RSS = """
import resource, sys
from kfx_notebook.server import Limits, LocalServer
from kfx_notebook.server.guard import Guard
from kfx_notebook.server.protocol import BODY_DATA, BODY_JSON, BODY_NONE, ROUTES, BadRequest, Protocol
srv = LocalServer(limits=Limits(max_inflated_bytes={cap})).start()
print(srv.port, flush=True)
for line in sys.stdin:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
"""


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB (16 members of 64 MiB of zeros)."""
    member = gzip.compress(bytes(64 * MIB), 9)
    return member * 16


@pytest.fixture()
def measured_server(tmp_path):
    cap = 16 * MIB
    proc = subprocess.Popen([sys.executable, "-c", SERVE_AND_REPORT_RSS.format(cap=cap)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())

        def peak_rss() -> int:
            proc.stdin.write("rss\n")
            proc.stdin.flush()
            return int(proc.stdout.readline())

        yield port, cap, peak_rss
    finally:
        proc.stdin.close()
        proc.wait(10)


def test_gzip_bombs_on_both_ingestion_paths_are_413_and_memory_stays_bounded(measured_server, bomb):
    port, cap, peak_rss = measured_server
    assert _mgmt(port, ".create table Bombed (a:string)")[0] == 200
    before = peak_rss()
    stream = f"/v1/rest/ingest/{DB}/Bombed?streamFormat=csv"
    status, body = _request(port, "POST", stream, bomb, {"Content-Encoding": "gzip"})
    assert status == 413
    assert f"{cap:,} bytes" in _one_line_error(body) and "--max-inflated-mb" in _one_line_error(body)
    blob = f"/tempstorage/bomb-{uuid.uuid4().hex}.csv.gz?sv=1"
    status, body = _request(port, "PUT", blob, bomb, {"Content-Type": "application/octet-stream",
                                                        "x-ms-blob-type": "BlockBlob"})
    assert status == 413 and b"RequestBodyTooLarge" in body and b"--max-inflated-mb" in body
    growth = peak_rss() - before
    assert growth < 4 * cap + 64 * MIB, f"the server grew by {growth:,} bytes on a bomb"
    status, body = _request(port, "POST", stream, gzip.compress(b"still here\n"), {})
    assert status == 200 and json.loads(body)["Tables"][0]["Rows"][0][0] == 1


def test_inflate_stops_at_the_cap_and_refuses_what_is_not_one_gzip_stream():
    limits = Limits(max_inflated_bytes=1000)
    assert inflate(gzip.compress(b"a" * 1000), limits) == b"a" * 1000
    assert inflate(gzip.compress(b"ab") + gzip.compress(b"cd"), limits) == b"abcd"
    assert inflate(b"plain", limits) == b"plain"
    with pytest.raises(TooLarge, match="1,000 bytes"):
        inflate(gzip.compress(b"a" * 1001), limits)
    for bad in (gzip.compress(b"x")[:-4], gzip.compress(gzip.compress(b"x")), gzip.compress(b"x") + b"junk"):
        with pytest.raises(ValueError):
            inflate(bad, limits)


# -- slowloris: a request must arrive within its deadline -------------------------------------------------
@pytest.fixture()
def quick_server():
    # blob_ttl: long enough that no stall of a loaded machine expires a blob between two requests
    # that expect it staged, short enough for the expiry tests' wait
    with LocalServer(limits=Limits(request_timeout=1.0, idle_timeout=5.0, blob_ttl=1.5,
                                   max_staged_bytes=MIB)) as srv:
        yield srv


def _trickle(port, head: bytes, *, every: float = 0.25, at_most: int = 60) -> tuple[int, bytes]:
    """Send `head`, then one byte every `every` s until the server hangs up; (bytes trickled, reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        for sent in range(at_most):
            time.sleep(every)
            try:
                s.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                # the server replied and closed while a byte was on its way: the reply is still
                # readable here, as an HTTP client (urllib3) reads it after a failed send
                return sent, _rest_of_reply(s)
            s.setblocking(False)
            try:
                reply = s.recv(65536)
            except BlockingIOError:
                reply = None
            finally:
                s.setblocking(True)
            if reply is not None:
                return sent, reply
    raise AssertionError(f"the server kept a trickling connection for {at_most} bytes")


def _rest_of_reply(s: socket.socket) -> bytes:
    try:
        return s.recv(65536)
    except OSError:
        return b""


@pytest.mark.parametrize("head", [
    pytest.param(b"POST /v2/rest/query HTTP/1.1\r\nHost: localhost\r\n", id="trickled-headers"),
    pytest.param(b"POST /v2/rest/query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{", id="trickled-body"),
])
def test_a_client_trickling_bytes_is_cut_off_and_others_are_served(quick_server, head):
    sent, reply = _trickle(quick_server.port, head)
    assert sent < 40  # cut off long before the 60 bytes (15 s) it would have taken
    if b"Content-Length" in head:
        assert reply.startswith(b"HTTP/1.1 408") and b"--request-timeout" in reply
    assert _mgmt(quick_server.port, ".show tables")[0] == 200


def test_connections_past_the_limit_get_a_429_and_room_comes_back():
    with LocalServer(limits=Limits(max_connections=3, idle_timeout=30)) as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(3)]
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as extra:
                reply = b""
                while chunk := extra.recv(4096):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 429") and b"--max-connections" in reply
        finally:
            for s in held:
                s.close()
        for _ in range(50):  # the held connections' threads end on EOF; then their slots are free again
            try:
                if _mgmt(srv.port, ".show tables")[0] == 200:
                    break
            except (ConnectionError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("no connection slot came back")


# -- blobs never ingested expire; staged blobs are bounded together --------------------------------------------
def _put_blob(port, name, data):
    return _request(port, "PUT", f"/tempstorage/{name}?sv=1", data, {"Content-Type": "application/octet-stream"})


def test_uploaded_blob_never_ingested_expires(quick_server):
    assert _put_blob(quick_server.port, "forgotten.csv", b"1\n")[0] == 201
    assert _request(quick_server.port, "GET", "/tempstorage/forgotten.csv")[0] == 200
    for _ in range(50):  # bounded wait for its 1.5 s time to live to pass
        time.sleep(0.1)
        if _request(quick_server.port, "GET", "/tempstorage/forgotten.csv")[0] == 404:
            break
    else:
        raise AssertionError("the blob did not expire")


def test_staged_blobs_are_bounded_together(quick_server):
    half = bytes(600 * 1024)
    assert _put_blob(quick_server.port, "first.bin", half)[0] == 201
    status, body = _put_blob(quick_server.port, "second.bin", half)
    assert status == 413 and b"--max-staged-mb" in body
    for _ in range(50):  # once the first expires there is room again
        time.sleep(0.1)
        if _put_blob(quick_server.port, "second.bin", half)[0] == 201:
            break
    else:
        raise AssertionError("room never came back after expiry")


# -- limits: one table, each row an option of serve, a field of Limits, a line of the README --------------------
def _readme_limits() -> dict[str, str]:
    security = (Path(__file__).parents[1] / "README.md").read_text().split("## Security", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in security.splitlines()
            if line.startswith("| `")]
    return {row[0].strip("`"): row[1] for row in rows}


README_LIMITS = _readme_limits()


def _serve_parser() -> argparse.ArgumentParser:
    from kfx_notebook.server import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser


@pytest.mark.parametrize("option", LIMIT_OPTIONS, ids=lambda o: o.flag)
def test_every_limit_is_a_serve_option_and_documented(option):
    parser = _serve_parser()
    args = parser.parse_args([option.flag, "3"])
    key = option.flag.lstrip("-").replace("-", "_")
    limits = limits_from(**{key: getattr(args, key)})
    assert getattr(limits, option.field) == 3 * option.scale
    assert getattr(limits_from(), option.field) == getattr(Limits(), option.field)
    assert README_LIMITS[option.flag] == f"{option.default()} {option.unit}"
    assert f"(default: {option.default()} {option.unit})" in " ".join(parser.format_help().split())
    with pytest.raises(SystemExit):
        parser.parse_args([option.flag, "0"])


def test_the_readme_documents_every_limit_and_no_other():
    assert set(README_LIMITS) == {o.flag for o in LIMIT_OPTIONS}


def test_allow_host_is_repeatable():
    args = _serve_parser().parse_args(["--allow-host", "a.test", "--allow-host", "b.test"])
    assert args.allow_host == ["a.test", "b.test"]


def test_limits_refuse_what_is_not_positive():
    with pytest.raises(ValueError, match="request_timeout"):
        Limits(request_timeout=0)


def test_a_gzip_blob_is_inflated_once_and_the_cached_copy_stays_within_the_staging_limit():
    """The upload's size check keeps what it inflated for the ingestion, only while blobs and copies fit the
    staging limit (a copy is dropped first when room is needed); the rows are the same either way."""
    import base64
    import gzip

    from kfx_notebook.backends.local import LocalBackend
    from kfx_notebook.backends.local.commands import run_command
    from kfx_notebook.server.ingestion import CONTAINER, QueuedIngestion

    backend = LocalBackend()
    run_command(backend, "db", ".create table T (a:long)")
    body = b"\n".join(b"%d" % i for i in range(2000)) + b"\n"
    zipped = gzip.compress(body)
    storage = QueuedIngestion(backend, Limits(max_staged_bytes=3 * len(zipped) + len(body) - 1))
    storage.put_blob(CONTAINER, "one.csv.gz", zipped, {})
    assert storage.blobs["one.csv.gz"].inflated == body
    storage.put_blob(CONTAINER, "two.csv.gz", zipped, {})       # a second copy would not fit
    assert storage.blobs["two.csv.gz"].inflated is None
    storage.put_blob(CONTAINER, "three.csv.gz", zipped, {})     # room for the blob: the cached copy goes first
    assert storage.blobs["one.csv.gz"].inflated is None
    for name in ("one.csv.gz", "two.csv.gz"):
        message = {"DatabaseName": "db", "TableName": "T", "BlobPath": f"http://x/{CONTAINER}/{name}",
                   "AdditionalProperties": {"format": "csv"}}
        assert storage.ingest_message(base64.b64encode(json.dumps(message).encode()).decode()).rows == 2000
    assert backend.query("db", "T | count").frame.iloc[0, 0] == 4000
