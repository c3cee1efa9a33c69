"""What the local database knows about itself: databases, tables, stored functions, mappings.

A Kusto database is a DuckDB schema; tables live in it. Everything Kusto keeps that
DuckDB has no place for (stored functions, ingestion mappings, ingestion failures) lives
in tables of the internal schema `_kfx`, so one `.duckdb` file holds it all and it
survives a restart. Every change holds the backend's write lock (`WriteLock`): callers hold it
around theirs, and the catalog's own writers take it themselves when the caller does not.

What a query needs from the catalog (the databases, `resolve`) is cached and dropped by every
release of that lock, so a cache is never stale once a writer returns. The lock is the one
gate: DuckDB refuses to attach a file twice in a process (one `LocalBackend` per file, so one
lock), and a second process cannot open a file this one holds (DuckDB's file lock), so no
writer outside this lock can change what is cached.

Names: Kusto database names are case-insensitive (a name resolves to the database that
exists, whatever its case); table names are case-sensitive, which DuckDB's case-insensitive
catalog cannot hold, so a table differing only in case from an existing one is refused,
never merged. Internal and DuckDB schemas are never a Kusto database, in any case.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any, NamedTuple

from ...errors import NameCaseConflictError, UnknownEntityError

META = "_kfx"
INTERNAL = {META, "information_schema", "pg_catalog", "main"}

_META_TABLES = (
    f"CREATE TABLE IF NOT EXISTS {META}.functions (database VARCHAR, name VARCHAR, parameters VARCHAR, "
    "body VARCHAR, folder VARCHAR, docstring VARCHAR, PRIMARY KEY (database, name))",
    f"CREATE TABLE IF NOT EXISTS {META}.mappings (database VARCHAR, table_name VARCHAR, kind VARCHAR, "
    "name VARCHAR, mapping VARCHAR, updated TIMESTAMP, PRIMARY KEY (database, table_name, kind, name))",
    f"CREATE TABLE IF NOT EXISTS {META}.ingestion_failures (operation_id VARCHAR, database VARCHAR, "
    "table_name VARCHAR, failed_on TIMESTAMP, details VARCHAR, error_code VARCHAR, source VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS {META}.table_info (database VARCHAR, table_name VARCHAR, folder VARCHAR, "
    "docstring VARCHAR, PRIMARY KEY (database, table_name))",
)


def quote(name: str) -> str:
    """A DuckDB identifier for a Kusto name (any characters)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal for any text."""
    return "'" + text.replace("'", "''") + "'"


def qualified(database: str, table: str) -> str:
    return f"{quote(database)}.{quote(table)}"


def column_sql(name: str, ktype: str) -> str:
    """A table column's DuckDB definition. Kusto's string type has no null: a string column defaults
    to "" (ingest._stored stores an explicit null the same way), so a row that leaves it out and a
    column added to the rows already there hold "" too."""
    from ...kusto_types import kusto_type

    definition = f"{quote(name)} {kusto_type(ktype).duckdb}"
    return f"{definition} DEFAULT ''" if kusto_type(ktype).name == "string" else definition


#: DuckDB's own catalog names: a Kusto database of that name would be ambiguous in SQL.
RESERVED = {"memory", "system", "temp", "kfx_store"}

#: Every name that is never a Kusto database here, case-folded (DuckDB folds case too).
NOT_A_DATABASE = frozenset(n.casefold() for n in INTERNAL | RESERVED)


def is_internal(schema_name: str) -> bool:
    return schema_name.casefold() in NOT_A_DATABASE


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def duckdb_folded(name: str) -> str:
    """A name as DuckDB compares it: case-insensitive in ASCII (two names folding alike are one to it)."""
    return name.translate(_ASCII_LOWER)


#: Kusto's entity names (learn.microsoft.com/kusto/query/schema-entities/entity-names): 1 to 1024 characters,
#: letters, digits, `_`, space, `.` and `-` (not spaces alone); a name beginning or ending with `__` is
#: Kusto's own.
MAX_NAME = 1024


def check_entity_name(name: str, kind: str) -> str:
    """*name* if Kusto would create a *kind* (table, column, database) of that name, else a 400 saying why."""
    from ...errors import KustoSemanticError

    if not name.strip() or len(name) > MAX_NAME:
        why = "is blank" if not name.strip() else f"is {len(name)} characters long (at most {MAX_NAME})"
    elif bad := sorted({c for c in name if not (c.isalnum() or c in "_ .-")}):
        why = "holds " + ", ".join(repr(c) for c in bad[:5]) + ("" if len(bad) <= 5 else ", ...")
    elif name.startswith("__") or name.endswith("__"):
        why = "begins or ends with '__', which Kusto keeps for itself"
    else:
        return name
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise KustoSemanticError(f"Semantic error: the {kind} name {shown!r} is not a valid Kusto entity name: "
                             f"it {why}",
                             code="BadRequest_EntityNameIsNotValid",
                             hint="A name is 1 to 1024 letters, digits, '_', ' ', '.' or '-'.")


class WriteLock:
    """The backend's writers' lock (reentrant), counting its releases: `generation` changes after
    every hold, so whatever was read under an older generation may be stale (the catalog's cache)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._depth = 0
        self.generation = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """As `threading.RLock.acquire`."""
        if not self._lock.acquire(blocking, timeout):
            return False
        self._depth += 1
        return True

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0:
                self.generation += 1   # still held: the next writer starts from the new generation
        finally:
            self._lock.release()

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class Catalog:
    def __init__(self, con, cursor, lock: WriteLock):
        self.con = con
        self._cursor = cursor
        self._lock = lock
        self._cache: dict[Any, tuple[int, Any]] = {}   # key -> (generation read under, value)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {META}")
        for statement in _META_TABLES:
            con.execute(statement)

    def _cached(self, key, read):
        """`read()`, reused until the write lock is next released (see the module docstring)."""
        generation = self._lock.generation   # before reading: a write committed meanwhile bumps it
        hit = self._cache.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        value = read()
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (generation, value)
        return value

    def _write(self, sql: str, params: list | None = None) -> None:
        """One catalog change, on the writers' connection, under the write lock (taken here if the caller
        does not hold it already), so the cache is dropped when it is released."""
        with self._lock:
            self.con.execute(sql, params or [])

    def _rows(self, sql: str, params: list | None = None) -> list[tuple]:
        cur = self._cursor()
        try:
            return cur.execute(sql, params or []).fetchall()
        finally:
            cur.close()

    # -- databases -------------------------------------------------------------------------
    def databases(self) -> list[str]:
        rows = self._rows(f"SELECT schema_name FROM ({_SCHEMATA}) ORDER BY schema_name")
        return [r[0] for r in rows if not is_internal(r[0])]

    def canonical_database(self, database: str) -> str:
        """The existing database *database* names (Kusto database names ignore case), else itself."""
        if is_internal(database):
            return database
        folded = database.casefold()
        return next((d for d in self._cached("databases", self.databases) if d.casefold() == folded), database)

    def ensure_database(self, database: str) -> None:
        if is_internal(database):
            from ...errors import BindingError

            raise BindingError(f"Database name '{database}' is reserved by the local database",
                               hint="Choose another --database name.")
        check_entity_name(database, "database")
        self._write(f"CREATE SCHEMA IF NOT EXISTS {quote(database)}")

    def require_database(self, database: str) -> None:
        databases = self.databases()
        if database not in databases:
            raise _unknown_database(database, databases)

    # -- tables ----------------------------------------------------------------------------
    def tables(self, database: str) -> list[str]:
        rows = self._rows("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                          "AND table_catalog = current_database() ORDER BY table_name", [database])
        return [r[0] for r in rows]

    def columns(self, database: str, table: str) -> list[tuple[str, str]] | None:
        """[(column, Kusto type)] or None when the table does not exist."""
        from ...kusto_types import from_duckdb

        rows = self._rows("SELECT table_name, column_name, data_type FROM information_schema.columns "
                          "WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?) "
                          "AND table_catalog = current_database() ORDER BY ordinal_position", [database, table])
        if is_internal(database) or not rows:
            return None
        if rows[0][0] != table:
            raise NameCaseConflictError(
                f"Table '{table}' differs only in case from the existing table '{rows[0][0]}' in database "
                f"'{database}'; Kusto table names are case-sensitive and the local database cannot hold both",
                entity=table, hint=f"Use '{rows[0][0]}', or choose a name that differs by more than case.")
        return [(name, from_duckdb(t)) for _table, name, t in rows]

    def require_table(self, database: str, table: str) -> list[tuple[str, str]]:
        columns = self.columns(database, table)
        if columns is None:
            raise UnknownEntityError(f"Table '{table}' was not found in database '{database}'",
                                     entity=table, kind="table",
                                     hint="Create it with .create table, or check the table name.")
        return columns

    def schema(self, database: str) -> dict[str, list[str]]:
        """Table -> column names, as the engine wants it: `Db.T` for all, bare `T` for this database."""
        rows = self._rows(f"SELECT schema_name, table_name, column_name FROM ({_COLUMNS}) "
                          "ORDER BY schema_name, table_name, column_index")
        return _engine_schema(rows, database)

    def resolve(self, database: str) -> "Resolution":
        """What translating a query in *database* needs, read in one statement (so from one state,
        and about a third of the time of three) and cached until the next write: the engine's schema
        (as `schema`) and the stored functions (as `function_definitions`). Refuses a database that
        does not exist (as `require_database`). The caller must not change what it returns."""
        return self._cached(("resolve", database), lambda: self._resolve(database))

    def _resolve(self, database: str) -> "Resolution":
        rows = self._rows(
            f"SELECT 0 AS kind, schema_name AS a, NULL AS b, NULL AS c, NULL AS d, 0 AS i FROM ({_SCHEMATA}) "
            f"UNION ALL SELECT 1, schema_name, table_name, column_name, NULL, column_index FROM ({_COLUMNS}) "
            f"UNION ALL SELECT 2, database, name, parameters, body, 0 FROM {META}.functions WHERE database = ? "
            "ORDER BY kind, a, b, i", [database])
        databases = [r[1] for r in rows if r[0] == 0 and not is_internal(r[1])]
        if database not in databases:
            raise _unknown_database(database, databases)
        schema = _engine_schema([r[1:4] for r in rows if r[0] == 1], database)
        return Resolution(schema, [_definition(r[2], r[3], r[4]) for r in rows if r[0] == 2])

    def table_info(self, database: str, table: str) -> tuple[str, str]:
        rows = self._rows(f"SELECT folder, docstring FROM {META}.table_info WHERE database = ? AND table_name = ?",
                          [database, table])
        return rows[0] if rows else ("", "")

    def set_table_info(self, database: str, table: str, folder: str | None, docstring: str | None) -> None:
        if folder is None and docstring is None:
            return
        self._write(f"INSERT OR REPLACE INTO {META}.table_info VALUES (?, ?, ?, ?)",
                    [database, table, folder or "", docstring or ""])

    def forget_table(self, database: str, table: str) -> None:
        for meta in ("table_info", "mappings"):
            self._write(f"DELETE FROM {META}.{meta} WHERE database = ? AND table_name = ?", [database, table])

    # -- stored functions ------------------------------------------------------------------
    def functions(self, database: str) -> list[tuple[str, str, str, str, str]]:
        """[(Name, Parameters, Body, Folder, DocString)] as `.show functions` reports them."""
        return self._rows(f"SELECT name, parameters, body, folder, docstring FROM {META}.functions "
                          "WHERE database = ? ORDER BY name", [database])

    def function_definitions(self, database: str) -> list[str]:
        """Definitions in the form the engine takes: `function Name(params) { body }`."""
        return [_definition(name, params, body) for name, params, body, _, _ in self.functions(database)]

    def put_function(self, database: str, name: str, parameters: str, body: str, folder: str, docstring: str):
        self._write(f"INSERT OR REPLACE INTO {META}.functions VALUES (?, ?, ?, ?, ?, ?)",
                    [database, name, parameters, body, folder, docstring])

    def drop_function(self, database: str, name: str) -> bool:
        existed = bool(self._rows(f"SELECT 1 FROM {META}.functions WHERE database = ? AND name = ?",
                                  [database, name]))
        self._write(f"DELETE FROM {META}.functions WHERE database = ? AND name = ?", [database, name])
        return existed

    # -- ingestion mappings ----------------------------------------------------------------
    def mappings(self, database: str, table: str, kind: str | None = None) -> list[tuple]:
        """[(Name, Kind, Mapping, LastUpdatedOn, Database, Table)]."""
        sql = (f"SELECT name, kind, mapping, updated, database, table_name FROM {META}.mappings "
               "WHERE database = ? AND table_name = ?")
        params = [database, table]
        if kind:
            sql += " AND kind = ?"
            params.append(kind.lower())
        return self._rows(sql + " ORDER BY kind, name", params)

    def mapping(self, database: str, table: str, name: str, kind: str | None = None) -> tuple[str, list]:
        """(kind, parsed mapping) of a named mapping, or the extension's 'not found' error."""
        for row in self.mappings(database, table, kind):
            if row[0] == name:
                return row[1], json.loads(row[2])
        raise UnknownEntityError(f"Entity ID '{name}' of kind 'MappingPersistent' was not found.",
                                 entity=name, kind="mapping",
                                 hint=f"Create it with .create table {table} ingestion json mapping \"{name}\" '[...]'.")

    def put_mapping(self, database: str, table: str, kind: str, name: str, mapping: list) -> None:
        self._write(f"INSERT OR REPLACE INTO {META}.mappings VALUES (?, ?, ?, ?, ?, ?)",
                    [database, table, kind.lower(), name, json.dumps(mapping), _now()])

    def drop_mapping(self, database: str, table: str, kind: str, name: str) -> bool:
        existed = any(r[0] == name for r in self.mappings(database, table, kind))
        self._write(f"DELETE FROM {META}.mappings WHERE database = ? AND table_name = ? AND kind = ? "
                    "AND name = ?", [database, table, kind.lower(), name])
        return existed

    # -- ingestion failures ----------------------------------------------------------------
    def record_failure(self, operation_id: str, database: str, table: str, details: str, code: str,
                       source: str) -> None:
        self._write(f"INSERT INTO {META}.ingestion_failures VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [operation_id, database, table, _now(), details, code, source])

    def failures(self, database: str | None = None) -> list[tuple]:
        sql = (f"SELECT operation_id, database, table_name, failed_on, details, error_code, source "
               f"FROM {META}.ingestion_failures")
        if database:
            return self._rows(sql + " WHERE database = ? ORDER BY failed_on", [database])
        return self._rows(sql + " ORDER BY failed_on")


class Resolution(NamedTuple):
    """A database's tables and stored functions, as the engine takes them (`Catalog.resolve`)."""

    schema: dict[str, list[str]]
    definitions: list[str]


#: Catalog cache entries kept before the cache starts over (a key per database queried).
_CACHE_SIZE = 64

#: This database's schemata and columns (DuckDB's own tables; information_schema is a view over them).
_SCHEMATA = "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
_COLUMNS = ("SELECT schema_name, table_name, column_name, column_index FROM duckdb_columns() "
            "WHERE database_name = current_database()")


def _engine_schema(rows, database: str) -> dict[str, list[str]]:
    """(schema, table, column) rows in column order -> `Db.T` for all tables, bare `T` for *database*'s."""
    out: dict[str, list[str]] = {}
    for schema_name, table, column in rows:
        if is_internal(schema_name):
            continue
        out.setdefault(f"{schema_name}.{table}", []).append(column)
        if schema_name == database:
            out.setdefault(table, []).append(column)
    return out


def _definition(name: str, parameters: str, body: str) -> str:
    """A stored function in the form the engine takes: `function Name(params) { body }`."""
    return f"function {name}{parameters} {body}"


def _unknown_database(database: str, known: list[str]) -> UnknownEntityError:
    return UnknownEntityError(
        f"Database '{database}' was not found in the local database (known: {', '.join(known) or 'none yet'})",
        entity=database, kind="database",
        hint="Create it by ingesting into it (%%kusto_output, .create table) or check --database.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
