"""An .ipynb -> the FunctionApp model: which cells make which function, what each one binds.

The rule it keeps: only binding cells and cells tagged `function:NAME` (metadata tag, or a
`# function: NAME` first comment line) are read; nothing else of the notebook — no other cell,
no magic, no notebook variable — reaches the model. A function cell that reads a name no
binding, route or query supplies is refused, never guessed. Setup commands (`.create`, `.alter`,
`.set`, `.ingest` ... anything but `.show`) become the database script, in notebook order, not
functions; dry runs are left out; every function gets its own route from its final name. What
the deployed app would get wrong (a cell whose saved output shows an error, a template the host
refuses) is listed in `FunctionApp.problems`, naming the cell. Reads the notebook file only in
`read_notebook`; `build_app` is pure.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import bindings, expressions
from ..errors import BindingError, KfxError
from ..run import Defaults, apply_defaults
from .model import DEFAULT_SCHEDULE, TRIGGERS, Function, FunctionApp, SetupCommand, identifier, unique

_TAG = re.compile(r"^function:\s*(?P<name>\S+)\s*$")
_COMMENT_TAG = re.compile(r"^#\s*function:\s*(?P<name>\S+)\s*$")
_EXPR = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_SETTING = re.compile(r"%([A-Za-z_][A-Za-z0-9_.:\-]*)%")
_COMMAND_VERB = re.compile(r"^\s*\.\s*([A-Za-z][A-Za-z0-9_-]*)")
_CONFIG = re.compile(r"^\s*%config\s+KustoMagics\.(default_connection|default_database)\s*=\s*(.+?)\s*$")
CONFIG_FIELDS = {"default_connection": "connection", "default_database": "database"}   # trait -> Defaults field

# import name -> distribution name, where they differ (one row each)
DISTRIBUTIONS = {
    "sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "Pillow", "cv2": "opencv-python",
    "dateutil": "python-dateutil", "bs4": "beautifulsoup4", "dotenv": "python-dotenv",
}
# never added to requirements: the Functions library itself and what the host provides
NOT_REQUIRED = {"azure", "kfx_notebook", "IPython", "ipywidgets"}


@dataclass(frozen=True)
class Cell:
    """A code cell as read: its id (or cell-N), source, tags, 1-based position, and the error its last run showed."""

    id: str
    source: str
    tags: tuple[str, ...]
    index: int
    error: str | None = None     # the exception name when the cell's saved outputs hold an error


def cell_from_json(cell, index: int) -> Cell:
    """One nbformat code cell -> Cell (shared by read_notebook and the nbconvert exporter)."""
    tags = tuple(str(t) for t in (cell.get("metadata", {}).get("tags") or ()))
    errors = [o for o in cell.get("outputs") or () if o.get("output_type") == "error"]
    error = str(errors[0].get("ename") or "an error") if errors else None
    return Cell(str(cell.get("id") or f"cell-{index}"), cell.get("source", ""), tags, index, error)


def read_notebook(path: str | Path) -> list[Cell]:
    """The code cells of an .ipynb, in order (nbformat; cells without an id get `cell-N`)."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise KfxError(f"No notebook at {path}", hint="Pass the path of an existing .ipynb file.")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise KfxError(f"Cannot read {path.name} as a notebook: {type(exc).__name__}",
                       hint="Open and save it in Jupyter to repair it.") from None
    return [cell_from_json(cell, i) for i, cell in enumerate(nb.cells, start=1) if cell.get("cell_type") == "code"]


def cells_from_sources(sources: list[str]) -> list[Cell]:
    """Plain cell texts (e.g. a live session's input history) -> cells `In[n]`, no tags."""
    return [Cell(f"In[{i}]", text, (), i) for i, text in enumerate(sources, start=1)]


def _function_tag(cell: Cell) -> str | None:
    for tag in cell.tags:
        m = _TAG.match(tag)
        if m:
            return m["name"]
    for line in cell.source.splitlines():
        if line.strip():
            m = _COMMENT_TAG.match(line.strip())
            return m["name"] if m else None
    return None


