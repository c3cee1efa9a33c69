"""KustoInput / KustoOutput: the binding properties as one table, the one magic-line parser, resolution.

The rule it keeps: every binding property is declared once, in PROPERTIES (attribute, magic
flag, function.json key, C# and Java names, direction, default, template-resolved); the
magics, the exporter and function.json all read that table. Pure: no I/O, no IPython.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import expressions, render
from .errors import BindingError, KfxError, SettingError


@dataclass(frozen=True)
class Property:
    attr: str                  # python attribute on KustoInput / KustoOutput
    flag: str | None           # magic option (None: the kqlCommand is the cell body)
    key: str                   # function.json / Python v2 / JS v4 key
    csharp: str                # C# isolated [KustoInput]/[KustoOutput] property
    java: str                  # Java @KustoInput/@KustoOutput element (output ingestionType is misspelt)
    directions: tuple[str, ...]
    default: str | None = None
    template: bool = True      # [AutoResolve]: binding expressions are resolved
    help: str = ""


PROPERTIES: tuple[Property, ...] = (
    Property("database", "--database", "database", "Database", "database", ("in", "out"),
             help="database to query / ingest into (required)"),
    Property("kql_command", None, "kqlCommand", "KqlCommand", "kqlCommand", ("in",),
             help="the cell body"),
    Property("kql_parameters", "--kql-parameters", "kqlParameters", "KqlParameters", "kqlParameters", ("in",),
             help='"@name={name},@other=value" (no "," or "=" in values)'),
    Property("client_request_properties", "--client-request-properties", "clientRequestProperties",
             "ClientRequestProperties", "clientRequestProperties", ("in",),
             help='"@notruncation=true,..." request options'),
    Property("connection", "--connection", "connection", "Connection", "connection", ("in", "out"),
             default="KustoConnectionString", template=False,
             help="name of the setting holding the connection string (default: KustoConnectionString)"),
    Property("managed_service_identity", "--managed-service-identity", "managedServiceIdentity",
             "ManagedServiceIdentity", "managedServiceIdentity", ("in", "out"),
             help='"system" or a user-assigned identity client id (default: none)'),
    Property("table_name", "--table-name", "tableName", "TableName", "tableName", ("out",),
             help="table to ingest into (required)"),
    Property("mapping_ref", "--mapping-ref", "mappingRef", "MappingRef", "mappingRef", ("out",),
             help="ingestion mapping name (default: none)"),
    Property("data_format", "--data-format", "dataFormat", "DataFormat", "dataFormat", ("out",),
             help="csv, json, multijson, ... (default: json for 1 row, multijson for more)"),
    Property("ingestion_type", "--ingestion-type", "ingestionType", "IngestionType", "ingestionTyoe", ("out",),
             default="managed", help="managed or queued (default: managed)"),
    Property("ingestion_properties", "--ingestion-properties", "ingestionProperties", "IngestionProperties",
             "ingestionProperties", ("out",),
             help='"@flushImmediately=false,@pollIntervalSeconds=30,@pollTimeoutMinutes=30" (queued only)'),
)

BY_ATTR: dict[str, Property] = {p.attr: p for p in PROPERTIES}

# The extension's DataSourceFormat names it accepts (Enum.TryParse, case-sensitive).
DATA_FORMATS = ("csv", "tsv", "scsv", "sohsv", "psv", "txt", "raw", "tsve", "w3clogfile", "json", "multijson",
                "singlejson", "avro", "parquet")
# ingestionProperties defaults as the extension's code reads them (src/Services/IKustoIngestionService.cs
# in github.com/Azure/Webjobs.Extensions.Kusto): 30 s / 30 min, though its README and the Java
# annotation's default text say 15 s / 5 min. The one set of defaults: the cluster backend reads it too.
INGESTION_DEFAULTS = {"flushImmediately": False, "pollIntervalSeconds": 30, "pollTimeoutMinutes": 30}

_INT32 = re.compile(r"\s*[+-]?[0-9]+\s*")

NULL_CONNECTION = ("Parameter KustoAttribute.Connection should be passed as an environment variable. "
                   "This value resolved to null")
EMPTY_COMMAND = "The KustoAttribute.TableName or KustoAttribute.KqlCommand property cannot be an empty value."


NULL_VALUE = "Value cannot be null. (Parameter '{}')"


def _null(param: str) -> str:
    return NULL_VALUE.format(param)


class _Binding:
    """What KustoInput and KustoOutput share: function.json form and the extension's indexing checks."""

    direction = ""

    def to_function_json(self) -> dict[str, Any]:
        """The function.json binding entry: camelCase keys, only those set; connection always."""
        out: dict[str, Any] = {"type": "kusto", "direction": self.direction, "name": self.name}
        for prop in PROPERTIES:
            if self.direction not in prop.directions:
                continue
            value = getattr(self, prop.attr)
            if value is None or value == "":
                continue
            if prop.attr != "connection" and prop.default is not None and value == prop.default:
                continue
            out[prop.key] = value
        return out

    def validate(self) -> None:
        """The checks the extension makes when the host indexes the function: a connection, a database, and a
        kqlCommand (input) or tableName (output), with the extension's own messages."""
        hint_at = f" (cell line {self.cell_line})" if self.cell_line else ""
        if not self.connection:
            raise BindingError(_null("Connection"),
                               hint="Set --connection to the name of the setting that holds the Kusto "
                                    "connection string (e.g. KustoConnectionString).")
        if not self.database:
            raise BindingError(_null("Database"), hint="Set --database (or %config KustoMagics.default_database).")
        command = getattr(self, "kql_command", None)
        table = getattr(self, "table_name", None)
        if not (command and command.strip()) and not table:
            what = "write the KQL in the cell body" if self.direction == "in" else "set --table-name"
            raise BindingError(EMPTY_COMMAND, hint=f"{what[0].upper()}{what[1:]}{hint_at}.")


