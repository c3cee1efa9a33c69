"""ClusterBackend through the real azure-kusto SDK over real loopback HTTP (a canned Kusto server)."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kfx_notebook.backends.cluster import ClusterBackend, _kcsb, _payload, dm_endpoint, is_loopback
from kfx_notebook.errors import (
    KfxError,
    KustoSemanticError,
    KustoSyntaxError,
    ResultTruncatedError,
)

HEADER = {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0",
          "IsFragmented": False, "ErrorReportingPlacement": "InData"}
DONE = {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}


def v2(columns, rows, extra=()):
    return json.dumps([HEADER, {"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult",
                                "TableName": "PrimaryResult",
                                "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in columns],
                                "Rows": rows}, *extra, DONE]).encode()


class Canned(BaseHTTPRequestHandler):
    """Answers by the csl text: 'syntax' -> 400 syntax error, 'semantic' -> 400 semantic, else `replies`."""

    replies: dict = {}  # noqa: RUF012 - shared by the handler threads
    seen: list = []  # noqa: RUF012

    def log_message(self, *a):
        pass

    def _send(self, status, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.seen.append((self.path, dict(self.headers), raw))
        if self.path.startswith("/v1/rest/ingest/"):
            return self._send(200, json.dumps({"Tables": [{"TableName": "Table_0", "Columns": [
                {"ColumnName": "ConsumedRecordsCount", "DataType": "Int64", "ColumnType": "long"}],
                "Rows": [[1]]}]}).encode())
        request = json.loads(raw)
        csl = request["csl"]
        if "syntax" in csl:
            return self._send(400, json.dumps({"error": {
                "code": "BadRequest_SyntaxError", "message": "Request is invalid and cannot be executed.",
                "@message": "Syntax error: SYN0002: A recognition error occurred. [line:position=1:4]",
                "@permanent": True}}).encode())
        if "semantic" in csl:
            return self._send(400, json.dumps({"error": {
                "code": "BadRequest_SemanticError", "message": "Request is invalid and cannot be executed.",
                "@message": "Semantic error: SEM0100: 'x' not found. Line: 2, Position: 7",
                "@permanent": True}}).encode())
        if self.path.startswith("/v1/rest/mgmt"):
            return self._send(200, json.dumps({"Tables": [{"TableName": "Table_0", "Columns": [
                {"ColumnName": "TableName", "DataType": "String", "ColumnType": "string"},
                {"ColumnName": "Props", "DataType": "Object", "ColumnType": "dynamic"}],
                "Rows": [["T", "{\"a\": 1}"]]}]}).encode())
        self._send(200, self.replies.get(csl, v2([("x", "long")], [[1]])))


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


TYPED = v2([("l", "long"), ("dec", "decimal"), ("b", "bool"), ("ts", "timespan")],
           [[9007199254740993, "123.4500000000000000000000001", True, "-1.00:00:00.5"],
            [None, None, None, None]])


def test_fast_converter_keeps_every_value_the_sdk_converter_loses(server):
    Canned.replies["typed"] = TYPED
    fast = ClusterBackend(server).query("Db", "typed", {}, {})
    sdk = ClusterBackend(server, converter="sdk").query("Db", "typed", {}, {})
    f, s = fast.frame, sdk.frame
    assert f["l"][0] == 9007199254740993 and str(f["l"].dtype) == "Int64"
    assert f["dec"][0] == Decimal("123.4500000000000000000000001")
    assert f["b"].isna()[1] and str(f["b"].dtype) == "boolean"
    assert f["ts"][0] == -timedelta(days=1, seconds=0.5)
    # the SDK path, kept for comparison, shows its converter's pitfalls
    assert s["b"][1] is False or s["b"][1] == False
    assert s["ts"][0] != f["ts"][0]
    assert fast.column_types == [("l", "long"), ("dec", "decimal"), ("b", "bool"), ("ts", "timespan")]


def test_parameters_options_and_request_id_go_on_the_wire(server):
    Canned.seen.clear()
    result = ClusterBackend(server).query("Db", "print 1", {"n": "10", "who": "O'Brien"},
                                          {"servertimeout": "00:01:00", "request_readonly": True})
    path, headers, body = Canned.seen[-1]
    request = json.loads(body)
    props = json.loads(request["properties"])
    assert path == "/v2/rest/query" and request["db"] == "Db"
    assert props["Parameters"] == {"n": "10", "who": "O'Brien"}
    assert props["Options"]["servertimeout"] == "0:01:00"
    assert headers["x-ms-client-request-id"].startswith("KFX.notebook;")
    assert result.client_request_id == headers["x-ms-client-request-id"]
    assert "Authorization" not in headers
    ClusterBackend(server).query("Db", "print 1", request_id="mine;1")
    assert Canned.seen[-1][1]["x-ms-client-request-id"] == "mine;1"


def test_dot_commands_go_to_mgmt_and_dynamic_json_text_is_decoded(server):
    Canned.seen.clear()
    result = ClusterBackend(server).query("Db", "  .show tables")
    assert Canned.seen[-1][0] == "/v1/rest/mgmt"
    assert result.frame["Props"][0] == {"a": 1}


@pytest.mark.parametrize("text,cls,line,column", [
    pytest.param("syntax", KustoSyntaxError, 1, 5, id="syntax-error-with-line-position"),
    pytest.param("semantic", KustoSemanticError, 2, 7, id="semantic-error-with-line-and-position"),
])
def test_api_errors_become_our_errors_with_position_and_request_id(server, text, cls, line, column):
    with pytest.raises(cls) as info:
        ClusterBackend(server).query("Db", text, request_id="rid;1")
    err = info.value
    assert (err.line, err.column, err.request_id) == (line, column, "rid;1")
    assert err.code.startswith("BadRequest_")


def test_truncated_result_raises_with_the_numbers(server):
    qci = {"FrameType": "DataTable", "TableId": 2, "TableKind": "QueryCompletionInformation",
           "TableName": "QueryCompletionInformation",
           "Columns": [{"ColumnName": "Level", "ColumnType": "int"},
                       {"ColumnName": "StatusCodeName", "ColumnType": "string"},
                       {"ColumnName": "Payload", "ColumnType": "string"}],
           "Rows": [[2, "LimitsExceeded", json.dumps({"Text": "Query result set has exceeded the internal "
                                                               "record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE)."})]]}
    Canned.replies["big"] = v2([("x", "long")], [[1], [2]], [qci])
    for converter in ("fast", "sdk"):
        with pytest.raises(ResultTruncatedError) as info:
            ClusterBackend(server, converter=converter).query("Db", "big")
        assert "2 row(s)" in str(info.value)
    assert info.value.code == "E_QUERY_RESULT_SET_TOO_LARGE"


def test_inline_error_rows_raise(server):
    Canned.replies["partial"] = v2([("x", "long")], [[1], {"OneApiErrors": [{"error": {
        "code": "LimitsExceeded", "message": "x",
        "@message": "Query execution has exceeded the allowed limits (E_QUERY_RESULT_SET_TOO_LARGE)."}}]}])
    with pytest.raises(ResultTruncatedError) as info:
        ClusterBackend(server).query("Db", "partial")
    assert info.value.rows == 1 and len(info.value.partial_frame) == 1


def test_network_error_is_a_kfx_error_with_a_hint():
    with pytest.raises(KfxError) as info:
        ClusterBackend("Data Source=http://127.0.0.1:9").query("Db", "print 1")
    assert info.value.code == "NetworkError" and "running" in info.value.hint


def test_secrets_never_reach_repr_describe_or_errors():
    text = "Data Source=https://c.kusto.windows.net;AppClientId=abc;AppKey=s3cret-key;Authority Id=t"
    backend = ClusterBackend(text)
    assert "s3cret" not in repr(backend) and backend.describe() == "https://c.kusto.windows.net"
    kcsb = _kcsb(backend.url, backend._keywords, text, None)
    assert kcsb.aad_federated_security and kcsb.application_client_id == "abc"


def test_auth_choice_never_interactive():
    assert not _kcsb("http://127.0.0.1:1", {}, "", None).aad_federated_security   # no auth on loopback
    msi = _kcsb("https://c.kusto.windows.net", {}, "", "system")
    assert msi.msi_authentication and msi.msi_parameters == {}
    user = _kcsb("https://c.kusto.windows.net", {}, "", "1234-client")
    assert user.msi_parameters == {"client_id": "1234-client"}
    default = _kcsb("https://c.kusto.windows.net", {"AAD Federated Security": "true"}, "", None)
    assert default.azure_credential is not None and not default.interactive_login


def test_dm_endpoint_inserts_ingest_for_real_clusters_only():
    assert dm_endpoint("https://c.westeurope.kusto.windows.net") == "https://ingest-c.westeurope.kusto.windows.net"
    assert dm_endpoint("https://ingest-c.kusto.windows.net") == "https://ingest-c.kusto.windows.net"
    assert dm_endpoint("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert dm_endpoint("http://localhost:8080") == "http://localhost:8080"
    assert is_loopback("http://[::1]:80") and not is_loopback("https://10.0.0.1")


def test_dataframe_payload_is_json_lines_in_kustos_text_form():
    import pandas as pd

    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-02T03:04:05.1234567Z"], utc=True),
                          "d": [-pd.Timedelta(days=1, seconds=0.5)], "n": pd.array([None], dtype="Int64"),
                          "r": [float("inf")]})
    payload, rows, fmt = _payload(frame, "json")
    record = json.loads(payload)
    assert (rows, fmt) == (1, "multijson")
    assert record == {"t": "2024-01-02T03:04:05.1234567Z", "d": "-1.00:00:00.5000000", "n": None,
                      "r": "Infinity"}   # the payload's rules: valid JSON, not json.dumps' bare Infinity


def test_managed_ingest_streams_bytes(server):
    Canned.seen.clear()
    backend = ClusterBackend(server)
    receipt = backend.ingest("Db", "T", b'{"a":1}\n{"a":2}\n', data_format="multijson", mapping_ref="M")
    path, _headers, body = Canned.seen[-1]
    assert path == "/v1/rest/ingest/Db/T?streamFormat=multijson&mappingName=M"
    assert body == b'{"a":1}\n{"a":2}\n'
    assert (receipt.path, receipt.status, receipt.rows) == ("streaming", "Succeeded", 2)
