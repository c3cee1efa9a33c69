"""Shared fixtures: a fresh embedded database per test, in memory or in a real .duckdb file."""

from __future__ import annotations

import pytest


@pytest.fixture
def local_db(tmp_path):
    """A LocalBackend on a real DuckDB file of its own, closed after the test."""
    from kfx_notebook.backends.local import LocalBackend

    backend = LocalBackend.open(str(tmp_path / "test.duckdb"))
    yield backend
    backend.close()


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
    if not (folder / "node_modules" / "@azure" / "functions" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefer-offline",
                               "@azure/functions@4"], check=False, cwd=folder, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"npm could not install @azure/functions@4: {done.stderr[-500:]}"
    return folder / "node_modules"
