"""Health and metrics: what ``/healthz`` and ``/metrics`` report.

Both read the one status snapshot (``bridge.status``) that ``bridge status`` and the
admin page read, so they are true for every process on the store and never disagree:
``/healthz`` is unhealthy while the snapshot has a problem (a layout alarm, a source
past its maximum lag, the target's circuit open, the target refusing our credentials).
Gauges are read at scrape time; counters count what this process did since it started
(the Prometheus convention).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge import status
from bridge.config import Settings
from bridge.state.db import Database
from bridge.status import poll_interval

__all__ = ["CIRCUIT_VALUES", "Health", "Metrics", "StoreCollector", "check", "poll_interval"]

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
        view = status.read(self.settings, self.db, detail=False)
        for name in ("pending", "inflight", "dead"):
            depth.add_metric([target, name], view.target.queue.get(name, 0))
        for src in view.sources:
            if src.last_success is not None and src.lag_seconds is not None:
                lag.add_metric([src.name], src.lag_seconds)
                success.add_metric([src.name], src.last_success.timestamp())
            quarantined.add_metric([src.name], src.quarantined)
        circuit.add_metric([target], CIRCUIT_VALUES.get(view.target.circuit, 0))
        refused.add_metric([target], 1 if view.target.refusal else 0)
        yield from (depth, lag, success, circuit, refused, quarantined)


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
