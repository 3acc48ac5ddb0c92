"""Health and metrics: what ``/healthz`` and ``/metrics`` report.

Health is computed from the state store, so it is true for every process on the store:
unhealthy when a source has had no successful run within ``daemon.health_intervals``
poll intervals, when its last run raised a layout alarm, or when the target's circuit
breaker is open. Gauges are read from the store at scrape time; counters count what
this process did since it started (the Prometheus convention).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.config import Settings, SourceConfig
from bridge.state import outbox, runs
from bridge.state.db import Database

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
                reasons.append(f"{source.name}: {run.message}")  # "layout alarm: …" already
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


class Metrics:
    """The daemon's Prometheus registry: store gauges plus counters of this process."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(settings, db))
        self.runs = Counter(
            "bridge_runs", "Source runs by result", ["source", "status"], registry=self.registry
        )
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
