"""Ingestion into the local database: stream formats, ingestion mappings, DataFrames.

Text formats (json, multijson, singlejson, csv, tsv, psv, scsv, sohsv) and parquet are
read into records, mapped onto the table's columns (by a named mapping, or by name for
JSON and by position for CSV), converted to the columns' Kusto types the way Kusto does
(a value that does not convert becomes null), and inserted through Arrow. A pandas
DataFrame goes straight to DuckDB, no text round trip. A missing table is created from
the data when no mapping is named.
"""

from __future__ import annotations

import contextlib

import csv
import io
import json
import re
from typing import Any

from ... import gzip_stream
from ...dataframes import _gc_paused
from ...errors import IngestionError, UnsupportedError
from ...kusto_types import kusto_type
from .catalog import check_entity_name, column_sql, duckdb_folded, qualified, quote
from ...literals import PARSERS, ValueParseError

JSON_FORMATS = {"json", "multijson", "singlejson"}
DELIMITED = {"csv": ",", "tsv": "\t", "tsve": "\t", "psv": "|", "scsv": ";", "sohsv": "\x01", "txt": None}
SUPPORTED_FORMATS = sorted(JSON_FORMATS | set(DELIMITED) | {"parquet"})


def ingest(backend, database: str, table: str, data, *, data_format: str, mapping_ref: str | None = None):
    """Ingest bytes or a DataFrame; returns (rows ingested, bytes read)."""
    fmt = (data_format or "").lower()
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        if mapping_ref:
            raise UnsupportedError("A mapping applies to text formats; a DataFrame is ingested by column name",
                                   hint="Rename the DataFrame's columns, or serialize it and name the format.")
        return _ingest_frame(backend, database, table, data), int(data.memory_usage(deep=False).sum())
    raw = data.encode() if isinstance(data, str) else bytes(data)
    size = len(raw)
    try:  # sniffed by its magic, never by a Content-Encoding label (the SDK labels parquet gzip)
        raw = gzip_stream.inflate(raw)
    except ValueError as exc:
        raise IngestionError(f"The stream is not valid gzip ({exc})", code="BadRequest_InvalidCompression") from None
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedError(f"The local database cannot ingest format '{data_format}'",
                               hint=f"Use one of: {', '.join(SUPPORTED_FORMATS)}.")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        import pyarrow as pa

        try:
            frame = pq.read_table(io.BytesIO(raw)).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise IngestionError(f"The data is not a readable Parquet file ({str(exc)[:200]})",
                                 code="BadRequest_InvalidParquet") from None
        if mapping_ref:
            raise UnsupportedError("Parquet ingestion with a mapping is not supported locally",
                                   hint="Ingest by column name (no mappingRef).")
        return _ingest_frame(backend, database, table, frame), size
    check_utf8(raw, fmt)     # checked first; the text is made only where the reference reader needs it
    columns = table_columns(backend, database, table)
    mapping = named_mapping(backend, database, table, mapping_ref, fmt)
    read = _read_json if fmt in JSON_FORMATS else _read_delimited
    with _gc_paused(), lone_surrogates_refused():   # the records and values made here hold no cycles
        rows, columns, arrays = read(raw, fmt, columns, mapping)
    if not rows:
        return 0, size
    write_arrays(backend, database, table, columns, arrays)
    return rows, size


