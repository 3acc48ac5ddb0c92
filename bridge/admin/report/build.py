"""The annual disclosure statistics: what was proactively disclosed, and how fast.

The figures only: ``bridge.admin.report.parts`` makes the six-part report document of them and
``bridge.admin.report.text`` (md, csv, json) and ``bridge.admin.report.office`` (xlsx, docx) write it.

Counting rules (the report prints them too, so a reader can check every figure):

- An item counts for year Y when its newest recorded version says 公开方式 主动公开 and its
  发布日期 (the source's publication time, read in Asia/Shanghai) falls in Y. Items
  withdrawn later still count (they were disclosed); the report says how many. Items that
  never passed validation (quarantined, never recorded) are not counted.
- Timeliness: two measures, 公开时效 (生成日期 → 发布日期) and 归集时效 (发布日期 → portal
  confirmation), and the baseline (存量) measured by neither; see :mod:`bridge.admin.report.timeliness`
  for the working-day convention, the baseline rule and what is counted apart.
- Median: the middle value (the mean of the two middle values for an even count).
  95th percentile: nearest rank, the ⌈0.95·n⌉-th smallest latency. Both over finished
  items only; an unconfirmed item is listed as pending with the working days elapsed so
  far, and among the late ones once that passes 20.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge.admin.report import timeliness
from bridge.admin.report.timeliness import Latency, Measure
from bridge.catalog import CATEGORIES
from bridge.provenance import is_shown, provenance_of
from bridge.state.report_queries import ReportItem
from bridge.workdays import LEGAL_LIMIT, local_date, working_days

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
    baseline_disclosure: Measure = field(default_factory=lambda: Measure("disclosure"))
    """公开时效 of the baseline by its pages' dates: for reference, never counted."""
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
                "disclosure_for_reference": self.baseline_disclosure.summary(),
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
    report.baseline, report.baseline_disclosure = found.baseline, found.baseline_disclosure
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
