"""Sealing the embedded DuckDB: once the store is attached, it reaches nothing but its own tables.

The rule it keeps: after `seal(con)` no statement on the connection or any of its cursors can
read or write a file, fetch a URL, install or load an extension, ATTACH another database, or
change a setting (so none of this can be turned back on). The extensions the engine needs at
run time are loaded before the lock, since loading one later is exactly what is refused.
"""

from __future__ import annotations

#: Extensions the translated SQL uses: icu (time zones, `SET TimeZone`), json (dynamic values,
#: parse_json, the JSON ingestion path). Both ship inside the duckdb wheel; nothing is downloaded.
EXTENSIONS = ("icu", "json")

#: (statement, why). Applied in order; the last locks the configuration.
SETTINGS: tuple[tuple[str, str], ...] = (
    ("SET GLOBAL TimeZone='UTC'", "Kusto datetimes are UTC; every cursor inherits it"),
    ("SET GLOBAL python_enable_replacements=false", "an unknown table name must not scan a Python variable"),
    ("SET GLOBAL autoinstall_known_extensions=false", "no extension is downloaded"),
    ("SET GLOBAL autoload_known_extensions=false", "no extension is loaded behind our back"),
    ("SET GLOBAL enable_external_access=false", "no files, no HTTP, no ATTACH, no INSTALL/LOAD"),
    ("SET GLOBAL lock_configuration=true", "none of the above can be undone by a statement"),
)


def seal(con) -> None:
    """Load what the engine needs, then shut every door (see SETTINGS) on *con* and its cursors."""
    for name in EXTENSIONS:
        con.execute(f"LOAD {name}")
    for statement, _why in SETTINGS:
        con.execute(statement)
