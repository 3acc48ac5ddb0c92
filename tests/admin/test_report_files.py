"""`report --format xlsx|docx --out F` through the CLI on the hand-worked 2025 store of
test_report_document (清明 and 国庆 with their make-up days, a baseline item, a derived
生成日期, a pending item): the files read back with openpyxl and python-docx hold the six
parts, the official tables and the figures worked out by hand there."""

from __future__ import annotations

import docx
import openpyxl
from test_report_document import HEADINGS, report, year_config  # noqa: F401 - the fixture

PARTS = [h.removeprefix("## ") for h in HEADINGS]


def rows_of(ws) -> list[list[object]]:
    return [[c for c in row if c is not None] for row in ws.iter_rows(values_only=True)]


def test_xlsx_has_a_sheet_per_table_with_the_hand_worked_figures(year_config, cli, tmp_path):  # noqa: F811
    out = tmp_path / "2025年度报告.xlsx"
    done = report(cli, year_config, "--format", "xlsx", "--out", str(out))
    assert done.out.startswith(
        f"wrote {out} (6 items, 1 late in 公开时效, 2 in 归集时效, 1 baseline)"
    )
    book = openpyxl.load_workbook(out)
    names = book.sheetnames
    assert names[0] == "报告"
    lines = [str(r[0]) for r in rows_of(book["报告"]) if r]
    assert lines[0] == "余姚市教育局2025年政府信息公开工作年度报告"
    assert [line for line in lines if line in PARTS] == PARTS
    # part 二's first official table, the 行政规范性文件 row filled from the catalog
    first = book[next(n for n in names if n.startswith("2-1"))]
    assert ["行政规范性文件", 2, 0, 2] in rows_of(first)
    assert ["规章"] in rows_of(first)  # the bureau fills 规章: empty cells
    # 公开时效 worked by hand: g h d l → 0 16 20 21, median 18, p95 21, one late, f apart
    disclosure = rows_of(book[next(n for n in names if n.startswith("2-7 "))])
    for row in (["计入统计的条数", 4], ["20个工作日以内（含）", 3], ["超过20个工作日", 1],
                ["生成日期页面未载明、另行列出", 1], ["中位数（工作日）", 18],
                ["第95百分位（工作日）", 21], ["最大值（工作日）", 21]):  # fmt: skip
        assert row in disclosure, (row, disclosure)
    chart = rows_of(book[next(n for n in names if n.startswith("2-7图"))])
    assert [r for r in chart if len(r) == 2 and r[0] in ("0", "1", "11–20", ">20")] == [
        ["0", 1], ["1", 0], ["11–20", 2], [">20", 1],
    ]  # fmt: skip
    # parts 三 and 四: the official tables, empty for the bureau
    requests = book[next(n for n in names if n.startswith("3 "))]
    labels = [r[0] for r in rows_of(requests) if r]
    assert "一、本年新收政府信息公开申请数量" in labels and "四、结转下年度继续办理" in labels
    assert all(
        c.value is None for row in requests.iter_rows(min_row=6, min_col=4, max_col=10) for c in row
    )


def test_docx_has_the_six_parts_the_tables_and_the_chart(year_config, cli, tmp_path):  # noqa: F811
    out = tmp_path / "2025年度报告.docx"
    done = report(cli, year_config, "--format", "docx", "--out", str(out))
    assert done.out.startswith(
        f"wrote {out} (6 items, 1 late in 公开时效, 2 in 归集时效, 1 baseline)"
    )
    doc = docx.Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings[:6] == PARTS
    texts = "\n".join(p.text for p in doc.paragraphs)
    assert "生成日期页面载明的4条中，3条在20个工作日以内公开，1条超过，中位数18个工作日" in texts
    assert "另有1条信息在 bridge 首次读取其栏目之前已在网站上（存量）" in texts
    assert "【待填写：" in texts

    def cells(table) -> list[list[str]]:
        return [[c.text for c in row.cells] for row in table.rows]

    tables = [cells(t) for t in doc.tables]
    assert any(["行政规范性文件", "2", "0", "2"] in t for t in tables)
    disclosure = next(t for t in tables if ["中位数（工作日）", "18"] in t)
    assert ["超过20个工作日", "1"] in disclosure and ["第95百分位（工作日）", "21"] in disclosure
    collection = next(t for t in tables if ["中位数（小时）", "96"] in t)
    assert ["尚未确认（按已过工作日计）", "1"] in collection
    assert any(row[0] == "四、结转下年度继续办理" for t in tables for row in t)
    assert len(doc.inline_shapes) == 2  # the 公开时效 and 归集时效 charts
