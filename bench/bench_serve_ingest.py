"""`kfx-notebook serve` ingestion of 100k rows as multijson, json and csv: this checkout against another.

    python bench/bench_serve_ingest.py [--rows 100000] [--runs 3] [--base /work/base]

The parent builds three payloads of the same --rows x 7 columns (long, string with quotes and
non-ASCII, real, bool, datetime, timespan, dynamic dict): multijson (the binding's indented
rows), json (one array) and csv (Kusto's text forms), writes them to a temporary folder, and
then, --runs times, alternates two child processes: one importing this checkout, one with
PYTHONPATH=--base (the baseline, "now"). Each child starts a LocalServer (in-memory) and, per
format, into a new table of the right schema: (a) posts the bytes with the official SDK's
`KustoStreamingIngestClient.ingest_from_stream`, (b) the same with `QueuedIngestClient`
(blob + queue message; the server ingests as the message lands), (c) a raw loopback POST of
the same bytes to a plain http.server that only reads them, (d) `ingest()` in-process on
another new table. It checks the row count and prints wall and process CPU seconds per step.
The server-side share is (a) - (c); (d) is the parsing alone. Medians over the runs, the load
average beside them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

DB = "NetDefaultDB"
SCHEMA = "(Id:long, Name:string, Score:real, Ok:bool, At:datetime, Took:timespan, Bag:dynamic)"
FORMATS = ("multijson", "json", "csv")
STEPS = ("streaming", "queued", "raw_post", "in_process")


# -- payloads (parent) ---------------------------------------------------------------------------
def frame(rows: int):
    import numpy as np
    import pandas as pd

    ids = np.arange(rows, dtype="int64")
    return pd.DataFrame({
        "Id": ids,
        "Name": [f'nämé "{i % 977}", ok' for i in range(rows)],
        "Score": ids * 0.37 + 0.001,
        "Ok": ids % 3 == 0,
        "At": pd.Timestamp("2021-03-04T05:06:07.123456Z") + pd.to_timedelta(ids * 1_234_567, unit="us"),
        "Took": pd.to_timedelta(ids * 7_654_321, unit="us"),
        "Bag": [{"k": int(i % 13), "tag": f"t{i % 5}", "xs": [1, 2.5, None]} for i in range(rows)],
    })


def payloads(rows: int) -> dict[str, bytes]:
    from kfx_notebook.codec import format_timespan
    from kfx_notebook.payload import records_from_frame, serialize

    df = frame(rows)
    records = records_from_frame(df)
    out = {"multijson": serialize(records, "multijson").data,
           "json": json.dumps(records, ensure_ascii=False).encode()}
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for rec in records:
        writer.writerow([rec["Id"], rec["Name"], repr(rec["Score"]), str(rec["Ok"]).lower(), rec["At"],
                         rec["Took"], json.dumps(rec["Bag"], ensure_ascii=False)])
    out["csv"] = text.getvalue().encode()
    assert format_timespan  # the timespans come from records_from_frame, in Kusto's form
    return out


# -- one child: measure every step once per format ------------------------------------------------
def _raw_server():
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _timed(action) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def child(folder: str) -> None:
    import gzip
    import urllib.request

    from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
    from azure.kusto.data.data_format import DataFormat
    from azure.kusto.ingest import (IngestionProperties, KustoStreamingIngestClient, QueuedIngestClient,
                                    StreamDescriptor)

    from kfx_notebook.server import LocalServer

    kinds = {"multijson": DataFormat.MULTIJSON, "json": DataFormat.JSON, "csv": DataFormat.CSV}
    results: dict[str, dict[str, list[float]]] = {}
    raw = _raw_server()
    raw_url = f"http://127.0.0.1:{raw.server_address[1]}/ingest"
    with LocalServer() as server:
        kcsb = KustoConnectionStringBuilder.with_no_authentication(server.url)
        client = KustoClient(kcsb)
        streaming, queued = KustoStreamingIngestClient(kcsb), QueuedIngestClient(kcsb)
        for number, fmt in enumerate(FORMATS):
            with open(os.path.join(folder, fmt), "rb") as handle:
                data = handle.read()
            tables = {step: f"T{step}{number}" for step in STEPS}
            for table in tables.values():
                client.execute_mgmt(DB, f".create table {table} {SCHEMA}")
            props = {step: IngestionProperties(DB, tables[step], data_format=kinds[fmt]) for step in STEPS}
            zipped = gzip.compress(data, 1)   # what the SDK sends: its own gzip is client time
            steps = {
                "streaming": lambda: streaming.ingest_from_stream(
                    StreamDescriptor(io.BytesIO(zipped), is_compressed=True), props["streaming"]),
                "queued": lambda: queued.ingest_from_stream(
                    StreamDescriptor(io.BytesIO(zipped), is_compressed=True), props["queued"]),
                "raw_post": lambda: urllib.request.urlopen(urllib.request.Request(
                    raw_url, zipped, {"Content-Type": "application/octet-stream"})).read(),
                "in_process": lambda: server.backend.ingest(DB, tables["in_process"], data, data_format=fmt),
            }
            results[fmt] = {step: list(_timed(run)) for step, run in steps.items()}
            for step in ("streaming", "queued", "in_process"):
                count = client.execute_query(DB, f"{tables[step]} | count").primary_results[0][0][0]
                assert count == ROWS, (fmt, step, count)
            for table in tables.values():
                client.execute_mgmt(DB, f".drop table {table}")
        streaming.close()
        queued.close()
    raw.shutdown()
    print(json.dumps(results))


ROWS = 0


def main() -> None:
    global ROWS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--base", default="/work/base")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    ROWS = args.rows
    if args.child:
        return child(args.child)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as folder:
        for fmt, data in payloads(args.rows).items():
            with open(os.path.join(folder, fmt), "wb") as handle:
                handle.write(data)
            print(f"{fmt}: {len(data) / 1e6:.1f} MB")
        runs: dict[str, list[dict]] = {"base": [], "now": []}
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):
            for label, path in (("base", args.base), ("now", here)):
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rows", str(args.rows),
                                      "--child", folder], env=env, check=True, capture_output=True, text=True)
                runs[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
    print(f"{args.rows} rows x 7 columns, medians of {args.runs}, load average (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f}")
    print("| format | step | base wall s | base CPU s | now wall s | now CPU s | speed-up (wall) |")
    print("|---|---|---|---|---|---|---|")
    for fmt in FORMATS:
        medians = {label: {step: [statistics.median(r[fmt][step][k] for r in runs[label]) for k in (0, 1)]
                           for step in STEPS} for label in runs}
        for label in runs:
            medians[label]["server_side"] = [medians[label]["streaming"][0] - medians[label]["raw_post"][0], 0.0]
        for step in (*STEPS, "server_side"):
            b, n = medians["base"][step], medians["now"][step]
            print(f"| {fmt} | {step} | {b[0]:.3f} | {b[1]:.3f} | {n[0]:.3f} | {n[1]:.3f} | "
                  f"{b[0] / n[0] if n[0] > 0 else float('nan'):.1f}x |")


if __name__ == "__main__":
    main()
