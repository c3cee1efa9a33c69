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