def check_utf8(raw: bytes, fmt: str) -> None:
    """Refuse a payload that is not UTF-8 (the C speedup's validator, else Arrow's; utf8_text words the error)."""
    from ..._speedups import load

    speedup = load("json_records")
    if speedup is not None and speedup.valid_utf8(raw):
        return
    import pyarrow as pa

    try:
        pa.array([raw], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        utf8_text(raw, fmt)
        raise       # (utf8_text refuses whatever Arrow refuses; a surprise is not silently let through)


@contextlib.contextmanager
def lone_surrogates_refused():
    """A string holding half a surrogate pair (JSON may escape one: "\\ud800") -> a one-line IngestionError.

    No table holds such a string (its text is UTF-8), and nothing is written: Arrow refuses it first."""
    try:
        yield
    except UnicodeEncodeError as exc:
        raise IngestionError(f"A string holds a lone surrogate (\\u{ord(exc.object[exc.start]):04x}), which is not text",
                             code="BadRequest_InvalidEncoding",
                             hint="Escape a character outside the BMP as a surrogate pair, or send it as UTF-8.") from None


def utf8_text(raw: bytes, fmt: str) -> str:
    """The payload as text (a leading BOM dropped); refused when it is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestionError(f"The data is not UTF-8 text (byte {exc.start})", code="BadRequest_InvalidEncoding",
                             hint=f"Send {fmt} as UTF-8.") from None


def _read_json(raw: bytes, fmt: str, columns, mapping):
    """JSON text -> (records, the table's columns, one staged array per column), column by column."""
    from . import ingest_columns as fast
    from . import json_values

    read = _value_texts(raw, columns) if mapping is None else None
    if read is not None:
        read_columns, parts = read
        try:
            return len(parts[0][0]), read_columns, [json_values.staged(name, ktype, *part)
                                                    for (name, ktype), part in zip(read_columns, parts)]
        except json_values.NotExact:
            pass        # a value json reads otherwise than the texts' reader: the body is read as below
    values = fast.json_table_columns(raw, columns) if columns is not None and mapping is None else None
    if values is not None:
        rows, finite = len(values[0]), True
    else:
        records = fast.json_records(raw)
        finite = records is not None   # msgspec refuses NaN and infinities; json (the reference reader) keeps them
        if records is None:
            records = parse_json_records(utf8_text(raw, fmt))
        if not records:
            return 0, columns, []
        if columns is None:
            columns, values = fast.json_inferred_columns(records)
        if mapping is not None or values is None:
            values = fast.json_column_values(records, columns, mapping)
        rows = len(records)
    try:
        return rows, columns, [fast.staged_from_json(name, ktype, column, rows, finite=finite)
                               for (name, ktype), column in zip(columns, values)]
    except RecursionError:
        raise IngestionError("Invalid JSON: nested too deeply", code="BadRequest_InvalidJson") from None


def _value_texts(raw: bytes, columns):
    """(The table's columns, per column its values' texts and strings) read by json_texts, a new table's
    columns inferred from the texts of every key (json_inference); None where they are not read so."""
    from . import json_inference, json_texts

    if columns is not None:
        parts = json_texts.json_value_texts(raw, columns)
        return None if parts is None else (columns, parts)
    read = json_texts.record_texts(raw, None, True)   # every key in first-seen order, numbers as written
    inferred = None if read is None else json_inference.columns_of_texts(*read)
    if inferred is None:
        return None
    read = json_texts.with_number_forms(raw, read, [ktype for _, ktype in inferred]) \
        or json_texts.record_texts(raw, None)
    return None if read is None else (inferred, read[1])


def _read_delimited(raw: bytes, fmt: str, columns, mapping):
    """Delimited text -> (records, the table's columns, one staged array per column), column by column."""
    from . import ingest_columns as fast

    fields, widths = fast.csv_columns(raw, fmt), None
    if fields is None:
        fields, widths = fast.fields_from_records(_parse_delimited(utf8_text(raw, fmt), fmt))
    rows = len(fields[0]) if fields else 0
    if not rows:
        return 0, columns, []
    if columns is None:
        columns = fast.delimited_inferred_columns(fields)
    values = fast.delimited_column_values(fields, widths, columns, mapping)
    return rows, columns, [fast.staged_from_fields(name, ktype, column, rows)
                           for (name, ktype), column in zip(columns, values)]


def table_columns(backend, database: str, table: str) -> list[tuple[str, str]] | None:
    """The table's (name, Kusto type) columns, or None when the database or table does not exist."""
    return backend.catalog.columns(database, table) if backend.catalog.databases().count(database) else None


def named_mapping(backend, database: str, table: str, mapping_ref: str | None, fmt: str):
    """The entries of the named mapping (None without one); refused when its kind does not fit the format."""
    if not mapping_ref:
        return None
    kind, mapping = backend.catalog.mapping(database, table, mapping_ref)
    expected = "json" if fmt in JSON_FORMATS else "csv"
    if kind != expected:
        raise IngestionError(f"Mapping '{mapping_ref}' is a {kind} mapping; format '{fmt}' needs a {expected} "
                             "mapping", hint="Name a mapping of the right kind, or change dataFormat.")
    return mapping


# -- reading -------------------------------------------------------------------------------------
def parse_json_records(text: str) -> list[dict]:
    """JSON lines, concatenated objects (multijson) or arrays of objects -> records."""
    from ...payload import iter_json_values

    records: list[dict] = []
    try:
        for value in iter_json_values(text):
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, dict):
                    raise IngestionError(f"Invalid JSON record: expected an object, got {type(item).__name__}",
                                         code="BadRequest_InvalidJson")
                records.append(item)
    except RecursionError:
        raise IngestionError("Invalid JSON: nested too deeply", code="BadRequest_InvalidJson") from None
    except ValueError as exc:
        raise IngestionError(f"Invalid JSON at character {getattr(exc, 'pos', '?')}: {getattr(exc, 'msg', exc)}",
                             code="BadRequest_InvalidJson",
                             hint="Each record must be a JSON object (json: one per line; multijson: any layout).") \
            from None
    return records


def _parse_delimited(text: str, fmt: str) -> list[list[str]]:
    if fmt == "txt":
        return [[line] for line in text.splitlines() if line]
    reader = csv.reader(io.StringIO(text), delimiter=DELIMITED[fmt], quotechar='"' if fmt != "tsve" else "\x00")
    try:
        return [row for row in reader if row]
    except csv.Error as exc:
        raise IngestionError(f"Invalid {fmt} at record {reader.line_num}: {exc}", code="BadRequest_InvalidCsv",
                             hint="Check the quoting; a field may hold at most 131072 characters.") from None


_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def json_path_steps(path: str) -> list[str] | None:
    """A mapping's JSON path -> its keys in order ($.a.b, $['a'][0]); None for the whole record ($)."""
    if path in ("$", ""):
        return None
    return [next(p for p in part if p != "") for part in _PATH_STEP.findall(path[1:] if path.startswith("$") else path)]




def walk_json(value: Any, steps: list[str]) -> Any:
    """Follow *steps* into a JSON value; a step that does not exist gives None, as in Kusto."""
    for key in steps:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit():
            value = value[int(key)] if int(key) < len(value) else None
        else:
            return None
    return value


def _entry(entry: dict) -> tuple[str, dict]:
    column = entry.get("column", entry.get("Column"))
    props = dict(entry.get("Properties") or entry.get("properties") or {})
    for legacy, key in (("path", "Path"), ("Path", "Path"), ("ordinal", "Ordinal"), ("Ordinal", "Ordinal"),
                        ("ConstValue", "ConstValue"), ("transform", "Transform"), ("Transform", "Transform")):
        if legacy in entry and key not in props:
            props[key] = entry[legacy]
    if props.get("Transform") not in (None, "", "None"):
        raise UnsupportedError(f"Mapping transformation '{props['Transform']}' (column {column}) is not supported "
                               "locally", hint="Remove the transform or transform the data before ingesting.")
    return column, props


def mapping_plan(mapping, columns, source: str, convert=lambda v: v) -> list[tuple[int, object, object]]:
    """A mapping -> [(column index, source (Path or Ordinal), ConstValue)], checked against the table."""
    names = [c for c, _ in columns]
    plan = []
    for entry in mapping:
        column, props = _entry(entry)
        if column not in names:
            raise IngestionError(f"Mapping refers to column '{column}', which the table does not have",
                                 code="BadRequest_MappingError")
        where = props.get(source)
        try:
            where = None if where is None else convert(where)
        except (TypeError, ValueError):
            where = -1
        if source == "Ordinal" and where is not None and where < 0:
            raise IngestionError(f"Mapping column '{column}' has Ordinal {props.get(source)!r}, not a field "
                                 "number", code="BadRequest_MappingError", hint="Ordinals count fields from 0.")
        plan.append((names.index(column), where, props.get("ConstValue")))
    return plan






def convert_value(value: Any, ktype: str) -> Any:
    """A JSON/CSV value -> the column's Python value; what does not convert becomes null, as in Kusto."""
    if value is None:
        return None
    if ktype == "string":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if ktype == "dynamic":
        if isinstance(value, str):
            try:
                return json.dumps(json.loads(value), ensure_ascii=False)
            except ValueError:
                return json.dumps(value, ensure_ascii=False)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dict, list)):
        return None
    try:
        return PARSERS[ktype](value)
    except (ValueParseError, ValueError, OverflowError):
        return None


