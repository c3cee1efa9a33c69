"""Kusto management commands on the local database: one regex and one handler per command.

Result columns follow the shapes Kusto gives. A command not in COMMANDS is refused with
its name and the list of supported ones — never half-done; one whose head is a supported
command's but whose rest does not parse (`.create table T (a:long`) is a syntax error at its place.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Callable

from ...errors import (KustoSemanticError, KustoSyntaxError, NameCaseConflictError, UnknownEntityError,
                       UnsupportedError)
from ...kusto_types import TYPES, kusto_type
from .catalog import check_entity_name, column_sql, duckdb_folded, qualified

NAME = r"(?:\[\s*'[^']*'\s*\]|\[\s*\"[^\"]*\"\s*\]|[A-Za-z_][\w]*)"
TABLE_COLUMNS = [("TableName", "string"), ("Schema", "string"), ("DatabaseName", "string"),
                 ("Folder", "string"), ("DocString", "string")]
MAPPING_COLUMNS = [("Name", "string"), ("Kind", "string"), ("Mapping", "string"), ("LastUpdatedOn", "datetime"),
                   ("Database", "string"), ("Table", "string")]
FUNCTION_COLUMNS = [("Name", "string"), ("Parameters", "string"), ("Body", "string"), ("Folder", "string"),
                    ("DocString", "string")]
EXTENT_COLUMNS = [("ExtentId", "guid"), ("OriginalSize", "real"), ("ExtentSize", "real"),
                  ("CompressedSize", "real"), ("IndexSize", "real"), ("RowCount", "long")]
MAPPING_KINDS = ("json", "csv", "avro", "parquet", "orc", "w3clogfile")


def unquote(name: str) -> str:
    name = name.strip()
    if name.startswith("[") and name.endswith("]"):
        return name[1:-1].strip()[1:-1]
    if name[:1] in "\"'" and name[-1:] == name[:1]:
        return name[1:-1]
    return name


def _props(text: str | None) -> dict[str, str]:
    """`with (folder="x", docstring='y')` -> {'folder': 'x', 'docstring': 'y'}."""
    out = {}
    for m in re.finditer(r"(\w+)\s*=\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^,\s)]+)", text or ""):
        out[m.group(1).lower()] = unquote(m.group(2))
    return out


def parse_columns(spec: str) -> list[tuple[str, str]]:
    """`a:long, ['b c']:string` -> [('a', 'long'), ('b c', 'string')] with types checked."""
    columns = []
    for part in _split_top(spec):
        if not part.strip():
            continue
        if ":" not in part:
            raise KustoSyntaxError(f"Syntax error: column '{part.strip()}' has no type (write name:type)")
        name, ctype = part.rsplit(":", 1)
        try:
            columns.append((unquote(name), kusto_type(ctype).name))
        except ValueError as exc:
            raise KustoSyntaxError(f"Syntax error: {exc}") from None
    return columns


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _balanced(text: str, start: int, opening: str, closing: str) -> int:
    """Index just past the bracket that closes the one at *start* (strings skipped)."""
    depth, i, quote_char = 0, start, None
    while i < len(text):
        ch = text[i]
        if quote_char:
            if ch == "\\":
                i += 1
            elif ch == quote_char:
                quote_char = None
        elif ch in "\"'":
            quote_char = ch
        elif ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise KustoSyntaxError(f"Syntax error: unbalanced '{opening}' in the command")


def _new_columns(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A `.create[-merge] table`'s columns as Kusto takes them: at least one, each named validly, once."""
    if not columns:
        raise KustoSyntaxError("Syntax error: a table needs at least one column",
                               hint="Write .create table T (Name:type, ...).")
    by_folded: dict[str, str] = {}
    for name, _ in columns:
        check_entity_name(name, "column")
        earlier = by_folded.setdefault(duckdb_folded(name), name)
        if earlier == name and [n for n, _ in columns].count(name) > 1:
            raise KustoSemanticError(f"Semantic error: column '{name}' is given more than once",
                                     code="BadRequest_DuplicateColumnName", hint="Give each column once.")
        if earlier != name:
            raise _case_conflict(earlier, name)
    return columns


def _case_conflict(earlier: str, name: str) -> KustoSemanticError:
    return KustoSemanticError(f"Semantic error: columns '{earlier}' and '{name}' differ only in case: "
                              "a local table cannot hold both", code="BadRequest_DuplicateColumnName",
                              hint="Rename one of them.")


def _csl_schema(columns: list[tuple[str, str]]) -> str:
    return ",".join(f"{name}:{ctype}" for name, ctype in columns)


