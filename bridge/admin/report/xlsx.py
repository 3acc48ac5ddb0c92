"""The annual report as an Excel workbook (openpyxl), opened and edited in Excel or WPS.

Sheet “报告” reads as the report (title, properties, every part's paragraphs, and where each
table and chart is); then one sheet per table, in document order, laid out as the official
table with its merged header and row labels, and one sheet per chart (its figures and a bar
chart). Figures are numbers, not text, so staff can sum them; a figure the bridge cannot
know is an empty cell, shaded in the tables the bureau fills in.

Layout of a table sheet: the title in row 1, a hint in row 2 (fill-in tables), the table from
row 3 (:data:`FIRST_ROW`), column A first; the note two rows below the table.
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from bridge.admin.report.document import Block, Chart, Paragraph, ReportDocument, Table, Value, grid
from bridge.admin.report.office import (
    APPENDIX,
    clean,
    display_width,
    generated,
    paragraph_text,
    to_bytes,
)

REPORT_SHEET = "报告"
FIRST_ROW = 3
"""Row of a table sheet where the table's first header row goes."""
FILL_IN_HINT = "浅黄色单元格由本机关填写。"

FILL_COLOUR = "FFF2CC"  # light yellow: a cell or paragraph for the bureau to fill in
HEADER_COLOUR = "F2F2F2"
BAR_COLOUR = "4472C4"
OVER_COLOUR = "C0504D"  # bars after the chart's limit (over the legal time limit)

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FILL = PatternFill("solid", fgColor=FILL_COLOUR)
_HEADER_FILL = PatternFill("solid", fgColor=HEADER_COLOUR)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(wrap_text=True, vertical="center", horizontal="center")

_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31  # Excel's limit
CELL_TEXT_MAX = 32767  # Excel's limit; longer text is cut, with “…”
REPORT_WIDTH = 100  # column A of “报告”: about 50 Chinese characters a line
MIN_WIDTH, MAX_WIDTH = 6, 40


def sheet_name(key: str, title: str, taken: set[str]) -> str:
    """A valid, unique sheet name from a block's key and title: at most 31 characters, none
    of ``[]:*?/\\``, not starting or ending with an apostrophe. Adds the name to ``taken``
    (compared case-insensitively, as Excel does)."""
    base = _NOT_IN_SHEET_NAME.sub("_", clean(f"{key} {title}".strip())).strip("'") or "表"
    name, n = base[:SHEET_NAME_MAX].rstrip("'"), 1
    while name.casefold() in taken or name.casefold() == "history":  # History is reserved
        n += 1
        suffix = f"({n})"
        name = base[: SHEET_NAME_MAX - len(suffix)].rstrip("'") + suffix
    taken.add(name.casefold())
    return name


def _put(ws: Worksheet, row: int, column: int, value: Value) -> Any:
    """Write one value: numbers as numbers, text always as text (never a formula, even when
    scraped text starts with “=”), None as an empty cell."""
    cell = ws.cell(row=row, column=column)
    if value is None:
        return cell
    if isinstance(value, int | float) and not isinstance(value, bool):
        cell.value = value
        return cell
    text = clean(str(value))
    if len(text) > CELL_TEXT_MAX:
        text = text[: CELL_TEXT_MAX - 1] + "…"
    cell.value = text
    cell.data_type = "s"
    return cell


