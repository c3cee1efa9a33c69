"""How results, receipts and errors read in a notebook: short, one line where possible.

Pure text builders (the magic layer prints them). Secrets never reach here: every text
that may quote a connection string goes through `scrub` first.
"""

from __future__ import annotations

from typing import Iterable

from .errors import KfxError


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value that made it into a text with ****."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def caret_lines(text: str, line: int | None, column: int | None) -> list[str]:
    """The KQL line an error points at, with a caret under the 1-based column."""
    if not text or not line or not column:
        return []
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return []
    source = lines[line - 1]
    return [f"  {source}", "  " + " " * (column - 1) + "^"]


def error_text(exc: KfxError, *, what: str = "") -> str:
    """`what failed: [code] message` + caret + request id + hint; no traceback."""
    head = f"{what}: " if what else ""
    lines = [f"{head}[{exc.code}] {exc.message}"]
    lines += caret_lines(exc.text or "", exc.line, exc.column)
    if exc.line and exc.column:
        lines.append(f"  (line {exc.line}, column {exc.column})")
    if exc.hint:
        lines.append(f"hint: {exc.hint}")
    if exc.request_id:
        lines.append(f"client request id: {exc.request_id}")
    return "\n".join(lines)


def result_line(name: str, rows: int, columns: int, database: str, where: str, elapsed: float) -> str:
    return (f"{name}: {rows:,} row{'s' if rows != 1 else ''} x {columns} column{'s' if columns != 1 else ''} "
            f"from {database} on {where} in {elapsed:.3f} s")


def receipt_line(receipt, where: str) -> str:
    return (f"ingested {receipt.rows:,} row{'s' if receipt.rows != 1 else ''} ({receipt.bytes:,} bytes, "
            f"{receipt.data_format}) into {receipt.database}.{receipt.table} on {where} via {receipt.path}: "
            f"{receipt.status} in {receipt.elapsed:.3f} s")


def dry_run_text(binding, resolved, payload) -> str:
    """`--dry-run`: a header, the properties the binding would send with, one per line, then the exact bytes."""
    props = {"database": resolved.database, "tableName": resolved.table_name, "dataFormat": payload.data_format,
             "mappingRef": resolved.mapping_ref, "ingestionType": resolved.ingestion_type,
             "connection": binding.connection}
    shown = {k: v for k, v in props.items() if v}
    width = max(map(len, shown), default=0) + 1
    rows = payload.rows
    header = f"dry run: would ingest {rows:,} row{'s' if rows != 1 else ''} ({len(payload.data):,} bytes)"
    lines = [f"{header}; nothing was sent"]
    lines += [f"  {key + ':':<{width}} {value}" for key, value in shown.items()]
    lines.append(payload.data.decode("utf-8", "replace"))
    return "\n".join(lines)


# notice kind -> (label, text colour, background, border): notes and warnings are not errors, so
# they are never stderr (which Jupyter paints like an error) but a quiet styled block.
NOTICE_STYLES = {
    "note": ("note", "#3b4750", "#f3f5f7", "#9aa5ad"),
    "warning": ("warning", "#5c3d00", "#fff7e0", "#d9a400"),
}


def notice_bundle(message: str, kind: str = "note") -> dict[str, str]:
    """A note or warning as a display bundle: styled HTML, and the same line as plain text."""
    import html

    label, colour, background, border = NOTICE_STYLES[kind]
    return {
        "text/plain": f"kfx-notebook {label}: {message}",
        "text/html": (f'<div class="kfx-notice kfx-{label}" style="color:{colour};background:{background};'
                      f'border-left:3px solid {border};padding:2px 8px;font-size:90%">'
                      f"<b>{label}</b>: {html.escape(message)}</div>"),
    }


def clip(text: str, width: int) -> str:
    """`text` cut to at most `width` characters, at a space where one is near, with an ellipsis."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    cut = cut if cut > width * 2 // 3 else width - 1
    return text[:cut].rstrip() + "…"
