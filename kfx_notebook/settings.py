"""Connection strings and settings lookup: the one place that knows Kusto keywords and which are secret.

The rule it keeps: no secret value (AppKey, Password, tokens, certificates) ever leaves this
module in a repr, str, message or log line. Parsing is pure; only `find_settings_file` and
`Settings.from_file`/`Settings.__init__` read files, and only `Settings` reads the environment.
"""

from __future__ import annotations

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


def _segments(text: str) -> list[tuple[str, str | None, int, int]]:
    """Split on `;` honouring quoted values. Each item: (key, value or None, value start, value end)."""
    out: list[tuple[str, str | None, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in ";=":
            j += 1
        key = text[i:j]
        if j >= n or text[j] == ";":
            if key.strip():
                out.append((key.strip(), None, i, j))
            i = j + 1
            continue
        # text[j] == "=": read the value
        k = j + 1
        while k < n and text[k] in " \t":
            k += 1
        if k < n and text[k] in "\"'":
            quote, start = text[k], k
            k += 1
            chars = []
            while k < n:
                if text[k] == quote:
                    if k + 1 < n and text[k + 1] == quote:  # doubled quote = literal quote
                        chars.append(quote)
                        k += 2
                        continue
                    break
                chars.append(text[k])
                k += 1
            end = min(k + 1, n)
            value = "".join(chars)
            while end < n and text[end] != ";":
                end += 1
            out.append((key.strip(), value, start, end))
            i = end + 1
        else:
            start = j + 1
            end = start
            while end < n and text[end] != ";":
                end += 1
            out.append((key.strip(), text[start:end].strip(), start, end))
            i = end + 1
    return out


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

    @property
    def is_local(self) -> bool:
        """True for the embedded database (`local` or `local:<path>.duckdb`)."""
        return self.data_source == "local" or self.data_source.startswith("local:")

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.keywords.items() if _BY_WORD[_norm(k)].secret and v]


def parse_connection_string(text: str) -> ConnectionString:
    """Parse a Kusto connection string; SettingError names an unknown keyword (never its value)."""
    if text is None or not str(text).strip():
        raise SettingError("The connection string is empty",
                           hint="Set it to 'Data Source=local' or 'Data Source=https://<cluster>;...'.")
    keywords: dict[str, str] = {}
    for key, value, _s, _e in _segments(text):
        if value is None:
            if "://" in key or key == "local" or key.startswith("local:") or not keywords:
                keywords["Data Source"] = key
                continue
            raise SettingError(f"Connection string part {_shown(key)!r} has no '='",
                               hint="Write each part as Keyword=Value, separated by ';'.")
        word = _BY_WORD.get(_norm(key))
        if word is None:
            raise SettingError(
                f"Unknown connection string keyword {_shown(key)!r}",
                hint="Valid keywords: " + ", ".join(k.name for k in KEYWORDS) + ".")
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


def _shown(key: str) -> str:
    """A keyword as it may appear in a message: short, since a typo'd key could hold pasted text."""
    return key if len(key) <= 60 else key[:57] + "..."


_SECRET_WORDS = sorted((w for w, k in _BY_WORD.items() if k.secret), key=len, reverse=True)


def mask_connection_string(text: str) -> str:
    """`text` with every secret value replaced by ****; works on strings that do not parse."""
    if not text:
        return text or ""
    out, last = [], 0
    for key, value, start, end in _segments(text):
        if value is not None and _norm(key) in _SECRET_WORDS:
            out.append(text[last:start])
            out.append(MASK)
            last = end
    out.append(text[last:])
    return "".join(out)


def secret_values(text: str) -> list[str]:
    """Every secret value in a connection string (for scrubbing output and for leak tests)."""
    if not text:
        return []
    return [value for key, value, _s, _e in _segments(text)
            if value and _norm(key) in _SECRET_WORDS]


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
