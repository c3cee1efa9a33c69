"""`kfx-notebook export` and `%kusto_export`: notebook -> model -> writer -> safe write.

The rule it keeps: one path for all three entry points (CLI, magic, nbconvert): read cells,
build the model, render every file for the language, scan them for secrets, write.
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from ..errors import KfxError
from .model import DEFAULT_SCHEDULE, LANGUAGES, TRIGGERS, FunctionApp

WRITERS = {"python": "kfx_notebook.export.python", "javascript": "kfx_notebook.export.javascript",
           "csharp": "kfx_notebook.export.csharp", "java": "kfx_notebook.export.java"}


def configure(parser: argparse.ArgumentParser, *, notebook: bool = True) -> None:
    if notebook:
        parser.add_argument("notebook", help="the .ipynb to export")
    parser.add_argument("--out", required=True, help="project folder to create (must be empty unless --force)")
    parser.add_argument("--language", choices=LANGUAGES, default="python", help="default: python")
    parser.add_argument("--trigger", choices=TRIGGERS, default="http", help="default: http")
    parser.add_argument("--route", default=None, help="route prefix for every HTTP function (default: none)")
    parser.add_argument("--schedule", default=None, help=f"timer schedule (default: {DEFAULT_SCHEDULE!r})")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--with-local-settings", action="store_true",
                        help="put the notebook's local (embedded or loopback, secret-free) connection strings in "
                             "local.settings.json instead of placeholders (default: placeholders)")
    parser.add_argument("--settings", default=None,
                        help="local.settings.json the notebook uses (default: the nearest to the notebook)")


def render(app: FunctionApp, language: str) -> dict[str, str]:
    """Every file of the project, relative path -> text."""
    if language not in WRITERS:
        raise KfxError(f"--language {language!r} is not one of {', '.join(LANGUAGES)}", hint="Pick one of them.")
    from . import project

    files = project.shared_files(app, language)
    files.update(importlib.import_module(WRITERS[language]).files(app))
    files["README.md"] = project.readme(app, language, [*files, "README.md"])
    return files


def _notebook_settings(notebook_dir: Path, settings_path: str | None):
    from ..settings import Settings, find_settings_file

    path = Path(settings_path) if settings_path else find_settings_file(notebook_dir)
    return Settings(path, os.environ)


def build(cells, notebook_name: str, *, language="python", trigger="http", route=None, schedule=None,
          with_local_settings=False, settings=None, defaults=None) -> tuple[FunctionApp, dict[str, str], list[str]]:
    """(model, files, secrets that must not appear) for cells; pure except for reading `settings`."""
    import dataclasses

    from ..run import EMBEDDED, Defaults
    from .notebook import build_app

    app = build_app(cells, notebook_name, trigger=trigger, route=route, schedule=schedule,
                    defaults=defaults or Defaults())
    secrets: list[str] = []
    if settings is not None:
        from ..settings import secret_values

        values = {}
        for name in app.connections:
            value = settings.connection_string(name)
            secrets += secret_values(value or "")
            if value is None:
                value = EMBEDDED   # what the magics fall back to
            values[name] = value
        if with_local_settings:
            app = dataclasses.replace(app, connection_values=values)
    files = render(app, language)
    from .project import check_no_secrets

    check_no_secrets(files, secrets)
    return app, files, secrets


def export_notebook(notebook: str | Path, out: str | Path, *, language: str = "python", trigger: str = "http",
                    route: str | None = None, schedule: str | None = None, force: bool = False,
                    with_local_settings: bool = False, settings_path: str | None = None) -> Path:
    """Export an .ipynb to a Functions project folder; returns the folder."""
    from .notebook import read_notebook
    from .project import write_project

    notebook = Path(notebook)
    cells = read_notebook(notebook)
    settings = _notebook_settings(notebook.resolve().parent, settings_path)
    _app, files, _ = build(cells, notebook.name, language=language, trigger=trigger, route=route,
                           schedule=schedule, with_local_settings=with_local_settings, settings=settings)
    return write_project(files, out, force=force)


def run(args: argparse.Namespace) -> int:
    out = export_notebook(args.notebook, args.out, language=args.language, trigger=args.trigger, route=args.route,
                          schedule=args.schedule, force=args.force, with_local_settings=args.with_local_settings,
                          settings_path=args.settings)
    print(f"exported {args.notebook} ({args.language}) to {out}")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise KfxError(f"%kusto_export: {message}", hint="Usage: %kusto_export --out DIR [--language python|"
                                                         "javascript|csharp|java] [--trigger http|timer] "
                                                         "[--route PREFIX] [--force] [--notebook PATH]")


def export_from_magic(magics, line: str) -> Path:
    """%kusto_export: export the running notebook (--notebook PATH, the kernel's notebook, or this session)."""
    from .notebook import cells_from_sources, read_notebook, split_magic_line
    from .project import write_project

    parser = _Parser(prog="kusto_export", add_help=False, allow_abbrev=False)
    configure(parser, notebook=False)
    parser.add_argument("--notebook", default=None, help="the .ipynb (default: the running notebook)")
    args = parser.parse_args(split_magic_line(line))
    shell = magics.shell
    path = args.notebook or shell.user_ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
    if path and Path(path).suffix == ".ipynb" and Path(path).is_file():
        cells, name, folder = read_notebook(path), Path(path).name, Path(path).resolve().parent
    elif args.notebook:
        raise KfxError(f"No notebook at {args.notebook}", hint="Pass --notebook with the path of the saved .ipynb.")
    else:
        # No notebook file known: the session's own input history, cells In[1], In[2], ...
        history = list(shell.history_manager.input_hist_raw[1:])
        history = [h for h in history if not h.lstrip().startswith("%kusto_export")]
        cells, name, folder = cells_from_sources(history), "session.ipynb", Path.cwd()
    settings_path = args.settings or magics.settings_file or None
    settings = _notebook_settings(folder, settings_path)
    _app, files, _ = build(cells, name, language=args.language, trigger=args.trigger, route=args.route,
                           schedule=args.schedule, with_local_settings=args.with_local_settings,
                           settings=settings, defaults=magics.defaults())
    out = write_project(files, args.out, force=args.force)
    print(f"exported {name} ({args.language}, {len(_app.functions)} function"
          f"{'s' if len(_app.functions) != 1 else ''}) to {out}")
    return out
