"""Connection strings and settings lookup: the one place that knows Kusto keywords and which are secret.

The rule it keeps: no secret value (AppKey, Password, tokens, certificates) ever leaves this
module in a repr, str, message or log line. Parsing is pure; only `find_settings_file` and
`Settings.from_file`/`Settings.__init__` read files, and only `Settings` reads the environment.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SettingError


@dataclass(frozen=True)
class Keyword:
    name: str                    # the canonical Kusto name
    aliases: tuple[str, ...]
    secret: bool = False
    boolean: bool = False        # value must be true/false


# One row per Kusto connection-string keyword we understand (Kusto docs: connection-strings/kusto.md).
KEYWORDS: tuple[Keyword, ...] = (
    Keyword("Data Source", ("Addr", "Address", "Server", "Network Address")),
    Keyword("Initial Catalog", ("Database",)),
    Keyword("AAD Federated Security", ("Fed", "Federated", "AADFed"), boolean=True),
    Keyword("Application Client Id", ("AppClientId",)),
    Keyword("Application Key", ("AppKey",), secret=True),
    Keyword("Authority Id", ("TenantId",)),
    Keyword("User ID", ("UID", "User")),
    Keyword("Password", ("PWD",), secret=True),
    Keyword("User Token", ("UserToken", "UsrToken"), secret=True),
    Keyword("Application Token", ("AppToken",), secret=True),
    Keyword("Application Certificate Thumbprint", ("AppCert",), secret=True),
    Keyword("Application Certificate Blob", (), secret=True),
    Keyword("Application Certificate Send X5c", ()),
    Keyword("Application Name for Tracing", ()),
    Keyword("User Name for Tracing", ()),
)


def _norm(word: str) -> str:
    return re.sub(r"\s+", "", word).lower()


_BY_WORD: dict[str, Keyword] = {}
for _k in KEYWORDS:
    for _w in (_k.name, *_k.aliases):
        _BY_WORD[_norm(_w)] = _k

MASK = "****"


@dataclass(frozen=True)
class Part:
    """One `;`-separated part: its key, its value (None when the part has no `=`) and where they are."""

    key: str
    value: str | None
    start: int            # where the part begins
    value_start: int      # where its value begins (the quote, if quoted)
    end: int              # the `;` after it, or the end of the text
    problem: str = ""     # why the part is malformed (no text from it), "" when it is fine


def _segments(text: str) -> list[Part]:
    """Split on `;` honouring quoted values (a doubled quote is a literal quote); marks malformed parts."""
    out: list[Part] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in ";=":
            j += 1
        key = text[i:j]
        if j >= n or text[j] == ";":
            if key.strip():
                out.append(Part(key.strip(), None, i, i, j, "has no '='"))
            i = j + 1
            continue
        k = j + 1
        while k < n and text[k] in " \t":
            k += 1
        if k < n and text[k] in "\"'":
            part = _quoted(text, key, i, k)
        else:
            end = text.find(";", j + 1)
            end = n if end < 0 else end
            part = Part(key.strip(), text[j + 1:end].strip(), i, j + 1, end)
        out.append(part)
        i = part.end + 1
    return out


def _quoted(text: str, key: str, start: int, k: int) -> Part:
    """The part whose value opens a quote at *k*: the value up to the matching quote."""
    quote, n, chars = text[k], len(text), []
    i = k + 1
    while i < n:
        if text[i] == quote:
            if i + 1 < n and text[i + 1] == quote:
                chars.append(quote)
                i += 2
                continue
            break
        chars.append(text[i])
        i += 1
    if i >= n:
        return Part(key.strip(), "".join(chars), start, k, n, f"opens a quote at position {k} that is never closed")
    end = text.find(";", i + 1)
    end = n if end < 0 else end
    problem = "" if not text[i + 1:end].strip() else f"has text after its closing quote (position {i + 1})"
    return Part(key.strip(), "".join(chars), start, k, end, problem)


def _is_bare_data_source(part: Part, index: int) -> bool:
    """`https://x;Fed=true`, `local:x.duckdb`: a first part with no `=` that is an address is the Data Source."""
    address = "://" in part.key or part.key == "local" or part.key.startswith("local:")
    return index == 0 and part.value is None and address and not re.search(r"\s", part.key)


def _label(part: Part, index: int) -> str:
    """How a message names a part: its canonical keyword when it is one, else its number and position."""
    word = _BY_WORD.get(_norm(part.key)) if part.value is not None else None
    if word is not None:
        return f"keyword {word.name!r}"
    return f"part {index + 1} (at position {part.start})"


def _problem(parts: list[Part]) -> tuple[int, Part, str] | None:
    """The first part that keeps the string from parsing, and what is wrong with it (never its text)."""
    for index, part in enumerate(parts):
        if part.problem and not (part.value is None and _is_bare_data_source(part, index)):
            return index, part, part.problem
        if part.value is not None and _BY_WORD.get(_norm(part.key)) is None:
            return index, part, "is not a connection string keyword"
    return None


@dataclass(frozen=True)
class ConnectionString:
    """A parsed Kusto connection string. repr/str mask every secret value."""

    data_source: str
    database: str | None
    keywords: dict[str, str] = field(default_factory=dict, compare=False)  # canonical name -> value
    _text: str = field(default="", repr=False, compare=False)

    def __repr__(self) -> str:
        return f"ConnectionString({mask_connection_string(self._text)!r})"

    def __str__(self) -> str:
        return mask_connection_string(self._text)


def parse_connection_string(text: str) -> ConnectionString:
    """Parse a Kusto connection string; a SettingError says which keyword or position is wrong, never the text."""
    if text is None or not str(text).strip():
        raise SettingError("The connection string is empty",
                           hint="Set it to 'Data Source=local' or 'Data Source=https://<cluster>;...'.")
    parts = _segments(text)
    problem = _problem(parts)
    if problem is not None:
        index, part, why = problem
        raise SettingError(f"The connection string does not parse: {_label(part, index)} {why}",
                           hint=_hint(part, why))
    keywords: dict[str, str] = {}
    for index, part in enumerate(parts):
        if _is_bare_data_source(part, index):
            keywords["Data Source"] = part.key
            continue
        word = _BY_WORD[_norm(part.key)]
        value = part.value
        if word.boolean:
            if value.strip().lower() not in ("true", "false"):
                raise SettingError(f"Connection string keyword {word.name!r} must be true or false",
                                   hint=f"Write {word.name}=True or {word.name}=False.")
            value = value.strip().lower()
        keywords[word.name] = value
    source = keywords.get("Data Source", "").strip()
    if not source:
        raise SettingError("The connection string has no Data Source",
                           hint="Add 'Data Source=local' (embedded) or 'Data Source=https://<cluster>'.")
    if source.startswith("local:") and not source[len("local:"):].strip():
        raise SettingError("Data Source 'local:' needs a path", hint="Write Data Source=local:<path>.duckdb.")
    return ConnectionString(source, keywords.get("Initial Catalog") or None, keywords, text)


def _hint(part: Part, why: str) -> str:
    if "keyword" in why:
        close = difflib.get_close_matches(_norm(part.key), list(_BY_WORD), n=1, cutoff=0.7)
        guess = f"Did you mean {_BY_WORD[close[0]].name!r}? " if close else ""
        return guess + "Valid keywords: " + ", ".join(k.name for k in KEYWORDS) + "."
    if "never closed" in why:
        return "Close the quote; inside a quoted value write a quote twice."
    if "closing quote" in why:
        return "End the part at its closing quote: put the ';' right after it."
    return "Write each part as Keyword=Value separated by ';', and quote a value that holds ';' (\"a;b\")."


_SECRET_WORDS = sorted((w for w, k in _BY_WORD.items() if k.secret), key=len, reverse=True)
#: What a connection string that does not parse is shown as: nothing of it.
UNPARSED = "<a connection string that does not parse; not shown>"


def mask_connection_string(text: str) -> str:
    """A connection string with every secret value replaced by ****; one that does not parse is not shown."""
    if not text:
        return text or ""
    if _problem(_segments(text)) is not None:
        return UNPARSED
    return mask_secrets(text)


def mask_secrets(text: str) -> str:
    """Any text (an error message, a log line) with the value after every secret keyword's `=` as ****,
    and every URL's user-info, query and fragment too (`safe_url`)."""
    if not text:
        return text or ""
    out, last = [], 0
    for part in _segments(text):
        if part.value is not None and _ends_with_secret_word(part.key):
            out.append(text[last:part.value_start])
            out.append(MASK)
            last = part.end
    out.append(text[last:])
    return _URL.sub(lambda m: safe_url(m.group(0)), "".join(out))


