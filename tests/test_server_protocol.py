"""The served endpoint under malformed requests, the wire encodings, the CLI, and many clients at once."""

from __future__ import annotations

import datetime as dt
import gzip
import http.client
import io
import json
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest

from kfx_notebook.server import LocalServer, wire

DB = "NetDefaultDB"


@pytest.fixture(scope="module")
def server():
    with LocalServer(max_body_bytes=1024 * 1024) as srv:
        yield srv


def _post(server, path, body: bytes, headers=None, method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


def _alive(server):
    status, body, _ = _post(server, "/v2/rest/query", json.dumps({"db": DB, "csl": "print ok = 1"}).encode())
    return status == 200 and json.loads(body)[2]["Rows"] == [[1]]


# -- malformed requests ---------------------------------------------------------------------------
@pytest.mark.parametrize("path, body, status", [
    pytest.param("/v2/rest/query", b"{not json", 400, id="bad-json"),
    pytest.param("/v2/rest/query", b"[1, 2]", 400, id="json-not-an-object"),
    pytest.param("/v2/rest/query", json.dumps({"db": DB}).encode(), 400, id="missing-csl"),
    pytest.param("/v2/rest/query", json.dumps({"db": DB, "csl": "   "}).encode(), 400, id="blank-csl"),
    pytest.param("/v2/rest/query", json.dumps({"db": DB, "csl": 5}).encode(), 400, id="csl-not-a-string"),
    pytest.param("/v2/rest/query", json.dumps({"db": DB, "csl": "print 1", "properties": "{oops"}).encode(), 400,
                 id="properties-not-json"),
    pytest.param("/v2/rest/query", json.dumps({"db": DB, "csl": "print 1", "properties": [1]}).encode(), 400,
                 id="properties-not-an-object"),
    pytest.param("/v2/rest/query", b"\xff\xfe\x00garbage", 400, id="not-utf8"),
    pytest.param("/v1/rest/mgmt", json.dumps({"db": DB, "csl": ".frobnicate all"}).encode(), 400,
                 id="unsupported-command"),
    pytest.param("/v1/rest/ingest/NetDefaultDB/T", b"{}", 400, id="ingest-without-format"),
    pytest.param(f"/v1/rest/ingest/{DB}/T?streamFormat=json", b"\x1f\x8b\x08\x00broken", 400, id="bad-gzip"),
    pytest.param(f"/v1/rest/ingest/{DB}/T?streamFormat=xml", b"<a/>", 400, id="unknown-format"),
    pytest.param(f"/v1/rest/ingest/{DB}/T?streamFormat=json", b'{"s": "\\ud800"}', 400, id="lone-surrogate"),
    *(pytest.param("/v1/rest/mgmt", json.dumps({"db": DB, "csl": csl}).encode(), 400, id=f"mgmt-{name}")
      for name, csl in [("column-twice", ".create table D1 (x:long, x:long)"),
                        ("no-columns", ".create table D2 ()"),
                        ("empty-table-name", '.create table [""] (x:long)'),
                        ("empty-column-name", '.create table D3 ([""]:long)'),
                        ("empty-database-name", '.create database [""]'),
                        ("table-name-with-a-semicolon", '.create table ["Ing;drop"] (x:long)'),
                        ("set-into-a-path", '.set ["../x"] <| print a = 1')]),
    *(pytest.param(f"/v1/rest/ingest/{DB}/{name}?streamFormat=json", b'{"x": 1}', 400,
                   id=f"ingest-into-{label}")
      for label, name in [("a-space", "%20"), ("a-nul", "a%00b"), ("a-path", "..%2F..%2Fx"),
                          ("a-semicolon", "Ing%3Bdrop"), ("2000-characters", "A" * 2000)]),
    pytest.param("/nowhere", b"", 404, id="unknown-route"),
    pytest.param("/readyforaggregation-secured/messages", b"<not xml", 400, id="bad-queue-xml"),
    pytest.param("/readyforaggregation-secured/messages",
                 b"<QueueMessage><MessageText>!!!notbase64</MessageText></QueueMessage>", 400,
                 id="bad-queue-message"),
])
def test_malformed_request_gets_4xx_and_the_server_lives_on(server, path, body, status):
    got, reply, _ = _post(server, path, body)
    assert got == status
    assert reply  # always a body a client can read
    assert _alive(server)
    if path.startswith(("/v1/rest/mgmt", "/v1/rest/ingest")):   # and nothing of a refused name was created
        shown = _post(server, "/v1/rest/mgmt", json.dumps({"db": DB, "csl": ".show tables"}).encode())[1]
        names = json.loads(shown)
        assert not [row[0] for row in names["Tables"][0]["Rows"]
                    if not row[0].strip() or len(row[0]) > 1024 or set(row[0]) & set(";/\0")]


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_a_compressed_query_body_is_415_saying_to_send_it_as_is(server, encoding):
    body = json.dumps({"db": DB, "csl": "print 1"}).encode()
    status, reply, _ = _post(server, "/v2/rest/query", gzip.compress(body) if encoding == "gzip" else body,
                             headers={"Content-Encoding": encoding})
    assert status == 415 and b"uncompressed" in reply
    assert _post(server, "/v2/rest/query", body, headers={"Content-Encoding": "identity"})[0] == 200


def test_wrong_method_is_405(server):
    status, body, _ = _post(server, "/v2/rest/query", b"", method="GET")
    assert status == 405 and b"POST" in body


def test_huge_body_is_413_without_reading_it(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/v2/rest/query")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"larger than this server accepts" in resp.read()
    conn.close()
    assert _alive(server)


def test_chunked_body_is_refused(server):
    status, _, _ = _post(server, "/v2/rest/query", b"", headers={"Transfer-Encoding": "chunked"})
    assert status == 411
    assert _alive(server)


def test_client_that_hangs_up_midway_does_not_stop_the_server(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v2/rest/query HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"db\":")
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"GET / HTTP/9.9\r\n\r\n")
        s.settimeout(10)
        reply = b""
        while chunk := s.recv(1000):  # the server closes after an error it raised itself
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 400") and b"HTTP/1.1" in reply and b'"@permanent":true' in reply
    assert _alive(server)


@pytest.mark.parametrize("sent", [b"", b"POST /v2/rest/query HTTP/1.1\r\nHost: localhost\r\n",
                                  b"POST /v2/rest/query HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99\r\n\r\n{"],
                         ids=["idle", "mid-headers", "mid-body"])
def test_a_client_resetting_its_connection_leaves_no_traceback_in_the_log(server, capfd, sent):
    import struct

    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close() sends RST
    s.sendall(sent)
    time.sleep(0.2)   # the server is reading this connection when the reset comes
    s.close()
    time.sleep(0.3)
    assert _alive(server)
    assert "Traceback" not in capfd.readouterr().err


def test_properties_may_be_an_object_and_parameters_numbers_or_strings(server):
    body = {"db": DB, "csl": "declare query_parameters(n:long, t:timespan);\nprint n = n, t = t",
            "properties": {"Options": {"servertimeout": "00:00:30"}, "Parameters": {"n": 7, "t": "time(1.00:00:01)"},
                           "SomethingNew": True}}
    status, reply, _ = _post(server, "/v2/rest/query", json.dumps(body).encode())
    assert status == 200
    assert json.loads(reply)[2]["Rows"] == [[7, "1.00:00:01"]]


def test_servertimeout_is_honoured_and_reported_as_kusto_does(server):
    body = {"db": DB, "csl": "range x from 1 to 20000000 step 1 | summarize sum(x)",
            "properties": json.dumps({"Options": {"servertimeout": "0:00:00.001"}})}
    started = time.perf_counter()
    status, reply, _ = _post(server, "/v2/rest/query", json.dumps(body).encode())
    assert time.perf_counter() - started < 20
    assert status == 400
    assert json.loads(reply)["error"]["code"] == "Request_ExecutionTimeout"


def test_truncation_is_reported_inline_as_kusto_does(server):
    body = {"db": DB, "csl": "range x from 1 to 20 step 1",
            "properties": json.dumps({"Options": {"truncationmaxrecords": 5}})}
    status, reply, _ = _post(server, "/v2/rest/query", json.dumps(body).encode())
    frames = json.loads(reply)
    assert status == 200
    primary = next(f for f in frames if f.get("TableKind") == "PrimaryResult")
    assert primary["Rows"][0]["OneApiErrors"][0]["error"]["code"] == "E_QUERY_RESULT_SET_TOO_LARGE"
    assert frames[-1]["HasErrors"] is True


def test_ingestion_resources_point_back_at_this_server(server):
    status, reply, _ = _post(server, "/v1/rest/mgmt",
                             json.dumps({"db": DB, "csl": ".get  ingestion resources"}).encode())
    rows = dict(json.loads(reply)["Tables"][0]["Rows"])
    assert status == 200
    assert set(rows) == {"SecuredReadyForAggregationQueue", "FailedIngestionsQueue", "SuccessfulIngestionsQueue",
                         "TempStorage", "IngestionsStatusTable"}
    assert all(url.startswith(f"http://127.0.0.1:{server.port}/") for url in rows.values())


def test_block_blob_upload_then_queue_message_ingests(server):
    table = f"B_{uuid.uuid4().hex[:6]}"
    data = gzip.compress(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    name = f"{DB}__{table}__x.json.gz"
    for block_id, part in (("YQ==", data[:10]), ("Yg==", data[10:])):
        status, _, _ = _post(server, f"/tempstorage/{name}?comp=block&blockid={block_id}", part, method="PUT")
        assert status == 201
    status, _, _ = _post(server, f"/tempstorage/{name}?comp=blocklist",
                         b"<BlockList><Latest>YQ==</Latest><Latest>Yg==</Latest></BlockList>", method="PUT")
    assert status == 201
    import base64
    message = {"BlobPath": f"http://127.0.0.1:{server.port}/tempstorage/{name}?sig=x", "DatabaseName": DB,
               "TableName": table, "ReportLevel": 0, "AdditionalProperties": {"format": "multijson"}}
    text = base64.b64encode(json.dumps(message).encode()).decode()
    status, reply, _ = _post(server, "/readyforaggregation-secured/messages",
                             f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode())
    assert status == 201 and b"<MessageId>" in reply
    status, reply, _ = _post(server, "/v2/rest/query", json.dumps({"db": DB, "csl": f"{table} | count"}).encode())
    assert json.loads(reply)[2]["Rows"] == [[3]]
    # the blob is gone once ingested: temporary storage does not grow
    assert _post(server, f"/tempstorage/{name}", b"", method="GET")[0] == 404


# -- wire encodings (pure) ---------------------------------------------------------------------------
@pytest.mark.parametrize("ktype, value, expected", [
    pytest.param("datetime", dt.datetime(2024, 1, 2, 3, 4, 5, 123456), "2024-01-02T03:04:05.1234560Z", id="datetime"),
    pytest.param("datetime", dt.datetime(2024, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                 "2024-01-02T03:04:05.0000000Z", id="aware-datetime-to-utc"),
    pytest.param("datetime", dt.date(1, 1, 1), "0001-01-01T00:00:00.0000000Z", id="date-year-1"),
    pytest.param("timespan", dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=567890),
                 "1.02:03:04.5678900", id="timespan"),
    pytest.param("timespan", -dt.timedelta(days=1, microseconds=500000), "-1.00:00:00.5000000", id="neg-timespan"),
    pytest.param("real", float("inf"), "Infinity", id="infinity"),
    pytest.param("real", float("-inf"), "-Infinity", id="minus-infinity"),
    pytest.param("decimal", Decimal("123.4500000000000000000000001"), "123.4500000000000000000000001", id="decimal"),
    pytest.param("guid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001", id="guid"),
    pytest.param("dynamic", '{"a":[1,{"b":null}]}', {"a": [1, {"b": None}]}, id="dynamic-json-text"),
    pytest.param("dynamic", [dt.datetime(2024, 1, 1)], ["2024-01-01T00:00:00.0000000Z"], id="dynamic-list"),
    pytest.param("string", None, None, id="null"),
])
def test_wire_encoding_table(ktype, value, expected):
    assert wire.encode_rows([("c", ktype)], [(value,)]) == [[expected]]


def test_every_kusto_type_has_an_encoder():
    from kfx_notebook.kusto_types import TYPES

    assert {t.name for t in TYPES} == set(wire.ENCODERS)


# -- CLI ---------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_a_file_prints_the_connection_string_and_stops_on_ctrl_c(tmp_path):
    import signal

    port = _free_port()
    db_file = tmp_path / "cli.duckdb"
    proc = subprocess.Popen([sys.executable, "-m", "kfx_notebook.cli", "serve", str(db_file), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(_repo()))
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert f"Connection string: Data Source=http://127.0.0.1:{port};Database=NetDefaultDB" in "".join(lines)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/rest/mgmt", body=json.dumps({"db": DB, "csl": ".create table Kept (a:long)"}),
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "warning" not in err
    from kfx_notebook.backends.local import LocalBackend

    backend = LocalBackend(str(db_file))
    try:
        assert backend.query_rows(DB, ".show tables")[1][0][0] == "Kept"
    finally:
        backend.close()


def test_cli_warns_before_binding_beyond_loopback_and_fails_short_when_it_cannot(capsys):
    import argparse

    from kfx_notebook.server import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    # 192.0.2.1 is TEST-NET-1: never assigned here, so nothing is exposed and the bind fails.
    assert cli.run(parser.parse_args(["--host", "192.0.2.1", "--port", "0"])) == 2
    err = capsys.readouterr().err
    assert "no authentication" in err
    assert "cannot listen on 192.0.2.1:0" in err and "Pick another --port" in err


def test_local_server_context_manager_picks_a_free_port_and_releases_it():
    with LocalServer() as a, LocalServer() as b:
        assert a.port != b.port
        assert a.connection_string == f"Data Source=http://127.0.0.1:{a.port};Database=NetDefaultDB"
        port = a.port
    with pytest.raises(RuntimeError, match="not started"):
        a.url  # noqa: B018
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # released


def _repo():
    import pathlib

    return pathlib.Path(__file__).resolve().parent.parent


# -- concurrency --------------------------------------------------------------------------------------
def test_many_clients_at_once_lose_nothing(server):
    """8 SDK clients at once, each ingesting into its own table and reading it back after every batch."""
    import threading

    from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
    from azure.kusto.data.data_format import DataFormat
    from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient

    kcsb = KustoConnectionStringBuilder.with_no_authentication(server.url)
    errors: list[str] = []
    found: dict[int, int] = {}

    def client_work(index: int) -> None:
        table = f"Many_{index}_{uuid.uuid4().hex[:6]}"
        try:
            with KustoClient(kcsb) as client, KustoStreamingIngestClient(kcsb) as ingest:
                client.execute_mgmt(DB, f".create table {table} (Id:long, Client:long)")
                props = IngestionProperties(DB, table, data_format=DataFormat.MULTIJSON)
                for batch in range(5):
                    rows = "".join(json.dumps({"Id": batch * 10 + i, "Client": index}) + "\n" for i in range(4))
                    ingest.ingest_from_stream(io.BytesIO(rows.encode()), props)
                    seen = client.execute_query(DB, f"{table} | count").primary_results[0][0]["Count"]
                    if seen != (batch + 1) * 4:
                        errors.append(f"client {index} saw {seen} rows after batch {batch}")
                found[index] = client.execute_query(DB, f"{table} | summarize dcount(Id)").primary_results[0][0][0]
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(f"client {index}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client_work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert found == {i: 20 for i in range(8)}


def test_cli_on_a_file_open_in_another_process_says_so_in_one_line(tmp_path):
    db_file = tmp_path / "held.duckdb"
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(db_file)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = subprocess.run([sys.executable, "-m", "kfx_notebook.cli", "serve", str(db_file), "--port", "0"],
                              check=False, capture_output=True, text=True, cwd=str(_repo()), timeout=120)
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert str(db_file) in proc.stderr and "Close the other kernel or serve" in proc.stderr
