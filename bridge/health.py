"""Health and metrics: what ``/healthz`` and ``/metrics`` report.

Health is computed from the state store, so it is true for every process on the store:
unhealthy when a source has had no successful run within ``daemon.health_intervals``
poll intervals, when its last run raised a layout alarm, or when the target's circuit
breaker is open. Gauges are read from the store at scrape time; counters count what
this process did since it started (the Prometheus convention).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge import __version__
from bridge.config import Settings, SourceConfig
from bridge.state import outbox, runs
from bridge.state.db import Database

if TYPE_CHECKING:
    from bridge.deliver import DeliveryStats
    from bridge.pipeline import RunSummary

CIRCUIT_VALUES = {"closed": 0, "half-open": 1, "open": 2}


def poll_interval(source: SourceConfig) -> float:
    """Seconds between two polls of a source (for cron: the gap between its next two fires)."""
    if not source.cron:
        return source.interval
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(source.cron, timezone="Asia/Shanghai")
    now = datetime.now(UTC)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else source.interval


@dataclass(frozen=True)
class Health:
    ok: bool
    reasons: list[str]

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unhealthy", "reasons": self.reasons}


def check(settings: Settings, db: Database, *, started_at: datetime) -> Health:
    now = datetime.now(UTC)
    reasons: list[str] = []
    with db.read() as s:
        last = runs.last_runs(s)
        for source in settings.sources:
            window = timedelta(seconds=poll_interval(source) * settings.daemon.health_intervals)
            run = last.get(source.name)
            if run is not None and run.status == "alarm":
                reasons.append(f"{source.name}: layout alarm: {run.message}")
            ok = runs.last_success(s, source.name)
            if ok is None or ok.finished_at is None:
                if now - started_at > window:
                    reasons.append(f"{source.name}: no successful run since the daemon started")
            elif now - ok.finished_at > window:
                reasons.append(
                    f"{source.name}: no successful run within {settings.daemon.health_intervals} "
                    f"intervals (last {ok.finished_at.isoformat(timespec='seconds')})"
                )
        for c in outbox.circuits(s):
            if c.state == "open" and c.target == settings.target.name:
                reasons.append(f"target {c.target}: circuit open ({c.last_error})")
    return Health(not reasons, reasons)


class StoreCollector(Collector):
    """Gauges read from the state store at scrape time."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        target = self.settings.target.name
        now = datetime.now(UTC)
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
        quarantined = GaugeMetricFamily(
            "bridge_quarantined_items", "Items held back by validation", labels=["source"]
        )
        with self.db.read() as s:
            counts = outbox.counts(s, target)
            for status in ("pending", "inflight", "dead"):
                depth.add_metric([target, status], counts.get(status, 0))
            items = runs.item_counts(s)
            for source in self.settings.sources:
                ok = runs.last_success(s, source.name)
                if ok is not None and ok.finished_at is not None:
                    lag.add_metric([source.name], (now - ok.finished_at).total_seconds())
                    success.add_metric([source.name], ok.finished_at.timestamp())
                quarantined.add_metric(
                    [source.name], items.get(source.name, {}).get("quarantined", 0)
                )
            state = {c.target: c.state for c in outbox.circuits(s)}.get(target, "closed")
            circuit.add_metric([target], CIRCUIT_VALUES.get(state, 0))
        yield from (depth, lag, success, circuit, quarantined)


# Histogram buckets. A portal call takes tens of milliseconds to a few seconds; an item
# reaches the portal hours to days after the bureau published it (a poll interval, the
# working day, a page dated the day before it went up). An item published long before
# the bridge first read it (a backfill) lands in +Inf.
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
        self.publication_seconds = Histogram(
            "bridge_publication_to_portal_seconds",
            "From an item's publication date on the site to the portal's confirmation (new items)",
            ["source"], buckets=PUBLICATION_BUCKETS, registry=self.registry,
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

    def count_delivery(self, target: str, stats: DeliveryStats) -> None:
        for outcome in ("created", "updated", "unchanged", "withdrawn", "dead"):
            if getattr(stats, outcome):
                self.deliveries.labels(target, outcome).inc(getattr(stats, outcome))
        if stats.failed:
            self.retries.labels(target).inc(stats.failed)
        for seconds in stats.call_seconds:
            self.call_seconds.labels(target).observe(seconds)
        for source, lag in stats.publication_lags:
            self.publication_seconds.labels(source).observe(lag)
