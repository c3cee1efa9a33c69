"""Optional parts of kfx-notebook and the extra that installs each: a missing one is one line naming the extra.

The rule it keeps: one row per optional import (module -> extra, distribution); nothing else decides
what a ModuleNotFoundError of an optional part tells the user.
"""

from __future__ import annotations

import importlib

from .errors import KfxError

# top-level module that is optional -> (extra of kfx-notebook, distribution, what needs it)
EXTRAS = {
    "azure.functions": ("functions", "azure-functions", "loading and invoking exported apps (demo, invoke)"),
    "nbconvert": ("nbconvert", "nbconvert", "jupyter nbconvert --to kusto_functions"),
    "ipywidgets": ("widgets", "ipywidgets", "the --interactive form"),
    "matplotlib": ("charts", "matplotlib", "drawing a query's `| render` chart"),
    "grpc": ("worker", "grpcio", "invoke --worker (kfx-notebook's side of the host<->worker protocol)"),
    "google.protobuf": ("worker", "protobuf", "invoke --worker (the host<->worker messages)"),
}


def _row(module_name: str | None):
    for module, row in EXTRAS.items():
        if module_name and (module_name == module or module_name.startswith(module + ".")
                            or module.startswith(module_name + ".")):
            return module, row
    return None


def missing_extra(exc: BaseException) -> KfxError | None:
    """The one-line error for a ModuleNotFoundError of an optional part (None for anything else)."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    found = _row(exc.name)
    if found is None:
        return None
    _module, (extra, distribution, purpose) = found
    return KfxError(f"{distribution} is not installed; it is needed for {purpose}",
                    hint=f"Install the extra: pip install \"kfx-notebook[{extra}]\".")


def require(module: str) -> None:
    """Import an optional part now, or raise the one-line error naming its extra."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise (missing_extra(exc) or exc) from None
