"""`jupyter nbconvert --to kusto_functions`: the exporter entry point over the same export path.

nbconvert wants one output per notebook, so this exporter writes the whole project folder
`<notebook stem>-functions/` next to the notebook and returns the project's README.md as its
single output. It follows the CLI's rules: a non-empty folder (an earlier export included, whose
files a user may have added to) is replaced only with `--KustoFunctionsExporter.force=True`, which
also exports despite failed cells. Traits: `--KustoFunctionsExporter.language=python|javascript|
csharp|java`, `.trigger`, `.route`, `.out`, `.force`.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.exporters import Exporter
from traitlets import Bool, CaselessStrEnum, Unicode


class KustoFunctionsExporter(Exporter):
    """Export a notebook's binding cells to an Azure Functions project; the README is the output."""

    export_from_notebook = "Azure Functions (Kusto bindings)"
    output_mimetype = "text/markdown"
    language = CaselessStrEnum(["python", "javascript", "csharp", "java"], default_value="python", config=True,
                               help="project language (default: python)")
    trigger = CaselessStrEnum(["http", "timer"], default_value="http", config=True, help="default: http")
    route = Unicode("", config=True, help="route prefix for HTTP functions (default: none)")
    out = Unicode("", config=True, help="project folder (default: <notebook stem>-functions next to the notebook)")
    force = Bool(False, config=True, help="replace a non-empty folder; export despite failed cells")

    def _file_extension_default(self):
        return ".md"

    def from_notebook_node(self, nb, resources=None, **kw):
        from ..errors import KfxError
        from .command import _notebook_settings, build
        from .notebook import cell_from_json
        from .project import write_project

        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        resources = resources or {}
        meta = resources.get("metadata", {})
        folder = Path(meta.get("path") or ".")
        name = meta.get("name") or "notebook"
        cells = [cell_from_json(c, i) for i, c in enumerate(nb_copy.cells, start=1) if c.get("cell_type") == "code"]
        _app, files, _ = build(cells, f"{name}.ipynb", language=self.language.lower(),
                               trigger=self.trigger.lower(), route=self.route or None,
                               settings=_notebook_settings(folder, None), force=self.force, base=folder)
        out = Path(self.out) if self.out else folder / f"{name}-functions"
        try:
            write_project(files, out, force=self.force)
        except KfxError as exc:  # the CLI's hint names --out/--force; say it as nbconvert spells them
            exc.hint = "Choose an empty --KustoFunctionsExporter.out, or pass --KustoFunctionsExporter.force=True."
            raise
        resources["kusto_functions_dir"] = str(out)
        return files["README.md"], resources
