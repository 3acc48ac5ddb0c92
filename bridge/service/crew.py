"""What the daemon's jobs share, built in one phase once the state store is open.

A ``Crew`` is the store, this worker's name, the running context (replaced whole on a
reload), the metrics, the stop event and the per-source locks that keep a poll and a resync
of one source apart. The jobs (bridge.service.jobs, bridge.service.resync_job) are small
objects that hold a crew; nothing here starts as None to be filled in later.

The two crawl calls of the daemon are here, side by side (``poll`` and ``resync``), so a
change to ``run_once``'s parameters is one place to follow.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge import audit, owner
from bridge.config import Settings
from bridge.context import Context
from bridge.crawl.run import RunOptions, RunSummary, run_once
from bridge.delivery.drain import drain
from bridge.service import pause, sdnotify
from bridge.service.health import Metrics, poll_interval
from bridge.state import audit_log, cluster, outbox, resync
from bridge.state.db import Database
from bridge.targets import make_target

log = logging.getLogger(__name__)


class Crew:
    def __init__(self, db: Database, ctx: Context, metrics: Metrics, stopping: threading.Event):
        self.db = db
        self.ctx = ctx  # replaced whole by reconfigure()
        self.worker_id = ctx.owner
        self.metrics = metrics
        self.stopping = stopping
        self.locks: dict[str, threading.Lock] = {}
        self.paused_logged: set[str] = set()  # paused sources whose skipped polls were logged
        self.status_line = "starting"

    @classmethod
    def open(
        cls, db: Database, settings: Settings, config_path: Path | None, stopping: threading.Event
    ) -> Crew:
        """Name this worker in the store and audit the config it starts with."""
        ctx = Context(settings=settings, db=db, target=make_target(settings.target),
                      actor=audit.DAEMON)  # fmt: skip
        if not db.is_sqlite:
            # Several workers: each names itself in the audit trail.
            ctx = replace(ctx, actor=f"{audit.DAEMON}:{ctx.owner}")
        with db.write() as s:
            cluster.register(s, ctx.owner, socket.gethostname(), os.getpid())
            # On SQLite this daemon holds the store alone, so a "running" request was left
            # by a daemon that died; on PostgreSQL another worker may be running it.
            requeued = resync.requeue_running(s) if db.is_sqlite else 0
            audit_log.append(
                s, audit.CONFIG_LOADED, actor=audit.DAEMON,
                details={"file": str(config_path), "reload": False, "pid": os.getpid(),
                         "requeued_resyncs": requeued, "config_sha256": settings.sha256()},
            )  # fmt: skip
        return cls(db, ctx, Metrics(settings, db), stopping)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def context(self, **changes: Any) -> Context:
        return replace(self.ctx, **changes)

    def reconfigure(self, new: Settings) -> None:
        """Run with ``new`` settings from now on (a reload); the old target is closed."""
        old_target = self.ctx.target
        self.ctx = replace(self.ctx, settings=new, target=make_target(new.target))
        old_target.close()

    def close(self) -> None:
        self.ctx.target.close()
        with self.db.write() as s:
            cluster.deregister(s, self.worker_id)

    # --- sources: locks, pauses, claims ---------------------------------------------------

    def lock(self, name: str) -> threading.Lock:
        return self.locks.setdefault(name, threading.Lock())

    def paused(self, name: str) -> bool:
        """Whether ``bridge pause`` holds the source; said once per pause, not per poll."""
        info = pause.paused(self.db, [name]).get(name)
        if info is None:
            if name in self.paused_logged:
                self.paused_logged.discard(name)
                log.info("%s: resumed; polling again", name)
            return False
        if name not in self.paused_logged:
            self.paused_logged.add(name)
            log.info(
                "%s; its polls are skipped until `xxgk-bridge resume %s`",
                pause.describe(name, info),
                name,
            )
        return True

    def claim(self, name: str, min_gap: float | None = None) -> bool:
        """Claim the source for this crawl; another worker may hold it or have just run it."""
        if min_gap is None:
            # Several workers each fire the source's schedule: the first one in a half
            # interval crawls. A lone daemon (SQLite) crawls whenever its schedule fires.
            min_gap = 0.0 if self.db.is_sqlite else poll_interval(self.settings.source(name)) / 2
        lease = self.settings.daemon.lease
        with self.db.write() as s:
            got = cluster.claim_source(
                s, name, self.worker_id, lease=lease, min_gap=min_gap, alive=owner.alive
            )
        if not got:
            log.debug("%s: crawled by another worker or just now; not this time", name)
        return got

    def release(self, names: list[str]) -> None:
        with self.db.write() as s:
            for name in names:
                cluster.release_source(s, name, self.worker_id)

    # --- after a crawl ----------------------------------------------------------------------

    def drain(self, ctx: Context) -> None:
        stats = drain(ctx)
        self.metrics.count_delivery(ctx.settings.target.name, stats)
        if stats.auth_error:
            log.error("%s", stats.auth_error)

    def after_run(self, summary: RunSummary) -> None:
        self.metrics.count_run(summary)
        if summary.delivery is not None:  # a resync's, from a thread or a delivery process
            self.metrics.count_delivery(self.settings.target.name, summary.delivery)
        parts = []
        for r in summary.sources:
            parts.append(f"{r.source} {r.status}: {r.stats.new} new, {r.stats.changed} changed")
            # a failed or alarmed run was logged once, by the pipeline, when it ended
        with self.db.read() as s:
            pending = outbox.counts(s, self.settings.target.name).get("pending", 0)
        stamp = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
        self.status_line = f"{'; '.join(parts)}; {pending} pending delivery(ies); last run {stamp}"
        sdnotify.notify(f"STATUS={self.status_line}")

    def audit_skip(self, job_id: str, reason: str, scheduled: datetime | None = None) -> None:
        source = job_id.split(":", 1)[1] if job_id.startswith("source:") else None
        # an overlap is a long crawl (a backfill) doing its work: audited, not a warning;
        # a missed run means the daemon fell behind its schedule
        level = logging.INFO if reason.startswith("overlap") else logging.WARNING
        log.log(level, "run of %s skipped: %s", job_id, reason)
        with self.db.write() as s:
            audit_log.append(
                s, audit.RUN_SKIPPED, actor=audit.DAEMON, source=source,
                details={"job": job_id, "reason": reason,
                         "scheduled": scheduled.isoformat() if scheduled else None},
            )  # fmt: skip


# --- the daemon's two crawl calls ---------------------------------------------------------


def poll(ctx: Context, name: str) -> RunSummary:
    """A scheduled poll of one source; its deliveries are drained after the claim ends."""
    return run_once(ctx, RunOptions(sources=[name], deliver=False))


def resync_crawl(ctx: Context, names: list[str], params: dict[str, Any]) -> RunSummary:
    """A queued ``bridge resync`` request's crawl, with the request's parameters."""
    since = datetime.fromisoformat(params["since"]).date() if params.get("since") else None
    return run_once(ctx, RunOptions(
        sources=names, columns=params.get("columns") or None, full=True, since=since,
        dry_run=bool(params.get("dry_run")), force=bool(params.get("force")), kind="resync",
    ))  # fmt: skip


def summary_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "exit_code": summary.exit_code,
        "sources": [
            {"source": r.source, "status": r.status, "message": r.message, "stats": asdict(r.stats),
             "plan": [list(p) for p in r.plan]}
            for r in summary.sources
        ],
        "delivery": summary.delivery.counts() if summary.delivery else None,
    }  # fmt: skip
