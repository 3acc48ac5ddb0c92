"""The annual disclosure statistics: what was proactively disclosed, and how fast.

Counting rules (the report prints them too, so a reader can check every figure):

- An item counts for year Y when its newest recorded version says 公开方式 主动公开 and its
  发布日期 (the source's publication time, read in Asia/Shanghai) falls in Y. Items
  withdrawn later still count (they were disclosed); the report says how many. Items that
  never passed validation (quarantined, never recorded) are not counted.
- Timeliness: two measures, 公开时效 (生成日期 → 发布日期) and 归集时效 (发布日期 → portal
  confirmation), and the baseline (存量) measured by neither; see :mod:`bridge.timeliness`
  for the working-day convention, the baseline rule and what is counted apart.
- Median: the middle value (the mean of the two middle values for an even count).
  95th percentile: nearest rank, the ⌈0.95·n⌉-th smallest latency. Both over finished
  items only; an unconfirmed item is listed as pending with the working days elapsed so
  far, and among the late ones once that passes 20.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge import timeliness
from bridge.catalog import CATEGORIES
from bridge.provenance import is_shown, provenance_of
from bridge.state.admin_queries import ReportItem
from bridge.timeliness import (
    LEGAL_LIMIT,
    SHANGHAI,
    Latency,
    Measure,
    local_date,
    working_days,
)

__all__ = ["LEGAL_LIMIT", "AnnualReport", "Latency", "Measure", "build", "local_date",
           "working_days"]  # fmt: skip

POLICY_CATEGORY = "政策文件"  # where the bureau files its 规范性文件


@dataclass
class AnnualReport:
    year: int
    sources: list[str]
    generated_at: datetime
    total: int = 0
    withdrawn: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_genre: dict[str, int] = field(default_factory=dict)
    by_month: dict[int, int] = field(default_factory=dict)
    normative: dict[str, int] = field(default_factory=dict)
    disclosure: Measure = field(default_factory=lambda: Measure("disclosure"))  # 公开时效
    collection: Measure = field(default_factory=lambda: Measure("collection"))  # 归集时效
    baseline: list[Latency] = field(default_factory=list)  # 存量, collection-shaped
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per catalog field, how many counted records took it from the page, and how many
    from a derivation, the config or a default (a derived 生成日期, a configured 发布机构)."""

    @property
    def late(self) -> list[Latency]:
        """Late in either measure (an item late in both is listed once per measure)."""
        return self.disclosure.late + self.collection.late

    def as_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "sources": self.sources,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "timezone": "Asia/Shanghai",
            "total": self.total,
            "withdrawn": self.withdrawn,
            "by_category": self.by_category,
            "by_genre": self.by_genre,
            "by_month": {f"{m:02d}": n for m, n in self.by_month.items()},
            "official_table": official_rows(self),
            "disclosure": _measure_json(self.disclosure),
            "collection": _measure_json(self.collection),
            "baseline": {
                "count": len(self.baseline),
                "items": [x.as_json() for x in self.baseline],
            },
            "provenance": self.provenance,
        }


def _measure_json(m: Measure) -> dict[str, Any]:
    return {
        "summary": m.summary(),
        "buckets": dict(m.buckets()),
        "late": [x.as_json() for x in m.late],
        "pending": [x.as_json() for x in m.pending],
        "apart": [x.as_json() for x in m.apart],
        "items": [x.as_json() for x in m.latencies],
    }


def build(
    items: list[ReportItem], year: int, sources: list[str], *, now: datetime | None = None
) -> AnnualReport:
    """Count the year's proactively disclosed items and their working-day latencies."""
    now = now or datetime.now(UTC)
    report = AnnualReport(year, sources, now)
    report.by_category = dict.fromkeys(CATEGORIES, 0)
    report.by_month = dict.fromkeys(range(1, 13), 0)
    found = timeliness.Timeliness()
    genres: Counter[str] = Counter()
    sources_of: dict[str, Counter[str]] = {f: Counter() for f in PROVENANCE_FIELDS}
    for item in items:
        r = item.record
        if r.get("disclosure", "主动公开") != "主动公开" or item.published_at is None:
            continue
        published = local_date(item.published_at)
        if published.year != year:
            continue
        report.total += 1
        report.withdrawn += item.status == "withdrawn"
        category = str(r.get("category") or "其他")
        report.by_category[category] = report.by_category.get(category, 0) + 1
        genres[str(r.get("genre") or "其他")] += 1
        report.by_month[published.month] += 1
        for name in PROVENANCE_FIELDS:
            how = provenance_of(r, name)
            sources_of[name][
                how.split(":")[0] + ":" if how.startswith(("page:", "meta:")) else how
            ] += 1
        found.add(item, category, now)
    report.by_genre = dict(sorted(genres.items(), key=lambda kv: (-kv[1], kv[0])))
    report.provenance = {
        name: {
            "shown": sum(n for how, n in counts.items() if is_shown(how)),
            "not_shown": sum(n for how, n in counts.items() if not is_shown(how)),
            "not_shown_by": {how: n for how, n in sorted(counts.items()) if not is_shown(how)},
        }
        for name, counts in sources_of.items()
    }
    report.normative = _normative(items, year)
    found.sort()
    report.disclosure, report.collection = found.disclosure, found.collection
    report.baseline = found.baseline
    return report


