"""Binding expressions ({name}, {Query.x}, %SETTING%, {{ }}) and the extension's @k=v grammar.

The rule it keeps: pure text in, text out, exactly as the Functions host and the Kusto
extension read it (ParseParameters in github.com/Azure/Webjobs.Extensions.Kusto; the host's
binding expressions, https://learn.microsoft.com/azure/azure-functions/functions-bindings-expressions-patterns):
no I/O, settings are reached only through the
`Settings` object handed in. Where the deployed binding would fail, this module raises (or,
for braces the exporter escapes for you, warns once) instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BindingError, ExpressionError, ParameterGrammarError

# -- the @k=v grammar (ParseParameters) ----------------------------------------------------------

E1 = ('Parameters must be separated by "," and parameter name and parameter value must be separated by "=", '
      'i.e. "@param1=param1,@param2=param2". To specify a null value, use null, as in '
      '"@param1=null,@param2=param2".To specify an empty string as a value, simply do not add anything after '
      'the equals sign, as in "@param1=,@param2=param2".')
E2 = 'Parameter name must start with "@", i.e. "@param1=param1,@param2=param2"'
DUPLICATE = "An item with the same key has already been added. Key: {key}"


def parse_parameters(text: str | None) -> dict[str, str]:
    """The extension's ParseParameters: '@a=1,@b=x' -> {'a': '1', 'b': 'x'}; E1/E2/duplicate raise."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for entry in text.split(","):
        if entry == "":
            continue  # empty entries are dropped; whitespace-only ones are not
        pieces = entry.split("=")
        if len(pieces) != 2:
            raise ParameterGrammarError(E1)
        key = pieces[0].strip()
        if not key.startswith("@"):
            raise ParameterGrammarError(E2)
        name = key[1:]
        if name in out:
            raise ParameterGrammarError(DUPLICATE.format(key=name))
        out[name] = pieces[1]
    return out


# -- binding expressions --------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z0-9_.\-]+")
_SETTING = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")


@dataclass
class Resolved:
    """A resolved property: its text, one-line warnings, and {expression as written: value used}."""

    value: str
    warnings: list[str] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)