@dataclass(frozen=True)
class KustoInput(_Binding):
    """An input binding: what %%kusto_input runs and what the exporter writes."""

    name: str
    database: str | None
    kql_command: str
    kql_parameters: str | None = None
    client_request_properties: str | None = None
    connection: str | None = "KustoConnectionString"
    managed_service_identity: str | None = None
    cell_id: str | None = None
    cell_line: int = 1          # 1-based line in the cell where the KQL starts

    direction = "in"


@dataclass(frozen=True)
class KustoOutput(_Binding):
    """An output binding: what %%kusto_output ingests into and what the exporter writes."""

    name: str
    database: str | None
    table_name: str | None
    mapping_ref: str | None = None
    data_format: str | None = None
    ingestion_type: str | None = "managed"
    ingestion_properties: str | None = None
    connection: str | None = "KustoConnectionString"
    managed_service_identity: str | None = None
    cell_id: str | None = None
    cell_line: int = 1

    direction = "out"


def check_connection_resolved(value: str | None) -> str:
    """The extension's indexing check on the connection setting's value; returns it when usable."""
    if value is None or not str(value).strip():
        raise SettingError(NULL_CONNECTION,
                           hint="Put the connection string in local.settings.json Values (or ConnectionStrings) "
                                "or in an environment variable named after --connection.")
    return value


# -- the one parser of magic lines --------------------------------------------------------------

@dataclass(frozen=True)
class InputOptions:
    """What a %%kusto_input line asks beyond the binding's properties."""

    query: Mapping[str, str] | None = None   # --query: the stand-in for the HTTP query string
    as_: str = "dataframe"                   # --as: dataframe, or json (the string a Python function receives)
    interactive: bool = False                # --interactive: a form over the declared parameters
    show_query: bool = False                 # --show-query: print the resolved query first
    render: render.RenderSpec | None = None  # the cell's trailing `| render`, drawn by the client


@dataclass(frozen=True)
class OutputOptions:
    """What a %%kusto_output line asks beyond the binding's properties, and the cell's Python."""

    query: Mapping[str, str] | None = None
    dry_run: bool = False                    # --dry-run: show the payload instead of ingesting
    code: str = ""                           # the cell body: Python whose last expression is the return value


