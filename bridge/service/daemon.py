"""``bridge run``: the scheduler daemon.

APScheduler 3 (BlockingScheduler) runs one job per source (interval or cron, with
jitter), the delivery drain, the resync-request poll, housekeeping, and a heartbeat on
an executor of its own. ``misfire_grace_time`` is set on purpose (APScheduler's default
of 1 s silently drops a late run): a run late by less still runs; a missed or
overlapping run is recorded in the audit trail.

Signals: SIGTERM / SIGINT finish the item in hand and exit 0 within
``daemon.shutdown_timeout``; SIGHUP reloads the config (an invalid one is logged
problem by problem and the old one kept). The handlers only set events; a control
thread does the work, so no lock is ever taken inside a signal handler.

systemd: READY=1 once the jobs are scheduled; WATCHDOG=1 only while the heartbeat job
keeps running (a stuck scheduler stops the pings); STATUS= with the last run's summary;
STOPPING=1 on shutdown.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from bridge import audit, config, logs
from bridge import owner as lease_owner
from bridge.config import Settings
from bridge.context import Context
from bridge.crawl.run import RunOptions, RunSummary, run_once
from bridge.delivery.drain import drain
from bridge.errors import ConfigError
from bridge.service import pause, sdnotify
from bridge.service.health import Metrics, poll_interval
from bridge.service.lock import StoreLock
from bridge.service.notify import run_pass
from bridge.service.progress import Tally
from bridge.service.web import AdminServer
from bridge.state import audit_log, cluster, outbox, resync
from bridge.state.db import Database, open_database
from bridge.targets import make_target

log = logging.getLogger(__name__)

TZ = "Asia/Shanghai"
HEARTBEAT = 5.0  # seconds between scheduler heartbeats (the watchdog's evidence of life)


class Daemon:
    def __init__(self, config_path: Path | None, settings: Settings) -> None:
        self.config_path = config_path
        self.settings = settings
        self.db: Database | None = None
        self.ctx: Context | None = None
        self.scheduler: BlockingScheduler | None = None
        self.metrics: Metrics | None = None
        self.admin: AdminServer | None = None
        self.last_tick = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.stopping = threading.Event()
        self.reload_wanted = threading.Event()
        self.wake = threading.Event()
        self.source_locks: dict[str, threading.Lock] = {}
        self.status_line = "starting"
        self.worker_id = ""
        self.fresh_sources: set[str] = set()
        self.paused_logged: set[str] = set()  # paused sources whose skipped polls were logged
        self.is_leader = False
        self.leader_conn: Connection | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        self.db = open_database(self.settings.state_url.reveal())
        # SQLite: one daemon per store (flock). PostgreSQL: any number of workers, one leader.
        lock = StoreLock(self.db, role="daemon") if self.db.is_sqlite else None
        try:
            if lock is not None:
                lock.acquire("cannot start the daemon")
            try:
                return self._run_locked()
            except Exception as exc:
                self._record_failure(exc)
                raise
        finally:
            if lock is not None:
                lock.release()
            self.db.dispose()

    def _run_locked(self) -> int:
        assert self.db is not None
        settings = self.settings
        self.ctx = Context(
            settings=settings, db=self.db, target=make_target(settings.target), actor=audit.DAEMON
        )
        self.worker_id = self.ctx.owner
        if self.db.is_sqlite:
            self.is_leader = True  # the store's only daemon
        else:
            # Several workers: each names itself in the audit trail; the leader is whoever
            # holds an advisory lock on this dedicated connection.
            self.ctx = replace(self.ctx, actor=f"{audit.DAEMON}:{self.worker_id}")
            self.leader_conn = self.db.engine.connect()
        with self.db.write() as s:
            cluster.register(s, self.worker_id, socket.gethostname(), os.getpid())
            # On SQLite this daemon holds the store alone, so a "running" request was left
            # by a daemon that died; on PostgreSQL another worker may be running it.
            requeued = resync.requeue_running(s) if self.db.is_sqlite else 0
            audit_log.append(
                s, audit.CONFIG_LOADED, actor=audit.DAEMON,
                details={"file": str(self.config_path), "reload": False, "pid": os.getpid(),
                         "requeued_resyncs": requeued, "config_sha256": settings.sha256()},
            )  # fmt: skip
        self.metrics = Metrics(settings, self.db)
        if settings.admin.enabled:
            self.admin = AdminServer(settings.admin, settings=lambda: self.settings, db=self.db,
                                     metrics=self.metrics, started_at=self.started_at)  # fmt: skip
            self._mount_admin_pages()
            log.info("admin pages and metrics on %s", self.admin.start())
        self.scheduler = self._build_scheduler()
        self._install_signals()
        threading.Thread(target=self._control, name="control", daemon=True).start()
        self._lead()
        log.info(
            "bridge daemon started (pid %d) with %d source(s)", os.getpid(), len(settings.sources)
        )
        try:
            self.scheduler.start()  # blocks until shutdown
        finally:
            if self.admin is not None:
                self.admin.stop()
            self.ctx.target.close()
            with self.db.write() as s:
                cluster.deregister(s, self.worker_id)
            if self.leader_conn is not None:
                self.leader_conn.close()  # frees the leader lock for another worker
        log.info("bridge daemon stopped")
        return 0

    def _record_failure(self, exc: Exception) -> None:
        """Audit the stop on an error and notify it (best effort: the store may be the cause)."""
        assert self.db is not None
        try:
            with self.db.write() as s:
                audit_log.append(s, audit.DAEMON_FAILED, actor=audit.DAEMON,
                                 details={"error": type(exc).__name__, "pid": os.getpid()})  # fmt: skip
        except Exception:
            log.warning("could not record the daemon's failure in the audit trail")
            return
        run_pass(self.settings, self.db)

    def _mount_admin_pages(self) -> None:
        try:
            from bridge.admin.pages import mount
        except ImportError:
            return
        assert self.admin is not None
        mount(self.admin)

    def _build_scheduler(self) -> BlockingScheduler:
        d = self.settings.daemon
        scheduler = BlockingScheduler(
            timezone=TZ,
            executors={
                # Crawls parse HTML: more of them at once than there are cores only contend
                # for the GIL. Jobs beyond wait their turn (within misfire_grace_time).
                "sources": ThreadPoolExecutor(d.parallel_sources),
                "default": ThreadPoolExecutor(4),
                "heartbeat": ThreadPoolExecutor(1),
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(d.misfire_grace_time),
            },
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        scheduler.add_listener(self._on_skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._schedule_sources(scheduler)
        now = datetime.now(UTC)
        scheduler.add_job(self.drain_job, IntervalTrigger(seconds=d.drain_interval), id="drain",
                          next_run_time=now + timedelta(seconds=1))  # fmt: skip
        scheduler.add_job(self.notify_job, IntervalTrigger(seconds=d.drain_interval), id="notify",
                          next_run_time=now + timedelta(seconds=2))  # fmt: skip
        scheduler.add_job(self.resync_job, IntervalTrigger(seconds=d.resync_poll), id="resync",
                          next_run_time=now)  # fmt: skip
        scheduler.add_job(
            self.housekeeping_job,
            IntervalTrigger(seconds=d.housekeeping_interval),
            id="housekeeping",
        )
        scheduler.add_job(self.heartbeat_job, IntervalTrigger(seconds=HEARTBEAT), id="heartbeat",
                          executor="heartbeat", next_run_time=now)  # fmt: skip
        return scheduler

    def _schedule_sources(self, scheduler: BlockingScheduler) -> None:
        now = datetime.now(UTC)
        jitter = self.settings.daemon.jitter
        self.fresh_sources = {source.name for source in self.settings.sources}
        for i, source in enumerate(self.settings.sources):
            self.source_locks.setdefault(source.name, threading.Lock())
            trigger = (
                CronTrigger.from_crontab(source.cron, timezone=TZ, jitter=int(jitter) or None)
                if source.cron
                else IntervalTrigger(seconds=source.interval, jitter=int(jitter) or None)
            )
            scheduler.add_job(
                self.source_job, trigger, args=[source.name], id=f"source:{source.name}",
                executor="sources",
                name=f"sync {source.name}", replace_existing=True,
                next_run_time=None if source.cron else now + timedelta(seconds=1 + 2 * i),
            )  # fmt: skip

    # --- jobs ------------------------------------------------------------------------------

    def _context(self, **changes: Any) -> Context:
        assert self.ctx is not None
        return replace(self.ctx, **changes)

    def source_job(self, name: str) -> None:
        lock = self.source_locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            self._audit_skip(f"source:{name}", "overlap: a resync of this source is running")
            return
        try:
            # The first run after a start or a reload crawls whatever the other workers did
            # lately (an operator restarting expects a cycle); later ones keep the spacing.
            first = name in self.fresh_sources
            self.fresh_sources.discard(name)
            if self.stopping.is_set() or self._paused(name):
                return
            if not self._claim(name, min_gap=0.0 if first else None):
                return
            try:
                ctx = self._context(progress=self._lease_keeper(name))
                summary = run_once(ctx, RunOptions(sources=[name], deliver=False))
                self._after_run(summary)
            finally:
                assert self.db is not None
                with self.db.write() as s:
                    cluster.release_source(s, name, self.worker_id)
            self._drain(ctx)
        finally:
            lock.release()

    def _paused(self, name: str) -> bool:
        """Whether ``bridge pause`` holds the source; said once per pause, not per poll."""
        assert self.db is not None
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

    def _lease_keeper(self, name: str) -> Callable[[str, dict[str, Any]], None]:
        """A progress callback that renews this worker's claims while a long crawl runs,
        so the lease never depends on the heartbeat thread getting its turn."""
        last = [time.monotonic()]
        every = self.settings.daemon.lease / 3

        def renew(what: str, info: dict[str, Any]) -> None:
            if time.monotonic() - last[0] >= every:
                last[0] = time.monotonic()
                assert self.db is not None
                with self.db.write() as s:
                    cluster.renew(s, self.worker_id, self.settings.daemon.lease)

        return renew

    def _claim(self, name: str, min_gap: float | None = None) -> bool:
        """Claim the source for this crawl; another worker may hold it or have just run it."""
        assert self.db is not None
        if min_gap is None:
            # Several workers each fire the source's schedule: the first one in a half
            # interval crawls. A lone daemon (SQLite) crawls whenever its schedule fires.
            min_gap = 0.0 if self.db.is_sqlite else poll_interval(self.settings.source(name)) / 2
        lease = self.settings.daemon.lease
        with self.db.write() as s:
            got = cluster.claim_source(
                s, name, self.worker_id, lease=lease, min_gap=min_gap, alive=lease_owner.alive
            )
        if not got:
            log.debug("%s: crawled by another worker or just now; not this time", name)
        return got

    def _lead(self) -> None:
        """Try to become the leader (PostgreSQL); record it with the heartbeat."""
        assert self.db is not None
        if self.leader_conn is not None and not self.is_leader:
            try:
                self.is_leader = cluster.try_lead(self.leader_conn)
            except DBAPIError:
                log.warning("leader election: connection lost; trying again")
                self.leader_conn.close()
                self.leader_conn = self.db.engine.connect()
            if self.is_leader:
                log.info("worker %s is now the leader", self.worker_id)
        with self.db.write() as s:
            cluster.heartbeat(s, self.worker_id, is_leader=self.is_leader)
            cluster.renew(s, self.worker_id, self.settings.daemon.lease)
            if self.is_leader:
                for gone in cluster.forget_dead(
                    s, timedelta(seconds=3 * self.settings.daemon.lease)
                ):
                    log.warning("worker %s stopped heartbeating; removed", gone)

    def drain_job(self) -> None:
        if not self.stopping.is_set():
            self._drain(self._context())

    def _drain(self, ctx: Context) -> None:
        stats = drain(ctx)
        assert self.metrics is not None
        self.metrics.count_delivery(ctx.settings.target.name, stats)
        if stats.auth_error:
            log.error("%s", stats.auth_error)

    def notify_job(self) -> None:
        """Alarms and recoveries from the audit trail to the ``[[notify]]`` channels: on
        PostgreSQL the leader alone, so several workers send each notice once."""
        assert self.db is not None
        if self.is_leader and not self.stopping.is_set():
            run_pass(self.settings, self.db)

    def resync_job(self) -> None:
        assert self.db is not None
        if self.stopping.is_set():
            return
        ctx = self._context()
        with self.db.write() as s:
            request = resync.take_next(s, ctx.owner)
        if request is None:
            return
        p = request.params
        names = p.get("sources") or [s.name for s in ctx.settings.sources]
        held = pause.paused(self.db, names)  # paused after the request was queued
        if held and (p.get("sources") or len(held) == len(names)):
            refused = "; ".join(pause.describe(n, info) for n, info in held.items())
            log.warning("resync #%d refused: %s", request.id, refused)
            with self.db.write() as s:
                resync.finish(s, request.id, exit_code=1,
                              result={"error": f"refused: {refused}; `xxgk-bridge resume` first"})  # fmt: skip
            return
        names = [n for n in names if n not in held]
        log.info(
            "resync #%d asked by %s (%s): %s",
            request.id,
            request.actor,
            request.reason or "no reason",
            p,
        )
        locks = [self.source_locks.setdefault(n, threading.Lock()) for n in names]
        for lk in locks:
            lk.acquire()
        for n in names:  # wait for another worker's crawl of the same source to end
            while not self._claim(n, min_gap=0.0) and not self.stopping.is_set():
                time.sleep(1.0)
        tally = Tally()  # what `resync --wait` shows: stored at most twice a second
        last_write = [0.0]

        def report(what: str, info: dict[str, Any]) -> None:
            tally.report(what, info)
            now = time.monotonic()
            if now - last_write[0] > 0.5 or what == "source done":
                last_write[0] = now
                assert self.db is not None
                with self.db.write() as s:
                    resync.set_progress(s, request.id, tally.snapshot())

        try:
            since = datetime.fromisoformat(p["since"]).date() if p.get("since") else None
            summary = run_once(replace(ctx, progress=report), RunOptions(
                sources=names, columns=p.get("columns") or None, full=True, since=since,
                dry_run=bool(p.get("dry_run")), force=bool(p.get("force")), kind="resync",
            ))  # fmt: skip
            self._after_run(summary)
            result = summary_json(summary)
            code = summary.exit_code
        except ConfigError as exc:
            result, code = {"error": str(exc)}, 2
        finally:
            with self.db.write() as s:
                for n in names:
                    cluster.release_source(s, n, self.worker_id)
            for lk in locks:
                lk.release()
        with self.db.write() as s:
            resync.set_progress(s, request.id, tally.snapshot())
            resync.finish(s, request.id, result=result, exit_code=code)

    def housekeeping_job(self) -> None:
        assert self.db is not None
        if not self.is_leader:
            return
        if self.db.is_sqlite:
            with self.db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA optimize")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def heartbeat_job(self) -> None:
        self.last_tick = time.monotonic()
        try:
            self._lead()
        except DBAPIError as exc:  # the store is briefly unreachable: try at the next beat
            log.warning("heartbeat could not reach the state store: %s", type(exc).__name__)

    def _after_run(self, summary: RunSummary) -> None:
        assert self.metrics is not None and self.db is not None
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

    # --- scheduler events --------------------------------------------------------------------

    def _on_started(self, event: SchedulerEvent) -> None:
        sdnotify.notify("READY=1")
        sdnotify.notify(f"STATUS=scheduled {len(self.settings.sources)} source(s)")
        watchdog = sdnotify.watchdog_seconds()
        if watchdog:  # pings start after READY, as systemd expects
            threading.Thread(
                target=self._watchdog, args=(watchdog,), name="watchdog", daemon=True
            ).start()

    def _on_skipped(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        if not event.job_id.startswith("source:"):
            return  # polls (drain, resync queue, heartbeat) overlap harmlessly
        if isinstance(event, JobExecutionEvent):
            reason, scheduled = "missed: later than misfire_grace_time", event.scheduled_run_time
        else:
            reason, scheduled = (
                "overlap: the previous run was still going",
                event.scheduled_run_times[0],
            )
        self._audit_skip(event.job_id, reason, scheduled)

    def _audit_skip(self, job_id: str, reason: str, scheduled: datetime | None = None) -> None:
        assert self.db is not None
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

    def _on_error(self, event: JobExecutionEvent) -> None:
        log.error("job %s failed: %s", event.job_id, event.exception, exc_info=event.exception)

    # --- signals, reload, watchdog -----------------------------------------------------------

    def _install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            self.stopping.set()
            self.wake.set()

        def hup(signum: int, frame: object) -> None:
            self.reload_wanted.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    def _control(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stopping.is_set():
                self._shutdown()
                return
            if self.reload_wanted.is_set():
                self.reload_wanted.clear()
                self.reload()

    def _shutdown(self) -> None:
        assert self.scheduler is not None and self.ctx is not None
        log.info(
            "stopping: finishing the item in hand (at most %.0f s)",
            self.settings.daemon.shutdown_timeout,
        )
        sdnotify.notify("STOPPING=1")
        self.ctx.stop.set()
        timer = threading.Timer(self.settings.daemon.shutdown_timeout, self._give_up)
        timer.daemon = True
        timer.start()
        self.scheduler.shutdown(wait=True)
        timer.cancel()

    def _give_up(self) -> None:
        log.warning(
            "shutdown timeout reached; exiting with work in flight (its leases expire and it is sent again)"
        )
        logging.shutdown()
        os._exit(0)

    def reload(self) -> None:
        """Load the config again; keep the old one if the new one has problems."""
        assert self.ctx is not None and self.db is not None and self.scheduler is not None
        try:
            new = config.load(self.config_path)
        except ConfigError as exc:
            log.error(
                "config reload refused, keeping the running config; %d problem(s):",
                len(exc.problems),
            )
            for p in exc.problems:
                log.error("  %s", p)
            self._audit_refused([str(p) for p in exc.problems])
            return
        if new.state_url.reveal() != self.settings.state_url.reveal():
            problem = "bridge.state_url cannot change while running; restart the daemon for that"
            log.error("config reload refused, keeping the running config: %s", problem)
            self._audit_refused([problem])
            return
        old_target = self.ctx.target
        self.settings = new
        self.ctx = replace(self.ctx, settings=new, target=make_target(new.target))
        old_target.close()
        for job in self.scheduler.get_jobs():
            if job.id.startswith("source:"):
                job.remove()
        self._schedule_sources(self.scheduler)
        with self.db.write() as s:
            audit_log.append(s, audit.CONFIG_LOADED, actor=audit.DAEMON,
                             details={"file": str(self.config_path), "reload": True,
                                      "config_sha256": new.sha256()})  # fmt: skip
        logs.setup_logging(logging.getLogger().level, new.log_format)
        log.info("config reloaded from %s: %d source(s)", self.config_path, len(new.sources))

    def _audit_refused(self, problems: list[str]) -> None:
        """A reload that kept the running config, with its problems (config problems name
        keys and sources, never a secret's value)."""
        assert self.db is not None
        with self.db.write() as s:
            audit_log.append(s, audit.CONFIG_REFUSED, actor=audit.DAEMON,
                             details={"file": str(self.config_path), "problems": problems,
                                      "kept_config_sha256": self.settings.sha256()})  # fmt: skip

    def _watchdog(self, interval: float) -> None:
        every = max(interval / 2, 0.5)
        stale_after = max(3 * HEARTBEAT, interval)
        while not self.stopping.is_set():
            if time.monotonic() - self.last_tick < stale_after:
                sdnotify.notify("WATCHDOG=1")
            else:
                log.error("scheduler heartbeat is %.0f s old: not pinging the watchdog",
                          time.monotonic() - self.last_tick)  # fmt: skip
            self.stopping.wait(every)


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
