"""A serving process keeps the pages one answer freed for the next (server/allocator.py).

Counted, not timed: the minor page faults of repeated 100k-row answers, in a fresh process each,
with the thresholds set (what LocalServer and `kfx-notebook serve` do) and with them left alone.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import pytest

from kfx_notebook.server.allocator import keep_freed_memory

GLIBC = hasattr(os, "confstr") and bool(os.confstr("CS_GNU_LIBC_VERSION") or "")

_FAULTS = r"""
import http.client, json, resource, sys
import kfx_notebook.server.http_server as http_server
from kfx_notebook.server import LocalServer
if sys.argv[1] == "default":
    http_server.keep_freed_memory = lambda: False
with LocalServer() as server:
    # one kept-alive connection, as the SDK's session holds it: one handler thread serves every answer
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    def post(path, csl):
        body = json.dumps({"db": "NetDefaultDB", "csl": csl}).encode()
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        return connection.getresponse().read()
    post("/v1/rest/mgmt", ".set T <| range i from 1 to 100000 step 1 | extend b = i % 2 == 0, "
         "n = toint(i), r = i * 0.25, s = strcat('name-', i), u = strcat('unicode \"', i % 97), "
         "d = datetime(2020-01-01) + i * 1s, t = i * 1ms, maybe = iff(i % 10 == 0, long(null), i)")
    faults = []
    for _ in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        post("/v2/rest/query", "T")
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""


def _answer_faults(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return statistics.median(json.loads(done.stdout)[2:])  # after warm-up, the median of four answers


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's; other systems keep their allocator as it is")
def test_glibc_takes_both_thresholds():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # once per process, the same answer after


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's; other systems keep their allocator as it is")
def test_repeated_answers_reuse_freed_pages_instead_of_faulting_them_in():
    # glibc's dynamic thresholds sometimes settle on their own in a fresh process (medians of 13 and
    # 13.5 faults seen against the usual 2,500-5,700): so the pair is measured again while the default
    # has settled, and compared by ratio. The answers share one connection: with a new one each, a new
    # handler thread may start before the last has left its arena and fault in a fresh one (medians of
    # 186 and 1,633 with the thresholds set on a loaded machine, where 5 is usual)
    for _ in range(3):
        kept, default = _answer_faults("kept"), _answer_faults("default")
        if default >= 1000:
            break
    assert default >= 1000, f"the default never faulted pages in, three times: {default} (kept {kept})"
    assert kept * 10 <= default, (
        f"answers still fault pages in with the thresholds set: {kept} (default {default})")
