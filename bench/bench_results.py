"""Result conversion benchmark: the SDK path vs ClusterBackend.query on the same served v2 response.

python bench/bench_results.py [--rows 10000,100000,500000] [--runs 5] [--without-streaming]

One precomputed v2 response per size (10 columns, one per Kusto type, about 1 value in 10
null) is served from a loopback http.server thread. In this process, alternating:
(a) KustoClient(with_no_authentication).execute_query + dataframe_from_result_table;
(b) ClusterBackend("http://127.0.0.1:<port>").query (SDK transport, kfx_notebook.dataframes).
Wall time and CPU time (time.process_time: this process, the loopback server thread's small
share included): median of --runs, measured in this process. Peak memory: for each run a forked
child does one call; peak RSS growth = VmHWM after the call minus VmRSS before it, with the
peak counter reset (/proc/self/clear_refs = 5) first; median over --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

COLUMNS = [("b", "bool"), ("i", "int"), ("l", "long"), ("r", "real"), ("dec", "decimal"),
           ("s", "string"), ("dt", "datetime"), ("ts", "timespan"), ("g", "guid"), ("d", "dynamic")]


def value(ktype: str, i: int):
    if i % 10 == 7:
        return None
    return {
        "bool": i % 3 == 0,
        "int": i % 100_000,
        "long": 9_007_199_254_740_993 + i,
        "real": i / 7,
        "decimal": f"{i}.{i % 997:03d}0000000000000001",
        "string": f"name-{i}",
        "datetime": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}.{i % 10_000_000:07d}Z",
        "timespan": f"{'-' if i % 4 == 0 else ''}{i % 3}.{i % 24:02d}:{i % 60:02d}:{i % 60:02d}.{i % 10_000_000:07d}",
        "guid": f"{i:08x}-0000-4000-8000-{i:012x}",
        "dynamic": {"k": i, "tags": ["a", "b"]},
    }[ktype]


def response(rows: int) -> bytes:
    table = {"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult", "TableName": "PrimaryResult",
             "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in COLUMNS],
             "Rows": [[value(t, i) for _, t in COLUMNS] for i in range(rows)]}
    return json.dumps([{"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0",
                        "IsFragmented": False, "ErrorReportingPlacement": "InData"}, table,
                       {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}]).encode()


class Handler(BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}  # noqa: RUF012 - one shared table per run

    def log_message(self, *a):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = self.bodies[request["csl"]]
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def peak_in_child(call) -> float:
    """Peak RSS growth (MB) of one call, in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            before = _kb("VmRSS")
            call()
            os.write(write, str((_kb("VmHWM") - before) / 1024).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    return float(data)


def _median(values: list, spec: str) -> str:
    return format(statistics.median(values), spec) if values else "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,500000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--without-streaming", action="store_true",
                        help="leave out the SDK's progressive path (slow: 8x the others) from the comparison")
    args = parser.parse_args(argv)
    from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
    from azure.kusto.data.helpers import dataframe_from_result_table

    from kfx_notebook.backends.cluster import ClusterBackend

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    sdk_client = KustoClient(KustoConnectionStringBuilder.with_no_authentication(url))
    ours = ClusterBackend(url)

    def sdk(csl):
        return dataframe_from_result_table(sdk_client.execute_query("Db", csl).primary_results[0])

    def fast(csl):
        return ours.query("Db", csl).frame

    def streaming(csl):
        """The SDK's progressive path (ijson) feeding our column-wise converter, for comparison."""
        from kfx_notebook.dataframes import frame_from_columns

        table = next(sdk_client.execute_streaming_query("Db", csl).iter_primary_results())
        columns = [(c.column_name, c.column_type) for c in table.columns]
        return frame_from_columns(columns, [list(row) for row in table.raw_rows])

    import pandas as pd  # noqa: F401 - loaded before measuring, like in a notebook
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), runs={args.runs}, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print("| rows | body MB | SDK median s | ours median s | speed-up | SDK CPU s | ours CPU s | CPU ratio "
          "| SDK peak MB | ours peak MB | memory ratio | SDK streaming + ours s | its peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rows in [int(r) for r in args.rows.split(",")]:
        csl = f"T{rows}"
        Handler.bodies = {csl: response(rows)}
        a, b = sdk(csl), fast(csl)  # warm-up, and a check that both see the same table
        assert len(a) == len(b) == rows and list(a.columns) == list(b.columns)
        del a, b
        times = {"sdk": [], "ours": [], "streaming": []}
        cpu = {"sdk": [], "ours": [], "streaming": []}
        mem = {"sdk": [], "ours": [], "streaming": []}
        for _ in range(args.runs):
            for name, fn in (("sdk", sdk), ("ours", fast), ("streaming", streaming))[:2 if args.without_streaming else 3]:
                start, start_cpu = time.perf_counter(), time.process_time()
                frame = fn(csl)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                del frame
                mem[name].append(peak_in_child(lambda fn=fn, csl=csl: fn(csl)))
        t_sdk, t_ours = statistics.median(times["sdk"]), statistics.median(times["ours"])
        m_sdk, m_ours = statistics.median(mem["sdk"]), statistics.median(mem["ours"])
        c_sdk, c_ours = statistics.median(cpu["sdk"]), statistics.median(cpu["ours"])
        print(f"| {rows:,} | {len(Handler.bodies[csl]) / 2**20:.1f} | {t_sdk:.3f} | {t_ours:.3f} | "
              f"{t_sdk / t_ours:.2f}x | {c_sdk:.3f} | {c_ours:.3f} | {c_sdk / c_ours:.2f}x | "
              f"{m_sdk:.0f} | {m_ours:.0f} | {m_ours / m_sdk:.2f} | "
              f"{_median(times['streaming'], '.3f')} | {_median(mem['streaming'], '.0f')} |", flush=True)
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
