"""`kfx-notebook serve [DB_FILE] [--port 8080] [--host 127.0.0.1]`: serve until Ctrl-C.

One rule: loopback unless the user names another host, and then a warning that there is
no authentication. Prints the connection string to use, and nothing secret (there is none).
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("db_file", nargs="?", default=None, metavar="DB_FILE",
                        help="the .duckdb file to serve (default: a fresh in-memory database)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: 127.0.0.1, loopback only; anything else is reachable "
                             "by others and has NO authentication)")
    parser.add_argument("--database", default="NetDefaultDB",
                        help="the database clients get when they name none (default: NetDefaultDB)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr (default: off)")


def run(args: argparse.Namespace) -> int:
    from .app import LocalServer, is_loopback

    server = LocalServer(args.db_file, host=args.host, port=args.port, database=args.database,
                         verbose=args.verbose)
    if not is_loopback(args.host):
        print(f"warning: serving on {args.host}: anyone who can reach this address can read and write the "
              "database; there is no authentication. Bind 127.0.0.1 unless you mean it.", file=sys.stderr)
    try:
        server.start()
    except OSError as exc:
        print(f"kfx-notebook serve: error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
              "Pick another --port (0 picks a free one).", file=sys.stderr)
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
