"""One status snapshot of the state store, read by every view: ``bridge status``,
``/healthz``, the admin status page and the metrics. They cannot disagree because none of
them reads the store for status on its own.

Two lists come out of a snapshot, each reason a line an operator can act on:

- ``problems``: what the bridge cannot fix by itself: a layout alarm, a source with no
  successful run for longer than its maximum lag, the target's circuit open, the
  target refusing our credentials. ``/healthz`` is 503 while there is one.
- ``attention``: the problems, plus what waits for an operator's hand: dead letters
  (``bridge retry``) and quarantined items. ``bridge status`` exits 1 while there is one.

A paused source (``bridge pause``) is shown as paused, with who, when and why; its lag is
no problem while the pause lasts (nothing is read on purpose), its other states are.

The maximum lag of a source is ``[status] max_lag`` when set, else
``daemon.health_intervals`` of its poll intervals. A source with no successful run yet
is measured from when the daemon started; with no daemon it needs attention at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.config import Settings, SourceConfig
from bridge.crawl.revalidate import CURSOR as REVALIDATION
from bridge.state import admin_queries, cluster, credentials, items, outbox, runs
from bridge.state.credentials import Refusal
from bridge.state.db import Database

OPEN_STATES = ("open", "half-open")  # a half-open circuit lets one probe through: still open


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
class SourceStatus:
    name: str
    last_run: datetime | None
    result: str  # ok | failed | alarm | running | never run
    message: str | None
    last_success: datetime | None
    lag_seconds: float | None
    max_lag_seconds: float
    active: int
    withdrawn: int
    pending: int  # queued or in flight
    failed: int  # queued after failing at least once (being retried)
    dead: int
    quarantined: int
    crawled_by: str | None
    last_crawled_by: str | None
    paused: dict[str, Any] | None = None  # {reason, at, actor} while `bridge pause` holds
    # the last cycle's revalidation (bridge.crawl.revalidate.RevalidationCycle), None before one
    revalidation: dict[str, Any] | None = None

    @property
    def layout_alarm(self) -> bool:
        return self.result == "alarm"


@dataclass(frozen=True)
class TargetStatus:
    name: str
    circuit: str  # closed | open | half-open
    circuit_failures: int
    circuit_last_error: str | None
    refusal: Refusal | None  # the target refuses our credentials since …
    queue: dict[str, int]  # deliveries by status

    @property
    def circuit_open(self) -> bool:
        return self.circuit in OPEN_STATES


@dataclass(frozen=True)
class StatusView:
    at: datetime
    sources: list[SourceStatus]
    target: TargetStatus
    problems: list[str]
    attention: list[str]
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # item, problems, url
    dead_letters: list[dict[str, Any]] = field(default_factory=list)  # item, error, delivery
    workers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def read(
    settings: Settings,
    db: Database,
    *,
    started_at: datetime | None = None,
    detail: bool = True,
    now: datetime | None = None,
) -> StatusView:
    """The snapshot, in one read transaction. ``started_at``: when the daemon asking
    started (else the oldest running worker's start); ``detail``: also the lists of
    quarantined items, dead letters and workers."""
    now = now or datetime.now(UTC)
    target = settings.target.name
    with db.read() as s:
        last = runs.last_runs(s)
        counts = runs.item_counts(s)
        deliveries = outbox.counts_by_source(s, target)
        retrying = admin_queries.retrying_by_source(s, target)
        holders = {c.source: c for c in cluster.claims(s)}
        paused = runs.paused(s)
        live = cluster.workers(s)
        if started_at is None and live:
            started_at = min(w.started_at for w in live)
        sources = []
        for scfg in settings.sources:
            run, ok = last.get(scfg.name), runs.last_success(s, scfg.name)
            d, c = deliveries.get(scfg.name, {}), counts.get(scfg.name, {})
            done = ok.finished_at if ok else None
            claim = holders.get(scfg.name)
            sources.append(
                SourceStatus(
                    name=scfg.name, last_run=run.started_at if run else None,
                    result=run.status if run else "never run", message=run.message if run else None,
                    last_success=done, lag_seconds=(now - done).total_seconds() if done else None,
                    max_lag_seconds=max_lag(settings, scfg), active=c.get("active", 0),
                    withdrawn=c.get("withdrawn", 0),
                    pending=d.get("pending", 0) + d.get("inflight", 0),
                    failed=retrying.get(scfg.name, 0), dead=d.get("dead", 0),
                    quarantined=c.get("quarantined", 0),
                    crawled_by=claim.owner if claim else None,
                    last_crawled_by=claim.last_owner if claim else None,
                    paused=paused.get(scfg.name),
                    revalidation=runs.get_cursor(s, scfg.name, REVALIDATION),
                )
            )  # fmt: skip
        circuit = next((c for c in outbox.circuits(s) if c.target == target), None)
        target_status = TargetStatus(
            name=target,
            circuit=circuit.state if circuit else "closed",
            circuit_failures=circuit.failures if circuit else 0,
            circuit_last_error=circuit.last_error if circuit else None,
            refusal=credentials.refusal(s, target),
            queue=outbox.counts(s, target),
        )
        lists: dict[str, list[dict[str, Any]]] = {}
        if detail:
            lists = _details(s, target, holders, live, now)
    problems = _problems(settings, sources, target_status, started_at, now)
    return StatusView(
        at=now,
        sources=sources,
        target=target_status,
        problems=problems,
        attention=problems + _waiting(sources),
        **lists,
    )


def max_lag(settings: Settings, source: SourceConfig) -> float:
    """Seconds without a successful run after which a source needs attention."""
    if settings.status.max_lag is not None:
        return settings.status.max_lag
    return poll_interval(source) * settings.daemon.health_intervals


def _problems(
    settings: Settings,
    sources: list[SourceStatus],
    target: TargetStatus,
    started_at: datetime | None,
    now: datetime,
) -> list[str]:
    reasons: list[str] = []
    within = (
        f"{settings.daemon.health_intervals} intervals"
        if settings.status.max_lag is None
        else _seconds(settings.status.max_lag)
    )
    for src in sources:
        if src.layout_alarm:
            message = src.message or ""
            if not message.startswith("layout alarm"):  # the run's message says it already
                message = f"layout alarm: {message}"
            reasons.append(f"{src.name}: {message}")
        if src.paused is not None:
            continue  # nothing is read on purpose: no lag while the pause lasts
        if src.last_success is None:
            if started_at is None:
                reasons.append(f"{src.name}: no successful run yet")
            elif (now - started_at).total_seconds() > src.max_lag_seconds:
                reasons.append(f"{src.name}: no successful run since the daemon started")
        elif src.lag_seconds is not None and src.lag_seconds > src.max_lag_seconds:
            reasons.append(
                f"{src.name}: no successful run within {within} "
                f"(last {src.last_success.isoformat(timespec='seconds')})"
            )
    if target.circuit_open:
        reasons.append(
            f"target {target.name}: circuit {target.circuit} ({target.circuit_last_error})"
        )
    if target.refusal is not None:
        reasons.append(
            f"target {target.name}: {target.refusal.describe()}; "
            "check target.key and the target secret"
        )
    return reasons


def _waiting(sources: list[SourceStatus]) -> list[str]:
    """What waits for an operator's hand, besides the problems."""
    reasons = []
    for src in sources:
        if src.dead:
            reasons.append(
                f"{src.name}: {src.dead} dead letter(s): fix the cause, then `xxgk-bridge retry`"
            )
        if src.quarantined:
            reasons.append(f"{src.name}: {src.quarantined} quarantined item(s)")
    return reasons


def _details(
    s: Any, target: str, holders: dict[str, Any], live: list[Any], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    quarantined = [
        {"item": r.external_id, **json.loads(r.quarantine or "{}")} for r in items.quarantined(s)
    ]
    dead = [
        {"item": e, "error": err, "delivery": i} for e, err, i in outbox.dead_letters(s, target)
    ]
    workers = [
        {
            "worker": w.id,
            "leader": w.is_leader,
            "leader_since": w.leader_since.isoformat() if w.leader_since else None,
            "started": w.started_at.isoformat(),
            "heartbeat_age_seconds": round((now - w.heartbeat_at).total_seconds(), 1),
            "sources": sorted(c.source for c in holders.values() if c.owner == w.id),
        }
        for w in live
    ]
    return {"quarantined": quarantined, "dead_letters": dead, "workers": workers}


def _seconds(value: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"