def _json_schema(table: str, columns: list[tuple[str, str]]) -> str:
    net = {t.name: "System." + t.net for t in TYPES} | {"decimal": "System.Data.SqlTypes.SqlDecimal"}
    return json.dumps({"Name": table, "OrderedColumns": [
        {"Name": n, "Type": net.get(t, "System.Object"), "CslType": t} for n, t in columns]})


def _table_row(backend, database: str, table: str, as_json: bool = False) -> tuple:
    columns = backend.catalog.require_table(database, table)
    folder, doc = backend.catalog.table_info(database, table)
    schema = _json_schema(table, columns) if as_json else _csl_schema(columns)
    return (table, schema, database, folder, doc)


# -- handlers: (backend, database, match) -> (column types, rows) ------------------------------
def create_table(backend, database, m, merge=False):
    table, columns = unquote(m["table"]), _new_columns(parse_columns(m["columns"]))
    props = _props(m["props"])
    with backend.lock:
        backend.catalog.ensure_database(database)
        existing = backend.catalog.columns(database, table)
        if existing is None:
            check_entity_name(table, "table")
            cols = ", ".join(column_sql(n, t) for n, t in columns)
            backend.con.execute(f"CREATE TABLE {qualified(database, table)} ({cols})")
        elif merge:
            have = dict(existing)
            folded = {duckdb_folded(n): n for n in have}
            for name, ctype in columns:
                if name not in have and duckdb_folded(name) in folded:
                    raise _case_conflict(folded[duckdb_folded(name)], name)
                if name not in have:
                    backend.con.execute(f"ALTER TABLE {qualified(database, table)} "
                                        f"ADD COLUMN {column_sql(name, ctype)}")
                elif have[name] != ctype:
                    raise KustoSyntaxError(f"Semantic error: column '{name}' of table '{table}' is {have[name]}, "
                                           f"not {ctype}; .create-merge table cannot change a column's type")
        elif existing != columns:
            raise KustoSyntaxError(
                f"Semantic error: table '{table}' already exists with a different schema ({_csl_schema(existing)})",
                hint="Use .create-merge table to add columns, or .drop table first.")
        backend.catalog.set_table_info(database, table, props.get("folder"), props.get("docstring"))
    return TABLE_COLUMNS, [_table_row(backend, database, table)]


def drop_table(backend, database, m):
    table = unquote(m["table"])
    with backend.lock:
        try:
            exists = backend.catalog.columns(database, table) is not None
        except NameCaseConflictError:
            exists = False  # `s` beside `S`: Kusto has no table `s`, and `S` must not be dropped for it
        if not exists:
            if not m["ifexists"]:
                raise UnknownEntityError(f"Table '{table}' was not found in database '{database}'",
                                         entity=table, kind="table", hint="Check the table name (case-sensitive).")
        else:
            backend.con.execute(f"DROP TABLE {qualified(database, table)}")
            backend.catalog.forget_table(database, table)
    return [("TableName", "string"), ("DatabaseName", "string")], \
        [(t, database) for t in backend.catalog.tables(database)]


def show_tables(backend, database, m):
    backend.catalog.require_database(database)
    rows = [(t, database, *backend.catalog.table_info(database, t)) for t in backend.catalog.tables(database)]
    return [("TableName", "string"), ("DatabaseName", "string"), ("Folder", "string"), ("DocString", "string")], rows


def show_databases(backend, database, m):
    return [("DatabaseName", "string"), ("PersistentStorage", "string"), ("Version", "string"),
            ("IsCurrent", "bool"), ("DatabaseAccessMode", "string"), ("PrettyName", "string")], \
        [(d, backend.path or "", "v1.0", d == database, "ReadWrite", None) for d in backend.catalog.databases()]


def create_database(backend, database, m):
    with backend.lock:
        backend.catalog.ensure_database(unquote(m["name"]))
    return show_databases(backend, unquote(m["name"]), m)


def show_table_schema(backend, database, m):
    return TABLE_COLUMNS, [_table_row(backend, database, unquote(m["table"]), as_json="json" in m["form"].lower())]


def show_table(backend, database, m):
    columns = backend.catalog.require_table(database, unquote(m["table"]))
    return [("AttributeName", "string"), ("AttributeType", "string"), ("DataType", "string")], \
        [(n, "System." + kusto_type(t).net, t) for n, t in columns]


