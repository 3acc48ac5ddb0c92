"""The whole annual report as a document, in the six parts of 国办公开办函〔2021〕30号.

《中华人民共和国政府信息公开工作年度报告格式》 orders the report 一、总体情况;
二、主动公开政府信息情况; 三、收到和处理政府信息公开申请情况; 四、政府信息公开行政复议、
行政诉讼情况; 五、存在的主要问题及改进情况; 六、其他需要报告的事项, with fixed tables in
parts 二, 三 and 四. The bridge fills what the catalog knows (part 二's 行政规范性文件 row, the
year's items, their timeliness) and leaves the rest as the official empty tables and marked
places (``fill_in``) for the bureau: it never sees 依申请 requests, appeals or lawsuits, and
the bureau's own account of its work is for the bureau to write. The bridge's working
(counting rules, item lists, where catalog fields came from) goes to the appendix.
"""

from __future__ import annotations

from bridge.admin.report.appendix import (
    FIELD_NAMES,
    appendix,
    disclosure_blocks,
    timeliness_sentences,
)
from bridge.admin.report.build import AnnualReport, official_rows
from bridge.admin.report.document import Cell, Paragraph, Part, ReportDocument, Table, Value
from bridge.workdays import SHANGHAI

PARTS = (
    ("一", "总体情况"),
    ("二", "主动公开政府信息情况"),
    ("三", "收到和处理政府信息公开申请情况"),
    ("四", "政府信息公开行政复议、行政诉讼情况"),
    ("五", "存在的主要问题及改进情况"),
    ("六", "其他需要报告的事项"),
)
"""Number and heading of each part, in the official order and wording."""


def _row(*values: Value) -> tuple[Cell, ...]:
    return tuple(Cell(v) for v in values)


# --- part 二: the four official tables ---------------------------------------------------------


def official_tables(report: AnnualReport) -> list[Table]:
    """第二十条第（一）（五）（六）（八）项, each with its heading row across the table."""
    tables = []
    for n, block in enumerate(official_rows(report), start=1):
        columns = block["columns"]
        header = (
            (Cell(block["item"], colspan=len(columns) + 1),),
            _row("信息内容", *columns),
        )
        rows = tuple(_row(r["name"], *r["values"]) for r in block["rows"])
        tables.append(Table(f"2-{n}", block["item"], header, rows))
    return tables


# --- part 三: 收到和处理政府信息公开申请情况 -----------------------------------------------------

APPLICANTS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
"""The seven figure columns of table 三."""

RESULTS = (
    ("（三）不予公开", (
        "1.属于国家秘密",
        "2.其他法律行政法规禁止公开",
        "3.危及“三安全一稳定”",
        "4.保护第三方合法权益",
        "5.属于三类内部事务信息",
        "6.属于四类过程性信息",
        "7.属于行政执法案卷",
        "8.属于行政查询事项",
    )),
    ("（四）无法提供", (
        "1.本机关不掌握相关政府信息",
        "2.没有现成信息需要另行制作",
        "3.补正后申请内容仍不明确",
    )),
    ("（五）不予处理", (
        "1.信访举报投诉类申请",
        "2.重复申请",
        "3.要求提供公开出版物",
        "4.无正当理由大量反复申请",
        "5.要求行政机关确认或重新出具已获取信息",
    )),
    ("（六）其他处理", (
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "3.其他",
    )),
)  # fmt: skip
"""The 办理结果 with sub-rows, each (row label, sub-row labels)."""

CHECK_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


def requests_table() -> Table:
    """Table 三 as the format lays it out: three label columns, seven figure columns."""
    empty = (None,) * len(APPLICANTS)
    header = (
        (Cell(CHECK_NOTE, colspan=3, rowspan=3), Cell("申请人情况", colspan=7)),
        (Cell("自然人", rowspan=2), Cell("法人或其他组织", colspan=5), Cell("总计", rowspan=2)),
        _row(*APPLICANTS[1:6]),
    )
    results_span = 2 + sum(len(subs) for _, subs in RESULTS) + 1
    rows: list[tuple[Cell, ...]] = [
        (Cell("一、本年新收政府信息公开申请数量", colspan=3), *_row(*empty)),
        (Cell("二、上年结转政府信息公开申请数量", colspan=3), *_row(*empty)),
        (
            Cell("三、本年度办理结果", rowspan=results_span),
            Cell("（一）予以公开", colspan=2),
            *_row(*empty),
        ),
        (
            Cell("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", colspan=2),
            *_row(*empty),
        ),
    ]
    for label, subs in RESULTS:
        for i, sub in enumerate(subs):
            lead = (Cell(label, rowspan=len(subs)),) if i == 0 else ()
            rows.append((*lead, Cell(sub), *_row(*empty)))
    rows.append((Cell("（七）总计", colspan=2), *_row(*empty)))
    rows.append((Cell("四、结转下年度继续办理", colspan=3), *_row(*empty)))
    note = "bridge 不接触依申请公开的申请和答复：本表由本机关根据依申请公开登记台账填写。"
    return Table("3", "收到和处理政府信息公开申请情况", header, tuple(rows), True, note)


# --- part 四: 行政复议、行政诉讼 ----------------------------------------------------------------

OUTCOMES = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")