PROVENANCE_FIELDS = ("created", "publisher", "index_no", "doc_no", "topic", "title")
"""The fields whose provenance the report counts."""


def _normative(items: list[ReportItem], year: int) -> dict[str, int]:
    """The 行政规范性文件 row, from candidates: 政策文件 items with a 文号.

    本年制发: published in the year; 本年废止: first recorded as 废止 in the year;
    现行有效: still active on the site and recorded as 有效 at report time.
    """
    made = repealed = valid = 0
    for item in items:
        r = item.record
        if r.get("category") != POLICY_CATEGORY or not r.get("doc_no"):
            continue
        if item.published_at and local_date(item.published_at).year == year:
            made += 1
        first_repeal = next((at for at, v in item.validity_changes if v == "废止"), None)
        if first_repeal is not None and local_date(first_repeal).year == year:
            repealed += 1
        if item.status == "active" and r.get("validity", "有效") == "有效":
            valid += 1
    return {"本年制发件数": made, "本年废止件数": repealed, "现行有效件数": valid}


NOT_IN_CATALOG = None  # rows the catalog cannot know: the business offices fill them in


def official_rows(report: AnnualReport) -> list[dict[str, Any]]:
    """The table 二、主动公开政府信息情况 of 国办公开办函〔2021〕30号, row by row; ``None``
    where the catalog holds no such figure."""
    n = report.normative
    return [
        {"item": "第二十条第（一）项", "columns": ["本年制发件数", "本年废止件数", "现行有效件数"],
         "rows": [{"name": "规章", "values": [None, None, None]},
                  {"name": "行政规范性文件",
                   "values": [n["本年制发件数"], n["本年废止件数"], n["现行有效件数"]]}]},
        {"item": "第二十条第（五）项", "columns": ["本年处理决定数量"],
         "rows": [{"name": "行政许可", "values": [None]}]},
        {"item": "第二十条第（六）项", "columns": ["本年处理决定数量"],
         "rows": [{"name": "行政处罚", "values": [None]}, {"name": "行政强制", "values": [None]}]},
        {"item": "第二十条第（八）项", "columns": ["本年收费金额（单位：万元）"],
         "rows": [{"name": "行政事业性收费", "values": [None]}]},
    ]  # fmt: skip


# --- output ----------------------------------------------------------------------------------


def _md(text: object) -> str:
    """A table cell: no line breaks, no pipes, no markup (titles are scraped text)."""
    value = "" if text is None else str(text)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(value.replace("|", "\\|").split())


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)


