"""The unmodified official SDK (azure-kusto-data/-ingest 6.0.4) against `kfx-notebook serve` over loopback HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pandas as pd
import pytest

from kfx_notebook.server import LocalServer

DB = "NetDefaultDB"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "served.duckdb"
    with LocalServer(str(path)) as srv:
        yield srv


@pytest.fixture(scope="module")
def kcsb(server):
    from azure.kusto.data import KustoConnectionStringBuilder

    return KustoConnectionStringBuilder.with_no_authentication(server.url)


@pytest.fixture(scope="module")
def client(kcsb):
    from azure.kusto.data import KustoClient

    with KustoClient(kcsb) as c:
        yield c


def _table(client, columns="Ts:datetime, Name:string, Value:real, Count:long, Flag:bool, Bag:dynamic"):
    name = f"T_{uuid.uuid4().hex[:8]}"
    client.execute_mgmt(DB, f".create table {name} ({columns})")
    return name


def _frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "Ts": pd.date_range("2024-01-02 03:04:05.123", periods=n, freq="1min", tz="UTC"),
        "Name": [f'n{i}, "q"' for i in range(start, start + n)],
        "Value": [i * 1.5 for i in range(start, start + n)],
        "Count": list(range(start, start + n)),
        "Flag": [i % 2 == 0 for i in range(start, start + n)],
        "Bag": [{"k": [i, i + 1]} for i in range(start, start + n)],
    })


def _count(client, table: str) -> int:
    return client.execute_query(DB, f"{table} | count").primary_results[0][0]["Count"]


# -- queries -------------------------------------------------------------------------------------
def test_parameterized_query_gives_the_same_frame_as_the_embedded_backend(server, client):
    from azure.kusto.data import ClientRequestProperties
    from azure.kusto.data.helpers import dataframe_from_result_table

    table = _table(client)
    server.backend.ingest(DB, table, _frame(20), data_format="json")
    kql = ("declare query_parameters(n:long, who:string, since:datetime);\n"
           f"{table} | where Count >= n and Name != who and Ts > since | project Ts, Name, Value, Count, Flag | "
           "order by Count asc")
    crp = ClientRequestProperties()
    crp.set_parameter("n", 5)
    crp.set_parameter("who", "O'Brien")
    crp.set_parameter("since", "datetime(2024-01-01)")
    crp.set_option("servertimeout", dt.timedelta(minutes=1))
    served = dataframe_from_result_table(client.execute_query(DB, kql, crp).primary_results[0])
    local = server.backend.query(DB, kql, {"n": 5, "who": "O'Brien", "since": "datetime(2024-01-01)"}).frame
    assert len(served) == 15
    pd.testing.assert_frame_equal(served.reset_index(drop=True), local.reset_index(drop=True), check_dtype=False)
    assert str(served["Ts"].dtype) == "datetime64[ns, UTC]"
    assert served["Count"].tolist() == list(range(5, 20))


@pytest.mark.parametrize("expr, expected", [
    pytest.param("datetime(2024-01-02 03:04:05.1234567)", "2024-01-02T03:04:05.1234560Z", id="datetime-7-digits"),
    pytest.param("time(1.02:03:04.5)", "1.02:03:04.5000000", id="timespan-with-days"),
    pytest.param("time(-00:00:01)", "-00:00:01", id="negative-timespan"),
    pytest.param("dynamic({'a':[1,2]})", {"a": [1, 2]}, id="dynamic-as-native-json"),
    pytest.param("real(nan)", "NaN", id="nan-as-string"),
    pytest.param("9007199254740993", 9007199254740993, id="long-exact-above-2-53"),
    pytest.param("guid(74be27de-1e4e-49d9-b579-fe0b331d3642)", "74be27de-1e4e-49d9-b579-fe0b331d3642", id="guid"),
])
def test_values_go_out_in_kusto_encoding(server, expr, expected):
    import json
    import urllib.request

    body = json.dumps({"db": DB, "csl": f"print v = {expr}"}).encode()
    req = urllib.request.Request(server.url + "/v2/rest/query", data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        frames = json.loads(resp.read())
    assert [f["FrameType"] for f in frames] == ["DataSetHeader", "DataTable", "DataTable", "DataTable",
                                                "DataSetCompletion"]
    assert [f.get("TableKind") for f in frames[1:4]] == ["QueryProperties", "PrimaryResult",
                                                         "QueryCompletionInformation"]
    assert all(next(iter(f)) == "FrameType" for f in frames)
    assert frames[2]["Rows"] == [[expected]]


def test_streaming_sdk_path_reads_the_same_rows(client, server):
    table = _table(client)
    server.backend.ingest(DB, table, _frame(3), data_format="json")
    rows = list(client.execute_streaming_query(DB, f"{table} | order by Count asc | project Count, Bag")
                .iter_primary_results().__next__())
    assert [(r["Count"], r["Bag"]) for r in rows] == [(0, {"k": [0, 1]}), (1, {"k": [1, 2]}), (2, {"k": [2, 3]})]


def test_v1_query_endpoint_answers_tables(client, server):
    import json
    import urllib.request

    req = urllib.request.Request(server.url + "/v1/rest/query", method="POST",
                                 data=json.dumps({"db": DB, "csl": "print a = 1, b = 'x'",
                                                  "properties": {"Options": {}}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert body["Tables"][0]["Columns"] == [{"ColumnName": "a", "DataType": "Int64", "ColumnType": "long"},
                                            {"ColumnName": "b", "DataType": "String", "ColumnType": "string"}]
    assert body["Tables"][0]["Rows"] == [[1, "x"]]


def test_management_commands_of_the_local_database(client):
    from azure.kusto.data.helpers import dataframe_from_result_table

    table = _table(client, "a:long, s:string")
    tables = dataframe_from_result_table(client.execute_mgmt(DB, ".show tables").primary_results[0])
    assert table in tables["TableName"].tolist()
    client.execute_mgmt(DB, f".ingest inline into table {table} <| 1,x\n2,y")
    client.execute_mgmt(DB, f".create table {table} ingestion json mapping 'M' "
                            "'[{\"column\":\"a\",\"path\":\"$.A\"},{\"column\":\"s\",\"path\":\"$.S\"}]'")
    mappings = client.execute_mgmt(DB, f".show table {table} ingestion mappings").primary_results[0]
    assert [r["Name"] for r in mappings] == ["M"]
    schema = client.execute_mgmt(DB, f".show table {table} cslschema").primary_results[0]
    assert "a:long" in str(schema[0][1])
    assert _count(client, table) == 2


# -- errors --------------------------------------------------------------------------------------
def test_syntax_error_is_a_kusto_api_error_with_position(client):
    from azure.kusto.data.exceptions import KustoApiError

    with pytest.raises(KustoApiError) as info:
        client.execute_query(DB, "print x = ")
    error = info.value.get_api_error()
    assert error.code == "BadRequest_SyntaxError"
    assert error.permanent is True
    assert str(info.value).startswith("Syntax error: SYN0002: ")
    assert "[line:position=1:10]" in str(info.value)


def test_unknown_table_is_a_semantic_error(client):
    from azure.kusto.data.exceptions import KustoApiError

    with pytest.raises(KustoApiError) as info:
        client.execute_query(DB, "print 1\n| join (Nope) on x")
    assert info.value.is_semantic_error()
    assert info.value.get_api_error().code == "General_BadRequest"
    assert "'Nope'" in str(info.value) and "[line:position=2:8]" in str(info.value)


def test_unsupported_option_is_refused_by_name(client):
    from azure.kusto.data import ClientRequestProperties
    from azure.kusto.data.exceptions import KustoApiError

    crp = ClientRequestProperties()
    crp.set_option("query_take_max_records", 50)
    with pytest.raises(KustoApiError, match="query_take_max_records"):
        client.execute_query(DB, "print 1", crp)


def test_unknown_endpoint_is_404_for_the_sdk(server):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(server.url + "/v3/nothing", data=b"{}", method="POST"),
                               timeout=10)
    assert info.value.code == 404
    assert b'"@permanent":true' in info.value.read()


# -- ingestion -----------------------------------------------------------------------------------
def test_streaming_ingest_from_dataframe_then_every_row_is_found(client, kcsb):
    from azure.kusto.data.data_format import DataFormat
    from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient

    table = _table(client)
    with KustoStreamingIngestClient(kcsb) as ingest:
        result = ingest.ingest_from_dataframe(_frame(50), IngestionProperties(DB, table))
        assert result.status.name == "SUCCESS"
        ingest.ingest_from_dataframe(_frame(7, start=50).drop(columns=["Bag"]),
                                     IngestionProperties(DB, table, data_format=DataFormat.CSV,
                                                         ingestion_mapping_reference=None))
    assert _count(client, table) == 57
    counts = client.execute_query(DB, f"{table} | summarize c = dcount(Count), m = max(Count)").primary_results[0][0]
    assert (counts["c"], counts["m"]) == (57, 56)


def test_streaming_ingest_with_unknown_mapping_is_a_permanent_4xx(client, kcsb):
    from azure.kusto.data.data_format import DataFormat
    from azure.kusto.data.exceptions import KustoApiError
    from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient

    table = _table(client)
    with KustoStreamingIngestClient(kcsb) as ingest, pytest.raises(KustoApiError) as info:
        ingest.ingest_from_dataframe(_frame(2), IngestionProperties(DB, table, data_format=DataFormat.JSON,
                                                                    ingestion_mapping_reference="NoSuchMap"))
    assert info.value.get_api_error().permanent is True
    assert "Entity ID 'NoSuchMap' of kind 'MappingPersistent' was not found." in str(info.value)


def test_streaming_ingest_of_bad_data_is_a_permanent_4xx(server):
    import gzip
    import urllib.error
    import urllib.request

    for body in (gzip.compress(b"{not json"), b"\x1f\x8bnot gzip at all"):
        req = urllib.request.Request(f"{server.url}/v1/rest/ingest/{DB}/Bad?streamFormat=json", data=body,
                                     method="POST", headers={"Content-Type": "application/octet-stream"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 400
        assert b'"@permanent":true' in info.value.read()


def test_managed_streaming_streams_small_and_falls_back_to_queued_above_4mib(client, kcsb):
    import numpy as np
    from azure.kusto.ingest import IngestionProperties, ManagedStreamingIngestClient

    table = _table(client, "Id:long, Blob:string")
    rng = np.random.default_rng(7)
    n = 50_000  # random base64 barely compresses: ~6.6 MB of JSON, ~5 MiB gzipped, above the 4 MiB limit
    big = pd.DataFrame({"Id": range(n), "Blob": [base64.b64encode(rng.bytes(96)).decode() for _ in range(n)]})
    with ManagedStreamingIngestClient(kcsb, kcsb) as ingest:
        ingest._set_retry_settings(max_seconds_per_retry=0.01)
        small = ingest.ingest_from_dataframe(big.head(10), IngestionProperties(DB, table))
        large = ingest.ingest_from_dataframe(big.iloc[10:], IngestionProperties(DB, table))
    assert small.status.name == "SUCCESS"
    assert large.status.name == "QUEUED"
    assert _count(client, table) == n


def test_queued_ingest_is_ingested_promptly_and_reports_status(client, kcsb):
    from azure.kusto.ingest import IngestionProperties, QueuedIngestClient, ReportLevel
    from azure.kusto.ingest.status import KustoIngestStatusQueues

    table = _table(client)
    with QueuedIngestClient(kcsb) as ingest:
        props = IngestionProperties(DB, table, report_level=ReportLevel.FailuresAndSuccesses)
        result = ingest.ingest_from_dataframe(_frame(25), props)
        assert result.status.name == "QUEUED"
        assert _count(client, table) == 25
        bad = IngestionProperties(DB, table, ingestion_mapping_reference="Missing", report_level=ReportLevel.FailuresAndSuccesses)
        ingest.ingest_from_dataframe(_frame(2), bad)
        queues = KustoIngestStatusQueues(ingest)
        successes = queues.success.pop(10)
        failures = queues.failure.pop(10)
    assert [m.Table for m in successes] == [table]
    assert [m.Table for m in failures] == [table]
    assert "Missing" in failures[0].Details
    shown = client.execute_mgmt(DB, ".show ingestion failures").primary_results[0]
    assert any(r["Table"] == table and "Missing" in r["Details"] for r in shown)
    assert _count(client, table) == 25


def test_our_cluster_backend_reads_the_served_error_position_back_exactly(server):
    from kfx_notebook.backends.cluster import ClusterBackend
    from kfx_notebook.errors import KustoSyntaxError

    backend = ClusterBackend(server.connection_string, None)
    with pytest.raises(KustoSyntaxError) as info:
        backend.query(DB, "print x = 1\n| project y = ")
    local = pytest.raises(KustoSyntaxError, server.backend.query, DB, "print x = 1\n| project y = ")
    assert (info.value.line, info.value.column) == (local.value.line, local.value.column)
    assert info.value.line == 2 and info.value.column > 1
