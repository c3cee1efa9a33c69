"""What the Python worker (azure-functions-runtime) does with a function's Kusto parameters, for the library path.

The rule it keeps: `invoke` without --worker must refuse and send exactly what the real
worker does (tests/test_invoke_worker.py runs every golden app both ways and diffs them),
so the worker's two rules for a Kusto (generic) binding live here, once:
- indexing (`Registry.validate_function_params`): an input annotated at all must be a
  subclass of str or bytes, an output must be `func.Out[T]` with T a subclass of str,
  bytes or bytearray; otherwise "cannot load the NAME function: ..." in the worker's words;
- sending (`GenericBinding.encode` + `datum_as_proto`): str -> TypedData string, bytes ->
  bytes, dict/list -> json (`json.dumps`), int/bool -> int, float -> double, anything
  else refused.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any

from ..errors import BindingError


class UnencodableValue(BindingError):
    """A value the worker cannot send (its `TypeError` "unable to encode outgoing TypedData"): the invocation
    fails, as a function that raised, and nothing is sent. `worker_message` is the worker's own words."""

    def __init__(self, binding_type: str, value: Any, output: str, hint: str):
        self.worker_message = (f'TypeError: unable to encode outgoing TypedData: unsupported type "{binding_type}" '
                               f'for Python type "{type(value).__name__}"')
        super().__init__(f"{self.worker_message[len('TypeError: '):]} (output {output!r})", hint=hint)


def _load_error(function: str, message: str) -> BindingError:
    return BindingError(f"cannot load the {function} function: {message}",
                        hint="Annotate a Kusto input as str and a Kusto output as func.Out[str] "
                             "(the Python worker refuses anything else at indexing).")


def _out_argument(annotation) -> tuple[bool, Any]:
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and origin.__name__ == "Out":
        args = typing.get_args(annotation)
        return True, (args[0] if len(args) == 1 else None)
    return False, annotation


def check_annotations(function: str, user_function, directions: dict[str, str]) -> None:
    """Refuse, as the worker does at indexing, a Kusto parameter whose annotation it cannot bind."""
    try:
        hints = typing.get_type_hints(user_function)
    except Exception:  # unresolvable string annotations: the worker reads __annotations__ as they are
        hints = dict(getattr(user_function, "__annotations__", {}))
    for name in inspect.signature(user_function).parameters:
        if name not in directions or name not in hints:
            continue
        is_out, pytype = _out_argument(hints[name])
        if directions[name] == "out" and not is_out:
            raise _load_error(function, f'binding {name} is declared to have the "out" direction, but its '
                                        "annotation in Python is not a subclass of azure.functions.Out")
        if directions[name] == "in" and is_out:
            raise _load_error(function, f'binding {name} is declared to have the "in" direction in the binding '
                                        "decorator, but its annotation is azure.functions.Out in Python")
        allowed = (str, bytes, bytearray) if is_out else (str, bytes)
        if not (isinstance(pytype, type) and issubclass(pytype, allowed)):
            shown = getattr(pytype, "__name__", repr(pytype))
            raise _load_error(function, f'binding type "{name!r}" and dataType "kusto" in the binding decorator '
                                        "do not match the corresponding function parameter's Python type "
                                        f"annotation {shown}")


def typed_data(value: Any, output: str) -> tuple[str, Any]:
    """A value set on (or returned to) a Kusto output -> (TypedData kind, data) as the worker sends it."""
    if isinstance(value, str):
        return "string", value
    if isinstance(value, (bytes, bytearray)):
        return "bytes", bytes(value)
    if isinstance(value, (dict, list)):
        return "json", json.dumps(value)
    if isinstance(value, bool):
        return "int", int(value)
    if isinstance(value, int):
        return "int", value
    if isinstance(value, float):
        return "double", value
    raise UnencodableValue("kusto", value, output, hint=f"Set {output} to a str (json.dumps), a dict or a list.")
