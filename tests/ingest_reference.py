"""The per-record ingestion of text formats as it was before the column-wise reader: the reference.

kfx_notebook.backends.local.ingest reads json/csv column by column (ingest_columns); this module
keeps the record-by-record mapping, inference and conversion it replaced (every value through
ingest.convert_value), so tests/test_ingest_columns.py can prove both give the same table.
Reading (parse_json_records, _parse_delimited) and writing (write_arrays) are the package's own.
"""

from __future__ import annotations

from kfx_notebook import gzip_stream
from kfx_notebook.backends.local import ingest as package
from kfx_notebook.errors import IngestionError
from kfx_notebook.literals import PARSERS, ValueParseError


def reference_ingest(backend, database: str, table: str, data: bytes, *, data_format: str,
                     mapping_ref: str | None = None) -> int:
    """What ingest() did for a text format before: parse, map and convert record by record; rows ingested."""
    with package.lone_surrogates_refused():   # the one rule added since: a lone surrogate is a 400, as in ingest()
        return _ingest(backend, database, table, data, data_format=data_format, mapping_ref=mapping_ref)


def _ingest(backend, database: str, table: str, data: bytes, *, data_format: str, mapping_ref: str | None) -> int:
    fmt = data_format.lower()
    raw = gzip_stream.inflate(bytes(data))
    text = package.utf8_text(raw, fmt)
    database = backend.catalog.canonical_database(database)
    columns = package.table_columns(backend, database, table)
    mapping = package.named_mapping(backend, database, table, mapping_ref, fmt)
    if fmt in package.JSON_FORMATS:
        records = package.parse_json_records(text)
        if columns is None:
            columns = _infer_json_columns(records)
        values = _map_json(records, columns, mapping)
    else:
        records = package._parse_delimited(text, fmt)
        if columns is None:
            columns = _infer_delimited_columns(records)
        values = _map_delimited(records, columns, mapping)
    if not values:
        return 0
    arrays = [package.arrow_column(name, ktype, [row[i] for row in values]) for i, (name, ktype) in enumerate(columns)]
    package.write_arrays(backend, database, table, columns, arrays)
    return len(values)


def _map_json(records: list[dict], columns, mapping) -> list[list]:
    convert = package.convert_value
    if mapping is None:
        return [[convert(rec.get(name), ktype) for name, ktype in columns] for rec in records]
    plan = package.mapping_plan(mapping, columns, "Path")
    out = []
    for rec in records:
        row = [None] * len(columns)
        for index, path, const in plan:
            steps = None if path is None else package.json_path_steps(path)
            value = const if path is None else rec if steps is None else package.walk_json(rec, steps)
            row[index] = convert(value, columns[index][1])
        out.append(row)
    return out


def _map_delimited(records: list[list[str]], columns, mapping) -> list[list]:
    plan = [(i, i, None) for i in range(len(columns))] if mapping is None \
        else package.mapping_plan(mapping, columns, "Ordinal", int)
    out = []
    for number, rec in enumerate(records, 1):
        if mapping is None and len(rec) > len(columns):
            raise IngestionError(f"Record {number} has {len(rec)} fields; table has {len(columns)} columns",
                                 code="Stream_WrongNumberOfFields",
                                 hint="Check the delimiter and quoting, or name a csv mapping.")
        row = [None] * len(columns)
        for index, ordinal, const in plan:
            value = const if ordinal is None else (rec[ordinal] if ordinal < len(rec) else None)
            row[index] = package.convert_value(None if value == "" and columns[index][1] != "string" else value,
                                               columns[index][1])
        out.append(row)
    return out


def _infer_json_columns(records: list[dict]) -> list[tuple[str, str]]:
    types: dict[str, str | None] = {}
    for rec in records:
        for key, value in rec.items():
            types[key] = package.merge_inferred(types.get(key), package.infer_value(value))
    return [(k, t or "string") for k, t in types.items()]


def _infer_delimited_columns(records: list[list[str]]) -> list[tuple[str, str]]:
    width = max((len(r) for r in records), default=0)
    columns = []
    for i in range(width):
        values = [r[i] for r in records if i < len(r) and r[i] != ""]
        columns.append((f"Column{i + 1}", _infer_text(values)))
    return columns


def _infer_text(values: list[str]) -> str:
    for ktype in ("long", "real", "bool", "datetime"):
        try:
            if values and all(PARSERS[ktype](v) is not None for v in values):
                return ktype
        except (ValueParseError, ValueError):
            continue
    return "string"
