"""The annual report's own figures: the year's items, both timeliness measures, and the
working appendix (counting rules, item lists, where catalog fields came from).

What a bureau puts in its published report goes to part 二 (the items per category and
month, 公开时效 against the bureau's own 20-working-day duty) and, in sentences, parts 一 and
五. What serves writing and checking the report stays in the appendix: the genres, 归集时效
(the bridge's own job), the late, pending, counted-apart and baseline items one by one, and
the provenance of catalog fields.
"""

from __future__ import annotations

from typing import Any

from bridge.admin.report.build import LEGAL_LIMIT, AnnualReport, Latency, Measure
from bridge.admin.report.document import Block, Cell, Chart, Paragraph, Table, Value

NONE_ROW = "（无）"

FIELD_NAMES = {
    "created": "生成日期（成文日期）",
    "publisher": "发布机构",
    "index_no": "索引号",
    "doc_no": "发文字号",
    "topic": "主题分类",
    "title": "名称",
}
"""The catalog fields whose provenance the report counts, as the catalog names them."""


def _row(*values: Value) -> tuple[Cell, ...]:
    return tuple(Cell(v) for v in values)


def _num(value: float | int | None) -> Value:
    """A figure as a table shows it: whole numbers without “.0”, others to one decimal."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 1)


def _text(value: float | int | None) -> str:
    shown = _num(value)
    return "—" if shown is None else str(shown)


def _count_table(key: str, title: str, label: str, counts: dict[str, int], total: int) -> Table:
    rows = (*tuple(_row(k, v) for k, v in counts.items()), _row("合计", total))
    return Table(key, title, (_row(label, "条数"),), rows)


def _list_table(key: str, title: str, columns: tuple[str, ...], rows: list[tuple]) -> Table:
    body = tuple(_row(*r) for r in rows) or ((Cell(NONE_ROW, colspan=len(columns)),),)
    return Table(key, title, (_row(*columns),), body)


# --- 公开时效 and 归集时效 -----------------------------------------------------------------------


def measure_table(key: str, title: str, m: Measure, note: str = "") -> Table:
    """A measure's summary: counts, then median / 95th percentile / maximum."""
    s = m.summary()
    rows = [
        ("计入统计的条数", s["counted"]),
        (f"{LEGAL_LIMIT}个工作日以内（含）", s["on_time"]),
        (f"超过{LEGAL_LIMIT}个工作日", s["late"]),
    ]
    if m.name == "collection":
        rows.append(("尚未确认（按已过工作日计）", s["pending"]))
    else:
        rows.append(("生成日期页面未载明、另行列出", s["apart"]))
    rows += [
        ("中位数（工作日）", _num(s["median"])),
        ("第95百分位（工作日）", _num(s["p95"])),
        ("最大值（工作日）", _num(s["max"])),
    ]
    if m.name == "collection":
        rows += [
            ("中位数（小时）", _num(s["hours_median"])),
            ("第95百分位（小时）", _num(s["hours_p95"])),
            ("最大值（小时）", _num(s["hours_max"])),
        ]
    return Table(key, title, (_row("指标", "数值"),), tuple(_row(*r) for r in rows), note=note)


def measure_chart(key: str, title: str, m: Measure) -> Chart:
    return Chart(key, title, "工作日", "条数", tuple(m.buckets()), limit=">20")


DISCLOSURE_TITLE = "公开时效（生成日期至在网站发布）"
DISCLOSURE_NOTE = "《条例》第二十六条：属于主动公开范围的政府信息，应当自该政府信息形成或者变更之日起20个工作日内及时公开。"
COLLECTION_TITLE = "归集时效（在网站发布至平台确认）"


def disclosure_blocks(report: AnnualReport) -> list[Block]:
    """Part 二's own figures: the year's items per category and month, and 公开时效."""
    y = report.year
    total = report.total
    months = {f"{m}月": n for m, n in report.by_month.items()}
    return [
        _count_table("2-5", f"{y}年主动公开信息（按组配分类）", "组配分类",
                     report.by_category, total),
        _count_table("2-6", f"{y}年主动公开信息（按月份）", "月份", months, total),
        measure_table("2-7", DISCLOSURE_TITLE, report.disclosure, DISCLOSURE_NOTE),
        measure_chart("2-7图", "公开时效分布（工作日）", report.disclosure),
    ]  # fmt: skip


