"""Shared fixtures: a fresh embedded database per test, in memory or in a real .duckdb file."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def local_db(tmp_path):
    """A LocalBackend on a real DuckDB file of its own, closed after the test."""
    from kfx_notebook.backends.local import LocalBackend

    backend = LocalBackend.open(str(tmp_path / "test.duckdb"))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def kql_engine(request):
    """An in-memory LocalBackend with the test module's database `DB` created, for a module's KQL tests."""
    from kfx_notebook.backends.local import LocalBackend

    backend = LocalBackend(None)
    backend.catalog.ensure_database(request.module.DB)
    yield backend
    backend.close()


@pytest.fixture(params=["c", "python"])
def row_join_paths(request, monkeypatch):
    """A test run twice: with the C row join (kfx_notebook/_speedups/rows.c) and with the Arrow
    join its callers take when the module was not built."""
    from kfx_notebook import _speedups

    if request.param == "python":
        monkeypatch.setitem(_speedups._LOADED, "rows", None)
    return request.param


# Golden exporter inputs and outputs are data for tests/test_export*.py, not tests themselves.
collect_ignore_glob = ["golden/*"]


@pytest.fixture(scope="session")
def azure_functions_node():
    """@azure/functions v4 from npm, installed once into a cache folder under the system temp dir."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed on this machine: the JS export cannot be loaded under node here")
    folder = Path(tempfile.gettempdir()) / "kfx-notebook-npm-cache" / "azure-functions-4"
    complete = folder / "node_modules" / "@azure" / "functions" / "package.json"
    if not complete.is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(dir=folder.parent))   # install aside, then move into place: no half cache
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefer-offline",
                               "@azure/functions@4"], check=False, cwd=fresh, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"npm could not install @azure/functions@4: {done.stderr[-500:]}"
        if folder.exists() and not complete.is_file():   # only a complete install is ever moved in: a leftover
            shutil.rmtree(folder, ignore_errors=True)
        try:
            fresh.rename(folder)
        except OSError:          # another run got there first: use its copy
            shutil.rmtree(fresh, ignore_errors=True)
    return folder / "node_modules"


@pytest.fixture
def utc_host(monkeypatch):
    """The host's zone (this process's: it re-parses a worker's date strings) set to UTC, then restored."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
