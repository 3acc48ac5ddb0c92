"""Health and metrics: what ``/healthz`` and ``/metrics`` report.

Both read the one status snapshot (``bridge.service.status``) that ``bridge status`` and the
admin page read, so they are true for every process on the store and never disagree:
``/healthz`` is unhealthy while the snapshot has a problem (a layout alarm, a source
past its maximum lag, the target's circuit open, the target refusing our credentials).
Gauges are read at scrape time; counters count what this process did since it started
(the Prometheus convention).
"""

from __future__ import annotations

import platform
from collections import Counter as CounterOf
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge import __version__
from bridge.config import Settings
from bridge.service import status
from bridge.service.status import poll_interval
from bridge.state import live_timeliness
from bridge.state.db import Database
from bridge.state.live_timeliness import cumulative

__all__ = [
    "CIRCUIT_VALUES", "Health", "Metrics", "StoreCollector", "TimelinessCollector", "check",
    "poll_interval",
]  # fmt: skip

if TYPE_CHECKING:
    from bridge.crawl.run import RunSummary
    from bridge.delivery.drain import DeliveryStats

CIRCUIT_VALUES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True)
class Health:
    ok: bool
    reasons: list[str]

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unhealthy", "reasons": self.reasons}


def check(settings: Settings, db: Database, *, started_at: datetime) -> Health:
    view = status.read(settings, db, started_at=started_at, detail=False)
    return Health(view.healthy, view.problems)


class StoreCollector(Collector):
    """Gauges read from the state store's status snapshot at scrape time."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        target = self.settings.target.name
        depth = GaugeMetricFamily(
            "bridge_queue_depth", "Deliveries in the outbox by status", labels=["target", "status"]
        )
        lag = GaugeMetricFamily(
            "bridge_lag_seconds", "Seconds since the last successful run", labels=["source"]
        )
        success = GaugeMetricFamily(
            "bridge_last_success_timestamp_seconds",
            "Unix time of the last successful run",
            labels=["source"],
        )
        circuit = GaugeMetricFamily(
            "bridge_circuit_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open",
            labels=["target"],
        )
        refused = GaugeMetricFamily(
            "bridge_target_credentials_refused",
            "1 while the target refuses our credentials (401/403), else 0",
            labels=["target"],
        )
        quarantined = GaugeMetricFamily(
            "bridge_quarantined_items", "Items held back by validation", labels=["source"]
        )
        paused = GaugeMetricFamily(
            "bridge_source_paused",
            "1 while `xxgk-bridge pause` holds the source",
            labels=["source"],
        )
        view = status.read(self.settings, self.db, detail=False)
        for name in ("pending", "inflight", "dead"):
            depth.add_metric([target, name], view.target.queue.get(name, 0))
        for src in view.sources:
            if src.last_success is not None and src.lag_seconds is not None:
                lag.add_metric([src.name], src.lag_seconds)
                success.add_metric([src.name], src.last_success.timestamp())
            quarantined.add_metric([src.name], src.quarantined)
            paused.add_metric([src.name], 1 if src.paused else 0)
        circuit.add_metric([target], CIRCUIT_VALUES.get(view.target.circuit, 0))
        refused.add_metric([target], 1 if view.target.refusal else 0)
        yield from (depth, lag, success, circuit, refused, quarantined, paused)


# The timeliness histograms (bridge.admin.report.timeliness), in working days: the buckets of the
# admin chart and the report (0, 1, 2–5, 6–10, 11–20, over 20: the legal limit is 20).
WORKING_DAY_BUCKETS = (0.0, 1.0, 5.0, 10.0, 20.0)


class TimelinessCollector(Collector):
    """公开时效 and 归集时效 of every item in the store, read at scrape time, so the figures
    survive a restart and agree across processes (they are counts of items, not of what
    this process saw). Finished items only: a pending one is observed once the portal
    confirms it. Baseline items (存量) and items whose 生成日期 the page does not show are
    not observed; two gauges count them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        # kept current at the cost of what changed since the last scrape (see the module)
        per = live_timeliness.of(self.db, PUBLICATION_BUCKETS).refresh()
        days = {
            "disclosure": HistogramMetricFamily(
                "bridge_disclosure_working_days",
                "公开时效: working days from 生成日期 to publication on the site",
                labels=["source"],
            ),
            "collection": HistogramMetricFamily(
                "bridge_collection_working_days",
                "归集时效: working days from publication on the site to the portal's confirmation",
                labels=["source"],
            ),
        }
        seconds = HistogramMetricFamily(
            "bridge_collection_seconds",
            "归集时效: seconds from publication (00:00 when the page gives only a date) "
            "to the portal's confirmation",
            labels=["source"],
        )
        baseline = GaugeMetricFamily(
            "bridge_baseline_items",
            "存量: items published before the bridge first read their column (not measured)",
            labels=["source"],
        )
        apart = GaugeMetricFamily(
            "bridge_disclosure_apart_items",
            "Items whose 生成日期 the page does not show (公开时效 counted apart)",
            labels=["source"],
        )
        for src, t in per.items():
            for name, family in days.items():
                counts: CounterOf[int] = getattr(t, name)
                family.add_metric([src], *_buckets(
                    cumulative(counts, WORKING_DAY_BUCKETS), WORKING_DAY_BUCKETS,
                    float(sum(d * n for d, n in counts.items())),
                ))  # fmt: skip
            index = tuple(float(i) for i in range(len(PUBLICATION_BUCKETS)))
            seconds.add_metric([src], *_buckets(
                cumulative(t.seconds_buckets, index), PUBLICATION_BUCKETS,
                t.seconds_micros / 1e6,
            ))  # fmt: skip
            baseline.add_metric([src], t.baseline)
            apart.add_metric([src], t.apart)
        yield from (*days.values(), seconds, baseline, apart)


