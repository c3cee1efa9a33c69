"""`kfx-notebook serve [DB_FILE] [--port 8080] [--host 127.0.0.1] [--allow-host NAME] [limits]`: serve until Ctrl-C.

One rule: loopback unless the user names another host, and then a warning that there is
no authentication; Host and Origin names beyond loopback only by --allow-host; every limit
of limits.LIMIT_OPTIONS is an option. Prints the connection string to use, and nothing
secret (there is none).
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    from .limits import LIMIT_OPTIONS

    parser.add_argument("db_file", nargs="?", default=None, metavar="DB_FILE",
                        help="the .duckdb file to serve (default: a fresh in-memory database)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, loopback only; anything else is reachable "
                             "by others and has NO authentication)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests whose Host (or browser Origin) is NAME; repeatable "
                             "(default: loopback names and addresses only)")
    parser.add_argument("--database", default="NetDefaultDB",
                        help="the database clients get when they name none (default: NetDefaultDB)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr (default: off)")
    for option in LIMIT_OPTIONS:
        parser.add_argument(option.flag, type=_positive, default=None, metavar=option.unit,
                            help=f"{option.help} (default: {option.default()} {option.unit})")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def _cannot_open(db_file: str | None, exc: Exception) -> str:
    """One line for a database that would not open; a file locked by another process says what to do."""
    from ..errors import KfxError

    if isinstance(exc, KfxError):
        return str(exc)  # the backend's own line: the file, and what to do
    first = (getattr(exc, "message", None) or str(exc)).strip().splitlines()[0][:300]
    if "lock" in first.lower():
        return (f"{db_file} is open in another process ({first}). Close the other kernel or serve that has it "
                "open, or connect to the serve that is already running.")
    return f"cannot open {db_file or 'the database'}: {first}"


def run(args: argparse.Namespace) -> int:
    from .guard import is_loopback_host
    from .http_server import LocalServer
    from .limits import LIMIT_OPTIONS, limits_from

    limits = limits_from(**{o.flag.lstrip("-").replace("-", "_"): getattr(args, o.flag.lstrip("-").replace("-", "_"))
                            for o in LIMIT_OPTIONS})
    server = LocalServer(args.db_file, host=args.host, port=args.port, database=args.database, limits=limits,
                         allow_hosts=args.allow_host, verbose=args.verbose)
    if not is_loopback_host(args.host):
        print(f"warning: serving on {args.host}: anyone who can reach this address can read and write the "
              "database; there is no authentication. Bind 127.0.0.1 unless you mean it; clients must use a "
              "name given with --allow-host.", file=sys.stderr)
    try:
        server.start()
    except OSError as exc:
        print(f"kfx-notebook serve: error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
              "Pick another --port (0 picks a free one).", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the database would not open: one line, not a traceback
        print(f"kfx-notebook serve: error: {_cannot_open(args.db_file, exc)}", file=sys.stderr)
        return 2
    print(f"Serving {args.db_file or 'an in-memory database'} over the Kusto REST protocol at {server.url}")
    print(f"Connection string: {server.connection_string}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
        print("Stopped.")
    return 0
