"""Timeliness as the law counts it: two measures, in working days of the official calendar.

- 公开时效 (``disclosure``): the record's 生成日期 (``created``) to its publication on the
  site (发布日期). This is the bureau's own duty: 政府信息公开条例 (2019) §26 gives 20
  working days from the day the information is 形成或者变更. A record whose 生成日期 the
  page does not show (provenance ``derived:published`` or any other that
  :func:`bridge.provenance.is_shown` says is not on the page) is counted apart: listed, its
  count given, never judged on time or late (a derived date measures nothing).
- 归集时效 (``collection``): the site's publication to the portal's first confirmation
  (``items.first_confirmed_at``). This is the bridge's own job, in working days and in
  hours. The hours run from ``items.published_at``; when the page gives only a date, that
  is 00:00 of the day in Asia/Shanghai, so the hours are counted from the start of the
  publication day: at most the real delay, never less.
- 存量 (baseline): an item whose 发布日期 is before the day the bridge first read its
  column (the earliest ``items.first_seen`` of that source and column, any item, in
  Asia/Shanghai) was on the site before the bridge could see it. It is listed and counted,
  never measured by either measure and never late. Day granularity: an item published on
  the day of the first read is counted (the page gives no time to tell whether it was
  there before; if it reached the portal that day its collection time is 0 anyway).

The counting convention (which days count, the start day not) is in :mod:`bridge.workdays`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bridge.provenance import is_shown, provenance_of
from bridge.workdays import (
    BUCKETS,
    LEGAL_LIMIT,
    bucket_of,
    created_of,
    is_baseline,
    local_date,
    working_days,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bridge.state.report_queries import ReportItem


@dataclass
class Latency:
    external_id: str
    title: str
    category: str
    start: date  # 生成日期 (disclosure) or 发布日期 (collection)
    end: date | None  # 发布日期 (disclosure) or the confirmation date; None: pending
    working_days: int  # elapsed so far when pending
    hours: float | None = None  # collection only; elapsed so far when pending

    @property
    def late(self) -> bool:
        return self.working_days > LEGAL_LIMIT

    def as_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "title": self.title,
            "category": self.category,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "working_days": self.working_days,
            "hours": None if self.hours is None else round(self.hours, 1),
        }


def _median(values: list[float] | list[int]) -> float | None:
    return statistics.median(values) if values else None


def _p95(values: list[float] | list[int]) -> float | None:
    """Nearest rank: the ⌈0.95·n⌉-th smallest (``values`` sorted)."""
    return values[math.ceil(0.95 * len(values)) - 1] if values else None


@dataclass
class Measure:
    name: str  # "disclosure" | "collection"
    latencies: list[Latency] = field(default_factory=list)  # counted items
    apart: list[Latency] = field(default_factory=list)  # disclosure: 生成日期 not shown

    @property
    def late(self) -> list[Latency]:
        """Over the limit, pending ones included once their elapsed days pass it; worst first."""
        found = [x for x in self.latencies if x.late]
        return sorted(found, key=lambda x: (-x.working_days, x.external_id))

    @property
    def pending(self) -> list[Latency]:
        return [x for x in self.latencies if x.end is None]

    @property
    def done(self) -> list[Latency]:
        return [x for x in self.latencies if x.end is not None]

    def summary(self) -> dict[str, Any]:
        """Counts, and median / 95th percentile / maximum over the finished items only."""
        days = sorted(x.working_days for x in self.done)
        out: dict[str, Any] = {
            "counted": len(self.latencies),
            "on_time": sum(1 for d in days if d <= LEGAL_LIMIT),
            "late": len(self.late),
            "pending": len(self.pending),
            "apart": len(self.apart),
            "median": _median(days),
            "p95": _p95(days),
            "max": days[-1] if days else None,
            "limit": LEGAL_LIMIT,
        }
        if self.name == "collection":
            hours = sorted(x.hours for x in self.done if x.hours is not None)
            out["hours_median"] = None if not hours else round(float(_median(hours) or 0), 1)
            out["hours_p95"] = None if not hours else round(float(_p95(hours) or 0), 1)
            out["hours_max"] = round(hours[-1], 1) if hours else None
        return out

    def buckets(self) -> list[tuple[str, int]]:
        """Finished items by working days, in the chart's order (pending ones left out)."""
        counts = dict.fromkeys((label for label, _ in BUCKETS), 0)
        for x in self.done:
            counts[bucket_of(x.working_days)] += 1
        return list(counts.items())


def collection(
    key: tuple[str, str, str],
    published_at: datetime,
    confirmed_at: datetime | None,
    now: datetime,
) -> Latency:
    """Publication → portal confirmation (or → ``now`` while pending)."""
    end_at = confirmed_at or now
    start = local_date(published_at)
    hours = max(0.0, (end_at - published_at).total_seconds() / 3600)
    return Latency(
        *key,
        start,
        local_date(confirmed_at) if confirmed_at else None,
        working_days(start, local_date(end_at)),
        hours,
    )


def disclosure(key: tuple[str, str, str], created: date, published: date) -> Latency:
    """生成日期 → 发布日期."""
    return Latency(*key, created, published, working_days(created, published))


@dataclass
class Timeliness:
    """Both measures and the baseline over a set of items."""

    disclosure: Measure = field(default_factory=lambda: Measure("disclosure"))
    collection: Measure = field(default_factory=lambda: Measure("collection"))
    baseline: list[Latency] = field(default_factory=list)
    baseline_disclosure: Measure = field(default_factory=lambda: Measure("disclosure"))
    """公开时效 of the baseline items, by their pages' dates, for reference only: the bridge
    never saw them appear, so they are neither counted nor judged late."""

    def add(self, item: ReportItem, category: str, now: datetime) -> None:
        """Place one published item: baseline, or counted in both measures (公开时效 apart
        when the page does not show its 生成日期)."""
        if item.published_at is None:
            return
        r = item.record
        key = (item.external_id, str(r.get("title") or ""), category)
        published = local_date(item.published_at)
        reached = collection(key, item.published_at, item.first_confirmed_at, now)
        measure = self.disclosure
        if is_baseline(published, item.column_first_read):
            self.baseline.append(reached)
            measure = self.baseline_disclosure
        else:
            self.collection.latencies.append(reached)
        created = created_of(r)
        if created is None or not is_shown(provenance_of(r, "created")):
            measure.apart.append(disclosure(key, created or published, published))
        else:
            measure.latencies.append(disclosure(key, created, published))

    def sort(self) -> None:
        for found in (
            self.disclosure.latencies, self.disclosure.apart,
            self.collection.latencies, self.baseline,
            self.baseline_disclosure.latencies, self.baseline_disclosure.apart,
        ):  # fmt: skip
            found.sort(key=lambda x: (x.start, x.external_id))


def of_items(items: Iterable[ReportItem], now: datetime) -> Timeliness:
    """Both measures over every published item (any year, any 公开方式)."""
    out = Timeliness()
    for item in items:
        out.add(item, str(item.record.get("category") or "其他"), now)
    out.sort()
    return out