def appeals_table() -> Table:
    """Table 四: 行政复议 (five columns), 行政诉讼 未经复议直接起诉 and 复议后起诉 (five each)."""
    header = (
        (Cell("行政复议", colspan=5), Cell("行政诉讼", colspan=10)),
        (
            *(Cell(o, rowspan=2) for o in OUTCOMES),
            Cell("未经复议直接起诉", colspan=5),
            Cell("复议后起诉", colspan=5),
        ),
        _row(*OUTCOMES, *OUTCOMES),
    )
    rows = (_row(*(None,) * 15),)
    note = "本表由本机关根据行政复议、行政诉讼案件台账填写。"
    return Table("4", "政府信息公开行政复议、行政诉讼情况", header, rows, True, note)


# --- the paragraphs ------------------------------------------------------------------------


def _items_sentence(report: AnnualReport, publisher: str) -> str:
    y = report.year
    text = f"{y}年，{publisher}在网站主动公开、经 bridge 归集到政府信息公开平台的政府信息共{report.total}条"
    if report.withdrawn:
        text += f"（其中{report.withdrawn}条后来已撤销）"
    shares = [f"{name}{n}条" for name, n in report.by_category.items() if n]
    if shares:
        text += "，按组配分类：" + "、".join(shares)
    made = report.normative["本年制发件数"]
    return text + f"。其中政策文件类有文号的{made}件为行政规范性文件候选（须人工核定）。"


def _missing_fields(report: AnnualReport) -> str | None:
    """Which catalog fields the pages did not show, for part 五 (文号 is left out: most
    items have none, and that is no fault)."""
    missing = [
        f"{FIELD_NAMES[name]}{c['not_shown']}条"
        for name, c in report.provenance.items()
        if c["not_shown"] and name != "doc_no"
    ]
    if not missing:
        return None
    return (
        "本年主动公开信息中，有的页面未载明目录要素，由 bridge 推定、取自配置或缺省值："
        + "、".join(missing)
        + "（逐项来由见附录）。"
    )


FILL_OVERVIEW = (
    "本机关贯彻落实《条例》的总体情况：主动公开、依申请公开、政府信息管理、"
    "政府信息公开平台建设、监督保障（含工作考核、社会评议和责任追究结果情况）等方面的工作和成效。"
)
FILL_PROBLEMS = (
    "本机关政府信息公开工作存在的主要问题，上一年度年度报告所列问题的改进情况，"
    "以及针对本年度问题的具体改进措施。"
)
FILL_OTHER = (
    "依据《政府信息公开信息处理费管理办法》收取信息处理费的情况（本年收费数额、依据和方式；"
    "未收取的写明未收取），以及本机关认为需要报告的其他事项。"
)
FILL_PART_TWO = "第二十条第（五）（六）（八）项和规章各行的数字由业务科室提供，填入表中“—”处。"


def build_document(report: AnnualReport, publisher: str) -> ReportDocument:
    """The annual report of ``publisher`` for ``report.year``, every part in order."""
    y = report.year
    generated = report.generated_at.astimezone(SHANGHAI)
    preamble = (
        Paragraph(
            "本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）第五十条和"
            "《中华人民共和国政府信息公开工作年度报告格式》（国办公开办函〔2021〕30号）编制，"
            "由总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、"
            "政府信息公开行政复议和行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项组成。"
            f"本报告所列数据的统计期限为{y}年1月1日至{y}年12月31日。"
        ),
        Paragraph(
            f"第二部分的统计数据和正文中的条数由 bridge 根据状态库于{generated:%Y-%m-%d %H:%M}生成"
            f"（来源：{'、'.join(report.sources)}）；标“待填写”处和表中“—”处由本机关填写。"
        ),
    )
    missing = _missing_fields(report)
    blocks: dict[str, list] = {
        "一": [
            Paragraph(_items_sentence(report, publisher)),
            *(Paragraph(s) for s in timeliness_sentences(report)),
            Paragraph(FILL_OVERVIEW, fill_in=True),
        ],
        "二": [
            *official_tables(report),
            Paragraph(
                "bridge 填写的行：行政规范性文件（候选口径：组配分类为“政策文件”且有文号的条目；"
                "本年制发按发布日期，本年废止按有效性首次记为“废止”的日期，"
                "现行有效为生成时仍在网站上且有效性为“有效”；是否属于行政规范性文件须人工核定）。"
                "规章由省级和设区的市级人民政府制定；行政许可、行政处罚、行政强制的处理决定数量"
                "和行政事业性收费金额不在公开目录中。"
            ),
            Paragraph(FILL_PART_TWO, fill_in=True),
            *disclosure_blocks(report),
        ],
        "三": [requests_table()],
        "四": [appeals_table()],
        "五": [
            *(Paragraph(s) for s in timeliness_sentences(report, problems=True)),
            *([Paragraph(missing)] if missing else []),
            Paragraph(FILL_PROBLEMS, fill_in=True),
        ],
        "六": [Paragraph(FILL_OTHER, fill_in=True)],
    }
    return ReportDocument(
        title=f"{publisher}{y}年政府信息公开工作年度报告",
        parts=tuple(Part(n, heading, tuple(blocks[n])) for n, heading in PARTS),
        preamble=preamble,
        appendix=tuple(appendix(report)),
        meta={
            "year": str(y),
            "publisher": publisher,
            "sources": "、".join(report.sources),
            "generated_at": report.generated_at.isoformat(timespec="seconds"),
        },
    )
