"""The annual report's text formats: markdown, CSV and JSON, written from any
:class:`~bridge.admin.report.document.ReportDocument` (``bridge.admin.report.parts`` builds the annual one).

Merged cells are laid out on the table's full grid (``report_doc.grid``): a cell's value sits
in its top-left position and the positions it covers are blank, in markdown and CSV alike, so
a reader (or a spreadsheet) finds every figure in the row and column the official layout
gives it. ``None`` (a figure the bridge cannot know) is “—” in markdown and empty in CSV,
where the bureau types its own figure in.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bridge.admin.report.document import (
    Block,
    Cell,
    Chart,
    Paragraph,
    Part,
    ReportDocument,
    Table,
    Value,
    grid,
)

BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one
BAR_WIDTH = 20  # characters of the longest bar in a markdown chart


# --- markdown --------------------------------------------------------------------------------


def _inline(text: object) -> str:
    """Running text: scraped names may hold markup, which must show as text."""
    value = "" if text is None else str(text)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_cell(value: Value) -> str:
    """A pipe-table cell: one line, no pipes, no markup (titles are scraped text)."""
    shown = "—" if value is None else str(value)
    return " ".join(_inline(shown).replace("|", "\\|").split())


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(table: Table) -> list[str]:
    laid = grid(table)
    lines = [_md_row([md_cell(cell.value) if top else "" for cell, top in row]) for row in laid]
    lines.insert(1, "|---" * len(laid[0]) + "|")
    # a title that only repeats the table's first cell (第二十条第（一）项) is not printed twice
    repeated = laid[0][0][0].value == table.title
    out = [f"**{md_cell(table.title)}**", ""] if table.title and not repeated else []
    out += lines
    if table.fill_in:
        out += ["", f"【待填写：{_inline(table.note) or '本表由本机关填写。'}“—”处填入本年数字。】"]
    elif table.note:
        out += ["", _inline(table.note)]
    return out


def _bar_cells(chart: Chart) -> list[tuple[str, int, bool]]:
    """(label, count, over the limit) for each bar."""
    return [(label, n, over) for (label, n), over in zip(chart.bars, chart.over(), strict=True)]


def _md_chart(chart: Chart) -> list[str]:
    top = max((n for _, n in chart.bars), default=0)
    out = [f"**{md_cell(chart.title)}**", ""]
    out.append(_md_row([md_cell(chart.x_label), md_cell(chart.y_label), ""]))
    out.append("|---|---|---|")
    for label, n, over in _bar_cells(chart):
        bar = ("▓" if over else "█") * (round(n * BAR_WIDTH / top) if top else 0)
        out.append(_md_row([md_cell(label), str(n), bar + ("（超过法定期限）" if over else "")]))
    return out


def _md_paragraph(p: Paragraph) -> list[str]:
    text = " ".join(_inline(p.text).split("\n"))
    return [f"【待填写：{text}】" if p.fill_in else text]


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Table):
        lines = _md_table(block)
    elif isinstance(block, Chart):
        lines = _md_chart(block)
    else:
        lines = _md_paragraph(block)
    return [*lines, ""]


def to_markdown(doc: ReportDocument) -> str:
    out = [f"# {md_cell(doc.title)}", ""]
    for p in doc.preamble:
        out += _md_block(p)
    for part in doc.parts:
        out += [f"## {md_cell(part.title)}", ""]
        for block in part.blocks:
            out += _md_block(block)
    if doc.appendix:
        out += ["## 附录：统计口径与明细", ""]
        for block in doc.appendix:
            out += _md_block(block)
    return "\n".join(out)


# --- CSV -------------------------------------------------------------------------------------


def _csv_value(value: Value) -> str | int | float:
    return "" if value is None else value


def _csv_rows(block: Table | Chart) -> list[list[Any]]:
    if isinstance(block, Chart):
        head = [block.key, block.title]
        return [[*head, block.x_label, block.y_label]] + [
            [*head, label, n] for label, n in block.bars
        ]
    head = [block.key, block.title]
    return [
        head + [_csv_value(cell.value) if top else "" for cell, top in row] for row in grid(block)
    ]


def to_csv(doc: ReportDocument) -> str:
    """Every table (and chart) of the document, one CSV row per table row: the table's key
    and title, then the row's cells on the grid. UTF-8 with a BOM and CRLF, as Excel wants."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    blocks = [b for part in doc.parts for b in part.blocks] + list(doc.appendix)
    for block in blocks:
        if isinstance(block, Table | Chart):
            w.writerows(_csv_rows(block))
    return BOM + buf.getvalue()


# --- JSON ------------------------------------------------------------------------------------


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {"value": cell.value, "colspan": cell.colspan, "rowspan": cell.rowspan}


def block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return {"type": "paragraph", "text": block.text, "fill_in": block.fill_in}
    if isinstance(block, Chart):
        return {
            "type": "chart",
            "key": block.key,
            "title": block.title,
            "x_label": block.x_label,
            "y_label": block.y_label,
            "bars": [[label, n] for label, n in block.bars],
            "limit": block.limit,
        }
    return {
        "type": "table",
        "key": block.key,
        "title": block.title,
        "header": [[_cell_json(c) for c in row] for row in block.header],
        "rows": [[_cell_json(c) for c in row] for row in block.rows],
        "fill_in": block.fill_in,
        "note": block.note,
    }


def document_json(doc: ReportDocument) -> dict[str, Any]:
    return {
        "title": doc.title,
        "meta": doc.meta,
        "preamble": [block_json(p) for p in doc.preamble],
        "parts": [
            {
                "number": p.number,
                "heading": p.heading,
                "title": p.title,
                "blocks": [block_json(b) for b in p.blocks],
            }
            for p in doc.parts
        ],
        "appendix": [block_json(b) for b in doc.appendix],
    }


def to_json(doc: ReportDocument, figures: dict[str, Any]) -> str:
    """The document (parts, blocks with their ``type``) and ``figures``, the counts it was
    made from (``AnnualReport.as_json()``), for tools that want the numbers alone."""
    data = {**document_json(doc), "figures": figures}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _cells(rows: list[list[dict[str, Any]]]) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(Cell(c["value"], c["colspan"], c["rowspan"]) for c in row) for row in rows)


def block_from_json(data: dict[str, Any]) -> Block:
    kind = data["type"]
    if kind == "paragraph":
        return Paragraph(data["text"], data["fill_in"])
    if kind == "chart":
        bars = tuple((str(label), int(n)) for label, n in data["bars"])
        return Chart(
            data["key"], data["title"], data["x_label"], data["y_label"], bars, data["limit"]
        )
    if kind == "table":
        return Table(
            data["key"],
            data["title"],
            _cells(data["header"]),
            _cells(data["rows"]),
            data["fill_in"],
            data["note"],
        )
    raise ValueError(f"unknown block type {kind!r}")


def document_from_json(data: dict[str, Any]) -> ReportDocument:
    """The document back from :func:`to_json`'s output (its ``figures`` are left aside)."""
    preamble = tuple(block_from_json(b) for b in data["preamble"])
    return ReportDocument(
        title=data["title"],
        parts=tuple(
            Part(p["number"], p["heading"], tuple(block_from_json(b) for b in p["blocks"]))
            for p in data["parts"]
        ),
        preamble=tuple(b for b in preamble if isinstance(b, Paragraph)),
        appendix=tuple(block_from_json(b) for b in data["appendix"]),
        meta=dict(data["meta"]),
    )
