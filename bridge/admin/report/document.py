"""A report as a document: numbered parts holding paragraphs, tables and charts.

The annual report (``bridge.admin.report.build``) is built once as a :class:`ReportDocument` and then
written in every format (markdown, CSV, JSON, xlsx, docx) from that one value, so the formats
cannot disagree. Tables follow the official layouts, which merge cells in their headers and
row labels: a :class:`Cell` spans ``colspan`` columns and ``rowspan`` rows, and the cells it
covers are simply absent from the following rows (as in HTML), so every row of a table spans
the same number of columns once spans are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Value = str | int | float | None
"""A cell's content. ``None`` is a figure the bridge cannot know (shown as “—”, left empty
for the bureau to fill in spreadsheet formats)."""


@dataclass(frozen=True)
class Cell:
    value: Value
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True)
class Paragraph:
    """Running text. ``fill_in`` marks a place for the bureau's own words: the text says what
    belongs there, and every format shows it as to be written (【待填写：…】)."""

    text: str
    fill_in: bool = False


@dataclass(frozen=True)
class Table:
    """One table. ``key`` is stable and short ("2-1", "3", "4"): the xlsx sheet name, the
    CSV's first column and the JSON key. ``fill_in``: the bureau fills the figures (parts 三
    and 四, which the bridge cannot see)."""

    key: str
    title: str
    header: tuple[tuple[Cell, ...], ...]
    rows: tuple[tuple[Cell, ...], ...]
    fill_in: bool = False
    note: str = ""


@dataclass(frozen=True)
class Chart:
    """A bar chart of counts: ``bars`` are (label, count) in order; ``limit``, if given, is
    the label of the first bar over a legal limit: it and every bar after it are drawn
    apart (``over``)."""

    key: str
    title: str
    x_label: str
    y_label: str
    bars: tuple[tuple[str, int], ...]
    limit: str | None = None

    def over(self) -> list[bool]:
        """For each bar, whether it is over the limit (none when there is no limit or it
        names no bar)."""
        labels = [label for label, _ in self.bars]
        first = labels.index(self.limit) if self.limit in labels else len(labels)
        return [i >= first for i in range(len(labels))]


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Part:
    """A numbered part: ``number`` “一”, ``heading`` “总体情况” → “一、总体情况”."""

    number: str
    heading: str
    blocks: tuple[Block, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.number}、{self.heading}"


@dataclass(frozen=True)
class ReportDocument:
    title: str
    parts: tuple[Part, ...]
    preamble: tuple[Paragraph, ...] = ()
    appendix: tuple[Block, ...] = ()
    """Blocks after the official parts: the bridge's own working (counting rules, item
    lists, where catalog fields came from)."""
    meta: dict[str, str] = field(default_factory=dict)
    """Year, publisher, sources, generated time: shown in document properties."""

    def tables(self) -> list[Table]:
        blocks = [b for p in self.parts for b in p.blocks] + list(self.appendix)
        return [b for b in blocks if isinstance(b, Table)]


def width(table: Table) -> int:
    """Columns of a table, from its first header row (spans counted)."""
    first = table.header[0] if table.header else table.rows[0]
    return sum(c.colspan for c in first)


def grid(table: Table) -> list[list[tuple[Cell, bool]]]:
    """Header and body rows laid out on the full grid: each position holds the cell that
    covers it and whether this is the cell's top-left corner. Raises ``ValueError`` when
    the spans do not tile the grid (a mistake in a table's definition)."""
    rows = list(table.header) + list(table.rows)
    columns = width(table)
    out: list[list[tuple[Cell, bool] | None]] = [[None] * columns for _ in rows]
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while c < columns and out[r][c] is not None:
                c += 1
            if c + cell.colspan > columns or r + cell.rowspan > len(rows):
                raise ValueError(f"table {table.key}: row {r + 1} overflows the grid")
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    if out[r + dr][c + dc] is not None:
                        raise ValueError(f"table {table.key}: cells overlap at row {r + dr + 1}")
                    out[r + dr][c + dc] = (cell, dr == 0 and dc == 0)
            c += cell.colspan
        if any(x is None for x in out[r]):
            raise ValueError(f"table {table.key}: row {r + 1} is short")
    return [[x for x in row if x is not None] for row in out]
