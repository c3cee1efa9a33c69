"""End to end through `kfx-notebook serve`: `%%kusto_input` of a 100k-row table against the SDK's
`execute_query` + `dataframe_from_result_table` of the same table from the same server.

    python bench/bench_e2e_input.py [--rows 100000] [--runs 5]

A real `kfx-notebook serve` (in-memory database) runs in a child process, holding table T of
--rows rows and 10 columns, one per common Kusto type (bool, int, long with nulls, real, string,
a unicode string with quotes, datetime, timespan, guid, dynamic). In this process, alternating
--runs times: (a) KustoClient(with_no_authentication(url)).execute_query("T") +
azure.kusto.data.helpers.dataframe_from_result_table; (b) the `%%kusto_input` magic in a real
IPython shell, its connection setting (an environment variable, as the README shows) pointing at
the server's URL. Prints medians of wall time, of this process's CPU time (time.process_time) and
of the server process's CPU time (/proc/<pid>/stat), and the load average before and after. Both
paths include the server's answer (translation, DuckDB, encoding, HTTP): it is the same bytes for
both. PYTHONPATH=<other checkout> measures another version (the server runs the same code).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

DB = "NetDefaultDB"
SETTING = "KfxBenchE2EConnection"
TABLE = (".set T <| range i from 1 to {rows} step 1 | project b = i % 3 == 0, n = toint(i % 100000), "
         "l = iff(i % 10 == 7, long(null), i * 1000000007), r = i * 0.25, s = strcat('name-', i), "
         "u = strcat('ünïcode \"', i % 97, '\\\\'), d = datetime(2024-01-01) + i * 1s + i * 1ms, "
         "t = i * 1ms, g = toguid(strcat('00000000-0000-4000-8000-', format_datetime(datetime(2024-01-01) "
         "+ (i % 1000) * 1s, 'HHmmss'), '000000')), dyn = bag_pack('k', i, 'tags', dynamic(['a', 'b']))")


def _start_server() -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "kfx_notebook", "serve", "--port", "0"],
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    for line in server.stdout:
        if line.startswith("Serving") and " at " in line:
            return server, line.rsplit(" at ", 1)[1].strip()
    raise RuntimeError("kfx-notebook serve did not start")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "kfx_notebook")
    shell.run_line_magic("config", "KustoMagics.progress = False")
    return shell


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    os.chdir(tempfile.mkdtemp(prefix="kfx-bench-e2e-"))  # no local.settings.json above to read
    server, url = _start_server()
    try:
        from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
        from azure.kusto.data.helpers import dataframe_from_result_table

        client = KustoClient(KustoConnectionStringBuilder.with_no_authentication(url))
        client.execute_mgmt(DB, TABLE.format(rows=args.rows))
        os.environ[SETTING] = f"Data Source={url}"
        shell = _shell()

        def sdk():
            return dataframe_from_result_table(client.execute_query(DB, "T").primary_results[0])

        def ours():
            with contextlib.redirect_stdout(io.StringIO()):  # its one-line summary, per run
                shell.run_cell_magic("kusto_input", f"frame --database {DB} --connection {SETTING}", "T")
            return shell.user_ns.pop("frame")

        a, b = sdk(), ours()  # warm-up, and a check that both read the same table
        assert a.shape == b.shape == (args.rows, 10) and list(a.columns) == list(b.columns), (a.shape, b.shape)
        del a, b
        load_before = os.getloadavg()
        results = {"sdk": [], "ours": []}
        for _ in range(args.runs):
            for name, fn in (("sdk", sdk), ("ours", ours)):
                served = _cpu_seconds(server.pid)
                cpu, started = time.process_time(), time.perf_counter()
                frame = fn()
                results[name].append((time.perf_counter() - started, time.process_time() - cpu,
                                      _cpu_seconds(server.pid) - served))
                assert len(frame) == args.rows
                del frame
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(10)

    def median(name, i):
        return statistics.median(r[i] for r in results[name])

    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), rows={args.rows}, runs={args.runs}, "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print("| path | median wall s | median client CPU s | median server CPU s |")
    print("|---|---|---|---|")
    for name, label in (("sdk", "SDK execute_query + dataframe_from_result_table"), ("ours", "%%kusto_input")):
        print(f"| {label} | {median(name, 0):.3f} | {median(name, 1):.3f} | {median(name, 2):.3f} |")
    print(f"speed-up (wall): {median('sdk', 0) / median('ours', 0):.2f}x; "
          f"client CPU: {median('sdk', 1) / median('ours', 1):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