#: A URL in free text: a scheme, `://`, then anything up to white space, a quote, `;` or a bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s;'\"<>()\[\]]*")
#: A URL's parts that may carry a credential: `user:password@`, `?query` (a SAS `sig=`), `#fragment`.
_URL_SECRETS = re.compile(r"^(?P<scheme>[^:]*://)(?:(?P<userinfo>[^/?#]*)@)?(?P<host>[^?#]*)"
                          r"(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?$", re.S)


def safe_url(url: str) -> str:
    """A URL as it may be shown: its user-info, query and fragment (where credentials ride) as ****."""
    match = _URL_SECRETS.match(url)
    if match is None:
        return url
    userinfo, query, fragment = match.group("userinfo", "query", "fragment")
    return (match["scheme"] + (f"{MASK}@" if userinfo is not None else "") + match["host"]
            + (f"?{MASK}" if query else "") + (f"#{MASK}" if fragment else ""))


def _url_secrets(url: str) -> list[str]:
    """The credential-carrying parts of a URL (`safe_url` hides them), for scrubbing other texts."""
    match = _URL_SECRETS.match(url.strip())
    if match is None:
        return []
    userinfo, query, fragment = match.group("userinfo", "query", "fragment")
    return [v for v in (userinfo, *(userinfo or "").split(":", 1)[1:], query, fragment) if v]


