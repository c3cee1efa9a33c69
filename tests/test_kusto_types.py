"""The Kusto type table (kusto_types.TYPES), row by row, through the embedded database."""

from __future__ import annotations

import pytest

from kfx_notebook.kusto_types import TYPES, from_duckdb, kusto_type


@pytest.mark.parametrize("row", TYPES, ids=[t.name for t in TYPES])
def test_every_type_is_stored_as_its_duckdb_type_and_reported_back_by_name(local_db, row):
    local_db.query("Db", f".create table T (c:{row.name})")
    assert local_db.query("Db", "T").column_types == [("c", row.name)]
    assert from_duckdb(row.duckdb) == row.name
    for alias in (row.name.upper(), *row.aliases):
        assert kusto_type(alias) is row


def test_an_unknown_type_is_refused_naming_the_valid_ones():
    with pytest.raises(ValueError, match="use one of bool, int, long"):
        kusto_type("varchar")