@dataclass(frozen=True)
class ParsedCell:
    """A magic line + cell, parsed: the binding and the magic-only options."""

    binding: KustoInput | KustoOutput
    options: InputOptions | OutputOptions
    given: frozenset[str] = frozenset()   # the properties the line set (attr names), so defaults can defer


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print and exit
        raise BindingError(f"%%{self.prog}: {message}", hint="Valid options: " + ", ".join(_flags(self)) + ".")


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")]


def unknown_option(what: str, parser: argparse.ArgumentParser, argv: list[str]) -> BindingError | None:
    """The error for the first option in `argv` that `parser` does not take, with the nearest one
    it does ("Did you mean --out?"), or None. Checked before parsing, so a misspelt required option
    is named as misspelt rather than as missing."""
    flags = _flags(parser)
    unknown = next((a for a in argv if a.startswith("-") and a.split("=", 1)[0] not in flags
                    and not _is_number(a)), None)
    if unknown is None:
        return None
    import difflib  # only for the error

    near = difflib.get_close_matches(unknown.split("=", 1)[0], flags, n=1)
    guess = f"Did you mean {near[0]}? " if near else ""
    return BindingError(f"{what}: unknown option {unknown!r}",
                        hint=guess + "Valid options: " + ", ".join(flags) + ".")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@functools.cache
def _parser(magic: str) -> argparse.ArgumentParser:
    """The option parser of a magic: built once (a cell re-run pays only the parse), never mutated."""
    direction = {"kusto_input": "in", "kusto_output": "out"}[magic]
    parser = _Parser(prog=magic, add_help=False, allow_abbrev=False)
    if direction == "in":
        parser.add_argument("name", help="variable (and binding name) that receives the result")
    else:
        parser.add_argument("name", nargs="?", default="sink", help="binding name (default: sink)")
    for prop in PROPERTIES:
        if prop.flag and direction in prop.directions:
            parser.add_argument(prop.flag, dest=prop.attr, default=None, help=prop.help)
    parser.add_argument("--query", default=None, help="stand-in for the HTTP query string: 'a=1&b=x' or JSON")
    if direction == "in":
        parser.add_argument("--as", dest="as_", choices=("dataframe", "json"), default="dataframe",
                            help="dataframe, or the JSON string a Python function receives (default: dataframe)")
        parser.add_argument("--interactive", action="store_true", help="a form over the declared parameters")
        parser.add_argument("--show-query", action="store_true", help="print the resolved query first")
    else:
        parser.add_argument("--dry-run", action="store_true", help="show the payload instead of ingesting")
    return parser


def valid_options(magic: str) -> list[str]:
    """The options a magic accepts (for help texts and the README table)."""
    return _flags(_parser(magic))