def _magic(cell: Cell) -> tuple[str, str, str] | None:
    """(magic, line, body) for a %%kusto_input / %%kusto_output cell, else None."""
    lines = cell.source.split("\n")
    first = next((i for i, text in enumerate(lines) if text.strip()), None)
    if first is None:
        return None
    head = lines[first].strip()
    for magic in ("kusto_input", "kusto_output"):
        if head == f"%%{magic}" or head.startswith(f"%%{magic} "):
            return magic, head[len(magic) + 2:].strip(), "\n".join(lines[first + 1:])
    return None


def has_exportable_cells(cells: list[Cell]) -> bool:
    """Whether any cell is a binding cell or a function cell (what an export reads)."""
    return any(_magic(c) is not None or _function_tag(c) for c in cells)


def _expressions(binding) -> tuple[list[str], list[str], list[str]]:
    """({name} route params, {Query.x} names, %SETTING% names) used by a binding's template properties."""
    route, query, settings = [], [], []
    for prop in bindings.PROPERTIES:
        text = getattr(binding, prop.attr, None)
        if not text or not prop.template:
            continue
        settings += _SETTING.findall(text)
        for m in _EXPR.finditer(expressions.escape_template(text)):
            name = m.group(1)
            if name is None:
                continue
            if name.startswith("Query."):
                query.append(name[len("Query."):])
            elif name.startswith("sys."):
                continue  # host system expressions ({sys.randguid}, {sys.utcnow}) resolve themselves
            elif name.isidentifier():
                route.append(name)
            else:
                raise BindingError(f"{prop.key} of '{binding.name}' uses {{{name}}}, which cannot be an HTTP route "
                                   "parameter", hint="Use a plain name like {category} or {Query.category}.")
    return route, query, settings


def _dedupe(items) -> tuple:
    return tuple(dict.fromkeys(items))


@dataclass
class _CodeCell:
    cell: Cell
    name: str
    imports: list[str]
    code: str
    result: str | None
    stored: set[str]
    free: list[str]


def _parse_code(cell: Cell, name: str) -> _CodeCell:
    source = cell.source
    for n, line in enumerate(source.splitlines(), start=1):
        if line.lstrip().startswith(("%", "!")):
            raise BindingError(f"function cell {cell.id} ({name}) uses IPython syntax at line {n}: "
                               f"{line.strip()[:40]!r}", hint="A function cell must be plain Python; move magics to "
                                                              "other cells.")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise BindingError(f"function cell {cell.id} ({name}) is not valid Python: {exc.msg}",
                           line=exc.lineno, column=exc.offset, hint="Fix the cell, run it, then export.") from None
    lines = source.split("\n")
    drop: set[int] = set()
    imports = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.unparse(node))
            drop.update(range(node.lineno, node.end_lineno + 1))
    result = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        result = ast.get_source_segment(source, last.value)
        drop.update(range(last.lineno, last.end_lineno + 1))
    code_lines = [text for n, text in enumerate(lines, start=1)
                  if n not in drop and not _COMMENT_TAG.match(text.strip())]
    code = "\n".join(code_lines).strip("\n")
    stored, loaded = _names(tree)
    free = [n for n in loaded if n not in stored and not hasattr(builtins, n)]
    return _CodeCell(cell, name, imports, code, result, stored, free)


