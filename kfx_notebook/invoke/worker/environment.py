"""The worker's Python environment: the app's .venv, or one created once from requirements.txt and reused.

The rule it keeps: the worker runs in an environment that holds only what the app asks
for (its requirements.txt) plus the worker library and the proxy's gRPC packages
(WORKER_PACKAGES), on a Python the worker supports (>= 3.13). The app's own `.venv` wins
when present. Otherwise the environment lives in the user's cache
($XDG_CACHE_HOME/kfx-notebook or ~/.cache/kfx-notebook, never inside the app, so the
exported folder stays what gets deployed), named by a hash of the interpreter's version,
the requirement lines of requirements.txt (comments aside) and WORKER_PACKAGES: the first call creates it and says so, later calls
with the same inputs reuse it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ...errors import KfxError

try:
    import fcntl
except ImportError:  # not POSIX: no lock between concurrent first calls
    fcntl = None

WORKER_PACKAGES = ("azure-functions-runtime==1.3.0", "grpcio>=1.60", "protobuf>=5.26")
MIN_PYTHON = (3, 13)
_READY = ".kfx-worker-ready"
_PROBE = ("import sys, azure_functions_runtime, grpc, google.protobuf; "
          "print('.'.join(map(str, sys.version_info[:3])))")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kfx-notebook"


def _version(python: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return tuple(int(p) for p in out.split())


def find_python(explicit: str | None = None) -> tuple[str, tuple[int, ...]]:
    """`--python PATH` if given (checked), else the newest Python >= 3.13 under ~/.pyenv/versions or on PATH."""
    wanted = ".".join(map(str, MIN_PYTHON))
    if explicit:
        version = _version(explicit)
        if version is None:
            raise KfxError(f"--python {explicit} does not run", hint="Pass the path of a Python interpreter.")
        if version[:2] < MIN_PYTHON:
            raise KfxError(f"--python {explicit} is Python {'.'.join(map(str, version))}; the worker library "
                           f"(azure-functions-runtime) needs Python >= {wanted}",
                           hint=f"Pass a Python {wanted} or newer.")
        return explicit, version
    candidates = sorted(glob.glob(str(Path.home() / ".pyenv/versions/*/bin/python3")))
    candidates += [p for p in (shutil.which(f"python3.{minor}") for minor in range(20, 12, -1)) if p]
    candidates += [p for p in (shutil.which("python3"), sys.executable) if p]
    found = [(version, path) for path in dict.fromkeys(candidates)
             if (version := _version(path)) and version[:2] >= MIN_PYTHON]
    if not found:
        raise KfxError(f"no Python >= {wanted} found (under ~/.pyenv/versions or on PATH) for the worker",
                       hint=f"Install Python {wanted} (e.g. pyenv install {wanted}) or pass --python PATH.")
    version, path = max(found)
    return path, version


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


def _check(python: Path, where: str) -> None:
    probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise KfxError(f"{where} lacks the worker library or gRPC ({last})",
                       hint="Install them into it: pip install " + " ".join(f'"{p}"' for p in WORKER_PACKAGES))
    version = tuple(int(p) for p in probe.stdout.split("."))
    if version[:2] < MIN_PYTHON:
        raise KfxError(f"{where} is Python {probe.stdout.strip()}; the worker needs >= "
                       f"{'.'.join(map(str, MIN_PYTHON))}", hint="Recreate it with Python 3.13 or newer.")


def worker_python(app_dir: Path, python: str | None = None, say=print) -> Path:
    """The interpreter the worker runs in, creating (once) the environment it needs."""
    own = _bin(app_dir / ".venv", "python")
    if own.exists():
        _check(own, f"the app's .venv ({app_dir / '.venv'})")
        return own
    interpreter, version = find_python(python)
    requirements = app_dir / "requirements.txt"
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]  # comments and blank lines do not make another environment
    key = hashlib.sha256("\n".join([".".join(map(str, version)), *lines, "", *WORKER_PACKAGES]).encode()).hexdigest()
    env = cache_root() / "worker-envs" / key[:16]
    if (env / _READY).exists():
        return _bin(env, "python")
    env.parent.mkdir(parents=True, exist_ok=True)
    with _locked(env.parent / f"{env.name}.lock"):  # another process may be creating the same one
        if not (env / _READY).exists():
            _create(env, interpreter, version, requirements if text else None, say)
            (env / _READY).write_text(key + "\n")
    return _bin(env, "python")


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _create(env: Path, interpreter: str, version: tuple[int, ...], requirements: Path | None, say) -> None:
    shown = "requirements.txt + " if requirements else ""
    say(f"creating the worker environment {env} with Python {'.'.join(map(str, version))} from {shown}"
        f"{' '.join(WORKER_PACKAGES)} (once; later calls reuse it)")
    shutil.rmtree(env, ignore_errors=True)
    try:
        subprocess.run([interpreter, "-m", "venv", str(env)], check=True, capture_output=True, text=True)
        args = [str(_bin(env, "python")), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        if requirements:
            args += ["-r", str(requirements)]
        subprocess.run([*args, *WORKER_PACKAGES], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(env, ignore_errors=True)
        last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise KfxError(f"creating the worker environment failed: {last[0]}",
                       hint="Check the app's requirements.txt installs on Python "
                            f"{'.'.join(map(str, version))} (pip install -r requirements.txt).") from None
