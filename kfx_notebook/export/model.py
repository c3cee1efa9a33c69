"""The exported app as data: FunctionApp and Function, frozen, built once and read by every writer.

The rule it keeps: writers only read this model; nothing here reads a notebook or writes a file.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from .. import bindings, expressions
from ..bindings import KustoInput, KustoOutput
from ..errors import BindingError

LANGUAGES = ("python", "javascript", "csharp", "java")
TRIGGERS = ("http", "timer")
DEFAULT_SCHEDULE = "0 */5 * * * *"


@dataclass(frozen=True)
class Function:
    """One function of the app.

    shape: "rows" (return an input's rows), "ingest" (ingest the request body into an output)
    or "code" (a notebook cell's Python, inputs as the notebook had them: DataFrames, or `--as json`'s
    str; its value set on the outputs).
    """

    name: str                               # a Python identifier; each writer derives its own spelling
    shape: str
    trigger: str                            # "http" or "timer"
    methods: tuple[str, ...]
    route: str | None                       # HTTP route template, e.g. "products/{category}"
    schedule: str | None
    inputs: tuple[KustoInput, ...]
    outputs: tuple[KustoOutput, ...]
    cell_ids: tuple[str, ...]               # provenance: the cells it was made from, in notebook order
    route_params: tuple[str, ...] = ()      # {name} expressions used by its bindings
    query_params: tuple[str, ...] = ()      # {Query.x} expressions used by its bindings
    code: str = ""                          # "code": statements run before the result (imports removed)
    result: str | None = None               # "code": the expression whose value is returned / set
    output_values: tuple[tuple[str, str], ...] = ()   # "code": (output name, expression) set on each output
    free_params: tuple[str, ...] = ()       # "code": names the cell reads from route/query data
    json_inputs: tuple[str, ...] = ()       # "code": inputs the notebook read `--as json` (the binding's str)


@dataclass(frozen=True)
class SetupCommand:
    """A management command that changes the database (`.create`, `.alter`, `.ingest` ...): a script line, not a
    function."""

    database: str
    command: str
    cell_id: str


@dataclass(frozen=True)
class FunctionApp:
    """Everything a writer needs: the functions and the settings and packages they use."""

    notebook: str                           # the notebook's file name, for provenance lines
    functions: tuple[Function, ...]
    connections: tuple[str, ...]            # connection setting names, sorted
    app_settings: tuple[str, ...] = ()      # %SETTING% names used in binding properties, sorted
    imports: tuple[str, ...] = ()           # import statements hoisted from code cells, in order
    packages: tuple[str, ...] = ()          # distributions those imports need, sorted
    setup: tuple[SetupCommand, ...] = ()    # database-changing commands, in notebook order (setup.kql)
    problems: tuple[str, ...] = ()          # what the deployed host would refuse or what failed in the notebook
    connection_values: dict[str, str] = field(default_factory=dict, compare=False)  # --with-local-settings
    notes: tuple[str, ...] = field(default=(), compare=False)   # warnings for the one who exports


_NON_WORD = re.compile(r"[^0-9A-Za-z]+")


def identifier(text: str, prefix: str = "fn") -> str:
    """Any text -> a snake_case Python identifier that is no keyword and starts with a letter."""
    words = [w for w in _NON_WORD.split(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text or "")) if w]
    name = "_".join(w.lower() for w in words) or prefix
    if name[0].isdigit() or keyword.iskeyword(name) or name in ("app", "func", "json"):
        name = f"{prefix}_{name}"
    return name


_ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def checked_identifier(name: str, keywords: frozenset[str] | set[str], what: str) -> str:
    """`name` when it is an ASCII identifier that is no keyword of the target language; refuse anything else.

    Every identifier a writer puts in code goes through here (after `identifier`/`camel`/`pascal` derived it), so
    nothing from a notebook reaches generated code as a name unless it is plainly one.
    """
    if not _ASCII_IDENTIFIER.fullmatch(name or "") or name in keywords:
        raise BindingError(f"{what} {name!r} cannot be a name in the exported code",
                           hint="Use ASCII letters, digits and _ (not starting with a digit), and no keyword.")
    return name


def escaped_literal(text: str, named: dict[str, str], escape) -> str:
    """A double-quoted, ASCII-only string literal: `named` escapes first, printable ASCII as is, and every other
    character through `escape` (the language's \\u form) — the shape C# and Java literals share."""
    out = []
    for ch in str(text):
        if ch in named:
            out.append(named[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(escape(ch))
    return '"' + "".join(out) + '"'


def binding_properties(binding) -> list[tuple[str, str]]:
    """(camelCase key, value as the exported app must write it) in property-table order, only those set."""
    entry = binding.to_function_json()
    out = []
    for prop in bindings.PROPERTIES:
        if prop.key in entry:
            value = entry[prop.key]
            out.append((prop.key, expressions.escape_template(value) if prop.template else value))
    return out


def camel(name: str) -> str:
    """snake_case -> camelCase (JavaScript, Java methods)."""
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def pascal(name: str) -> str:
    """snake_case -> PascalCase (C# methods, Function names in C#/Java)."""
    return "".join(w[:1].upper() + w[1:] for w in name.split("_") if w)


def unique(names: list[str]) -> list[str]:
    """Make names unique in order: the second 'x' becomes 'x_2'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0) + 1
        seen[name] = n
        candidate = name if n == 1 else f"{name}_{n}"
        while candidate in seen and n > 1:
            n += 1
            candidate = f"{name}_{n}"
        seen.setdefault(candidate, 1)
        out.append(candidate)
    return out
