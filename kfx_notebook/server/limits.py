"""What `kfx-notebook serve` will hold for one client: body sizes (as sent and inflated), time, staged blobs.

Pure: standard library only, no I/O. One rule: nothing a client sends is held beyond a limit,
and a body is measured after decompression too -- `inflate` stops at the cap instead of
trusting the compressed size. LIMIT_OPTIONS is the table of limits (one row each: field,
`serve` option, unit, help); the CLI, `LocalServer` and the README are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .. import gzip_stream

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The limits one server enforces. Sizes in bytes, times in seconds."""

    max_body_bytes: int = 128 * MIB       # a request body as sent (above the SDK's 64 MiB single-shot upload)
    max_json_bytes: int = 32 * MIB        # a query or command body (JSON is parsed into objects in memory)
    max_inflated_bytes: int = 256 * MIB   # an ingested body or blob after gunzip
    max_staged_bytes: int = 512 * MIB     # blobs and blocks uploaded but not yet ingested, all together
    blob_ttl: float = 600.0               # an uploaded blob never ingested is dropped after this
    request_timeout: float = 60.0         # from a request's first byte to its last (slowloris)
    idle_timeout: float = 60.0            # a kept-alive connection waiting for its next request
    max_connections: int = 256            # connections open at once (each holds a thread); more get a 429

    def __post_init__(self):
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"Limits.{f.name} must be positive, not {getattr(self, f.name)!r}")


@dataclass(frozen=True)
class LimitOption:
    """One limit as a `kfx-notebook serve` option: the Limits field, the flag, the unit it is given in."""

    field: str
    flag: str
    unit: str          # "MiB", "s" or "connections"
    help: str

    @property
    def scale(self) -> int:
        return MIB if self.unit == "MiB" else 1

    def value(self, given: float) -> int | float:
        """A value given in this option's unit as the Limits field holds it (bytes and counts are whole)."""
        return float(given) if self.unit == "s" else int(given * self.scale)

    def default(self) -> float:
        value = getattr(Limits(), self.field) / self.scale
        return int(value) if value == int(value) else value


LIMIT_OPTIONS: tuple[LimitOption, ...] = (
    LimitOption("max_body_bytes", "--max-body-mb", "MiB", "largest request body as sent"),
    LimitOption("max_json_bytes", "--max-json-mb", "MiB", "largest query or command body"),
    LimitOption("max_inflated_bytes", "--max-inflated-mb", "MiB",
                "largest ingested body or blob after decompression (gzip bombs stop here)"),
    LimitOption("max_staged_bytes", "--max-staged-mb", "MiB", "all uploaded blobs not yet ingested, together"),
    LimitOption("blob_ttl", "--blob-ttl", "s", "seconds an uploaded blob waits for its ingestion before it is dropped"),
    LimitOption("request_timeout", "--request-timeout", "s",
                "seconds a client may take to send one request (headers and body)"),
    LimitOption("idle_timeout", "--idle-timeout", "s", "seconds a kept-alive connection may sit idle"),
    LimitOption("max_connections", "--max-connections", "connections",
                "connections open at once; one more is answered 429"),
)


def limits_from(base: Limits | None = None, **given: float | None) -> Limits:
    """Limits with the options given in their units (`max_body_mb=8`, `request_timeout=5`); None keeps the base."""
    changes = {}
    for option in LIMIT_OPTIONS:
        value = given.pop(option.flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            changes[option.field] = option.value(value)
    if given:
        raise TypeError(f"unknown limit option(s): {', '.join(sorted(given))}")
    return replace(base or Limits(), **changes)


class TooLarge(Exception):
    """A body (or what it inflates to) is over a limit; the message names the limit and the option."""

    def __init__(self, what: str, limit: int, flag: str):
        super().__init__(f"{what} is larger than this server accepts ({limit:,} bytes); "
                         f"send less, or start serve with a larger {flag}.")
        self.message = str(self)


def flag_of(field: str) -> str:
    return next(o.flag for o in LIMIT_OPTIONS if o.field == field)


def inflate(data: bytes, limits: Limits, what: str = "The decompressed body") -> bytes:
    """Gunzip `data` if it is gzip (gzip_stream.inflate), stopping as soon as the output passes the limit.

    Raises TooLarge over the limit, ValueError for a stream that is not valid gzip or that inflates to gzip again.
    """
    cap = limits.max_inflated_bytes
    try:
        return gzip_stream.inflate(data, cap)
    except gzip_stream.OverCap:
        raise TooLarge(what, cap, flag_of("max_inflated_bytes")) from None