def create_mapping(backend, database, m):
    table, kind, name = unquote(m["table"]), m["kind"].lower(), unquote(m["name"])
    backend.catalog.require_table(database, table)
    try:
        mapping = json.loads(unquote(m["mapping"]))
    except ValueError as exc:
        raise KustoSyntaxError(f"Syntax error: the mapping of '{name}' is not valid JSON ({exc})") from None
    if not isinstance(mapping, list) or not all(isinstance(x, dict) and ("column" in x or "Column" in x)
                                                for x in mapping):
        raise KustoSyntaxError("Syntax error: a mapping is a JSON array of {\"column\": ..., \"Properties\": {...}}")
    with backend.lock:
        if not m["verb"].endswith("alter") and any(r[0] == name for r in backend.catalog.mappings(database, table, kind)):
            raise KustoSyntaxError(f"Semantic error: mapping '{name}' already exists on '{table}'",
                                   hint="Use .create-or-alter to replace it.")
        backend.catalog.put_mapping(database, table, kind, name, mapping)
    return MAPPING_COLUMNS, [r for r in backend.catalog.mappings(database, table, kind) if r[0] == name]


def show_mappings(backend, database, m):
    table = unquote(m["table"])
    backend.catalog.require_table(database, table)
    return MAPPING_COLUMNS, backend.catalog.mappings(database, table, m["kind"])


def drop_mapping(backend, database, m):
    table, kind, name = unquote(m["table"]), m["kind"].lower(), unquote(m["name"])
    with backend.lock:
        if not backend.catalog.drop_mapping(database, table, kind, name):
            backend.catalog.mapping(database, table, name, kind)  # raises the not-found error
    return MAPPING_COLUMNS, backend.catalog.mappings(database, table)


_FUNCTION_HEAD = re.compile(
    rf"^\s*\.(?P<verb>create-or-alter|create|alter)\s+function\s+(?P<ifnot>ifnotexists\s+)?"
    rf"(?:with\s*(?P<props>\((?:[^()\"']|\"[^\"]*\"|'[^']*')*\))\s*)?(?P<name>{NAME})\s*(?=\()", re.IGNORECASE)


def create_function(backend, database, text):
    from .engine import check_function

    m = _FUNCTION_HEAD.match(text)
    name = unquote(m["name"])
    params_end = _balanced(text, m.end(), "(", ")")
    parameters = text[m.end():params_end].strip()
    body = text[params_end:].strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise KustoSyntaxError(f"Syntax error: the body of function '{name}' must be enclosed in {{ }}")
    props = _props(m["props"])
    definition = f"function {name}{parameters} {body}"
    check_function(definition)
    verb = m["verb"].lower()
    with backend.lock:
        backend.catalog.ensure_database(database)
        exists = any(f[0] == name for f in backend.catalog.functions(database))
        if verb == "create" and exists and not m["ifnot"]:
            raise KustoSyntaxError(f"Semantic error: function '{name}' already exists",
                                   hint="Use .create-or-alter function to replace it.")
        if verb == "alter" and not exists:
            raise UnknownEntityError(f"Function '{name}' was not found in database '{database}'", entity=name,
                                     kind="function")
        if not (verb == "create" and exists):
            backend.catalog.put_function(database, name, parameters, body, props.get("folder", ""),
                                         props.get("docstring", ""))
    return FUNCTION_COLUMNS, [f for f in backend.catalog.functions(database) if f[0] == name]


def drop_function(backend, database, m):
    name = unquote(m["name"])
    with backend.lock:
        if not backend.catalog.drop_function(database, name) and not m["ifexists"]:
            raise UnknownEntityError(f"Function '{name}' was not found in database '{database}'", entity=name,
                                     kind="function")
    return [("Name", "string")], [(name,)]


def show_functions(backend, database, m):
    rows = backend.catalog.functions(database)
    if m.groupdict().get("name"):
        name = unquote(m["name"])
        rows = [r for r in rows if r[0] == name]
        if not rows:
            raise UnknownEntityError(f"Function '{name}' was not found in database '{database}'", entity=name,
                                     kind="function")
    return FUNCTION_COLUMNS, rows


def ingest_inline(backend, database, m):
    from .ingest import ingest

    table, props = unquote(m["table"]), _props(m["props"])
    data_format = props.get("format", "csv")
    mapping = props.get("ingestionmappingreference") or props.get("mappingname")
    rows, _ = ingest(backend, database, table, m["data"].lstrip("\n").encode(), data_format=data_format,
                     mapping_ref=mapping)
    return [("ExtentId", "guid"), ("ItemLoaded", "string"), ("Duration", "timespan"), ("HasErrors", "bool"),
            ("OperationId", "guid")], [(str(uuid.uuid4()), "inproc:" + str(uuid.uuid4()), None, False,
                                        str(uuid.uuid4()))] if rows else []


