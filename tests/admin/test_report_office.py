"""The annual report as an Excel workbook and a Word document, read back with openpyxl and
python-docx: every cell at its place, merged cells merged, figures as numbers, headings in
order, the chart as a picture; and a clear error where the file cannot be written."""

from __future__ import annotations

import os
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from hypothesis import given
from hypothesis import strategies as st

from bridge.admin.report.chart import ascii_only, chart_png, cjk_family, draw
from bridge.admin.report.document import Cell, Chart, Paragraph, Part, ReportDocument, Table, grid
from bridge.admin.report.office import write_docx, write_xlsx
from bridge.admin.report.xlsx import FIRST_ROW, sheet_name
from bridge.errors import Fatal

N = None
SCRAPED = "=SUM(A1:A2) <script>alert('x')</script> & 【通知】\x07“引号”\n第二行"
SCRAPED_SHOWN = "=SUM(A1:A2) <script>alert('x')</script> & 【通知】“引号”\n第二行"


def c(value, colspan=1, rowspan=1):
    return Cell(value, colspan, rowspan)


# Part 二's first table: a 2-level header, figures and one the bridge cannot know.
T21 = Table(
    key="2-1",
    title="第二十条第（一）项",
    header=(
        (c("信息内容", rowspan=2), c("第二十条第（一）项", colspan=3)),
        (c("本年制发件数"), c("本年废止件数"), c("现行有效件数")),
    ),
    rows=(
        (c("规章"), c(0), c(0), c(0)),
        (c("行政规范性文件"), c(3), c(N), c(12)),
    ),
    note="行政规范性文件：候选为带文号的政策文件，须人工核对。",
)

