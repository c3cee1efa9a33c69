"""kfx-notebook: Azure Functions Kusto bindings, mirrored in Jupyter.

The one rule of this module: it imports nothing heavy. ``import kfx_notebook`` and
``%load_ext kfx_notebook`` load no pandas, DuckDB, duckdb_kql or Azure SDK module;
those load on first use (tests/test_import_light.py checks it with ``sys.modules``).
"""

__version__ = "0.1.0"

__all__ = ["load_ipython_extension", "unload_ipython_extension", "__version__"]


def load_ipython_extension(ipython):
    """``%load_ext kfx_notebook``: register %%kusto_input, %%kusto_output, %kusto_export."""
    from .magics import KustoMagics

    magics = KustoMagics(shell=ipython)
    ipython.register_magics(magics)
    # So that %config KustoMagics.x = ... and ipython_config.py reach the instance.
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython):
    """``%unload_ext kfx_notebook``: remove the magics and their configurable."""
    from .magics import KustoMagics

    for magics in [c for c in ipython.configurables if isinstance(c, KustoMagics)]:
        ipython.configurables.remove(magics)
        for kind in ("line", "cell"):
            for name in magics.magics.get(kind, {}):
                ipython.magics_manager.magics[kind].pop(name, None)
