"""The README's option tables match what the magics actually declare."""

import re
from pathlib import Path

from kfx_notebook import bindings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _table_rows(heading: str) -> list[list[str]]:
    block = README.split(heading, 1)[1].split("\n\n", 2)[1]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:] if line.startswith("|")]


def test_every_cell_option_is_documented_and_no_other():
    documented = {re.sub(r"`", "", row[1]) for row in _table_rows("### Cell options")}
    declared = set(bindings.valid_options("kusto_input")) | set(bindings.valid_options("kusto_output"))
    assert documented == declared


def test_every_config_trait_is_documented_and_no_other():
    from kfx_notebook.magics import KustoMagics

    documented = {row[0].strip("`") for row in _table_rows("### Session defaults (`%config KustoMagics`)")}
    assert documented == set(KustoMagics.class_traits(config=True))
