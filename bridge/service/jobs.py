"""The daemon's jobs: one small object each, run by APScheduler through ``run``.

APScheduler 3 references a job's callable by module and name (``bridge.service.jobs:run``);
the job object is its argument. ``add`` schedules one with every run-time setting spelled
out: ``misfire_grace_time`` (APScheduler's default of 1 s silently drops a late run: a run
late by less runs, a missed one is audited by the daemon), ``coalesce`` (runs piled up
while the process was busy or suspended are one run) and ``max_instances=1`` (an
overlapping run is skipped, and audited for a source).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.exc import DBAPIError

from bridge.service import crew as crawl
from bridge.service.crew import Crew
from bridge.service.leases import Leadership, LeaseRenewer
from bridge.service.notify import run_pass

log = logging.getLogger(__name__)


class Job(Protocol):
    def __call__(self) -> None: ...


def run(job: Job) -> None:
    """The callable APScheduler runs for every job."""
    job()


def add(
    scheduler: BaseScheduler,
    job: Job,
    trigger: BaseTrigger,
    *,
    id: str,
    misfire_grace_time: int,
    executor: str = "default",
    name: str | None = None,
    next_run_time: datetime | None = None,
) -> None:
    kw = {} if next_run_time is None else {"next_run_time": next_run_time}
    scheduler.add_job(
        run, trigger, args=[job], id=id, name=name or id, executor=executor,
        misfire_grace_time=misfire_grace_time, coalesce=True, max_instances=1,
        replace_existing=True, **kw,
    )  # fmt: skip


class SourcePoll:
    """One source's scheduled poll: claim it, crawl it, release it, drain what it found."""

    def __init__(self, crew: Crew, name: str) -> None:
        self.crew = crew
        self.name = name
        # The first run after a start or a reload crawls whatever the other workers did
        # lately (an operator restarting expects a cycle); later ones keep the spacing.
        self.first = True

    def __call__(self) -> None:
        crew, name = self.crew, self.name
        lock = crew.lock(name)
        if not lock.acquire(blocking=False):
            crew.audit_skip(f"source:{name}", "overlap: a resync of this source is running")
            return
        try:
            first, self.first = self.first, False
            if crew.stopping.is_set() or crew.paused(name):
                return
            if not crew.claim(name, min_gap=0.0 if first else None):
                return
            ctx = crew.context()
            try:
                with LeaseRenewer(crew):
                    summary = crawl.poll(ctx, name)
                crew.after_run(summary)
            finally:
                crew.release([name])
            crew.drain(ctx)
        finally:
            lock.release()


class Drain:
    """Deliveries waiting in the outbox, between polls (retries, other workers' items)."""

    def __init__(self, crew: Crew) -> None:
        self.crew = crew

    def __call__(self) -> None:
        if not self.crew.stopping.is_set():
            self.crew.drain(self.crew.context())


class Notify:
    """Alarms and recoveries from the audit trail to the ``[[notify]]`` channels: on
    PostgreSQL the leader alone, so several workers send each notice once."""

    def __init__(self, crew: Crew, leadership: Leadership) -> None:
        self.crew = crew
        self.leadership = leadership

    def __call__(self) -> None:
        if self.leadership.is_leader and not self.crew.stopping.is_set():
            run_pass(self.crew.settings, self.crew.db)


class Housekeeping:
    """The leader tidies the store (bridge.state.db ``Database.tidy``)."""

    def __init__(self, crew: Crew, leadership: Leadership) -> None:
        self.crew = crew
        self.leadership = leadership

    def __call__(self) -> None:
        if self.leadership.is_leader:
            self.crew.db.tidy()


class Heartbeat:
    """The scheduler's evidence of life for the watchdog (``tick``), and the leadership's beat."""

    def __init__(self, leadership: Leadership, tick: Callable[[], None]) -> None:
        self.leadership = leadership
        self.tick = tick

    def __call__(self) -> None:
        self.tick()
        try:
            self.leadership.beat()
        except DBAPIError as exc:  # the store is briefly unreachable: try at the next beat
            log.warning("heartbeat could not reach the state store: %s", type(exc).__name__)