def parse_query(text: str | None) -> dict[str, str] | None:
    """--query: a JSON object or an HTTP query string ('a=1&b=x') -> {name: value}."""
    if text is None:
        return None
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BindingError(f"--query is not valid JSON: {exc}",
                               hint="Write --query 'a=1&b=x' or a JSON object.") from None
        if not isinstance(data, dict):
            raise BindingError("--query JSON must be an object", hint="Write --query '{\"a\": 1}'.")
        return {str(k): expressions.as_route_text(v) for k, v in data.items()}
    try:
        pairs = urllib.parse.parse_qsl(text.lstrip("?"), keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise BindingError(f"--query {text!r} is not a query string",
                           hint="Write --query 'a=1&b=x' or a JSON object.") from None
    return dict(pairs)


def parse_cell(magic: str, line: str, cell: str, *, cell_id: str | None = None) -> ParsedCell:
    """Parse `%%kusto_input ...` / `%%kusto_output ...` line and cell into a binding and options."""
    if magic not in ("kusto_input", "kusto_output"):
        raise ValueError(f"magic must be 'kusto_input' or 'kusto_output', not {magic!r}")
    try:
        argv = shlex.split(line or "", posix=True)
    except ValueError as exc:
        raise BindingError(f"%%{magic}: cannot read the line ({exc})",
                           hint="Close every quote; put values with spaces in quotes.") from None
    parser = _parser(magic)
    options, extra = parser.parse_known_args(argv)
    if extra:
        raise unknown_option(f"%%{magic}", parser, extra) or BindingError(
            f"%%{magic}: unexpected {extra[0]!r}", hint="Valid options: " + ", ".join(_flags(parser)) + ".")
    if not options.name.isidentifier():
        raise BindingError(f"%%{magic}: the name {options.name!r} is not a Python identifier",
                           hint="Use letters, digits and _ (it names the binding and the variable).")
    query = parse_query(options.query)
    body = cell or ""
    lines = body.split("\n")
    first = next((i for i, text in enumerate(lines) if text.strip()), 0)
    values = {p.attr: getattr(options, p.attr) for p in PROPERTIES if getattr(options, p.attr, None) is not None}
    given = frozenset(values)   # binding properties live on the binding only
    if magic == "kusto_input":
        # a trailing `| render` is drawn by the client, never run: the binding's kqlCommand has none
        kql_command, spec = render.split_render("\n".join(lines[first:]).rstrip())
        binding = KustoInput(name=options.name, kql_command=kql_command,
                             cell_id=cell_id, cell_line=first + 1,
                             **{"database": None, **values})
        return ParsedCell(binding, InputOptions(query, options.as_, options.interactive, options.show_query, spec),
                          given)
    binding = KustoOutput(name=options.name, cell_id=cell_id, cell_line=first + 1,
                          **{"database": None, "table_name": None, **values})
    return ParsedCell(binding, OutputOptions(query, options.dry_run, body), given)


# -- resolution against the notebook (the stand-in for trigger data) ----------------------------

@dataclass
class ResolvedInput:
    database: str
    kql: str
    parameters: dict[str, str]
    client_request_properties: dict[str, str]
    managed_service_identity: str | None
    warnings: list[str] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)


@dataclass
class ResolvedOutput:
    database: str
    table_name: str
    mapping_ref: str | None
    data_format: str | None              # None: the binding picks json / multijson by row count
    ingestion_type: str                  # "managed" or "queued"
    ingestion_properties: dict[str, Any]
    managed_service_identity: str | None
    warnings: list[str] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)


class _Resolver:
    def __init__(self, binding, namespace, query, settings):
        self.binding, self.namespace, self.query, self.settings = binding, namespace, query, settings
        self.warnings: list[str] = []
        self.used: dict[str, str] = {}

    def __call__(self, attr: str) -> str | None:
        prop = BY_ATTR[attr]
        text = getattr(self.binding, attr)
        if text is None:
            return None
        if not prop.template:
            return text
        r = expressions.resolve(text, namespace=self.namespace, query=self.query, settings=self.settings,
                                property=prop.key)
        self.warnings.extend(r.warnings)
        self.used.update(r.used)
        return r.value

    def grammar(self, attr: str) -> tuple[dict[str, str], dict[str, str]]:
        """Resolve a property written in the @k=v grammar, then parse it: (pairs, {expression: value} used in it)."""
        before = dict(self.used)
        self.used = {}
        text = self(attr)
        used, self.used = self.used, {**before, **self.used}
        expressions.used_values_check(used, BY_ATTR[attr].key)
        try:
            return expressions.parse_parameters(text), used
        except KfxError as exc:
            exc.message = f"{BY_ATTR[attr].key}: {exc.message}"
            exc.args = (exc.message,)
            raise


def _connection_warnings(binding, settings, database: str) -> list[str]:
    """Quirks that depend on the connection setting's value (never shows the value)."""
    if settings is None or not binding.connection:
        return []
    from .settings import parse_connection_string

    value = settings.connection_string(binding.connection)
    if not value:
        return []
    try:
        parsed = parse_connection_string(value)
    except KfxError:
        return []
    out = []
    if parsed.database and parsed.database != database:
        out.append(f"connection: the setting '{binding.connection}' names database '{parsed.database}', which the "
                   f"binding ignores: it uses database '{database}'")
    return out