# -- schema inference ----------------------------------------------------------------------------
def infer_value(value: Any) -> str | None:
    """The Kusto type a JSON value suggests for a new column (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, (dict, list)):
        return "dynamic"
    if _ISO_DATETIME.match(value):
        return "datetime"
    if _TIMESPAN.match(value):
        return "timespan"
    return "string"


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_TIMESPAN = re.compile(r"^-?(\d+\.)?\d{2}:\d{2}:\d{2}(\.\d{1,7})?$")




def merge_inferred(seen: str | None, new: str | None) -> str | None:
    """A column's type so far and the next value's -> the column's type (in record order, as Kusto does)."""
    if seen is None:
        return new
    if new and seen != new:
        return "real" if {seen, new} == {"long", "real"} else "dynamic" if "dynamic" in (seen, new) else "string"
    return seen






# -- writing -------------------------------------------------------------------------------------
def _ensure_table(backend, database: str, table: str, columns: list[tuple[str, str]]) -> None:
    backend.catalog.ensure_database(database)
    if backend.catalog.columns(database, table) is None:
        check_entity_name(table, "table")
        if not columns:
            raise IngestionError(f"Table '{table}' does not exist and the data has no fields to create it from",
                                 code="BadRequest_EmptySchema", hint=f"Create it first: .create table {table} (...)")
        folded: dict[str, str] = {}
        for name, _ in columns:     # DuckDB's names are case-insensitive in ASCII: it would refuse the CREATE
            if folded.setdefault(duckdb_folded(name), name) != name:
                raise IngestionError(f"The data's fields '{folded[duckdb_folded(name)]}' and '{name}' differ "
                                     "only in case: a local table cannot hold both", code="BadRequest_DuplicateColumnName",
                                     hint="Rename one of the fields, or create the table first with the columns to keep.")
        spec = ", ".join(column_sql(n, t) for n, t in columns)
        backend.con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(database, table)} ({spec})")




