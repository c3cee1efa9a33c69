"""`kfx-notebook export` and `%kusto_export`: notebook -> model -> writer -> safe write.

The rule it keeps: one path for all three entry points (CLI, magic, nbconvert): read cells,
build the model, render every file for the language, scan them for secrets, write.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
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
    parser.add_argument("--force", action="store_true",
                        help="replace a non-empty --out, and export despite failed cells or templates the host "
                             "would refuse")
    parser.add_argument("--with-local-settings", nargs="?", const=True, default=False, metavar="DUCKDB_FILE",
                        help="put the notebook's local (embedded or loopback, secret-free) connection strings in "
                             "local.settings.json instead of placeholders; with DUCKDB_FILE, point every embedded "
                             "connection at that database file, so the app sees the notebook's data")
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


IN_MEMORY = ("{name} is the notebook's in-memory database (Data Source=local), which no other process sees: the "
             "exported app starts empty. Use Data Source=local:FILE.duckdb in the notebook, or export with "
             "--with-local-settings FILE.duckdb")


def _local_value(name: str, value: str, database_file: Path | None, base: Path | None, notes: list[str]) -> str:
    """The connection string the exported app gets for one setting under --with-local-settings."""
    from ..settings import parse_connection_string

    try:
        source = parse_connection_string(value).data_source
    except KfxError:
        return value          # not ours to repair: safe_local_value writes a placeholder for it
    if source != "local" and not source.startswith("local:"):
        return value
    if database_file is not None:
        return f"Data Source=local:{database_file}"
    if source == "local":
        notes.append(IN_MEMORY.format(name=name))
        return value
    path = Path(source[len("local:"):].strip()).expanduser()
    if path.is_absolute() or base is None:   # no base: the caller keeps paths relative to the app folder
        return value
    return f"Data Source=local:{(base / path).resolve()}"


def _database_file(with_local_settings) -> Path | None:
    if with_local_settings in (None, False, True):
        return None
    path = Path(str(with_local_settings)).expanduser().resolve()
    if path.suffix != ".duckdb":
        raise KfxError(f"--with-local-settings: {path.name} is not a .duckdb file",
                       hint="Pass the .duckdb file the notebook used (its Data Source=local:PATH), after the "
                            "notebook argument.")
    if not path.is_file():
        raise KfxError(f"--with-local-settings: no database file at {path}",
                       hint="Pass the .duckdb file the notebook used (its Data Source=local:PATH).")
    return path


def build(cells, notebook_name: str, *, language="python", trigger="http", route=None, schedule=None,
          with_local_settings=False, settings=None, defaults=None, force=False,
          base: Path | None = None) -> tuple[FunctionApp, dict[str, str], list[str]]:
    """(model, files, secrets that must not appear) for cells; pure except for reading `settings`.

    `with_local_settings`: True writes the notebook's own local connection strings (a relative
    `local:PATH` made absolute against `base`, the folder the notebook ran in; kept as written
    without one), a path points every embedded connection at that database file. Problems (failed cells, templates the host refuses) raise unless `force`.
    """
    import dataclasses

    from ..run import EMBEDDED, Defaults
    from .notebook import build_app

    app = build_app(cells, notebook_name, trigger=trigger, route=route, schedule=schedule,
                    defaults=defaults or Defaults())
    if app.problems and not force:
        count = len(app.problems)
        raise KfxError(f"{notebook_name}: {count} problem{'s' if count > 1 else ''} the deployed app would have: "
                       + "; ".join(app.problems),
                       hint="Fix those cells and run them again, or pass --force to export anyway.")
    secrets: list[str] = []
    notes = [f"exported despite: {p}" for p in app.problems]
    if settings is not None:
        from ..settings import secret_values

        database_file = _database_file(with_local_settings)
        values = {}
        for name in app.connections:
            value = settings.connection_string(name)
            secrets += secret_values(value or "")
            if value is None:
                value = EMBEDDED   # what the magics fall back to
            values[name] = _local_value(name, value, database_file, base, notes) \
                if with_local_settings else value
        if with_local_settings:
            app = dataclasses.replace(app, connection_values=values)
    app = dataclasses.replace(app, notes=tuple(notes))
    files = render(app, language)
    from .project import check_no_secrets

    check_no_secrets(files, secrets)
    return app, files, secrets


def export_notebook(notebook: str | Path, out: str | Path, *, language: str = "python", trigger: str = "http",
                    route: str | None = None, schedule: str | None = None, force: bool = False,
                    with_local_settings: bool | str = False, settings_path: str | None = None) -> Path:
    """Export an .ipynb to a Functions project folder; returns the folder."""
    return _export_notebook(notebook, out, language=language, trigger=trigger, route=route, schedule=schedule,
                            force=force, with_local_settings=with_local_settings, settings_path=settings_path)[1]


def _export_notebook(notebook, out, *, force, settings_path, **options) -> tuple[FunctionApp, Path]:
    from .notebook import read_notebook
    from .project import write_project

    notebook = Path(notebook)
    cells = read_notebook(notebook)
    folder = notebook.resolve().parent
    settings = _notebook_settings(folder, settings_path)
    app, files, _ = build(cells, notebook.name, settings=settings, force=force, base=folder, **options)
    return app, write_project(files, out, force=force)


def _say_done(app: FunctionApp, name: str, language: str, out: Path) -> None:
    for note in app.notes:
        print(f"warning: {note}")
    count = len(app.functions)
    from .project import setup_file_name

    scripts = sorted({setup_file_name(app, c.database) for c in app.setup})
    print(f"exported {name} ({language}, {count} function{'s' if count != 1 else ''}"
          + (f", database setup in {', '.join(scripts)}" if scripts else "") + f") to {out}")


def run(args: argparse.Namespace) -> int:
    app, out = _export_notebook(args.notebook, args.out, language=args.language, trigger=args.trigger,
                                route=args.route, schedule=args.schedule, force=args.force,
                                with_local_settings=args.with_local_settings, settings_path=args.settings)
    _say_done(app, Path(args.notebook).name, args.language, out)
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise KfxError(f"%kusto_export: {message}", hint="Usage: %kusto_export --out DIR [--language python|"
                                                         "javascript|csharp|java] [--trigger http|timer] "
                                                         "[--route PREFIX] [--force] [--with-local-settings "
                                                         "[DUCKDB_FILE]] [--notebook PATH]")


_UNSAVED = re.compile(r"^Untitled[-\d]*\.ipynb$", re.IGNORECASE)


def _kernel_notebook(shell, explicit: str | None) -> str | None:
    """The notebook file to read: --notebook, else the one the kernel runs — refused while it is not saved."""
    if explicit:
        if not (Path(explicit).suffix == ".ipynb" and Path(explicit).is_file()):
            raise KfxError(f"No notebook at {explicit}", hint="Pass --notebook with the path of the saved .ipynb.")
        return explicit
    path = shell.user_ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
    if not path or Path(path).suffix != ".ipynb":
        return None
    if _UNSAVED.match(Path(path).name) or not Path(path).is_file():
        raise KfxError(f"{Path(path).name} is not saved under a name yet, so there is nothing to export from",
                       hint="Save the notebook under its own name (File > Save Notebook As...), then run "
                            "%kusto_export again.")
    return path


def export_from_magic(magics, line: str) -> Path:
    """%kusto_export: export the running notebook (--notebook PATH, the kernel's notebook, or this session)."""
    from ..bindings import unknown_option
    from .notebook import cells_from_sources, has_exportable_cells, read_notebook, split_magic_line
    from .project import write_project

    parser = _Parser(prog="kusto_export", add_help=False, allow_abbrev=False)
    configure(parser, notebook=False)
    parser.add_argument("--notebook", default=None, help="the .ipynb (default: the running notebook)")
    argv = split_magic_line(line)
    if (unknown := unknown_option("%kusto_export", parser, argv)) is not None:
        raise unknown
    args = parser.parse_args(argv)
    shell = magics.shell
    path = _kernel_notebook(shell, args.notebook)
    if path:
        cells, name, folder = read_notebook(path), Path(path).name, Path(path).resolve().parent
        if not has_exportable_cells(cells):
            raise KfxError(f"{name} as saved has no %%kusto_input, %%kusto_output or function:NAME cell",
                           hint="Save the notebook (Ctrl+S) so the export reads the cells you ran, then run "
                                "%kusto_export again.")
    else:
        # No notebook file known: the session's own input history, cells In[1], In[2], ...
        history = list(shell.history_manager.input_hist_raw[1:])
        history = [h for h in history if not h.lstrip().startswith("%kusto_export")]
        cells, name, folder = cells_from_sources(history), "session.ipynb", Path.cwd()
    settings_path = args.settings or magics.settings_file or None
    settings = _notebook_settings(folder, settings_path)
    app, files, _ = build(cells, name, language=args.language, trigger=args.trigger, route=args.route,
                          schedule=args.schedule, with_local_settings=args.with_local_settings,
                          settings=settings, defaults=magics.defaults(), force=args.force, base=Path.cwd())
    out = write_project(files, args.out, force=args.force)
    _say_done(app, name, args.language, out)
    return out