def resolve_input(binding: KustoInput, namespace: Mapping, query: Mapping | None = None,
                  settings=None) -> ResolvedInput:
    """Resolve every template property of an input binding; raise what the binding would fail on."""
    r = _Resolver(binding, namespace, query, settings)
    database = r("database") or ""
    kql = r("kql_command") or ""
    parameters, used = r.grammar("kql_parameters")
    crp, _ = r.grammar("client_request_properties")
    identity = r("managed_service_identity") or None
    warnings = list(r.warnings)
    warnings += expressions.check_parameters(kql, parameters, used)
    if identity:
        warnings.append("managedServiceIdentity: the deployed extension caches clients by connection string "
                        "only, so another binding on the same connection shares the first identity used")
    warnings += _connection_warnings(binding, settings, database)
    return ResolvedInput(database, kql, parameters, crp, identity, warnings, r.used)


def _int_property(props: dict[str, str], key: str, warnings: list[str]) -> int:
    if key not in props:
        return INGESTION_DEFAULTS[key]
    text = props[key]
    if _INT32.fullmatch(text) and -2**31 <= int(text) < 2**31:  # .NET int.TryParse
        return int(text)
    if key == "pollIntervalSeconds":
        warnings.append(f"ingestionProperties: pollIntervalSeconds={text!r} is not a whole number; the "
                        "extension reads it as 0, a busy poll loop against the ingestion status table")
    else:
        warnings.append(f"ingestionProperties: {key}={text!r} is not a whole number; the extension reads it as 0")
    return 0


def resolve_output(binding: KustoOutput, namespace: Mapping, query: Mapping | None = None,
                   settings=None) -> ResolvedOutput:
    """Resolve an output binding and read dataFormat / ingestionType / ingestionProperties as the extension does."""
    r = _Resolver(binding, namespace, query, settings)
    database = r("database") or ""
    table = r("table_name") or ""
    mapping = r("mapping_ref") or None
    fmt_text = r("data_format")
    kind_text = r("ingestion_type")
    props, _ = r.grammar("ingestion_properties")
    identity = r("managed_service_identity") or None
    warnings = list(r.warnings)
    data_format: str | None = None
    if fmt_text:
        if fmt_text in DATA_FORMATS:
            data_format = fmt_text
        else:
            data_format = "csv"
            hint = f" (write '{fmt_text.lower()}')" if fmt_text.lower() in DATA_FORMATS else ""
            warnings.append(f"dataFormat: '{fmt_text}' is not one of {', '.join(DATA_FORMATS)} (case-sensitive)"
                            f"{hint}; the extension silently falls back to csv")
    ingestion_type = "queued" if (kind_text or "").strip().lower() == "queued" else "managed"
    if kind_text and ingestion_type == "managed" and kind_text.strip().lower() != "managed":
        warnings.append(f"ingestionType: '{kind_text}' is neither managed nor queued; the extension uses managed")
    unknown = [k for k in props if k not in INGESTION_DEFAULTS]
    if unknown:
        warnings.append(f"ingestionProperties: @{unknown[0]} is not read by the extension (it reads "
                        f"{', '.join(INGESTION_DEFAULTS)})")
    flush = props.get("flushImmediately")
    flush_value = bool(flush is not None and flush.strip().lower() == "true")
    if flush is not None and flush.strip().lower() not in ("true", "false"):
        warnings.append(f"ingestionProperties: flushImmediately={flush!r} is not true/false; the extension reads "
                        "it as false")
    ingestion = {"flushImmediately": flush_value,
                 "pollIntervalSeconds": _int_property(props, "pollIntervalSeconds", warnings),
                 "pollTimeoutMinutes": _int_property(props, "pollTimeoutMinutes", warnings)}
    if props and ingestion_type == "managed":
        warnings.append("ingestionProperties: read only for queued ingestion; with managed ingestion the "
                        "extension ignores them")
    if ingestion_type == "queued" and "pollTimeoutMinutes" in props:
        warnings.append("ingestionProperties: pollTimeoutMinutes is not enforced by the extension 1.0.13; a "
                        "stuck ingestion polls until the host cancels the function")
    if identity:
        warnings.append("managedServiceIdentity: the deployed extension caches clients by connection string "
                        "(and ingestion type) only, so another binding on the same connection shares the "
                        "first identity used")
    warnings += _connection_warnings(binding, settings, database)
    return ResolvedOutput(database, table, mapping, data_format, ingestion_type, ingestion, identity, warnings,
                          r.used)