def arrow_column(name: str, ktype: str, values: list):
    """Converted Python values of one column -> the Arrow array they are staged in."""
    import pyarrow as pa

    if ktype == "decimal":
        values = [None if v is None else str(v) for v in values]
    try:
        return pa.array(values, type=staging_type(ktype))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise IngestionError(f"Column '{name}' ({ktype}) cannot hold a value: {exc}") from None


def staging_type(ktype: str):
    """The Arrow type a column of Kusto type *ktype* is staged in before DuckDB casts it."""
    import pyarrow as pa

    return {"long": pa.int64(), "int": pa.int32(), "real": pa.float64(), "bool": pa.bool_(),
            "datetime": pa.timestamp("us"), "timespan": pa.duration("us")}.get(ktype, pa.string())


def write_arrays(backend, database: str, table: str, columns, arrays: list) -> None:
    """One staged Arrow array per table column (in *columns* order) -> INSERT."""
    import pyarrow as pa

    source = pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])
    _write(backend, database, table, columns, source, [(f"c{i}", n, t) for i, (n, t) in enumerate(columns)])


def _write(backend, database: str, table: str, columns, source, plan: list[tuple[str, str, str]]) -> None:
    """INSERT the staged *source* (Arrow table or DataFrame) into the table, one CAST per column.

    *plan* is (source column, table column, Kusto type); the table is created from *columns*
    first when missing. One lock for create + insert, so concurrent writers cannot race.
    """
    select = ", ".join(_stored(quote(src), t) for src, _, t in plan)
    names = ", ".join(quote(name) for _, name, _ in plan)
    with backend.lock:
        _ensure_table(backend, database, table, columns)
        cur = backend.cursor()
        try:
            cur.register("_kfx_staged", source)
            cur.execute(f"INSERT INTO {qualified(database, table)} ({names}) SELECT {select} FROM _kfx_staged")
        except Exception as exc:
            raise IngestionError(f"Rows could not be written to '{table}': {str(exc).splitlines()[0]}") from None
        finally:
            cur.close()


