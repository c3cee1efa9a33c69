"""The column-wise shortcut for a returned DataFrame gives exactly the table its binding's payload gives.

Differential: every frame is ingested twice into fresh embedded databases, once through the
reference path (payload.rows_from_return -> serialize -> LocalBackend.ingest, what --dry-run
shows) and once through LocalBackend.ingest_frame_as_payload (falling back to the reference
when it declines); the tables' column types and contents must be identical, or both must
fail with the same error.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import itertools
import math
import uuid

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import payload
from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.backends.local.catalog import qualified
from kfx_notebook.errors import KfxError

from tests.frame_strategies import COLUMN_KINDS, frames

DB, TABLE = "Diff", "T"
KUSTO_TYPES = ["bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "guid", "dynamic"]

@st.composite
def targets(draw, frame):
    """How the table is set up before ingesting: (Kusto columns or None, a json mapping or None)."""
    if not draw(st.booleans()):
        return None, None
    names = list(frame.columns) + draw(st.lists(st.sampled_from(["x", "y"]), max_size=2, unique=True))
    names = [n for n in names if draw(st.integers(0, 4))] or names[:1]
    table = [(name, draw(st.sampled_from(KUSTO_TYPES))) for name in names]
    if not draw(st.booleans()):
        return table, None
    sources = [*(f"$.{n}" for n in frame.columns), *(f'$["{n}"]' for n in frame.columns), "$.missing",
               *(f"$.{n}.a" for n in frame.columns), *(f"$.{n}[0]" for n in frame.columns)]
    mapping = []
    for name, _ in table:
        if draw(st.booleans()):
            mapping.append({"column": name, "Properties": {"Path": draw(st.sampled_from(sources))}})
        else:
            mapping.append({"column": name, "Properties": {"ConstValue": draw(st.sampled_from(["7", "x", "true"]))}})
    return table, mapping


@pytest.fixture(scope="module")
def pair():
    """Two embedded databases, reference and shortcut; each example gets a database of its own in both."""
    backends = LocalBackend(None), LocalBackend(None)
    yield backends
    for backend in backends:
        backend.close()


_NUMBER = itertools.count()


def _fresh(table, mapping, backend: LocalBackend | None = None, database: str = DB) -> LocalBackend:
    backend = backend or LocalBackend(None)
    backend.catalog.ensure_database(database)
    if table is not None:
        spec = ", ".join(f"['{name}']:{ktype}" for name, ktype in table)
        backend.query(database, f".create table {TABLE} ({spec})")
    if mapping is not None:
        text = json.dumps(mapping)
        backend.query(database, f".create table {TABLE} ingestion json mapping 'm' '{text}'")
    return backend


def _reference(backend, frame, data_format, mapping_ref, database=DB):
    body = payload.serialize(payload.rows_from_return(frame).rows, data_format)
    if body.rows:
        backend.ingest(database, TABLE, body.data, data_format=body.data_format, mapping_ref=mapping_ref)


def _shortcut(backend, frame, data_format, mapping_ref, database=DB) -> bool:
    receipt = backend.ingest_frame_as_payload(database, TABLE, frame, data_format=data_format,
                                              mapping_ref=mapping_ref)
    if receipt is None:
        _reference(backend, frame, data_format, mapping_ref, database)
    return receipt is not None


def _outcome(backend, run, database=DB):
    try:
        run()
    except (KfxError, ValueError, TypeError, OverflowError) as exc:
        return ("failed", type(exc).__name__, str(exc))
    if backend.catalog.columns(database, TABLE) is None:
        return ("no table",)
    cur = backend.cursor()
    try:
        relation = cur.sql(f"SELECT * FROM {qualified(database, TABLE)}")
        types = [str(t) for t in relation.types]
        rows = [tuple(_comparable(v) for v in row) for row in relation.fetchall()]
    finally:
        cur.close()
    return backend.catalog.columns(database, TABLE), types, rows


def _comparable(value):
    """NaN equals NaN and -0.0 differs from 0.0, so that 'identical' means identical."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float32 draws