def as_route_text(value: Any) -> str:
    """A Python value as route data would carry it: str as is, bools lower-case, datetimes ISO 8601."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas.Timestamp and friends
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Token:
    kind: str      # "text" or "expr"
    text: str      # literal text (unescaped) / expression name / the brace as written
    raw: str       # as written
    pos: int       # 0-based offset in the source


def _tokens(text: str, strict: bool) -> list[_Token] | None:
    """Split a template into text and {expr} tokens.

    strict: the host's BindingTemplateParser; returns None where it would throw.
    lenient: valid {ident} are expressions; every other brace is literal text, kept as written.
    """
    out: list[_Token] = []
    buf: list[str] = []
    i, n = 0, len(text)

    def flush():
        if buf:
            s = "".join(buf)
            out.append(_Token("text", s, s, i))
            buf.clear()

    while i < n:
        c = text[i]
        if strict and text.startswith("{{", i):
            buf.append("{")
            i += 2
            continue
        if strict and text.startswith("}}", i):
            buf.append("}")
            i += 2
            continue
        if c == "{":
            j = i + 1
            while j < n and text[j] not in "{}":
                j += 1
            if j < n and text[j] == "}" and _IDENT.fullmatch(text[i + 1:j]):
                flush()
                out.append(_Token("expr", text[i + 1:j], text[i:j + 1], i))
                i = j + 1
                continue
            if strict:
                return None
            buf.append(c)  # lenient: a brace that is no expression is literal text
            i += 1
            continue
        if c == "}":
            if strict:
                return None
            buf.append(c)
            i += 1
            continue
        buf.append(c)
        i += 1
    flush()
    return out


def _first_bad(text: str) -> str:
    """A short excerpt around the first brace the host would reject."""
    i, n = 0, len(text)
    while i < n:
        if text.startswith("{{", i) or text.startswith("}}", i):
            i += 2
            continue
        if text[i] == "{":
            j = i + 1
            while j < n and text[j] not in "{}":
                j += 1
            if j < n and text[j] == "}" and _IDENT.fullmatch(text[i + 1:j]):
                i = j + 1
                continue
            return _excerpt(text, i)
        if text[i] == "}":
            return _excerpt(text, i)
        i += 1
    return ""


def _excerpt(text: str, i: int) -> str:
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    snippet = text[i:i + 24].split("\n")[0]
    return f"'{snippet}' at line {line}, column {col}"


def _lookup(name: str, namespace: Mapping, query: Mapping | None, prop: str) -> str:
    if name.startswith("Query."):
        key = name[len("Query."):]
        if query is None:
            raise ExpressionError(f"{prop}: {{{name}}} needs a query string, and there is none",
                                  hint="Pass --query 'name=value' (the HTTP query string) or define a dict "
                                       "named query in the notebook.")
        if key not in query:
            raise ExpressionError(f"{prop}: {{{name}}} is not in the query string (names are case-sensitive; "
                                  f"it has: {', '.join(map(str, query)) or 'nothing'})",
                                  hint=f"Add {key}=... to --query.")
        value = query[key]
    else:
        head, *rest = name.split(".")
        if head not in namespace:
            raise ExpressionError(f"{prop}: {{{name}}} does not resolve: no variable '{head}' in the notebook",
                                  hint=f"Define {head} = ... in a cell above (it stands in for route or "
                                       "trigger data), or write {{ }} for literal braces.")
        value = namespace[head]
        for part in rest:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif hasattr(value, part):
                value = getattr(value, part)
            else:
                raise ExpressionError(f"{prop}: {{{name}}} does not resolve: '{head}' has no '{part}'",
                                      hint="Check the name; binding expressions are case-sensitive here.")
    if value is None:
        raise ExpressionError(f"{prop}: {{{name}}} resolved to None, which route data cannot carry",
                              hint=f"Give {name} a value.")
    return as_route_text(value)


def _settings_pass(text: str, settings, prop: str, used: dict[str, str], warnings: list[str]) -> str:
    """%NAME% -> the app setting, pairs left to right, as the host's ResolveWholeString does.

    The host has no escape for '%': an unpaired '%' or a pair that is not a setting name makes
    the deployed binding fail. A valid name that does not resolve raises; the others warn once.
    """
    out: list[str] = []
    i = 0
    odd: list[str] = []
    while True:
        a = text.find("%", i)
        if a < 0:
            out.append(text[i:])
            break
        b = text.find("%", a + 1)
        if b < 0:
            odd.append(_excerpt(text, a) + " (a '%' without a closing '%')")
            out.append(text[i:])
            break
        name = text[a + 1:b]
        if not _SETTING.fullmatch(name):
            odd.append(f"{text[a:b + 1]!r}")
            out.append(text[i:b])
            i = b  # kept as written; the closing '%' may open the next pair
            continue
        value = settings.value(name) if settings is not None else None
        if value is None:
            raise ExpressionError(f"{prop}: %{name}% does not resolve: no app setting '{name}' in "
                                  "local.settings.json Values or the environment",
                                  hint=f"Add \"{name}\" to local.settings.json Values or set the environment "
                                       "variable.")
        out.append(text[i:a])
        out.append(value)
        used[f"%{name}%"] = value
        i = b + 1
    if odd:
        warnings.append(f"{prop}: '%' kept as written at {odd[0]}; the deployed host reads every '%...%' as an "
                        "app setting and has no escape for '%', so it would fail: avoid '%' here (for modulo "
                        "write x - y * (x / y))")
    return "".join(out)


def resolve(text: str | None, *, namespace: Mapping, query: Mapping | None = None, settings=None,
            property: str = "value") -> Resolved:
    """Resolve %SETTING%, then {name} / {Query.x} / {{ }} as the host resolves an [AutoResolve] property."""
    if text is None:
        return Resolved("", [], {})
    warnings: list[str] = []
    used: dict[str, str] = {}
    text2 = _settings_pass(text, settings, property, used, warnings) if "%" in text else text
    tokens = _tokens(text2, strict=True)
    if tokens is None:
        tokens = _tokens(text2, strict=False)
        warnings.append(
            f"{property}: braces that are not a binding expression ({_first_bad(text2)}) were kept as written; "
            f"the deployed binding would reject this template (the host says \"Invalid template '...'\") unless "
            "written {{ }}, which %kusto_export does for you")
    parts: list[str] = []
    for tok in tokens:
        if tok.kind == "expr":
            value = _lookup(tok.text, namespace, query, property)
            used[tok.raw] = value
            parts.append(value)
        else:
            parts.append(tok.text)
    return Resolved("".join(parts), warnings, used)


def escape_template(text: str) -> str:
    """Text the host's template parser turns into what the mirror resolved: stray braces doubled.

    Valid ``{name}``/``{Query.x}`` expressions stay. A text the host already accepts is returned unchanged.
    """
    if text is None or _tokens(text, strict=True) is not None:
        return text
    out: list[str] = []
    for tok in _tokens(text, strict=False):
        out.append(tok.raw if tok.kind == "expr" else tok.text.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def unescape_template(text: str) -> str:
    """What the host's parser makes of a template's literal text ({{ -> {, }} -> }), expressions kept."""
    tokens = _tokens(text, strict=True)
    if tokens is None:
        raise ValueError(f"Invalid template '{text}'")
    return "".join(t.raw if t.kind == "expr" else t.text for t in tokens)


# -- declare query_parameters ---------------------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    """One `declare query_parameters` entry; `default` is None or its text.

    The text is the literal after '=' from declared_parameters here, the engine's parsed value
    from backends/local/engine.declared_parameters (the two parsers, and why, are in their docstrings).
    """

    name: str
    type: str
    default: str | None = None


@functools.lru_cache(maxsize=256)
def code_mask(kql: str) -> str:
    """`kql` with string literals and // comments blanked (same length), so scans see only code.
    Once per text: a cell's re-run scans the same query (render and parameter checks) each time."""
    out = list(kql)
    i, n = 0, len(kql)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = kql[i]
        if kql.startswith("//", i):
            j = kql.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif kql.startswith("```", i) or kql.startswith("~~~", i):
            fence = kql[i:i + 3]
            j = kql.find(fence, i + 3)
            j = n if j < 0 else j + 3
            blank(i, j)
            i = j
        elif c in "@" and i + 1 < n and kql[i + 1] in "'\"":
            q = kql[i + 1]
            j = i + 2
            while j < n:
                if kql[j] == q:
                    if j + 1 < n and kql[j + 1] == q:
                        j += 2
                        continue
                    break
                j += 1
            blank(i, j + 1)
            i = j + 1
        elif c in "'\"":
            j = i + 1
            while j < n and kql[j] != c and kql[j] != "\n":
                j += 2 if kql[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


_DECLARE = re.compile(r"\bdeclare\s+query_parameters\s*\(", re.IGNORECASE)


def declared_parameters(kql: str) -> list[Declared]:
    """Every `declare query_parameters(name:type [= default], ...)` entry, types normalized.

    Pure (no engine), for the form and for cluster backends; defaults stay the literal text as
    written. The local backend reads declarations with duckdb-kql's parser instead
    (engine.declared_parameters), to bind exactly what it translates; its defaults are values.
    """
    from .kusto_types import kusto_type

    if not kql:
        return []
    masked = code_mask(kql)
    found: list[Declared] = []
    for m in _DECLARE.finditer(masked):
        start = m.end()
        depth, j, pieces, last = 1, start, [], start
        while j < len(masked) and depth:
            ch = masked[j]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            if (ch == "," and depth == 1) or depth == 0:
                pieces.append((last, j))
                last = j + 1
            j += 1
        if depth:
            raise BindingError("declare query_parameters( is not closed", hint="Close it with ')' and ';'.")
        for a, b in pieces:
            entry = kql[a:b].strip()
            if not entry:
                continue
            head, eq, default = entry.partition("=")
            name, colon, type_ = head.partition(":")
            name = name.strip()
            if not colon or not name:
                raise BindingError(f"declare query_parameters: '{entry}' is not 'name:type'",
                                   hint="Write e.g. declare query_parameters(productId:long = 0);")
            try:
                type_name = kusto_type(type_.strip()).name
            except ValueError as exc:
                raise BindingError(f"declare query_parameters: {exc}") from None
            found.append(Declared(name, type_name, default.strip() if eq else None))
    return found


def used_values_check(used: Mapping[str, str], prop: str = "kqlParameters") -> None:
    """A resolved expression whose value holds ',' or '=' breaks the @k=v grammar: say which one."""
    for expr, value in used.items():
        for ch in (",", "="):
            if ch in value:
                raise BindingError(
                    f"{expr} resolved to {value!r}, which contains {ch!r}; the binding cannot carry ',' or '=' "
                    f"in a parameter value",
                    hint=f"Pass one value per parameter in {prop}, or split it in KQL (e.g. split(x, ';')).")


def check_parameters(kql: str, params: Mapping[str, str], used: Mapping[str, str] | None = None) -> list[str]:
    """What the real binding would only find at run time: raise BindingError, or return warning lines."""
    used_values_check(used or {})
    declared = declared_parameters(kql)
    names = [d.name for d in declared]
    for name in params:
        if name not in names:
            listed = ", ".join(names) if names else "none"
            raise BindingError(
                f"kqlParameters sets @{name}, but the KQL does not declare it (declared: {listed})",
                hint=f"Add `declare query_parameters({name}:string);` before the query, or drop @{name}.")
    for d in declared:
        if d.name not in params and d.default is None:
            raise BindingError(
                f"The KQL declares {d.name}:{d.type} without a default, and kqlParameters gives no @{d.name}",
                hint=f"Add @{d.name}={{{d.name}}} to --kql-parameters, or a default: {d.name}:{d.type} = ...")
    warnings = []
    for name, value in params.items():
        if value == "null":
            warnings.append(f"kqlParameters: @{name}=null sends the string \"null\", not a null value "
                            "(the extension has no null handling)")
        elif value != value.strip():
            warnings.append(f"kqlParameters: @{name} value {value!r} has leading/trailing whitespace, which the "
                            "binding keeps (values are not trimmed)")
    return warnings


class _AnySetting:
    """Stands for app settings when only the shape of a template matters: every name resolves."""

    @staticmethod
    def value(name: str) -> str:
        return ""


def host_refusal(text: str | None, prop: str) -> str | None:
    """Why the deployed host would refuse this template property's use of '%' (None when it accepts it).

    The same left-to-right pairing as `resolve`, with every setting name taken as defined: only an
    unpaired '%', or a pair that is not a setting name, is reported.
    """
    if not text or "%" not in text:
        return None
    warnings: list[str] = []
    _settings_pass(text, _AnySetting(), prop, {}, warnings)
    return warnings[0] if warnings else None