def timeliness_sentences(report: AnnualReport, *, problems: bool = False) -> list[str]:
    """Part 一's account of both measures and the baseline (``problems``: part 五's, which
    names only what went wrong)."""
    d = report.disclosure.summary()
    c = report.collection.summary()
    if problems:
        out = []
        if d["late"]:
            out.append(
                f"有{d['late']}条主动公开信息自生成日期至在网站发布超过{LEGAL_LIMIT}个工作日"
                "（逐条见附录）。"
            )
        if d["apart"]:
            out.append(
                f"有{d['apart']}条信息的页面未载明生成日期（成文日期），无法计算公开时效（逐条见附录）。"
            )
        if c["late"]:
            out.append(
                f"有{c['late']}条信息自在网站发布至政府信息公开平台确认超过{LEGAL_LIMIT}个工作日"
                "（含尚未确认的，逐条见附录）。"
            )
        return out
    disclosure = (
        f"公开时效（自生成日期至在网站发布）：生成日期页面载明的{d['counted']}条中，"
        f"{d['on_time']}条在{LEGAL_LIMIT}个工作日以内公开，{d['late']}条超过"
    )
    if d["median"] is not None:
        disclosure += f"，中位数{_text(d['median'])}个工作日"
    if d["apart"]:
        disclosure += f"；另有{d['apart']}条页面未载明生成日期，另行列出，不计入"
    collection = f"归集时效（自在网站发布至政府信息公开平台确认）：计入{c['counted']}条"
    if c["median"] is not None:
        collection += (
            f"，中位数{_text(c['median'])}个工作日（{_text(c['hours_median'])}小时），"
            f"第95百分位{_text(c['p95'])}个工作日"
        )
    collection += f"，超过{LEGAL_LIMIT}个工作日的{c['late']}条"
    if c["pending"]:
        collection += f"，尚未确认{c['pending']}条"
    out = [disclosure + "。", collection + "。"]
    if report.baseline:
        out.append(
            f"另有{len(report.baseline)}条信息在 bridge 首次读取其栏目之前已在网站上（存量），"
            "列于附录，不计入时效，也不计为超期。"
        )
        b = report.baseline_disclosure.summary()
        if b["counted"]:
            out.append(
                f"存量中生成日期页面载明的{b['counted']}条，按页面所载日期计算公开时效："
                f"{b['on_time']}条在{LEGAL_LIMIT}个工作日以内，{b['late']}条超过，"
                f"中位数{_text(b['median'])}个工作日；bridge 未见其发布过程，仅供参考。"
            )
    return out


# --- the appendix ----------------------------------------------------------------------------

RULES = (
    "统计对象：公开方式为“主动公开”、发布日期（北京时间）在本年内的条目；后来撤销的仍计入；"
    "未通过校验（隔离）的不计入。",
    "工作日按国务院办公厅公布的节假日安排：法定节假日不计，调休上班的周末计入。"
    "起算当日不计：时效为起算日之后、至截止日当日（含）的工作日数；当日为0，次一工作日为1。",
    f"{LEGAL_LIMIT}个工作日以内（含{LEGAL_LIMIT}）为按时。中位数为中间值（偶数个取中间两值的平均），"
    "第95百分位为最近秩法（第⌈0.95n⌉小的值），均只计已完成的条目。",
    "公开时效：自生成日期至发布日期（《条例》第二十六条）。页面未载明生成日期、由发布日期推定的条目另行列出，"
    "不判断是否超期。",
    "归集时效：自发布日期至政府信息公开平台首次确认，另以小时计（页面只载明日期的，自发布当日0时起算）；"
    "尚未确认的按截至生成时已过的工作日列出，超过期限的计入超期。",
    "存量：发布日期早于 bridge 首次读取其栏目之日的条目，列出并计数，不计入两项时效，也不计为超期；"
    "其公开时效按页面所载日期另算，仅供参考（bridge 未见其发布过程）。",
)


def _late_rows(found: list[Latency], *, pending_label: str | None = None) -> list[tuple]:
    return [
        (x.external_id, x.title, x.start.isoformat(),
         x.end.isoformat() if x.end else (pending_label or "—"), x.working_days)
        for x in found
    ]  # fmt: skip


def _provenance_rows(provenance: dict[str, dict[str, Any]]) -> list[tuple]:
    return [
        (
            FIELD_NAMES.get(name, name),
            c["shown"],
            c["not_shown"],
            "、".join(f"{how} {n}" for how, n in c["not_shown_by"].items()),
        )
        for name, c in provenance.items()
    ]


def appendix(report: AnnualReport) -> list[Block]:
    d, c = report.disclosure, report.collection
    genres = report.by_genre
    return [
        Paragraph("以下为 bridge 的统计口径和逐条明细，供编写和核对本报告使用，不属于年度报告格式的内容。"),
        *(Paragraph(rule) for rule in RULES),
        _count_table("附-1", f"{report.year}年主动公开信息（按体裁分类）", "体裁分类",
                     genres, sum(genres.values())),
        measure_table("附-2", COLLECTION_TITLE, c),
        measure_chart("附-2图", "归集时效分布（工作日）", c),
        _list_table("附-3", f"公开时效超过{LEGAL_LIMIT}个工作日的信息",
                    ("标识", "名称", "生成日期", "发布日期", "工作日"), _late_rows(d.late)),
        _list_table("附-4", f"归集时效超过{LEGAL_LIMIT}个工作日或尚未确认的信息",
                    ("标识", "名称", "发布日期", "平台确认日期", "工作日"),
                    _late_rows(c.late + [x for x in c.pending if not x.late],
                               pending_label="尚未确认")),
        _list_table("附-5", "生成日期页面未载明的信息（不计入公开时效）",
                    ("标识", "名称", "发布日期", "推定的生成日期"),
                    [(x.external_id, x.title, x.end.isoformat() if x.end else "—",
                      x.start.isoformat()) for x in d.apart]),
        _list_table("附-6", "存量信息（bridge 首次读取其栏目之前已在网站上）",
                    ("标识", "名称", "组配分类", "发布日期"),
                    [(x.external_id, x.title, x.category, x.start.isoformat())
                     for x in report.baseline]),
        _list_table("附-7", "目录要素的来源（页面载明的，与推定、取自配置或缺省的）",
                    ("字段", "页面载明", "页面未载明", "未载明的来由"),
                    _provenance_rows(report.provenance)),
    ]  # fmt: skip