def _num(value: float | int | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _timeliness_md(m: Measure, heading: str, start: str, end: str) -> list[str]:
    t = m.summary()
    out = [
        f"### {heading}",
        "",
        "| 指标 | 数值 |",
        "|---|---|",
        f"| 计入条数 | {t['counted']} |",
        f"| 尚未完成条数 | {t['pending']} |",
        f"| 另计条数（生成日期页面未载明） | {t['apart']} |",
        f"| 中位数 | {_num(t['median'])} |",
        f"| 第95百分位 | {_num(t['p95'])} |",
        f"| 最大值 | {_num(t['max'])} |",
        f"| 超过法定{LEGAL_LIMIT}个工作日 | {t['late']} |",
        "",
    ]
    if m.late:
        out += [
            f"#### 超过{LEGAL_LIMIT}个工作日的条目",
            "",
            f"| 标识 | 名称 | {start} | {end} | 工作日 |",
            "|---|---|---|---|---|",
            *(
                f"| {_md(x.external_id)} | {_md(x.title)} | {x.start} | "
                f"{x.end or '尚未确认'} | {x.working_days} |"
                for x in m.late
            ),
            "",
        ]
    return out


def to_markdown(report: AnnualReport, publisher: str) -> str:
    y = report.year
    out = [
        f"# {_md(publisher)}{y}年政府信息公开工作年度报告：主动公开数据",
        "",
        f"统计期限：{y}年1月1日至{y}年12月31日（北京时间）。来源：{_md('、'.join(report.sources))}。"
        f"生成时间：{report.generated_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}。由 bridge 根据状态库生成。",
        "",
        "## 二、主动公开政府信息情况",
        "",
    ]
    for block in official_rows(report):
        width = len(block["columns"])
        out += [f"| {block['item']} |" + " |" * width, "|---" * (width + 1) + "|"]
        out.append("| 信息内容 | " + " | ".join(block["columns"]) + " |")
        for row in block["rows"]:
            out.append(f"| {row['name']} | " + " | ".join(_cell(v) for v in row["values"]) + " |")
        out.append("")
    out += [
        "bridge 填写的行：**行政规范性文件**（候选口径：组配分类为“政策文件”且有文号的条目；"
        "本年制发按发布日期，本年废止按有效性首次记为“废止”的日期，现行有效为生成时仍在网站上且有效性为“有效”；"
        "是否属于行政规范性文件须人工核定）。",
        "标“—”的行目录数据中没有：规章（由省级和设区的市级人民政府制定），"
        "行政许可、行政处罚、行政强制的处理决定数量和行政事业性收费金额，须由业务科室填写。",
        "",
        f"### 本年主动公开信息：{report.total} 条"
        + (f"（其中 {report.withdrawn} 条后来已撤销）" if report.withdrawn else ""),
        "",
        "| 组配分类 | 条数 |",
        "|---|---|",
        *(f"| {_md(k)} | {v} |" for k, v in report.by_category.items()),
        f"| 合计 | {report.total} |",
        "",
        "| 体裁分类 | 条数 |",
        "|---|---|",
        *(f"| {_md(k)} | {v} |" for k, v in report.by_genre.items()),
        "",
        "| 月份 | " + " | ".join(f"{m}月" for m in range(1, 13)) + " | 合计 |",
        "|---" * 14 + "|",
        "| 条数 | "
        + " | ".join(str(report.by_month[m]) for m in range(1, 13))
        + f" | {report.total} |",
        "",
    ]
    out += _timeliness_md(
        report.disclosure, "公开时效（工作日，生成日期至网站发布日期）", "生成日期", "发布日期"
    )
    out += _timeliness_md(
        report.collection,
        "归集时效（工作日，网站发布日期至政府信息公开平台确认）",
        "发布日期",
        "平台确认日期",
    )
    out += [
        f"### 存量：{len(report.baseline)} 条",
        "",
        "bridge 首次读取其栏目之前已在网站上发布的条目，不计入以上两项时效。",
        "",
    ]
    out += [
        "### 目录数据的来源",
        "",
        "本年主动公开条目中，各字段取自网站页面本身（页面的元数据、meta 标签、正文或列表）的条数，"
        "与页面未载明而由 bridge 推定、取自配置或默认值的条数（如“生成日期”由发布日期推定 "
        "`derived:published`、“发布机构”取自配置 `config`）：",
        "",
        "| 字段 | 页面载明 | 页面未载明 | 未载明的来由 |",
        "|---|---|---|---|",
        *(
            f"| {name} | {c['shown']} | {c['not_shown']} | "
            + "、".join(f"{how} {n}" for how, n in c["not_shown_by"].items())
            + " |"
            for name, c in report.provenance.items()
        ),
        "",
    ]
    out += [
        "#### 计算口径",
        "",
        "- 统计对象：公开方式为“主动公开”、发布日期（北京时间）在本年内的条目；后来撤销的仍计入；未通过校验（隔离）的不计入。",
        "- 工作日按国务院办公厅公布的节假日安排（chinese_calendar）：法定节假日不计，调休上班的周末计入。",
        "- 起算当日不计：公开时效为生成日期之后、至发布日期当日（含）的工作日数，归集时效为发布日期之后、"
        "至平台确认当日（含）的工作日数；当日为0，次一工作日为1。",
        "- 生成日期页面未载明（由发布日期推定等）的条目另计，不判定是否超期；"
        "bridge 首次读取其栏目之日以前发布的条目为存量，不计入两项时效。",
        f"- {LEGAL_LIMIT}个工作日以内（含{LEGAL_LIMIT}）为按时；中位数为中间值（偶数个取中间两值的平均），"
        "第95百分位为最近秩法（第⌈0.95n⌉小的值），均只计已确认条目；尚未确认的按截至生成时已过的工作日列出。",
        "",
    ]
    return "\n".join(out)


def to_csv(report: AnnualReport) -> str:
    """Long format (table, key, value): easy to pivot in a spreadsheet."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "key", "value"])
    w.writerow(["total", report.year, report.total])
    w.writerow(["total", "withdrawn", report.withdrawn])
    for k, v in report.by_category.items():
        w.writerow(["category", k, v])
    for k, v in report.by_genre.items():
        w.writerow(["genre", k, v])
    for m, v in report.by_month.items():
        w.writerow(["month", f"{report.year}-{m:02d}", v])
    for block in official_rows(report):
        for row in block["rows"]:
            for column, value in zip(block["columns"], row["values"], strict=True):
                w.writerow(["official", f"{row['name']}/{column}", "" if value is None else value])
    for measure in (report.disclosure, report.collection):
        for k, v in measure.summary().items():
            w.writerow([measure.name, k, "" if v is None else v])
        for x in measure.late:
            w.writerow([f"{measure.name}_late", x.external_id, x.working_days])
    w.writerow(["baseline", "count", len(report.baseline)])
    for name, counts in report.provenance.items():
        w.writerow(["provenance", f"{name}/shown", counts["shown"]])
        for how, n in counts["not_shown_by"].items():
            w.writerow(["provenance", f"{name}/{how}", n])
    return buf.getvalue()


def to_json(report: AnnualReport) -> str:
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
