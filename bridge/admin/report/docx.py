"""The annual report as a Word document (python-docx), opened and edited in Word or WPS.

A4 with the margins of official documents (GB/T 9704), the title, the preamble, each part
as a Heading 1 (“一、总体情况”), paragraphs, tables with their merged headers and row labels
(caption above, header rows bold and repeated on every page), charts as images (caption
below). Places for the bureau's own words read 【待填写：…】 and are highlighted; in the
tables the bureau fills in, the cells to fill are empty and shaded.

Chinese text needs the East Asian font named on each style (``w:eastAsia``): without it
Word and WPS pick a Latin font's fallback and the text looks wrong or shows boxes.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor

from bridge.admin.report.chart import chart_png
from bridge.admin.report.document import Block, Chart, Paragraph, ReportDocument, Table, grid
from bridge.admin.report.office import (
    APPENDIX,
    cell_text,
    clean,
    generated,
    paragraph_text,
    to_bytes,
)

BODY_FONT = ("Times New Roman", "宋体")  # (Latin, East Asian)
HEADING_FONT = ("Times New Roman", "黑体")
FILL_SHADE = "FFF2CC"  # light yellow: a table cell for the bureau to fill in
HEADER_SHADE = "F2F2F2"
CHART_WIDTH = Cm(15)


def _fonts(style: Any, fonts: tuple[str, str], size: float, bold: bool | None = None) -> None:
    """Latin and East Asian font, size and black colour on a style; theme fonts removed,
    since they would win over the names set here."""
    style.font.name = fonts[0]
    style.font.size = Pt(size)
    style.font.color.rgb = RGBColor(0, 0, 0)
    if bold is not None:
        style.font.bold = bold
    rfonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)
    rfonts.set(qn("w:eastAsia"), fonts[1])


def _setup(document: Any) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    styles = document.styles
    _fonts(styles["Normal"], BODY_FONT, 12)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    styles["Normal"].element.get_or_add_rPr().append(lang)
    _fonts(styles["Title"], HEADING_FONT, 22, bold=False)
    styles["Title"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _fonts(styles["Heading 1"], HEADING_FONT, 16, bold=False)
    _fonts(styles["Heading 2"], HEADING_FONT, 14, bold=False)
    _fonts(styles["Caption"], HEADING_FONT, 10.5, bold=False)
    styles["Caption"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for name in ("Title", "Heading 1", "Heading 2"):
        styles[name].paragraph_format.space_before = Pt(12)
        styles[name].paragraph_format.space_after = Pt(6)


def _shade(cell: Any, colour: str) -> None:
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), colour)
    cell._tc.get_or_add_tcPr().append(shd)


def _repeat_header(row: Any) -> None:
    """Mark a table row as a header row, repeated at the top of every page it runs over."""
    tr_pr = row._tr.get_or_add_trPr()
    for tag in ("w:tblHeader", "w:cantSplit"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "true")
        tr_pr.append(el)


def _paragraph(document: Any, p: Paragraph) -> None:
    out = document.add_paragraph()
    out.paragraph_format.first_line_indent = Pt(24)  # two characters, as Chinese text is set
    run = out.add_run(paragraph_text(p))
    if p.fill_in:
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _table(document: Any, table: Table) -> None:
    document.add_paragraph(clean(table.title), style="Caption")
    laid = grid(table)
    heads = len(table.header)
    out = document.add_table(rows=len(laid), cols=len(laid[0]))
    out.style = document.styles["Table Grid"]
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, row in enumerate(laid):
        for c, (cell, corner) in enumerate(row):
            if not corner:
                continue
            target = out.cell(r, c)
            if cell.colspan > 1 or cell.rowspan > 1:
                target = target.merge(out.cell(r + cell.rowspan - 1, c + cell.colspan - 1))
            body = r >= heads
            empty = cell.value is None and table.fill_in and body
            if not body:  # shading before the alignment: w:shd comes before w:vAlign
                _shade(target, HEADER_SHADE)
            elif empty:
                _shade(target, FILL_SHADE)
            target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            para = target.paragraphs[0]
            if not empty:
                run = para.add_run(cell_text(cell.value))
                run.bold = not body
                run.font.size = Pt(10.5)
            if not body or not isinstance(cell.value, str):
                para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for r in range(heads):
        _repeat_header(out.rows[r])
    if table.note:
        note = document.add_paragraph()
        run = note.add_run(clean(table.note))
        run.font.size = Pt(9)


def _chart(document: Any, chart: Chart) -> None:
    picture = document.add_paragraph()
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.add_run().add_picture(io.BytesIO(chart_png(chart)), width=CHART_WIDTH)
    document.add_paragraph(f"图　{clean(chart.title)}", style="Caption")


def _blocks(document: Any, heading: str, blocks: tuple[Block, ...]) -> None:
    document.add_heading(clean(heading), level=1)
    for block in blocks:
        if isinstance(block, Paragraph):
            _paragraph(document, block)
        elif isinstance(block, Table):
            _table(document, block)
        else:
            _chart(document, block)


def document_bytes(doc: ReportDocument) -> bytes:
    document = Document()
    _setup(document)
    document.add_paragraph(clean(doc.title), style="Title")
    for p in doc.preamble:
        _paragraph(document, p)
    for part in doc.parts:
        _blocks(document, part.title, part.blocks)
    if doc.appendix:
        _blocks(document, APPENDIX, doc.appendix)
    props = document.core_properties
    props.title = clean(doc.title)
    props.author = props.last_modified_by = clean(doc.meta.get("publisher", ""))
    props.created = props.modified = generated(doc)
    props.revision = 1
    props.comments = clean("\n".join(f"{k}：{v}" for k, v in doc.meta.items()))
    props.subject = props.keywords = props.category = ""
    return to_bytes(document.save)