@pytest.mark.parametrize("first_kind", COLUMN_KINDS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_shortcut_builds_exactly_the_payloads_table(pair, first_kind, data):
    frame = data.draw(frames(first_kind))
    table, mapping = data.draw(targets(frame))
    data_format = data.draw(st.sampled_from([None, "json", "multijson", "csv"]))
    mapping_ref = "m" if mapping is not None and data_format != "csv" else None
    database = f"Diff{next(_NUMBER)}"
    reference, fast = (_fresh(table, mapping, backend, database) for backend in pair)
    expected = _outcome(reference, lambda: _reference(reference, frame, data_format, mapping_ref, database), database)
    took = []
    actual = _outcome(fast, lambda: took.append(_shortcut(fast, frame, data_format, mapping_ref, database)), database)
    assert actual == expected
    if data_format != "csv" and len(frame) and expected[0] != "failed":
        assert took == [True], "the shortcut should model every json/multijson frame drawn here"


def test_shortcut_declines_text_formats_and_empty_frames():
    backend = _fresh(None, None)
    try:
        frame = pd.DataFrame({"a": [1, 2]})
        assert backend.ingest_frame_as_payload(DB, TABLE, frame, data_format="csv") is None
        assert backend.ingest_frame_as_payload(DB, TABLE, frame.iloc[:0], data_format=None) is None
        assert backend.catalog.columns(DB, TABLE) is None
    finally:
        backend.close()


def test_shortcut_infers_the_payloads_types_for_a_new_table():
    frame = pd.DataFrame({
        "id": [1, 2], "name": ["Lime", None], "cost": [0.5, float("nan")], "ok": [True, False],
        "at": pd.to_datetime(["2024-01-01T10:00:00.1234567", None]).tz_localize("Europe/Amsterdam"),
        "took": pd.to_timedelta(["1 days 00:00:01.0000009", "-00:00:00.0000001"]),
        "bag": [{"k": [1, {"n": None}]}, None], "inf": [1.0, float("inf")],
        "d": [decimal.Decimal("1.50"), None], "g": [uuid.UUID(int=5), None]})
    backend = _fresh(None, None)
    try:
        receipt = backend.ingest_frame_as_payload(DB, TABLE, frame)
        assert receipt is not None and receipt.rows == 2 and receipt.data_format == "multijson"
        assert backend.catalog.columns(DB, TABLE) == [
            ("id", "long"), ("name", "string"), ("cost", "real"), ("ok", "bool"), ("at", "datetime"),
            ("took", "timespan"), ("bag", "dynamic"), ("inf", "string"), ("d", "string"), ("g", "string")]
        rows = backend.query(DB, TABLE).frame
        assert rows["at"][0] == pd.Timestamp("2024-01-01T09:00:00.123456", tz="UTC")
        assert rows["took"][1] == pd.Timedelta(0) and rows["inf"].tolist() == ["1.0", "Infinity"]
    finally:
        backend.close()


@pytest.mark.parametrize("data_format", ["json", "multijson", None])
def test_one_row_frame_takes_the_shortcut_in_every_json_format(data_format):
    backend = _fresh([("a", "long")], None)
    try:
        receipt = backend.ingest_frame_as_payload(DB, TABLE, pd.DataFrame({"a": [3]}), data_format=data_format)
        assert receipt.rows == 1 and backend.query(DB, TABLE).frame["a"].tolist() == [3]
    finally:
        backend.close()


def test_kusto_output_of_a_long_frame_takes_the_shortcut_and_gives_its_payloads_table(tmp_path, monkeypatch):
    from kfx_notebook.backends import clear_cache
    from tests.magic_shell import TestingShell

    shell = TestingShell.instance()
    if "KustoMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "kfx_notebook")
    monkeypatch.chdir(tmp_path)
    db_file = str(tmp_path / "out.duckdb")
    monkeypatch.setenv("KustoConnectionString", f"Data Source=local:{db_file}")
    clear_cache()
    from kfx_notebook.run import SHORTCUT_ROWS

    small = pd.DataFrame({"n": [1, None, 3], "at": pd.to_datetime(["2024-01-01", None, "2025-06-30"]),
                          "bag": [{"k": [1.5]}, None, []], "s": ["é", "x", None]})
    shell.user_ns["frame"] = pd.concat([small] * (SHORTCUT_ROWS // 3 + 1), ignore_index=True)
    rows = len(shell.user_ns["frame"])
    try:
        _, out, _ = shell.capture("%%kusto_output --database Out --table-name Fast\nframe")
        body = payload.serialize(payload.rows_from_return(shell.user_ns["frame"]).rows, None)   # what --dry-run shows
        backend = LocalBackend.open(db_file)
        backend.ingest("Out", "Reference", body.data, data_format=body.data_format)
        cur = backend.cursor()
        try:
            tables = [cur.sql(f"SELECT * FROM {qualified('Out', t)}").fetchall() for t in ("Fast", "Reference")]
        finally:
            cur.close()
        memory = int(shell.user_ns["frame"].memory_usage(deep=False).sum())
        assert f"ingested {rows:,} rows ({memory:,} bytes" in out   # the shortcut's receipt: no payload was built
        assert backend.catalog.columns("Out", "Fast") == backend.catalog.columns("Out", "Reference")
        assert tables[0] == tables[1] and len(tables[0]) == rows
    finally:
        LocalBackend.open(db_file).close()
        clear_cache()