def _lines_needed(text: str, width: float) -> int:
    return sum(max(1, -(-display_width(line) // max(int(width), 1))) for line in text.split("\n"))


def _table_sheet(ws: Worksheet, table: Table) -> None:
    laid = grid(table)
    columns = len(laid[0]) if laid else 1
    heads = len(table.header)
    title = _put(ws, 1, 1, table.title)
    title.font = Font(bold=True, size=12)
    title.alignment = _CENTRE
    if columns > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
    if table.fill_in:
        _put(ws, 2, 1, FILL_IN_HINT).fill = _FILL
    widths = [MIN_WIDTH] * columns
    for r, row in enumerate(laid):
        body = r >= heads
        for c, (cell, corner) in enumerate(row):
            if not corner:
                continue
            target = _put(ws, FIRST_ROW + r, c + 1, cell.value)
            if cell.colspan == 1 and cell.value is not None:
                shown = target.value if isinstance(target.value, str) else str(cell.value)
                longest = max(display_width(line) for line in shown.split("\n"))
                widths[c] = max(widths[c], min(longest + 2, MAX_WIDTH))
            if cell.colspan > 1 or cell.rowspan > 1:
                ws.merge_cells(
                    start_row=FIRST_ROW + r,
                    start_column=c + 1,
                    end_row=FIRST_ROW + r + cell.rowspan - 1,
                    end_column=c + cell.colspan,
                )
        for c, (cell, _corner) in enumerate(row):
            at = ws.cell(row=FIRST_ROW + r, column=c + 1)
            at.border = _BORDER
            if not body:
                at.font = Font(bold=True)
                at.fill = _HEADER_FILL
                at.alignment = _CENTRE
            elif isinstance(cell.value, str):
                at.alignment = _WRAP
            else:
                at.alignment = _CENTRE
                if cell.value is None and table.fill_in:
                    at.fill = _FILL
    for c, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(c + 1)].width = w
    for r, row in enumerate(laid):  # Excel does not grow rows for wrapped text on its own
        lines = max(
            (
                _lines_needed(str(cell.value), widths[c])
                for c, (cell, corner) in enumerate(row)
                if corner and cell.colspan == 1 and cell.rowspan == 1 and cell.value is not None
            ),
            default=1,
        )
        if lines > 1:
            ws.row_dimensions[FIRST_ROW + r].height = 15 * lines
    if heads:
        ws.freeze_panes = f"A{FIRST_ROW + heads}"
    if table.note:
        at = FIRST_ROW + len(laid) + 1
        note = _put(ws, at, 1, table.note)
        note.alignment = Alignment(wrap_text=True, vertical="top")
        note.font = Font(size=9, color="595959")
        if columns > 1:
            ws.merge_cells(start_row=at, start_column=1, end_row=at, end_column=columns)
        ws.row_dimensions[at].height = 13 * _lines_needed(table.note, sum(widths))


def _chart_sheet(ws: Worksheet, chart: Chart) -> None:
    _put(ws, 1, 1, chart.title).font = Font(bold=True, size=12)
    for c, head in enumerate((chart.x_label, chart.y_label), start=1):
        at = _put(ws, FIRST_ROW, c, head)
        at.font, at.border, at.fill, at.alignment = Font(bold=True), _BORDER, _HEADER_FILL, _CENTRE
    for r, (label, count) in enumerate(chart.bars, start=FIRST_ROW + 1):
        _put(ws, r, 1, label).border = _BORDER
        _put(ws, r, 2, count).border = _BORDER
    ws.column_dimensions["A"].width = max(
        [MIN_WIDTH * 2] + [display_width(label) + 2 for label, _ in chart.bars]
    )
    ws.column_dimensions["B"].width = max(MIN_WIDTH * 2, display_width(chart.y_label) + 2)
    if not chart.bars:
        return
    bars = BarChart()
    bars.type = "col"
    bars.title = clean(chart.title)
    bars.x_axis.title = clean(chart.x_label)
    bars.y_axis.title = clean(chart.y_label)
    bars.legend = None
    last = FIRST_ROW + len(chart.bars)
    bars.add_data(Reference(ws, min_col=2, min_row=FIRST_ROW, max_row=last), titles_from_data=True)
    bars.set_categories(Reference(ws, min_col=1, min_row=FIRST_ROW + 1, max_row=last))
    series = bars.series[0]
    series.graphicalProperties.solidFill = BAR_COLOUR
    for i, over in enumerate(chart.over()):
        if over:
            point = DataPoint(idx=i)
            point.graphicalProperties.solidFill = OVER_COLOUR
            series.dPt.append(point)
    bars.width, bars.height = 18, 9
    ws.add_chart(bars, "D3")


class _ReportSheet:
    """Sheet “报告”: the report as running text in column A, one paragraph a row."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.row = 0
        ws.column_dimensions["A"].width = REPORT_WIDTH

    def line(self, text: str, font: Font | None = None, fill: bool = False) -> Any:
        self.row += 1
        cell = _put(self.ws, self.row, 1, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if font is not None:
            cell.font = font
        if fill:
            cell.fill = _FILL
        lines = _lines_needed(str(cell.value or ""), REPORT_WIDTH)
        if lines > 1:
            self.ws.row_dimensions[self.row].height = 15 * lines
        return cell

    def paragraph(self, p: Paragraph) -> None:
        self.line(paragraph_text(p), fill=p.fill_in)

    def pointer(self, kind: str, title: str, sheet: str) -> None:
        cell = self.line(
            f"{kind}　{title}：见工作表“{sheet}”", Font(color="0563C1", underline="single")
        )
        quoted = sheet.replace("'", "''")
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{quoted}'!A1")


def workbook_bytes(doc: ReportDocument) -> bytes:
    wb = Workbook()
    report = wb.active
    assert report is not None
    report.title = REPORT_SHEET
    taken = {REPORT_SHEET.casefold()}
    out = _ReportSheet(report)
    out.line(doc.title, Font(bold=True, size=16))
    for key, value in doc.meta.items():
        out.line(f"{key}：{value}", Font(size=9, color="595959"))
    out.line("")
    for p in doc.preamble:
        out.paragraph(p)

    def blocks(heading: str, items: tuple[Block, ...]) -> None:
        out.line(heading, Font(bold=True, size=13))
        for block in items:
            if isinstance(block, Paragraph):
                out.paragraph(block)
                continue
            name = sheet_name(block.key, block.title, taken)
            ws = wb.create_sheet(name)
            if isinstance(block, Table):
                _table_sheet(ws, block)
                out.pointer("表", block.title, name)
            else:
                _chart_sheet(ws, block)
                out.pointer("图", block.title, name)

    for part in doc.parts:
        blocks(part.title, part.blocks)
    if doc.appendix:
        blocks(APPENDIX, doc.appendix)
    props = wb.properties
    props.title = clean(doc.title)
    props.creator = clean(doc.meta.get("publisher", "")) or None
    props.created = props.modified = generated(doc)
    return to_bytes(wb.save)