def _names(tree: ast.AST) -> tuple[set[str], list[str]]:
    """(names bound anywhere in the cell, names read in order) — a simple, conservative scope scan."""
    stored: set[str] = set()
    loaded: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored.add(node.id) if isinstance(node.ctx, (ast.Store, ast.Del)) else loaded.append(node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                stored.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stored.add(node.name)
    return stored, list(dict.fromkeys(loaded))


def _package(statement: str) -> str | None:
    node = ast.parse(statement).body[0]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            raise BindingError(f"relative import {statement!r} cannot be exported",
                               hint="Import from an installed package instead.")
        top = (node.module or "").split(".")[0]
    else:
        top = node.names[0].name.split(".")[0]
    if top in sys.stdlib_module_names or top in NOT_REQUIRED:
        return None
    return DISTRIBUTIONS.get(top, top)


def _single_expression(cell: Cell, body: str, binding) -> str | None:
    """An output cell's body as one expression (None when empty or `_`)."""
    text = body.strip()
    if not text or text == "_":
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise BindingError(f"%%kusto_output cell {cell.id} ({binding.name}) of a function must be one expression",
                           hint="Compute the value in the function cell and leave only its name in the "
                                "%%kusto_output cell.") from None
    return ast.get_source_segment(text, tree.body)


@dataclass
class _Cells:
    """The binding cells of a notebook, sorted by what they become."""

    inputs: dict[str, tuple[Cell, bindings.KustoInput]] = dataclasses.field(default_factory=dict)
    json_inputs: set[str] = dataclasses.field(default_factory=set)   # input cells run `--as json`
    outputs: list[tuple[Cell, bindings.KustoOutput, str, str | None]] = dataclasses.field(default_factory=list)
    code: list[tuple[Cell, str]] = dataclasses.field(default_factory=list)
    setup: list[SetupCommand] = dataclasses.field(default_factory=list)
    setup_cells: list[Cell] = dataclasses.field(default_factory=list)


def is_setup_command(kql: str) -> bool:
    """A management command that changes the database (`.create`, `.alter`, `.set`, `.ingest` ...): not `.show`."""
    m = _COMMAND_VERB.match(kql or "")
    return bool(m) and not m[1].lower().startswith("show")


def _binding_of(cell: Cell, magic: str, line: str, body: str, defaults: Defaults):
    """(parsed cell, its binding with the session defaults applied, validated); errors name the cell."""
    parsed = bindings.parse_cell(magic, line, body, cell_id=cell.id)
    try:
        return parsed, apply_defaults(parsed, defaults)
    except KfxError as exc:
        exc.message = f"cell {cell.id}: {exc.message}"
        exc.args = (exc.message,)
        raise


def _setup_command(cell: Cell, binding) -> SetupCommand:
    route, query, settings = _expressions(binding)
    if route or query or settings or binding.kql_parameters:
        raise BindingError(f"cell {cell.id}: the setup command uses binding expressions or parameters, which a "
                           "database script cannot supply", hint="Write the command with fixed values.")
    return SetupCommand(binding.database, expressions.unescape_template(expressions.escape_template(
        binding.kql_command)), cell.id)


def _read_cells(cells: list[Cell], defaults: Defaults) -> _Cells:
    """Sort the cells: inputs, outputs (dry runs left out), function cells, setup commands (notebook order)."""
    found = _Cells()
    for cell in cells:
        defaults = _config_defaults(cell, defaults)
        magic_found = _magic(cell)
        tag = _function_tag(cell)
        if magic_found is None:
            if tag:
                found.code.append((cell, tag))
            continue
        magic, line, body = magic_found
        parsed, binding = _binding_of(cell, magic, line, body, defaults)
        if magic == "kusto_input" and is_setup_command(binding.kql_command):
            found.setup.append(_setup_command(cell, binding))
            found.setup_cells.append(cell)
        elif magic == "kusto_input":
            if binding.name in found.inputs:
                raise BindingError(f"two %%kusto_input cells bind '{binding.name}' "
                                   f"({found.inputs[binding.name][0].id} and {cell.id})",
                                   hint="Give each input cell its own NAME.")
            found.inputs[binding.name] = (cell, binding)
            if parsed.options.as_ == "json":
                found.json_inputs.add(binding.name)
        elif not parsed.options.dry_run:   # a dry run shows a payload; it is no function
            found.outputs.append((cell, binding, body, tag))
    return found


def _problems(functions: list[Function], found: _Cells) -> list[str]:
    """What the deployed host would refuse, and exported cells whose last run failed: each naming its cell, in
    notebook order."""
    by_id = {c.id: c for c, _b in found.inputs.values()}
    by_id.update({c.id: c for c, *_rest in found.outputs})
    by_id.update({c.id: c for c, _t in found.code})
    by_id.update({c.id: c for c in found.setup_cells})
    used = dict.fromkeys([*(i for f in functions for i in f.cell_ids), *(c.id for c in found.setup_cells)])
    problems = [(by_id[cid].index, f"cell {cid}: its last run failed ({by_id[cid].error})") for cid in used
                if cid in by_id and by_id[cid].error]
    for b in dict.fromkeys(b for f in functions for b in (*f.inputs, *f.outputs)):
        for prop in bindings.PROPERTIES:
            why = expressions.host_refusal(getattr(b, prop.attr, None), prop.key) if prop.template else None
            if why:
                problems.append((by_id[b.cell_id].index if b.cell_id in by_id else 0, f"cell {b.cell_id}: {why}"))
    return [text for _index, text in sorted(problems, key=lambda p: p[0])]


def build_app(cells: list[Cell], notebook: str, *, trigger: str = "http", route: str | None = None,
              schedule: str | None = None, defaults: Defaults = Defaults()) -> FunctionApp:
    """The model of the functions a notebook's cells define (see the module docstring for the rules).

    `defaults` are the session's `%config KustoMagics` defaults; a `%config` line in a cell changes
    them for the cells after it, as it would in the notebook.
    """
    if trigger not in TRIGGERS:
        raise BindingError(f"--trigger {trigger!r} is not one of {', '.join(TRIGGERS)}", hint="Use http or timer.")
    prefix = (route or "").strip("/")
    found = _read_cells(cells, defaults)
    functions = (_code_functions(found.code, found.inputs, found.outputs, trigger, schedule,
                                 found.json_inputs) if found.code
                 else _default_functions(found.inputs, found.outputs, trigger, schedule))
    if not functions and found.setup:
        raise BindingError(f"{notebook} has only setup commands ({len(found.setup)}), which belong in a database "
                           "script, and no function to export",
                           hint="Add a %%kusto_input query or %%kusto_output cell (or a function:NAME cell).")
    if not functions:
        raise BindingError(f"{notebook} has no %%kusto_input, %%kusto_output or function:NAME cell to export",
                           hint="Add binding cells (and tag function cells function:NAME), then export.")
    for f in functions:
        _check_arguments(f)
    names = unique([f.name for f in functions])
    functions = _with_routes([dataclasses.replace(f, name=n) for f, n in zip(functions, names)], prefix)
    used = [b for f in functions for b in (*f.inputs, *f.outputs)]
    settings = [s for b in used for s in _expressions(b)[2]]
    imports: list[str] = []
    for cell, _tag in found.code:
        if any(cell.id in f.cell_ids for f in functions):
            imports += _parse_code(cell, _tag).imports
    imports = list(dict.fromkeys(imports))
    packages = {p for p in map(_package, imports) if p}
    if any(f.shape == "code" for f in functions):
        packages.add("pandas")
    return FunctionApp(notebook=notebook, functions=tuple(functions),
                       connections=tuple(sorted({b.connection for b in used})),
                       app_settings=tuple(sorted(set(settings))), imports=tuple(imports),
                       packages=tuple(sorted(packages, key=str.lower)), setup=tuple(found.setup),
                       problems=tuple(_problems(functions, found)))


def _with_routes(functions: list[Function], prefix: str) -> list[Function]:
    """Each HTTP function's route, from its final name (`get_x` serves `x`); two functions never share one."""
    out, seen = [], {}
    for f in functions:
        if f.trigger == "http":
            segment = f.name[len("get_"):] if f.shape == "rows" and f.name.startswith("get_") else f.name
            f = dataclasses.replace(f, route=_route(prefix, segment, f.route_params))
            if f.route in seen:
                raise BindingError(f"functions '{seen[f.route]}' and '{f.name}' would share the route {f.route!r}",
                                   hint="Give one of their binding cells (or function tags) another name.")
            seen[f.route] = f.name
        out.append(f)
    return out


def _config_defaults(cell: Cell, defaults: Defaults) -> Defaults:
    """`%config KustoMagics.default_* = "..."` lines in a cell change the defaults of the cells after it."""
    for m in filter(None, (_CONFIG.match(line) for line in cell.source.splitlines())):
        value = ast.literal_eval(m[2]) if m[2][:1] in "'\"" else m[2]
        defaults = dataclasses.replace(defaults, **{CONFIG_FIELDS[m[1]]: value})
    return defaults


RESERVED = ("req", "timer", "context", "_result", "json", "func", "app", "pd")


def _check_arguments(function: Function) -> None:
    """Binding names become argument names: unique within a function and clear of the generated ones."""
    seen: set[str] = set()
    for b in (*function.inputs, *function.outputs):
        if b.name in RESERVED or b.name in seen:
            why = "is used by the generated code" if b.name in RESERVED else "names two bindings of it"
            raise BindingError(f"binding name '{b.name}' {why} (function '{function.name}', cell {b.cell_id})",
                               hint="Rename the binding cell's NAME.")
        seen.add(b.name)


def _route(prefix: str, segment: str, params) -> str:
    parts = [p for p in (prefix, segment.replace("_", "-")) if p]
    return "/".join(parts + [f"{{{p}}}" for p in params])


def _check_timer(trigger: str, name: str, route_params, query_params) -> None:
    if trigger == "timer" and (route_params or query_params):
        shown = ", ".join([f"{{{p}}}" for p in route_params] + [f"{{Query.{q}}}" for q in query_params])
        raise BindingError(f"function '{name}' uses {shown}, which a timer trigger cannot supply",
                           hint="Export with --trigger http, or write fixed values in the binding.")


def _default_functions(inputs, outputs, trigger, schedule) -> list[Function]:
    """No function cells: each input cell is a GET returning its rows, each output a POST ingesting the body.

    Output cells that bind the same way (same table, mapping, format ...) are one function; outputs to
    one table that differ get names that say how (`add_orders_with_map`, `add_orders_as_csv` ...).
    """
    functions = []
    for cell, binding in inputs.values():
        route, query, _ = _expressions(binding)
        name = identifier(f"get_{binding.name}")
        _check_timer(trigger, name, route, query)
        functions.append(Function(
            name=name, shape="rows", trigger=trigger, methods=("GET",) if trigger == "http" else (),
            route=None, schedule=(schedule or DEFAULT_SCHEDULE) if trigger == "timer" else None,
            inputs=(binding,), outputs=(), cell_ids=(cell.id,), route_params=_dedupe(route),
            query_params=_dedupe(query)))
    if outputs and trigger == "timer":
        raise BindingError(f"%%kusto_output cell {outputs[0][0].id} has no request body to ingest under a timer "
                           "trigger", hint="Tag a function cell function:NAME that computes the rows, or use "
                                           "--trigger http.")
    groups: dict[tuple, list] = {}
    for cell, binding, _body, _tag in outputs:   # the same binding twice is one function, from both cells
        key = tuple(sorted((k, str(v)) for k, v in binding.to_function_json().items()))
        groups.setdefault(key, []).append((cell, binding))
    members = [group[0][1] for group in groups.values()]
    for group, base in zip(groups.values(), _output_names(members)):
        binding = group[0][1]
        route, query, _ = _expressions(binding)
        functions.append(Function(
            name=base, shape="ingest", trigger="http", methods=("POST",), route=None, schedule=None, inputs=(),
            outputs=(binding,), cell_ids=tuple(c.id for c, _b in group), route_params=_dedupe(route),
            query_params=_dedupe(query)))
    return functions


# what tells two outputs into one table apart, in the order a name mentions it
_DISTINCTIONS = (("database", "in_{}"), ("mapping_ref", "with_{}"), ("data_format", "as_{}"),
                 ("ingestion_type", "{}"), ("managed_service_identity", "as_identity_{}"), ("connection", "via_{}"))


def _output_names(outputs: list) -> list[str]:
    """Ingest function names: the binding's own name, or add_<table> plus what sets it apart from its siblings."""
    names = []
    for binding in outputs:
        if binding.name != "sink":
            names.append(identifier(binding.name))
            continue
        siblings = [b for b in outputs if b.name == "sink" and b.table_name == binding.table_name]
        words = [f"add_{binding.table_name}"]
        for attr, form in _DISTINCTIONS:
            if len({getattr(b, attr, None) or "" for b in siblings}) > 1 and getattr(binding, attr, None):
                words.append(form.format(getattr(binding, attr)))
        names.append(identifier("_".join(words)))
    return names


def _code_functions(code_cells, inputs, outputs, trigger, schedule,
                    json_inputs: frozenset[str] | set[str] = frozenset()) -> list[Function]:
    """Tagged cells: each is a function over the inputs it reads; linked outputs get its value."""
    functions = []
    for cell, tag in code_cells:
        parsed = _parse_code(cell, tag)
        linked = []
        for out_cell, binding, body, out_tag in outputs:
            expr = _single_expression(out_cell, body, binding) if out_tag == tag or out_tag is None else None
            if out_tag == tag:
                linked.append((out_cell, binding, expr))
            elif out_tag is None and expr is not None:
                reads = _names(ast.parse(expr, mode="eval"))[1]
                if any(n in parsed.stored for n in reads):
                    linked.append((out_cell, binding, expr))
        free = list(parsed.free)
        for _c, _b, expr in linked:
            if expr is not None:
                free += [n for n in _names(ast.parse(expr, mode="eval"))[1]
                         if n not in parsed.stored and not hasattr(builtins, n)]
            elif parsed.result is None:
                raise BindingError(f"function cell {cell.id} ({tag}) has no last expression for the %%kusto_output "
                                   f"cell {_c.id}", hint="End the function cell with the value to ingest.")
        free = list(dict.fromkeys(free))
        used_inputs = [inputs[n][1] for n in free if n in inputs]
        route, query = [], []
        for b in (*used_inputs, *(b for _c, b, _e in linked)):
            r, q, _ = _expressions(b)
            route += r
            query += q
        route, query = _dedupe(route), _dedupe(query)
        params = []
        for n in free:
            if n in inputs:
                continue
            if n in route or n in query or n == "req" and trigger == "http":
                params.append(n)
                continue
            raise BindingError(f"function cell {cell.id} ({tag}) reads '{n}', which is defined elsewhere in the "
                               "notebook; exported code gets only its bindings and route/query values",
                               hint=f"Define {n} inside the function cell, or bind it with {{{n}}} in a "
                                    "binding's kqlParameters.")
        name = identifier(tag)
        _check_timer(trigger, name, route, query)
        functions.append(Function(
            name=name, shape="code", trigger=trigger,
            methods=(("POST",) if linked else ("GET",)) if trigger == "http" else (),
            route=None,
            schedule=(schedule or DEFAULT_SCHEDULE) if trigger == "timer" else None,
            inputs=tuple(used_inputs), outputs=tuple(b for _c, b, _e in linked),
            cell_ids=tuple(_ordered_ids(cell, used_inputs, inputs, linked)), route_params=route,
            query_params=query, code=parsed.code, result=parsed.result,
            output_values=tuple((b.name, e or "_result") for _c, b, e in linked),
            free_params=tuple(p for p in params if p != "req"),
            json_inputs=tuple(b.name for b in used_inputs if b.name in json_inputs)))
    return functions


def _ordered_ids(cell, used_inputs, inputs, linked) -> list[str]:
    """Provenance ids: the input cells, the function cell, then the output cells."""
    ids = [inputs[b.name][0].id for b in used_inputs] + [cell.id] + [c.id for c, _b, _e in linked]
    return list(dict.fromkeys(ids))


def split_magic_line(line: str) -> list[str]:
    """shlex for %kusto_export lines (kept here so the command parser and tests agree)."""
    return shlex.split(line or "", posix=True)
