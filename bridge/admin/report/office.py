"""The annual report as files that bureau staff open and edit: an Excel workbook and a Word
document, both written from one :class:`~bridge.admin.report.document.ReportDocument`.

The layouts live in :mod:`bridge.admin.report.xlsx` and :mod:`bridge.admin.report.docx`; this module
holds what both share: how a cell and a fill-in paragraph read, text made safe for XML, and
the atomic write that leaves either the old file or the whole new one, never half of one.
The office libraries are imported only when a file is written, so the daemon never loads them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bridge.admin.report.document import Paragraph, ReportDocument, Value
from bridge.errors import Fatal

FILL_IN = "【待填写：{}】"
"""How a place for the bureau's own words reads in every format."""

APPENDIX = "附录"
"""Heading of the blocks after the six official parts (the bridge's own working)."""

NONE_SHOWN = "—"
"""A figure the bridge cannot know, in text formats (spreadsheets leave the cell empty)."""

# Characters XML 1.0 cannot hold (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/F):
# scraped text can carry them, and both office formats refuse to save them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """``text`` with the characters XML cannot hold removed, and line ends as ``\n`` (an
    XML reader turns a CR into a LF anyway)."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def paragraph_text(p: Paragraph) -> str:
    return clean(FILL_IN.format(p.text) if p.fill_in else p.text)


def number_text(value: int | float) -> str:
    """A figure as the documents print it: ``12``, ``107.5``, never ``107.50000000001``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format(value, ".15g") if isinstance(value, float) else str(value)


def cell_text(value: Value) -> str:
    """A cell's text in the Word document (None → “—”; fill-in tables leave it empty)."""
    if value is None:
        return NONE_SHOWN
    if isinstance(value, bool):  # a bool is an int to Python, never a figure in a report
        return str(value)
    if isinstance(value, int | float):
        return number_text(value)
    return clean(value)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width view: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def generated(doc: ReportDocument) -> datetime:
    """When the report was made: ``meta["generated"]`` (ISO 8601) if it parses, else now;
    in UTC, as both formats' document properties store it."""
    raw = doc.meta.get("generated", "")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.replace(microsecond=0, tzinfo=None)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file in the same folder, so a
    reader (or a crash) never sees half a file. Raises :class:`Fatal` naming ``path`` when
    the folder is missing or cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise Fatal(f"cannot write {path}: the folder {folder} does not exist")
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644  # a report is for people to read; the umask cannot be read safely
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise Fatal(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise Fatal(f"cannot write {path}: {exc.strerror or exc}") from None


def write_xlsx(doc: ReportDocument, path: Path) -> None:
    """Write ``doc`` as an Excel workbook: a sheet “报告” that reads as the report, then one
    sheet per table and per chart."""
    from bridge.admin.report.xlsx import workbook_bytes

    write_atomic(path, workbook_bytes(doc))


def write_docx(doc: ReportDocument, path: Path) -> None:
    """Write ``doc`` as a Word document (A4, headings per part, tables, charts as images)."""
    from bridge.admin.report.docx import document_bytes

    write_atomic(path, document_bytes(doc))


def to_bytes(save: Callable[[io.BytesIO], object]) -> bytes:
    """Run ``save(buffer)`` (an office library's save method) and return what it wrote."""
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getvalue()
