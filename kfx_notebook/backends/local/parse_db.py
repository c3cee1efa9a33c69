"""A private DuckDB that only parses payload text into Arrow: it sees one temporary folder of its own.

The rule it keeps: the engine's DuckDB stays sealed (sealed.py); parsing runs in this second,
in-memory instance, which can read nothing but the files it writes itself into one folder made by
`tempfile.mkdtemp` (mode 0700) for this process: external access off except that folder, no
extension loaded or installed after `json`, configuration locked (the folder is in /dev/shm
where there is one). Each parse writes its bytes to
a file of its own there, reads it on a cursor of its own (serve is threaded) and removes it in a
`finally`; nothing of the engine, and no table, lives here. The folder is removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading

from .catalog import literal

_LOCK = threading.Lock()
_STATE: dict = {}


def query_file(data: bytes, sql_for, suffix: str = ".json"):
    """Write *data* to a private file, run `sql_for(its path as a quoted SQL literal)`; the Arrow table.

    Raises duckdb.Error when DuckDB refuses the text (the caller then reads it another way).
    """
    con, folder = _instance()
    handle, path = tempfile.mkstemp(suffix=suffix, dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        cursor = con.cursor()
        try:
            return cursor.sql(sql_for(literal(path))).to_arrow_table()
        finally:
            cursor.close()
    finally:
        os.unlink(path)


def query_arrow(sql: str, **tables):
    """Run *sql* over Arrow *tables* (registered by name on a cursor of its own); the Arrow table."""
    con, _ = _instance()
    cursor = con.cursor()
    try:
        for name, table in tables.items():
            cursor.register(name, table)
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.close()


def errors():
    """The exception DuckDB raises for text it refuses (for the callers' except clauses)."""
    import duckdb

    return duckdb.Error


def _instance():
    with _LOCK:
        if not _STATE:
            import duckdb

            memory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
            folder = tempfile.mkdtemp(prefix="kfx-parse-", dir=memory)   # in memory where the system has one
            atexit.register(shutil.rmtree, folder, True)
            con = duckdb.connect(":memory:", config={"autoload_known_extensions": False,
                                                     "autoinstall_known_extensions": False})
            con.execute("LOAD json")
            allowed = f"SET allowed_directories=[{literal(folder + '/')}]"
            for statement in (allowed, "SET python_enable_replacements=false", "SET enable_external_access=false",
                              "SET lock_configuration=true"):
                con.execute(statement)
            _STATE.update(con=con, folder=folder)
        return _STATE["con"], _STATE["folder"]