def set_or_append(backend, database, m, text="", timeout=None, request_id=None):
    """`.set/.append/...`: one transaction, cancelled (and rolled back) when servertimeout passes."""
    from .engine import ingestion_sql, ingestion_target

    with backend.lock:
        backend.catalog.ensure_database(database)
        target = ingestion_target(text)
        if backend.catalog.columns(database, target) is None:  # (refuses a table differing only in case)
            check_entity_name(target, "table")
        sql = ingestion_sql(text, database=database, schema=backend.catalog.schema(database),
                            functions=backend.catalog.function_definitions(database))
        rows = backend.write(sql, timeout=timeout, request_id=request_id, text=text)
    return EXTENT_COLUMNS, [(str(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def clear_table(backend, database, m):
    table = unquote(m["table"])
    backend.catalog.require_table(database, table)
    with backend.lock:
        backend.con.execute(f"DELETE FROM {qualified(database, table)}")
    return [("Status", "string")], [("Succeeded",)]


def show_failures(backend, database, m):
    return [("OperationId", "string"), ("Database", "string"), ("Table", "string"), ("FailedOn", "datetime"),
            ("Details", "string"), ("ErrorCode", "string"), ("IngestionSourcePath", "string")], \
        backend.catalog.failures()


#: (name, pattern, handler). Order matters: longer forms first.
COMMANDS: list[tuple[str, re.Pattern, Callable]] = [(name, re.compile(pattern, re.IGNORECASE | re.DOTALL), handler)
                                                     for name, pattern, handler in [
    (".create-merge table", rf"^\.create-merge\s+table\s+(?P<table>{NAME})\s*\((?P<columns>.*?)\)\s*"
                            r"(?:with\s*(?P<props>\(.*\)))?\s*$", lambda b, d, m: create_table(b, d, m, merge=True)),
    (".create table ingestion mapping", rf"^\.(?P<verb>create-or-alter|create|alter)\s+table\s+(?P<table>{NAME})\s+"
     rf"ingestion\s+(?P<kind>{'|'.join(MAPPING_KINDS)})\s+mapping\s+(?P<name>\"[^\"]*\"|'[^']*'|{NAME})\s+"
     r"(?P<mapping>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|```.*```)\s*$", create_mapping),
    (".create table", rf"^\.create\s+table\s+(?P<table>{NAME})\s*\((?P<columns>.*?)\)\s*(?:with\s*(?P<props>\(.*\)))?\s*$",
     create_table),
    (".drop table ingestion mapping", rf"^\.drop\s+table\s+(?P<table>{NAME})\s+ingestion\s+"
     rf"(?P<kind>{'|'.join(MAPPING_KINDS)})\s+mapping\s+(?P<name>\"[^\"]*\"|'[^']*'|{NAME})\s*$", drop_mapping),
    (".drop table", rf"^\.drop\s+table\s+(?P<table>{NAME})(?:\s+(?P<ifexists>ifexists))?\s*$", drop_table),
    (".show tables", r"^\.show\s+tables\s*$", show_tables),
    (".show databases", r"^\.show\s+databases\s*$", show_databases),
    (".create database", rf"^\.create\s+database\s+(?P<name>{NAME})(?:\s+(?:persist|volatile|ifnotexists).*)?\s*$",
     create_database),
    (".show table schema", rf"^\.show\s+table\s+(?P<table>{NAME})\s+(?P<form>schema\s+as\s+json|cslschema)\s*$",
     show_table_schema),
    (".show table ingestion mappings", rf"^\.show\s+table\s+(?P<table>{NAME})\s+ingestion\s+"
     rf"(?:(?P<kind>{'|'.join(MAPPING_KINDS)})\s+)?mappings\s*$", show_mappings),
    (".show table", rf"^\.show\s+table\s+(?P<table>{NAME})\s*$", show_table),
    (".create function", r"^\.(?:create-or-alter|create|alter)\s+function\b", None),
    (".drop function", rf"^\.drop\s+function\s+(?P<name>{NAME})(?:\s+(?P<ifexists>ifexists))?\s*$", drop_function),
    (".show functions", r"^\.show\s+functions\s*$", show_functions),
    (".show function", rf"^\.show\s+function\s+(?P<name>{NAME})\s*$", show_functions),
    (".ingest inline", rf"^\.ingest\s+inline\s+into\s+table\s+(?P<table>{NAME})\s*(?:with\s*(?P<props>\([^)]*\)))?"
                       r"\s*<\|(?P<data>.*)$", ingest_inline),
    (".set / .append / .set-or-append / .set-or-replace",
     r"^\.(?:set-or-replace|set-or-append|append|set)\s+(?:async\s+)?\S+.*<\|", None),
    (".clear table data", rf"^\.clear\s+table\s+(?P<table>{NAME})\s+data\s*$", clear_table),
    (".show ingestion failures", r"^\.show\s+ingestion\s+failures\s*$", show_failures),
]]

SUPPORTED = [name for name, _, _ in COMMANDS]


def run_command(backend, database: str, text: str, *, timeout: float | None = None, request_id: str | None = None):
    """Run one management command; returns (column types, DataFrame). *timeout*: servertimeout, seconds."""
    command = strip_comments(text).strip()
    for name, pattern, handler in COMMANDS:
        m = pattern.match(command)
        if not m:
            continue
        try:
            return _run(backend, database, name, handler, m, command, timeout, request_id)
        except _client_duckdb_errors() as exc:   # what DuckDB refuses of a command is the client's to change
            raise KustoSemanticError(f"Semantic error: {str(exc).splitlines()[0]}", text=command,
                                     hint=f"The local database (DuckDB) refused this {name} command.") \
                from None
    _refuse_malformed(command)
    head = " ".join(command.split()[:3])
    raise UnsupportedError(f"The local database does not support the management command '{head}'",
                           hint="Supported: " + ", ".join(SUPPORTED) + ".")


#: The head of a supported command whose rest did not match: `.create table T (` and `.create-merge table
#: T (` (the column-list form; `.create table T based-on U` is another command, refused as unsupported).
_COLUMN_LIST_HEAD = re.compile(rf"^\.(?P<verb>create-merge|create)\s+table\s+(?P<table>{NAME})\s*\(",
                               re.IGNORECASE)


def _refuse_malformed(command: str) -> None:
    """A supported command written wrong is a syntax error saying what is wrong, at its place; not
    'unsupported', which would send the user looking for another command."""
    m = _COLUMN_LIST_HEAD.match(command)
    if not m:
        return
    name = f".{m['verb'].lower()} table"
    usage = f"Write {name} {unquote(m['table'])} (Name:type, ...) [with (folder=..., docstring=...)]."
    opening = m.end() - 1
    closing = _closing(command, opening)
    if closing is None:
        raise _syntax_error("Syntax error: the column list is not closed: add ')'", command, opening, usage)
    after, end = "the column list", closing
    props = re.compile(r"\s*with\s*(?=\()", re.IGNORECASE).match(command, closing)
    if props:
        end = _closing(command, props.end())
        if end is None:
            raise _syntax_error("Syntax error: the with (...) properties are not closed: add ')'", command,
                                props.end(), usage)
        after = "the with (...) properties"
    rest = command[end:].lstrip()
    if rest:
        raise _syntax_error(f"Syntax error: unexpected '{rest.split()[0]}' after {after}", command,
                            len(command) - len(rest), usage)
    raise _syntax_error(f"Syntax error: the {name} command does not parse", command, 0, usage)


def _closing(text: str, start: int) -> int | None:
    """Index just past the `)` closing the `(` at *start* (strings skipped), or None when it is never closed."""
    try:
        return _balanced(text, start, "(", ")")
    except KustoSyntaxError:
        return None


def _syntax_error(message: str, command: str, offset: int, hint: str) -> KustoSyntaxError:
    before = command[:offset]
    return KustoSyntaxError(message, line=before.count("\n") + 1, column=offset - (before.rfind("\n") + 1) + 1,
                            text=command, hint=hint)


def _client_duckdb_errors() -> tuple[type[Exception], ...]:
    """The DuckDB errors a command's own text causes (names, types, values), not faults of the engine."""
    import duckdb

    return (duckdb.CatalogException, duckdb.ParserException, duckdb.BinderException,
            duckdb.ConversionException, duckdb.ConstraintException, duckdb.InvalidInputException)


def _run(backend, database, name, handler, m, command, timeout, request_id):
    """One matched command: its handler's rows as (column types, DataFrame)."""
    from .results import frame_from_rows

    if name == ".create function":
        columns, rows = create_function(backend, database, command)
    elif handler is None:
        columns, rows = set_or_append(backend, database, m, command, timeout=timeout, request_id=request_id)
    else:
        if name not in (".create table", ".create-merge table", ".create database",
                        ".create table ingestion mapping") and not name.startswith(".show databases"):
            backend.catalog.require_database(database)
        columns, rows = handler(backend, database, m)
    return columns, frame_from_rows(columns, rows)


def strip_comments(text: str) -> str:
    """The command without its leading blank and `//` comment lines."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].strip().startswith("//")):
        lines.pop(0)
    return "\n".join(lines)
