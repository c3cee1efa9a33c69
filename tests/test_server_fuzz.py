"""Property-based fuzz of `kfx-notebook serve`: whatever a client sends, it gets a 4xx or a 2xx, never a 5xx,
and the server still answers afterwards.

Requests are built from the endpoint's own shape (ROUTES, the query parameters and headers the
routes read, request bodies with the keys the server parses, ingestion messages, gzip), each
part replaced at random by noise, so examples reach deep into the handlers instead of stopping
at the first 404. Raw bytes on the socket cover what http.client would not send.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook.backends.local import SUPPORTED_OPTIONS
from kfx_notebook.server import Limits, LocalServer

DB = "NetDefaultDB"
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow], derandomize=True,
                 database=None)


@pytest.fixture(scope="module")
def server():
    with LocalServer(limits=Limits(max_body_bytes=256 * 1024, max_inflated_bytes=256 * 1024,
                                   request_timeout=5, idle_timeout=5)) as srv:
        status, _ = _send(srv.port, "POST", "/v1/rest/mgmt", {"Content-Type": "application/json"},
                          json.dumps({"db": DB, "csl": ".create table Fuzz (a:long, s:string, d:dynamic)"}).encode())
        assert status == 200
        yield srv


def _send(port, method, path, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
any_text = st.text(max_size=40)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)

KQL = st.sampled_from([
    "print 1", "Fuzz | take 3", "Fuzz | where a > 1 | summarize count() by s", "range x from 1 to 5 step 1",
    "declare query_parameters(n:long, t:string); print n, t", "declare query_parameters(n:int); print n",
    "declare query_parameters(d:datetime, p:timespan, y:dynamic); print d, p, y", ".show tables",
    ".show table Fuzz schema as json", ".create table Fuzz2 (x:int)", ".set-or-append Fuzz <| print a=1, s='x', d=dynamic({})",
    ".get ingestion resources", "Fuzz | extend y = todynamic(s) | mv-expand y", "print " + "(" * 80 + "1" + ")" * 80,
    "print parse_json('[' )", "union Fuzz, Fuzz | count", "Fuzz | join kind=inner (Fuzz) on a",
])
csl = st.one_of(KQL, any_text, st.builds(lambda a, b: a + " " + b, KQL, any_text))
options = st.dictionaries(st.sampled_from(sorted(SUPPORTED_OPTIONS)) | ascii_text, json_value, max_size=3)
parameters = st.dictionaries(st.sampled_from(["n", "t", "d", "p", "y"]) | ascii_text, json_value, max_size=3)
properties = st.one_of(
    st.fixed_dictionaries({}, optional={"Options": options | json_value, "Parameters": parameters | json_value,
                                        "ClientRequestId": json_value}),
    json_value)
query_body = st.one_of(
    st.fixed_dictionaries({"db": st.just(DB), "csl": csl}, optional={"properties": properties.map(json.dumps)}),
    st.fixed_dictionaries({}, optional={
        "db": st.sampled_from([DB, "Other", ""]) | json_value, "csl": csl | json_value,
        "properties": properties | properties.map(json.dumps)})).map(lambda d: json.dumps(d).encode())

ingestion_message = st.fixed_dictionaries({}, optional={
    "DatabaseName": st.just(DB) | json_value, "TableName": st.just("Fuzz") | json_value,
    "BlobPath": st.sampled_from(["http://127.0.0.1/tempstorage/b1", "http://x/y/z"]) | json_value,
    "Id": json_value, "ReportLevel": json_value, "AdditionalProperties": st.fixed_dictionaries(
        {}, optional={"format": st.sampled_from(["csv", "json", "parquet"]) | json_value,
                      "ingestionMappingReference": json_value, "ignoreFirstRecord": json_value}) | json_value,
}).map(lambda m: base64.b64encode(json.dumps(m).encode()).decode())
queue_body = st.one_of(ingestion_message, any_text).map(
    lambda text: f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode("utf-8", "replace"))
data_body = st.one_of(st.binary(max_size=300), st.sampled_from([b"1,x,{}\n2,y,[1]\n", b'{"a":1,"s":"x"}', b"PAR1"]))
body = st.one_of(st.just(b""), query_body, queue_body, data_body, data_body.map(gzip.compress),
                 st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n), st.binary(max_size=200))

segment = st.one_of(st.sampled_from([DB, "Fuzz", "b1", "x", "%00", "..", "%2F"]), ascii_text.map(quote))
path = st.one_of(
    st.sampled_from(["/v2/rest/query", "/v1/rest/query", "/v1/rest/mgmt", "/v1/rest/auth/metadata",
                     "/successfulingestions/messages", "/failedingestions/messages",
                     "/readyforaggregation-secured/messages", "/"]),
    st.builds("/v1/rest/ingest/{}/{}".format, segment, segment),
    st.builds("/tempstorage/{}".format, segment),
    st.builds("/successfulingestions/messages/{}".format, segment),
    st.builds("/{}/{}".format, segment, segment))
query = st.dictionaries(
    st.sampled_from(["streamFormat", "sourceKind", "mappingName", "comp", "blockid", "numofmessages",
                     "visibilitytimeout", "peekonly", "sv"]) | ascii_text,
    st.sampled_from(["csv", "json", "uri", "block", "blocklist", "1", "32", "abc", "-1", "true", ""]) | any_text,
    max_size=4).map(lambda q: "?" + urlencode(q) if q else "")
headers = st.fixed_dictionaries(
    {"Host": st.sampled_from(["127.0.0.1", "localhost:1", "[::1]"]) | ascii_text},
    optional={"Content-Type": st.sampled_from(["application/json", "application/json; charset=utf-8",
                                               "application/octet-stream", "application/xml", "text/plain"])
              | ascii_text,
              "Origin": st.sampled_from(["http://localhost:8888", "http://evil.example", "null"]) | ascii_text,
              "Content-Encoding": st.sampled_from(["gzip", "deflate"]) | ascii_text,
              "x-ms-client-request-id": ascii_text, "Transfer-Encoding": st.sampled_from(["identity"]),
              "x-ms-blob-type": st.just("BlockBlob")})
method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FROB"])


JSON_TYPE = "application/json; charset=utf-8"
#: Well-formed requests, one per route, with bodies and query strings of that route's shape.
routed = st.one_of(
    st.tuples(st.sampled_from(["POST"]), st.sampled_from(["/v2/rest/query", "/v1/rest/query", "/v1/rest/mgmt"]),
              st.just(""), st.just(JSON_TYPE), query_body),
    st.tuples(st.just("POST"), st.builds("/v1/rest/ingest/{}/{}".format, st.just(DB), st.just("Fuzz") | segment),
              query, st.just("application/octet-stream"), st.one_of(data_body, data_body.map(gzip.compress),
                                                                   query_body)),
    st.tuples(st.just("PUT"), st.just("/tempstorage/b1"), query, st.just("application/octet-stream"),
              st.one_of(data_body, data_body.map(gzip.compress), st.just(b"<BlockList><Latest>a</Latest></BlockList>"))),
    st.tuples(st.just("POST"), st.sampled_from(["/readyforaggregation-secured/messages", "/successfulingestions/messages"]),
              query, st.just("application/xml"), queue_body),
    st.tuples(st.sampled_from(["GET", "DELETE"]),
              st.sampled_from(["/successfulingestions/messages", "/failedingestions/messages", "/tempstorage/b1"])
              | st.builds("/successfulingestions/messages/{}".format, segment), query, st.none(), st.just(b"")))


@FUZZ
@given(request=routed, noise=st.dictionaries(st.sampled_from(["Origin", "x-ms-client-request-id", "Content-Encoding",
                                                              "x-ms-version"]), ascii_text, max_size=2))
def test_no_well_formed_request_gets_a_5xx(server, request, noise):
    method, path, query, content_type, body = request
    headers = {"Host": "127.0.0.1", **({"Content-Type": content_type} if content_type else {}),
               **{k: v for k, v in noise.items() if k != "Origin" or v.startswith("http://localhost")}}
    status, reply = _send(server.port, method, path + query, headers, body)
    assert status < 500, (status, reply[:500])


@FUZZ
@given(method=method, path=path, query=query, headers=headers, body=body)
def test_no_request_gets_a_5xx(server, method, path, query, headers, body):
    status, reply = _send(server.port, method, path + query, headers, body)
    assert status < 500, (status, reply[:500])
    if method != "HEAD" and status >= 400:
        assert reply  # an error a client can read


@FUZZ
@given(raw=st.one_of(
    st.binary(max_size=300),
    st.builds(lambda m, p, v, h: b"%s %s %s\r\n%s\r\n\r\n" % (m, p, v, h),
              st.sampled_from([b"GET", b"POST", b"", b"G\x00T"]) | st.binary(max_size=8),
              st.sampled_from([b"/v2/rest/query", b"*", b"http://x/", b""]) | st.binary(max_size=20),
              st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9", b"HTTP/1.1.1", b""]),
              st.sampled_from([b"Host: localhost", b"Content-Length: -1", b"Content-Length: 99999999999999999999",
                               b"Host: localhost\r\nContent-Length: abc", b"Host:\r\nHost: evil", b"X" * 70000])
              | st.binary(max_size=60))))
def test_raw_bytes_never_get_a_5xx(server, raw):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        except OSError:  # reset, broken pipe, not connected
            return  # the server hung up on garbage: allowed, as long as it lives (checked below)
    if reply:
        status_line = reply.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 ") and status_line[9:10] in b"1234", status_line


def test_the_server_still_answers_after_the_fuzz(server):
    status, body = _send(server.port, "POST", "/v2/rest/query", {"Content-Type": "application/json"},
                         json.dumps({"db": DB, "csl": "print ok = 1"}).encode())
    assert status == 200 and json.loads(body)[2]["Rows"] == [[1]]
