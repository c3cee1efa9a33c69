"""The ten Kusto scalar types, one row each: names, DuckDB storage, wire labels, pandas dtypes.

Tables as data: every module that maps a Kusto type to something else reads this table,
and tests/test_kusto_types.py walks every row. Pure: imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KustoType:
    name: str              # the CSL name Kusto reports as ColumnType
    duckdb: str            # how the local database stores it
    net: str               # the v1 REST DataType (.NET name without namespace)
    dtype: str             # pandas dtype when the column has no nulls
    nullable_dtype: str    # pandas dtype when it has nulls
    aliases: tuple[str, ...] = ()


TYPES: tuple[KustoType, ...] = (
    KustoType("bool", "BOOLEAN", "Boolean", "bool", "boolean", ("boolean",)),
    KustoType("int", "INTEGER", "Int32", "int32", "Int32", ("int32",)),
    KustoType("long", "BIGINT", "Int64", "int64", "Int64", ("int64",)),
    KustoType("real", "DOUBLE", "Double", "float64", "float64", ("double",)),
    # DuckDB's widest exact decimal; Kusto's is 34 digits. Values beyond 38 digits are refused.
    KustoType("decimal", "DECIMAL(38,18)", "Decimal", "object", "object"),
    KustoType("string", "VARCHAR", "String", "object", "object"),
    KustoType("datetime", "TIMESTAMP", "DateTime", "datetime64[ns, UTC]", "datetime64[ns, UTC]", ("date",)),
    KustoType("timespan", "INTERVAL", "TimeSpan", "timedelta64[ns]", "timedelta64[ns]", ("time",)),
    KustoType("guid", "UUID", "Guid", "object", "object", ("uuid", "uniqueid")),
    KustoType("dynamic", "JSON", "Object", "object", "object"),
)

BY_NAME: dict[str, KustoType] = {t.name: t for t in TYPES}
for _t in TYPES:
    for _alias in _t.aliases:
        BY_NAME[_alias] = _t


def kusto_type(name: str) -> KustoType:
    """The row for a Kusto type name or alias (case-insensitive); ValueError names the valid ones."""
    try:
        return BY_NAME[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown Kusto type {name!r}; use one of {', '.join(t.name for t in TYPES)}"
        ) from None


def from_duckdb(duckdb_type: str) -> str:
    """The Kusto type name a DuckDB column type stands for."""
    t = str(duckdb_type).upper()
    for row in TYPES:
        if t == row.duckdb:
            return row.name
    if t.startswith("DECIMAL"):
        return "decimal"
    if t in ("TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"):
        return "int"
    if t in ("UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT"):
        return "long"
    if t == "FLOAT":
        return "real"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "datetime"
    if t == "TIME":
        return "timespan"
    if t.endswith("[]") or t.startswith(("STRUCT", "MAP", "LIST", "UNION")):
        return "dynamic"
    return "string"
