"""Built-in function names are case-sensitive, as in Kusto: `ToUpper(x)` is an unknown function.

duckdb-kql looks its function tables up by `name.lower()`, so `COUNT()` or `ToUpper(x)` would run
here and fail on a cluster. Kusto's built-ins are all lowercase (every key of the tables is), and
a user's function (`let`, stored) keeps the exact spelling it was declared with; so a call whose
spelling is not lowercase but whose lowercase is a built-in is refused with the built-in named.

This wraps `duckdb_kql.lower._lower_function_call`, the one place a written call becomes an
`ir.FunctionCall` (let functions are inlined there first): an internal, so it is installed only
under the exact duckdb-kql version the layer checks (`kql.install`), and tests/test_kql_layer.py
fails if the wrapped function moves.
"""

from __future__ import annotations

#: Marks the wrapper so a second install does not wrap it twice.
_MARK = "kfx_case_checked"


def install() -> None:
    """Refuse built-in function calls spelled in another case (idempotent)."""
    from duckdb_kql import lower

    original = lower._lower_function_call
    if getattr(original, _MARK, False):
        return

    def lower_function_call(node):
        lowered = original(node)
        name = getattr(lowered, "name", None)
        if type(lowered).__name__ == "FunctionCall" and name and name != name.lower() and is_builtin(name.lower()):
            raise _miscased(node, name)
        return lowered

    setattr(lower_function_call, _MARK, True)
    lower._lower_function_call = lower_function_call


def is_builtin(name: str) -> bool:
    """Whether *name* (lowercase) is a scalar, aggregate or special-form function of the engine."""
    from duckdb_kql.translate import _SPECIAL_FORMS
    from duckdb_kql.translate import functions as tables

    return name in tables.SCALAR_FUNCTIONS or name in tables.AGGREGATE_FUNCTIONS or name in _SPECIAL_FORMS


def nearest_builtin(name: str, cutoff: float) -> str | None:
    """The built-in nearest *name* ("tostrng": tostring) at difflib's *cutoff* or above, or None."""
    import difflib  # only for an error

    from duckdb_kql.translate import _SPECIAL_FORMS
    from duckdb_kql.translate import functions as tables

    names = [n for n in (*tables.SCALAR_FUNCTIONS, *tables.AGGREGATE_FUNCTIONS, *_SPECIAL_FORMS)
             if not n.startswith("_")]
    near = difflib.get_close_matches(name.lower(), names, n=1, cutoff=cutoff)
    return near[0] if near else None


def _miscased(node, name: str):
    from duckdb_kql import lower
    from duckdb_kql.errors import KqlUnsupportedError

    # A refusal duckdb-kql passes through like its own; engine.translate_error turns a "function:"
    # refusal whose hint says "no stored function" into Kusto's "Unknown function", and reads
    # `meant` for its hint.
    error = KqlUnsupportedError(f"function:{name}", span=lower._span(node),
                                hint=f"no stored function {name!r} (built-in names are lowercase)")
    error.meant = name.lower()
    return error