# Part 三, the official layout: 3-level merged row labels, 2-level merged column header.
_SEVEN = tuple(c(N) for _ in range(7))
T3 = Table(
    key="3",
    title="收到和处理政府信息公开申请情况",
    header=(
        (
            c("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3),
            c("申请人情况", colspan=7),
        ),
        (c("自然人", rowspan=2), c("法人或其他组织", colspan=5), c("总计", rowspan=2)),
        (c("商业企业"), c("科研机构"), c("社会公益组织"), c("法律服务机构"), c("其他")),
    ),
    rows=(
        (c("一、本年新收政府信息公开申请数量", colspan=3), *_SEVEN),
        (c("二、上年结转政府信息公开申请数量", colspan=3), *_SEVEN),
        (c("三、本年度办理结果", rowspan=7), c("（一）予以公开", colspan=2), *_SEVEN),
        (c("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", colspan=2), *_SEVEN),
        (c("（三）不予公开", rowspan=3), c("1.属于国家秘密"), *_SEVEN),
        (c("2.其他法律行政法规禁止公开"), *_SEVEN),
        (c("3.危及“三安全一稳定”"), *_SEVEN),
        (c("（四）无法提供", rowspan=2), c("1.本机关不掌握相关政府信息"), *_SEVEN),
        (c("2.没有现成信息需要另行制作"), *_SEVEN),
        (c("四、结转下年度继续办理", colspan=3), *_SEVEN),
    ),
    fill_in=True,
)

T_WORK = Table(
    key="附-1",
    title="公开时效/超期条目[明细]",  # '/' and '[]' cannot be in a sheet name
    header=((c("标题"), c("工作日"), c("中位数")),),
    rows=((c(SCRAPED), c(21), c(107.5)), (c("关于2026年招生工作的通知"), c(25), c(N))),
)

CHART = Chart(
    key="时效图",
    title="公开时效（工作日）",
    x_label="工作日",
    y_label="条数",
    bars=(("0", 5), ("1–5", 10), ("6–10", 3), ("11–20", 2), ("21–30", 1), (">30", 1)),
    limit="21–30",
)

HEADINGS = ("总体情况", "主动公开政府信息情况", "收到和处理政府信息公开申请情况")
HEADINGS += ("政府信息公开行政复议、行政诉讼情况", "存在的主要问题及改进情况", "其他需要报告的事项")
NUMBERS = "一二三四五六"

DOC = ReportDocument(
    title="某某区教育局2026年政府信息公开工作年度报告",
    preamble=(Paragraph("本报告依据《中华人民共和国政府信息公开条例》编制。"),),
    parts=(
        Part(
            "一",
            HEADINGS[0],
            (
                Paragraph("本年主动公开政府信息 38 条。"),
                Paragraph("本机关政府信息公开工作的总体情况", fill_in=True),
            ),
        ),
        Part("二", HEADINGS[1], (T21, CHART)),
        Part("三", HEADINGS[2], (T3,)),
        Part("四", HEADINGS[3], (Paragraph("见下表（由本机关填写）。"),)),
        Part("五", HEADINGS[4], (Paragraph("存在的主要问题及改进情况", fill_in=True),)),
        Part("六", HEADINGS[5], (Paragraph(SCRAPED),)),
    ),
    appendix=(T_WORK,),
    meta={"year": "2026", "publisher": "某某区教育局", "generated": "2027-01-05T09:30:00+08:00"},
)

TITLES = [f"{n}、{h}" for n, h in zip(NUMBERS, HEADINGS, strict=True)]


def expected_merges(table: Table) -> set[str]:
    """Merged ranges of a table sheet, worked out from the spans (title row included)."""
    laid = grid(table)
    out = {f"A1:{openpyxl.utils.get_column_letter(len(laid[0]))}1"}
    for r, row in enumerate(laid):
        for col, (cell, corner) in enumerate(row):
            if corner and (cell.colspan > 1 or cell.rowspan > 1):
                first = openpyxl.utils.get_column_letter(col + 1) + str(FIRST_ROW + r)
                last_col = openpyxl.utils.get_column_letter(col + cell.colspan)
                out.add(f"{first}:{last_col}{FIRST_ROW + r + cell.rowspan - 1}")
    if table.note:
        at = FIRST_ROW + len(laid) + 1
        out.add(f"A{at}:{openpyxl.utils.get_column_letter(len(laid[0]))}{at}")
    return out


# ---------------------------------------------------------------- xlsx


@pytest.fixture(scope="module")
def xlsx(tmp_path_factory) -> openpyxl.Workbook:
    path = tmp_path_factory.mktemp("x") / "报告.xlsx"
    write_xlsx(DOC, path)
    return openpyxl.load_workbook(path)


def test_xlsx_sheets_are_the_report_then_each_table_and_chart(xlsx):
    assert xlsx.sheetnames == [
        "报告",
        "2-1 第二十条第（一）项",
        "时效图 公开时效（工作日）",
        "3 收到和处理政府信息公开申请情况",
        "附-1 公开时效_超期条目_明细_",
    ]


def test_xlsx_report_sheet_reads_as_the_report(xlsx):
    lines = [row[0] for row in xlsx["报告"].iter_rows(values_only=True)]
    assert lines[:5] == [
        DOC.title,
        "year：2026",
        "publisher：某某区教育局",
        "generated：2027-01-05T09:30:00+08:00",
        None,
    ]
    assert lines[5:] == [
        "本报告依据《中华人民共和国政府信息公开条例》编制。",
        TITLES[0],
        "本年主动公开政府信息 38 条。",
        "【待填写：本机关政府信息公开工作的总体情况】",
        TITLES[1],
        "表　第二十条第（一）项：见工作表“2-1 第二十条第（一）项”",
        "图　公开时效（工作日）：见工作表“时效图 公开时效（工作日）”",
        TITLES[2],
        "表　收到和处理政府信息公开申请情况：见工作表“3 收到和处理政府信息公开申请情况”",
        TITLES[3],
        "见下表（由本机关填写）。",
        TITLES[4],
        "【待填写：存在的主要问题及改进情况】",
        TITLES[5],
        SCRAPED_SHOWN,
        "附录",
        "表　公开时效/超期条目[明细]：见工作表“附-1 公开时效_超期条目_明细_”",
    ]
    assert xlsx["报告"]["A9"].fill.fgColor.rgb == "00FFF2CC"  # the fill-in paragraph
    assert xlsx["报告"]["A11"].hyperlink.location == "'2-1 第二十条第（一）项'!A1"
    assert xlsx.properties.title == DOC.title
    assert xlsx.properties.creator == "某某区教育局"
    assert xlsx.properties.created == datetime(2027, 1, 5, 1, 30)


@pytest.mark.parametrize("table", [T21, T3, T_WORK], ids=lambda t: t.key)
def test_xlsx_table_cells_merges_and_types(xlsx, table):
    ws = xlsx[sheet_name(table.key, table.title, set())]
    assert ws["A1"].value == table.title
    assert {str(m) for m in ws.merged_cells.ranges} == expected_merges(table)
    assert ws.freeze_panes == f"A{FIRST_ROW + len(table.header)}"
    for r, row in enumerate(grid(table)):
        for col, (cell, corner) in enumerate(row):
            at = ws.cell(row=FIRST_ROW + r, column=col + 1)
            want = cell.value if corner else None
            if isinstance(want, str):
                want = want.replace("\x07", "")
            assert at.value == want, (r, col)
            if corner and isinstance(cell.value, int | float):
                assert at.data_type == "n"
            if corner:
                sides = (at.border.left, at.border.right, at.border.top, at.border.bottom)
                assert {side.style for side in sides} == {"thin"}, (r, col)
            if r < len(table.header) and corner:
                assert at.font.b is True
            elif table.fill_in and cell.value is None:
                assert at.fill.fgColor.rgb == "00FFF2CC"


def test_xlsx_specifics(xlsx):
    t3 = xlsx["3 收到和处理政府信息公开申请情况"]
    assert t3["A2"].value == "浅黄色单元格由本机关填写。"
    assert t3["A6"].value == "一、本年新收政府信息公开申请数量"
    assert t3["A8"].value == "三、本年度办理结果" and "A8:A14" in {
        str(m) for m in t3.merged_cells.ranges
    }
    assert t3["B10"].value == "（三）不予公开" and t3["C12"].value == "3.危及“三安全一稳定”"
    work = xlsx["附-1 公开时效_超期条目_明细_"]
    assert work["A4"].value == SCRAPED_SHOWN and work["A4"].data_type == "s"  # not a formula
    assert (work["B4"].value, work["C4"].value) == (21, 107.5)
    t21 = xlsx["2-1 第二十条第（一）项"]
    assert t21["A8"].value == T21.note
    assert t21.column_dimensions["A"].width >= 16  # “行政规范性文件”: 7 characters, 14 columns
    chart = xlsx["时效图 公开时效（工作日）"]
    assert [r for r in chart.iter_rows(min_row=FIRST_ROW, values_only=True)] == [
        ("工作日", "条数"),
        *CHART.bars,
    ]
    assert len(chart._charts) == 1


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    long = sheet_name("3", "收到和处理政府信息公开申请情况以及更多更多更多更多更多的文字", taken)
    assert len(long) == 31
    again = sheet_name("3", "收到和处理政府信息公开申请情况以及更多更多更多更多更多的文字", taken)
    assert again == long[:28] + "(2)"
    assert sheet_name("'x", "a:b*c?", taken) == "x a_b_c_"
    assert sheet_name("", "", taken) == "表"
    assert sheet_name("HISTORY", "", taken) == "HISTORY(2)"


# ---------------------------------------------------------------- docx


@pytest.fixture(scope="module")
def docx_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("d") / "报告.docx"
    write_docx(DOC, path)
    return path


def test_docx_is_a_word_package(docx_path):
    with zipfile.ZipFile(docx_path) as z:
        assert z.testzip() is None
        assert "word/document.xml" in z.namelist()
        assert any(n.startswith("word/media/") and n.endswith(".png") for n in z.namelist())


def test_docx_headings_paragraphs_and_properties(docx_path):
    d = docx.Document(str(docx_path))
    assert [p.text for p in d.paragraphs if p.style.name == "Title"] == [DOC.title]
    assert [p.text for p in d.paragraphs if p.style.name == "Heading 1"] == [*TITLES, "附录"]
    texts = [p.text for p in d.paragraphs]
    fill = "【待填写：本机关政府信息公开工作的总体情况】"
    assert texts.index(TITLES[0]) + 2 == texts.index(fill)
    run = next(p for p in d.paragraphs if p.text == fill).runs[0]
    assert run.font.highlight_color == WD_COLOR_INDEX.YELLOW
    assert "【待填写：存在的主要问题及改进情况】" in texts
    assert SCRAPED_SHOWN in texts
    captions = [p.text for p in d.paragraphs if p.style.name == "Caption"]
    assert captions == [T21.title, "图　公开时效（工作日）", T3.title, T_WORK.title]
    assert len(d.inline_shapes) == 1
    section = d.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    rfonts = d.styles["Normal"].element.rPr.rFonts
    assert rfonts.get(qn("w:eastAsia")) == "宋体"
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert d.core_properties.title == DOC.title
    assert d.core_properties.created == datetime(2027, 1, 5, 1, 30, tzinfo=UTC)
    assert d.core_properties.author == "某某区教育局"


@pytest.mark.parametrize(("index", "table"), [(0, T21), (1, T3), (2, T_WORK)])
def test_docx_tables_on_the_grid(docx_path, index, table):
    d = docx.Document(str(docx_path))
    assert len(d.tables) == 3
    out = d.tables[index]
    assert out.style.name == "Table Grid"
    laid = grid(table)
    assert (len(out.rows), len(out.columns)) == (len(laid), len(laid[0]))
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for r, row in enumerate(laid):
        for col, (cell, corner) in enumerate(row):
            if corner:
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        owner[r + dr, col + dc] = (r, col)
                body = r >= len(table.header)
                if cell.value is None:
                    want = "" if table.fill_in and body else "—"
                elif isinstance(cell.value, str):
                    want = cell.value.replace("\x07", "")
                else:
                    want = str(cell.value)
                assert out.cell(r, col).text == want, (r, col)
    for (r, col), corner_at in owner.items():  # every covered position is the merged cell
        assert out.cell(r, col)._tc is out.cell(*corner_at)._tc, (r, col)
    for (r, col), corner_at in owner.items():  # and cells apart stay apart
        for near in ((r + 1, col), (r, col + 1)):
            if near in owner and owner[near] != corner_at:
                assert out.cell(r, col)._tc is not out.cell(*near)._tc, (r, col, near)
    for r, tr in enumerate(out._tbl.tr_lst):
        is_header = tr.trPr is not None and tr.trPr.find(qn("w:tblHeader")) is not None
        assert is_header == (r < len(table.header))
    if table.header:
        assert all(run.bold for run in out.rows[0].cells[0].paragraphs[0].runs)
    order = ["tcW", "gridSpan", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "vAlign"]
    for tc_pr in out._tbl.iter(qn("w:tcPr")):  # Word refuses a file with these out of order
        tags = [child.tag.split("}")[1] for child in tc_pr]
        assert tags == sorted(tags, key=order.index), tags


# ---------------------------------------------------------------- chart


def test_chart_png_is_a_png_with_both_colours():
    from io import BytesIO

    from PIL import Image

    data = chart_png(CHART)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(data) < 500_000
    colours = set(Image.open(BytesIO(data)).convert("RGB").get_flattened_data())
    assert (0x44, 0x72, 0xC4) in colours and (0xC0, 0x50, 0x4D) in colours  # in time, late


def test_chart_draws_no_missing_glyph_with_or_without_a_cjk_font():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")
        assert draw(CHART, None)[:4] == b"\x89PNG"
        if cjk_family() is not None:
            assert draw(CHART, cjk_family())[:4] == b"\x89PNG"
        assert draw(Chart("k", "空", "x", "y", ()), None)[:4] == b"\x89PNG"
    assert ascii_only("公开时效（工作日） 11–20 天") == "11–20"


# ---------------------------------------------------------------- errors


def test_a_missing_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "no-such-folder" / "报告.xlsx"
    with pytest.raises(
        Fatal, match=r"cannot write .*no-such-folder/报告\.xlsx: the folder .* does not exist"
    ):
        write_xlsx(DOC, path)


def test_a_folder_in_the_way_is_a_clear_error_and_leaves_no_temp_file(tmp_path):
    (tmp_path / "报告.docx").mkdir()
    with pytest.raises(Fatal, match=r"cannot write .*报告\.docx: Is a directory"):
        write_docx(DOC, tmp_path / "报告.docx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["报告.docx"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(Fatal, match=r"cannot write .*ro/r\.xlsx: Permission denied"):
            write_xlsx(DOC, folder / "r.xlsx")
    finally:
        folder.chmod(0o700)


def test_rewriting_replaces_the_file_whole(tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"old")
    path.chmod(0o640)
    write_xlsx(DOC, path)
    assert openpyxl.load_workbook(path).sheetnames[0] == "报告"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


# ---------------------------------------------------------------- random tables


@st.composite
def tables(draw_: st.DrawFn) -> Table:
    rows_n = draw_(st.integers(1, 6))
    cols_n = draw_(st.integers(1, 6))
    taken = [[False] * cols_n for _ in range(rows_n)]
    rows: list[list[Cell]] = [[] for _ in range(rows_n)]
    values = st.one_of(
        st.none(),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    )
    for r in range(rows_n):
        for col in range(cols_n):
            if taken[r][col]:
                continue
            free = 0
            while col + free < cols_n and not taken[r][col + free]:
                free += 1
            span_c = draw_(st.integers(1, free))
            span_r = draw_(st.integers(1, rows_n - r))
            for dr in range(span_r):
                for dc in range(span_c):
                    taken[r + dr][col + dc] = True
            rows[r].append(Cell(draw_(values), span_c, span_r))
    heads = draw_(st.integers(0, rows_n - 1))
    return Table("t", "随机", tuple(map(tuple, rows[:heads])), tuple(map(tuple, rows[heads:])))


@given(table=tables())
def test_random_merged_tables_round_trip_through_xlsx(tmp_path_factory, table):
    doc = ReportDocument("随机", (Part("一", "表", (table,)),))
    path = tmp_path_factory.mktemp("h") / "t.xlsx"
    write_xlsx(doc, path)
    ws = openpyxl.load_workbook(path)["t 随机"]
    merges = expected_merges(table)
    if len(grid(table)[0]) == 1:
        merges.discard("A1:A1")
    assert {str(m) for m in ws.merged_cells.ranges} == merges
    from bridge.admin.report.office import clean

    for r, row in enumerate(grid(table)):
        for col, (cell, corner) in enumerate(row):
            want = cell.value if corner else None
            if isinstance(want, str):
                want = clean(want) or None
            elif isinstance(want, float):
                want = pytest.approx(want, rel=1e-14)  # Excel keeps 15 significant digits
            assert ws.cell(row=FIRST_ROW + r, column=col + 1).value == want