def _stored(source: str, ktype: str) -> str:
    """The SQL that stores a staged column as the table's type. Kusto's string type has no null
    (the Kusto docs' "null values"): a null or missing string is stored as the empty string, so
    reading it back gives "" as a cluster does, and isempty() is true of it, isnull() false."""
    cast = f"CAST({source} AS {kusto_type(ktype).duckdb})"
    return f"COALESCE({cast}, '')" if kusto_type(ktype).name == "string" else cast


def frame_kusto_types(frame) -> list[tuple[str, str]]:
    """The Kusto type of each DataFrame column (for creating a table from a frame)."""
    import decimal
    import uuid

    import pandas as pd

    out = []
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype):
            ktype = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            ktype = "int" if dtype.itemsize <= 4 and str(dtype) not in ("uint32",) else "long"
        elif pd.api.types.is_float_dtype(dtype):
            ktype = "real"
        elif isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
            ktype = "datetime"
        elif pd.api.types.is_timedelta64_dtype(dtype):
            ktype = "timespan"
        else:
            sample = next((v for v in series if v is not None and not (isinstance(v, float) and v != v)), None)
            ktype = ("dynamic" if isinstance(sample, (dict, list)) else "decimal" if isinstance(sample, decimal.Decimal)
                     else "guid" if isinstance(sample, uuid.UUID) else "bool" if isinstance(sample, bool)
                     else "string")
        out.append((str(name), ktype))
    return out


def _ingest_frame(backend, database: str, table: str, frame) -> int:
    """A DataFrame straight into DuckDB, by column name, types kept."""
    import pandas as pd

    frame_types = frame_kusto_types(frame)
    with backend.lock:
        backend.catalog.ensure_database(database)
        columns = backend.catalog.columns(database, table)
    if columns is None:
        columns = frame_types
    known = {n for n, _ in columns}
    extra = [n for n, _ in frame_types if n not in known]
    if extra:
        raise IngestionError(f"DataFrame column(s) {', '.join(extra)} are not in table '{table}'",
                             hint=f"Table columns: {', '.join(n for n, _ in columns)}. Rename or drop them, "
                                  "or .create-merge table to add them.")
    staged = {}
    for name, ktype in frame_types:
        series = frame[name]
        if ktype == "dynamic":
            series = series.map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                                else json.dumps(v, ensure_ascii=False, default=str))
        elif ktype in ("decimal", "guid"):
            series = series.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
        elif ktype == "datetime" and isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        elif ktype == "real":
            series = series.astype("float64").where(series.notna(), None) if series.isna().any() else series
        staged[name] = series
    target = dict(columns)
    _write(backend, database, table, columns, pd.DataFrame(staged), [(n, n, target[n]) for n, _ in frame_types])
    return len(frame)
