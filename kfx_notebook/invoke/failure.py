"""A function that failed: what the Functions host answers and what it logs. Pure.

The rule it keeps: when the function raises (or the worker cannot finish the invocation), the
host answers an HTTP trigger `500 Internal Server Error` with an empty body, ingests nothing, and
logs "Executed 'Functions.NAME' (Failed, ...)" then the worker's RpcException: "Exception: TYPE:
MESSAGE" and "Stack: " with the worker's `traceback.format_exception` text. Both invoke paths
build their Failure here, and the stack is cut the same way for both: the frames above the app's
own code (kfx-notebook's when the library calls the function, azure_functions_runtime's in the
worker) are the host's, not the user's, and are dropped.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path

def failed_answer(http: bool) -> tuple[int | None, dict[str, str], bytes]:
    """What the host answers a failed invocation: an HTTP trigger 500 with no headers and no body;
    any other trigger no response."""
    return (500, {}, b"") if http else (None, {}, b"")

_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+')


@dataclass(frozen=True)
class Failure:
    """The failed invocation as the host logs it. `stack` may be empty (no frame of the app's code)."""

    function: str
    invocation_id: str
    duration_ms: int
    message: str    # "IndexError: single positional indexer is out-of-bounds", as the worker words it
    stack: str      # the traceback from the app's first frame on, ending with the exception line

    def log_lines(self) -> list[str]:
        """The host's log lines for it (Core Tools' wording, without the timestamps)."""
        lines = [(f"Executed 'Functions.{self.function}' (Failed, Id={self.invocation_id}, "
                  f"Duration={self.duration_ms}ms)"),
                 f"Exception: {self.message}"]
        if self.stack:
            lines.append(f"Stack: {self.stack.rstrip()}")
        return lines


def exception_message(exc: BaseException) -> str:
    """The RpcException message the worker sends (azure_functions_runtime.utils.tracing.serialize_exception)."""
    return f"{type(exc).__name__}: {exc}"


def exception_stack(exc: BaseException) -> str:
    """The RpcException stack_trace the worker sends: the whole chain, as traceback.format_exception writes it."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _in_app(file: str, app_dir: Path) -> bool:
    try:
        relative = Path(file).resolve().relative_to(app_dir.resolve())
    except (OSError, ValueError):
        return False
    return not {".venv", "site-packages"} & set(relative.parts)  # the app's own code, not its packages


def user_stack(stack: str, app_dir: Path) -> str:
    """The stack trace with the host's frames dropped: in each `Traceback (most recent call last):` section,
    the frames before the first one in the app's folder. Without any frame of the app's code: empty (the
    failure was the worker's or the host's, and its frames would only show their insides)."""
    lines = stack.splitlines(keepends=True)
    if not any((m := _FRAME.match(line)) and _in_app(m["file"], app_dir) for line in lines):
        return ""
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].rstrip("\n") != _TRACEBACK:
            i += 1
            continue
        i += 1
        frames = []  # [first line index, end index, in the app]
        while i < len(lines) and lines[i].startswith("  "):
            if m := _FRAME.match(lines[i]):
                frames.append([i, i + 1, _in_app(m["file"], app_dir)])
            elif frames:
                frames[-1][1] = i + 1
            i += 1
        first = next((n for n, (_, _, mine) in enumerate(frames) if mine), 0)
        for start, end, _ in frames[first:]:
            out.extend(lines[start:end])
    return "".join(out)
