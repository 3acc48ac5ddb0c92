"""The annual disclosure statistics: what was proactively disclosed, and how fast.

Counting rules (the report prints them too, so a reader can check every figure):

- An item counts for year Y when its newest recorded version says 公开方式 主动公开 and its
  发布日期 (the source's publication time, read in Asia/Shanghai) falls in Y. Items
  withdrawn later still count (they were disclosed); the report says how many. Items that
  never passed validation (quarantined, never recorded) are not counted.
- Timeliness is counted in working days of the Chinese calendar (``chinese_calendar``:
  statutory holidays are not working days, make-up working days on weekends are). Like a
  statutory period (民法典 §201), the day of publication is not counted: the latency is
  the number of working days d with 发布日期 < d ≤ confirmation date, both dates in
  Asia/Shanghai. Confirmed the same day: 0; on the next working day: 1. The confirmation
  is the portal's first answer accepting the item (``items.first_confirmed_at``).
- The legal limit is 20 working days (政府信息公开条例 §26): 20 is on time, 21 is late.
- Median: the middle value (the mean of the two middle values for an even count).
  95th percentile: nearest rank, the ⌈0.95·n⌉-th smallest latency. Both over confirmed
  items only; an unconfirmed item is listed as pending with the working days elapsed so
  far, and among the late ones once that passes 20.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from bridge.catalog import CATEGORIES
from bridge.errors import Fatal
from bridge.provenance import is_shown, provenance_of
from bridge.state.admin_queries import ReportItem

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEGAL_LIMIT = 20  # working days, 政府信息公开条例 (2019) §26
POLICY_CATEGORY = "政策文件"  # where the bureau files its 规范性文件


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def working_days(published: date, confirmed: date) -> int:
    """Working days after ``published`` up to and including ``confirmed`` (0 if not later)."""
    if confirmed <= published:
        return 0
    try:
        return len(chinese_calendar.get_workdays(published + timedelta(days=1), confirmed))
    except NotImplementedError as exc:
        raise Fatal(
            f"the holiday calendar has no data for this period ({exc}); "
            "upgrade the chinesecalendar package"
        ) from None


@dataclass
class Latency:
    external_id: str
    title: str
    category: str
    published: date
    confirmed: date | None
    working_days: int

    def as_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "title": self.title,
            "category": self.category,
            "published": self.published.isoformat(),
            "confirmed": self.confirmed.isoformat() if self.confirmed else None,
            "working_days": self.working_days,
        }


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
    latencies: list[Latency] = field(default_factory=list)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per catalog field, how many counted records took it from the page, and how many
    from a derivation, the config or a default (a derived 生成日期, a configured 发布机构)."""

    @property
    def confirmed(self) -> list[Latency]:
        return [x for x in self.latencies if x.confirmed is not None]

    @property
    def pending(self) -> list[Latency]:
        return [x for x in self.latencies if x.confirmed is None]

    @property
    def late(self) -> list[Latency]:
        found = [x for x in self.latencies if x.working_days > LEGAL_LIMIT]
        return sorted(found, key=lambda x: (-x.working_days, x.external_id))

    def timeliness(self) -> dict[str, Any]:
        days = sorted(x.working_days for x in self.confirmed)
        return {
            "confirmed": len(days),
            "pending": len(self.pending),
            "median": statistics.median(days) if days else None,
            "p95": days[math.ceil(0.95 * len(days)) - 1] if days else None,
            "max": days[-1] if days else None,
            "limit": LEGAL_LIMIT,
            "late": len(self.late),
        }

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
            "timeliness": self.timeliness(),
            "late": [x.as_json() for x in self.late],
            "pending": [x.as_json() for x in self.pending],
            "items": [x.as_json() for x in self.latencies],
            "provenance": self.provenance,
        }


def build(
    items: list[ReportItem], year: int, sources: list[str], *, now: datetime | None = None
) -> AnnualReport:
    """Count the year's proactively disclosed items and their working-day latencies."""
    now = now or datetime.now(UTC)
    report = AnnualReport(year, sources, now)
    report.by_category = dict.fromkeys(CATEGORIES, 0)
    report.by_month = dict.fromkeys(range(1, 13), 0)
    genres: Counter[str] = Counter()
    sources_of: dict[str, Counter[str]] = {f: Counter() for f in PROVENANCE_FIELDS}
    today = local_date(now)
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
        confirmed = local_date(item.first_confirmed_at) if item.first_confirmed_at else None
        report.latencies.append(
            Latency(
                item.external_id,
                str(r.get("title") or ""),
                category,
                published,
                confirmed,
                working_days(published, confirmed or today),
            )
        )
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
    report.latencies.sort(key=lambda x: (x.published, x.external_id))
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


def to_markdown(report: AnnualReport, publisher: str) -> str:
    y = report.year
    t = report.timeliness()
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
        "### 公开时效（工作日，发布日期至政府信息公开平台确认）",
        "",
        "| 指标 | 数值 |",
        "|---|---|",
        f"| 已确认条数 | {t['confirmed']} |",
        f"| 尚未确认条数 | {t['pending']} |",
        f"| 中位数 | {_num(t['median'])} |",
        f"| 第95百分位 | {_num(t['p95'])} |",
        f"| 最大值 | {_num(t['max'])} |",
        f"| 超过法定{LEGAL_LIMIT}个工作日 | {t['late']} |",
        "",
    ]
    if report.late:
        out += [
            f"#### 超过{LEGAL_LIMIT}个工作日的条目",
            "",
            "| 标识 | 名称 | 发布日期 | 平台确认日期 | 工作日 |",
            "|---|---|---|---|---|",
            *(
                f"| {_md(x.external_id)} | {_md(x.title)} | {x.published} | "
                f"{x.confirmed or '尚未确认'} | {x.working_days} |"
                for x in report.late
            ),
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
        "- 发布当日不计：时效为发布日期之后、至平台确认当日（含）的工作日数；当日确认为0，次一工作日确认为1。",
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
    for k, v in report.timeliness().items():
        w.writerow(["timeliness", k, "" if v is None else v])
    for x in report.late:
        w.writerow(["late", x.external_id, x.working_days])
    for name, counts in report.provenance.items():
        w.writerow(["provenance", f"{name}/shown", counts["shown"]])
        for how, n in counts["not_shown_by"].items():
            w.writerow(["provenance", f"{name}/{how}", n])
    return buf.getvalue()


def to_json(report: AnnualReport) -> str:
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