def _buckets(
    counts: list[int], bounds: tuple[float, ...], total: float
) -> tuple[list[tuple[str, float]], float]:
    """Cumulative counts (one per bound, then all) and the sum, as HistogramMetricFamily
    takes them."""
    les = [*(_le(b) for b in bounds), "+Inf"]
    return [(le, float(n)) for le, n in zip(les, counts, strict=True)], total


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


# Histogram buckets. A portal call takes tens of milliseconds to a few seconds; an item
# reaches the portal hours to days after the bureau published it (a poll interval, the
# working day, a page dated the day before it went up). Items published before the
# bridge first read their column (存量, a backfill's) are not observed at all.
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
HOUR, DAY = 3600.0, 86400.0
PUBLICATION_BUCKETS = (
    HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
)  # fmt: skip


class Metrics:
    """The daemon's Prometheus registry: store gauges, this process's counters and
    histograms, build info, and the process and platform collectors.

    Names follow Prometheus conventions: counters end in ``_total`` (prometheus-client
    adds it), durations are in seconds. No ``_created`` series (timestamps that read like
    counts on a dashboard). One label name per meaning: ``outcome`` is what became of a
    run, an item or a delivery; ``status`` (on the queue depth) is where a delivery waits.
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        disable_created_metrics()  # before any metric is made: the switch is read then
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(settings, db))
        self.registry.register(TimelinessCollector(db))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        build = Gauge(
            "bridge_build_info", "The running bridge: its version and Python's; always 1",
            ["version", "python"], registry=self.registry,
        )  # fmt: skip
        build.labels(__version__, platform.python_version()).set(1)
        self.runs = Counter(
            "bridge_runs", "Source runs by outcome (ok, failed, alarm)", ["source", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.items = Counter(
            "bridge_items", "Items by outcome", ["source", "outcome"], registry=self.registry
        )
        self.revalidations = Counter(
            "bridge_revalidations", "Detail pages revalidated, by outcome "
            "(not_modified, unchanged, changed, gone)", ["source", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.deliveries = Counter(
            "bridge_deliveries",
            "Deliveries by outcome",
            ["target", "outcome"],
            registry=self.registry,
        )
        self.retries = Counter(
            "bridge_delivery_retries", "Failed delivery attempts that will be retried", ["target"],
            registry=self.registry,
        )  # fmt: skip
        self.call_seconds = Histogram(
            "bridge_delivery_duration_seconds", "Duration of one portal call (PUT or DELETE)",
            ["target"], buckets=CALL_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def count_run(self, summary: RunSummary) -> None:
        """What a cycle did: its runs, items and deliveries (from a thread or a process).
        A dry run did nothing, and counts nothing."""
        if summary.dry_run:
            return
        for r in summary.sources:
            self.runs.labels(r.source, r.status).inc()
            for outcome in ("new", "changed", "unchanged", "quarantined", "withdrawn"):
                n = getattr(r.stats, outcome)
                if n:
                    self.items.labels(r.source, outcome).inc(n)
            for outcome in ("not_modified", "unchanged", "changed", "gone"):
                n = getattr(r.stats, f"revalidated_{outcome}")
                if n:
                    self.revalidations.labels(r.source, outcome).inc(n)

    def count_delivery(self, target: str, stats: DeliveryStats) -> None:
        for outcome in ("created", "updated", "unchanged", "withdrawn", "dead"):
            if getattr(stats, outcome):
                self.deliveries.labels(target, outcome).inc(getattr(stats, outcome))
        if stats.failed:
            self.retries.labels(target).inc(stats.failed)
        for seconds in stats.call_seconds:
            self.call_seconds.labels(target).observe(seconds)