def _ends_with_secret_word(key: str) -> bool:
    """`AppKey`, or free text ending in one (`login failed: AppKey`)."""
    key = _norm(key)
    return any(key.endswith(word) for word in _SECRET_WORDS)


def secret_values(text: str) -> list[str]:
    """Every text of a connection string that may be secret (for scrubbing output and for leak tests).

    For a well-formed string: the values of secret keywords. For one that does not parse, nobody
    can tell a value from a stray piece of a password, so every piece counts: the whole text and
    each `;`/`=`-separated fragment that is not a keyword or a well-formed non-secret value.
    """
    if not text:
        return []
    parts = _segments(text)
    secrets = [p.value for p in parts if p.value and _norm(p.key) in _SECRET_WORDS]
    secrets += [s for p in parts for s in _url_secrets(p.value if p.value is not None else p.key)]
    if _problem(parts) is None:
        return secrets
    plain = {p.value.strip() for p in parts if p.value is not None and not p.problem
             and _norm(p.key) in _BY_WORD and not _BY_WORD[_norm(p.key)].secret}
    pieces = [f.strip().strip("\"'") for f in re.split(r"[;=]", text)]
    words = [w for p in pieces if "://" not in p for w in re.split(r"[\s:]+", p)]
    fragments = [f for f in (*pieces, *words) if f and f not in plain and _norm(f) not in _BY_WORD
                 and f.lower() not in _KEYWORD_WORDS]
    return list(dict.fromkeys([*secrets, text, text.strip(), *fragments]))


#: Single words of keyword names ("Application", "Key"): never a secret, and scrubbing them would garble text.
_KEYWORD_WORDS = {w.lower() for k in KEYWORDS for name in (k.name, *k.aliases) for w in name.split()}


# -- settings lookup ------------------------------------------------------------------------------

SETTINGS_FILE = "local.settings.json"


def find_settings_file(start: Path) -> Path | None:
    """`local.settings.json` in `start` or the nearest parent that has one (reads the file system)."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            return candidate
    return None


class Settings:
    """App settings as the Functions host sees them: local.settings.json, then the environment.

    Never logs or shows a value; `source_of` says where a name was found.
    """

    def __init__(self, path: Path | str | None = None, environ: Mapping[str, str] | None = None):
        self.path = Path(path) if path else None
        self.values: dict[str, str] = {}
        self.connection_strings: dict[str, str] = {}
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise SettingError(f"Cannot read {self.path}: {type(exc).__name__}",
                                   hint="Fix or remove the file; it must be JSON with a \"Values\" object.") from None
            if not isinstance(data, dict):
                raise SettingError(f"{self.path} is not a JSON object",
                                   hint="It must look like {\"IsEncrypted\": false, \"Values\": {...}}.")
            self.values = {str(k): _text(v) for k, v in (data.get("Values") or {}).items()}
            for key, value in (data.get("ConnectionStrings") or {}).items():
                # The host accepts a plain string or {"ConnectionString": "...", "ProviderName": ...}.
                if isinstance(value, dict):
                    value = value.get("ConnectionString", "")
                self.connection_strings[str(key)] = _text(value)
        self.environ = os.environ if environ is None else environ

    def _lookup(self, name: str) -> tuple[str | None, str]:
        if name in self.connection_strings:
            return self.connection_strings[name], f"{SETTINGS_FILE} ConnectionStrings"
        for env_name in (f"ConnectionStrings:{name}", f"ConnectionStrings__{name}"):
            if env_name in self.environ:
                return self.environ[env_name], f"environment {env_name}"
        if name in self.values:
            return self.values[name], f"{SETTINGS_FILE} Values"
        if name in self.environ:
            return self.environ[name], "environment"
        return None, "not found"

    def connection_string(self, name: str) -> str | None:
        """The value of a connection setting, looked up as the host's GetConnectionStringOrSetting."""
        return self._lookup(name)[0]

    def source_of(self, name: str) -> str:
        """Where `connection_string(name)` came from, for messages (never the value)."""
        return self._lookup(name)[1]

    def value(self, name: str) -> str | None:
        """An app setting for `%NAME%`: local.settings.json Values, then the environment."""
        if name in self.values:
            return self.values[name]
        return self.environ.get(name)

    def __repr__(self) -> str:
        return f"Settings(path={str(self.path) if self.path else None!r}, values={len(self.values)})"


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
