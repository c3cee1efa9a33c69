"""`kfx-notebook`: demo, serve, export, invoke.

Each subcommand lives in the module that does its job and exposes two functions,
``configure(parser)`` (declare its options) and ``run(args) -> int``; this module only
dispatches, importing the subcommand's module when it is chosen so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "demo": ("kfx_notebook.demo", "run the whole journey offline: sample database, bindings, export, invoke"),
    "serve": ("kfx_notebook.server.cli", "serve the embedded database over the Kusto REST protocol"),
    "export": ("kfx_notebook.export.command", "export a notebook's binding cells to an Azure Functions project"),
    "invoke": ("kfx_notebook.invoke", "invoke a function of an exported app locally, bindings fulfilled"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kfx-notebook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        # Options are declared by the module that owns the subcommand; only the chosen
        # one is imported (argparse needs them before parsing, so we peek at argv).
        if _chosen(name):
            importlib.import_module(module).configure(sp)
    return parser


def _chosen(name: str) -> bool:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return bool(args) and args[0] == name


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args()
    module = importlib.import_module(args._module)
    from .errors import KfxError

    try:
        return int(module.run(args) or 0)
    except KfxError as exc:
        return _report(args, exc)
    except ModuleNotFoundError as exc:   # an optional part: one line naming the extra that installs it
        from .extras import missing_extra

        error = missing_extra(exc)
        if error is None:
            raise
        return _report(args, error)
    except KeyboardInterrupt:
        return 130


def _report(args, exc) -> int:
    """The error on stderr: with a KQL position, the message, the caret under it and the hint on lines
    of their own; without one, a single line whose parts (message, hint, request id) are set apart by " — "."""
    from .display import error_text, scrub
    from .settings import secret_values

    text = error_text(exc, what=f"kfx-notebook {args.command}: error")
    if not (exc.line and exc.column and exc.text):
        text = " — ".join(text.splitlines())
    print(scrub(text, secret_values(getattr(args, "connection_string", None) or "")), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
