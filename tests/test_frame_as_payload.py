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

DB, TABLE = "Diff", "T"
KUSTO_TYPES = ["bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "guid", "dynamic"]

ROWS = st.integers(min_value=0, max_value=6)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
LOOKS_TYPED = st.sampled_from(["2024-01-31T12:00:00Z", "2024-01-31T12:00:00.1234567Z", "01:02:03", "1.02:03:04.5",
                               "true", "12", "1.5", "Infinity", '{"a": 1}', "[1,2]", "null", ""])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 1e16, 1e-7, 0.1, 2.5])
SCALARS = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | FLOATS | TEXT | LOOKS_TYPED
KEYS = TEXT | LOOKS_TYPED | st.integers(-2, 2) | st.booleans() | st.none()   # non-str keys: str() in the payload
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=2).map(tuple)
                       | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
NS = st.integers(min_value=-(2**62), max_value=2**62)
ZONES = st.sampled_from([None, "UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata"])


def _nullable(values: st.SearchStrategy, null=None) -> st.SearchStrategy:
    return st.one_of(values, st.just(null))


COLUMN_KINDS = ["int64", "Int64", "int32", "uint8", "float64", "float32", "bool", "boolean", "datetime",
                "datetime_us", "timedelta", "string", "str", "dynamic", "mixed", "decimal", "guid", "category",
                "date_objects"]


@st.composite
def columns(draw, n: int, kind: str):
    """One DataFrame column of n rows of one of the kinds a function returns."""
    if kind in ("int64", "int32", "uint8"):
        bounds = {"int64": (-2**63, 2**63 - 1), "int32": (-2**31, 2**31 - 1), "uint8": (0, 255)}[kind]
        return pd.Series(draw(st.lists(st.integers(*bounds), min_size=n, max_size=n)), dtype=kind)
    if kind == "Int64":
        return pd.Series(draw(st.lists(_nullable(st.integers(-2**63, 2**63 - 1)), min_size=n, max_size=n)),
                         dtype="Int64")
    if kind in ("float64", "float32"):
        values = draw(st.lists(FLOATS, min_size=n, max_size=n))
        return pd.Series(values, dtype="float64").astype(kind)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "boolean":
        return pd.Series(draw(st.lists(_nullable(st.booleans()), min_size=n, max_size=n)), dtype="boolean")
    if kind in ("datetime", "datetime_us"):
        values = draw(st.lists(_nullable(NS), min_size=n, max_size=n))
        series = pd.Series(pd.to_datetime([pd.NaT if v is None else v for v in values], unit="ns"))
        if kind == "datetime_us":
            series = series.dt.floor("us").astype("datetime64[us]")
        zone = draw(ZONES)
        return series.dt.tz_localize("UTC").dt.tz_convert(zone) if zone else series
    if kind == "timedelta":
        values = draw(st.lists(_nullable(NS), min_size=n, max_size=n))
        return pd.Series(pd.to_timedelta([pd.NaT if v is None else v for v in values], unit="ns"))
    if kind in ("string", "str", "category"):
        values = draw(st.lists(_nullable(TEXT | LOOKS_TYPED), min_size=n, max_size=n))
        dtype = {"string": object, "str": "str", "category": "category"}[kind]
        return pd.Series(values, dtype=dtype)
    if kind == "dynamic":
        values = draw(st.lists(_nullable(st.dictionaries(KEYS, JSONISH, max_size=3) | st.lists(JSONISH, max_size=3)),
                               min_size=n, max_size=n))
        return pd.Series(values, dtype=object)
    if kind == "mixed":
        return pd.Series(draw(st.lists(JSONISH, min_size=n, max_size=n)), dtype=object)
    if kind == "decimal":
        values = draw(st.lists(_nullable(st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                                     min_value=-10**9, max_value=10**9)), min_size=n, max_size=n))
        return pd.Series(values, dtype=object)
    if kind == "guid":
        return pd.Series(draw(st.lists(_nullable(st.uuids()), min_size=n, max_size=n)), dtype=object)
    values = draw(st.lists(_nullable(st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1))), min_size=n, max_size=n))
    return pd.Series(values, dtype=object)


@st.composite
def frames(draw, first_kind: str):
    """A frame whose first column is of *first_kind* (so every kind is tested), the others of any kind."""
    n = draw(ROWS)
    names = draw(st.lists(st.sampled_from(["a", "b", "Ünï", "d", "e f", "g"]), min_size=1, max_size=4, unique=True))
    kinds = [first_kind, *draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=3, max_size=3))]
    return pd.DataFrame({name: draw(columns(n, kind)) for name, kind in zip(names, kinds)})


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
