"""``bridge run``: the scheduler daemon.

APScheduler 3 (BlockingScheduler) runs one job per source (interval or cron, with
jitter), the delivery drain, the notices, the resync-request poll, housekeeping, and a
heartbeat on an executor of its own: small objects in bridge.service.jobs and
bridge.service.resync_job that share a ``Crew`` (bridge.service.crew), built in one phase
once the store is open. ``misfire_grace_time`` is set on every job (APScheduler's default of
1 s silently drops a late run): a run late by less still runs; a missed or overlapping run
of a source is recorded in the audit trail. A crawl's source claim is renewed by a timer of
its own (bridge.service.leases).

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
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

from bridge import audit, config, logs
from bridge.config import Settings
from bridge.errors import ConfigError
from bridge.service import jobs, sdnotify
from bridge.service.crew import Crew
from bridge.service.leases import Leadership
from bridge.service.lock import StoreLock
from bridge.service.notify import run_pass
from bridge.service.resync_job import Resync
from bridge.service.web import AdminServer
from bridge.state import audit_log
from bridge.state.db import Database, open_database

log = logging.getLogger(__name__)

TZ = "Asia/Shanghai"
HEARTBEAT = 5.0  # seconds between scheduler heartbeats (the watchdog's evidence of life)


class Daemon:
    """The process: signals, the control thread and the watchdog. Cheap to build: the store
    is opened by ``run``, which builds the crew, its jobs and the scheduler in one go."""

    def __init__(self, config_path: Path | None, settings: Settings) -> None:
        self.config_path = config_path
        self.settings = settings
        self.last_tick = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.stopping = threading.Event()
        self.reload_wanted = threading.Event()
        self.wake = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        db = open_database(self.settings.state_url.reveal())
        # SQLite: one daemon per store (flock). PostgreSQL: any number of workers, one leader.
        lock = StoreLock(db, role="daemon") if db.is_sqlite else None
        try:
            if lock is not None:
                lock.acquire("cannot start the daemon")
            try:
                return self._serve(db)
            except Exception as exc:
                self._record_failure(db, exc)
                raise
        finally:
            if lock is not None:
                lock.release()
            db.dispose()

    def _serve(self, db: Database) -> int:
        crew = Crew.open(db, self.settings, self.config_path, self.stopping)
        leadership = Leadership(crew)
        admin = self._admin(db, crew)
        scheduler = self._build_scheduler(crew, leadership)
        self._install_signals()
        threading.Thread(
            target=self._control, args=(crew, scheduler), name="control", daemon=True
        ).start()
        leadership.beat()
        log.info(
            "bridge daemon started (pid %d) with %d source(s)",
            os.getpid(),
            len(crew.settings.sources),
        )
        try:
            scheduler.start()  # blocks until shutdown
        finally:
            if admin is not None:
                admin.stop()
            crew.close()
            leadership.close()
        log.info("bridge daemon stopped")
        return 0

    def _record_failure(self, db: Database, exc: Exception) -> None:
        """Audit the stop on an error and notify it (best effort: the store may be the cause)."""
        try:
            with db.write() as s:
                audit_log.append(s, audit.DAEMON_FAILED, actor=audit.DAEMON,
                                 details={"error": type(exc).__name__, "pid": os.getpid()})  # fmt: skip
        except Exception:
            log.warning("could not record the daemon's failure in the audit trail")
            return
        run_pass(self.settings, db)

    def _admin(self, db: Database, crew: Crew) -> AdminServer | None:
        """The admin pages and metrics, when ``[admin]`` enables them (started here)."""
        if not self.settings.admin.enabled:
            return None
        admin = AdminServer(self.settings.admin, settings=lambda: self.settings, db=db,
                            metrics=crew.metrics, started_at=self.started_at)  # fmt: skip
        try:
            from bridge.admin.pages import mount
        except ImportError:
            pass
        else:
            mount(admin)
        log.info("admin pages and metrics on %s", admin.start())
        return admin

    def _build_scheduler(self, crew: Crew, leadership: Leadership) -> BlockingScheduler:
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
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        scheduler.add_listener(
            lambda e: self._on_skipped(crew, e), EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        self._schedule_sources(scheduler, crew)
        now = datetime.now(UTC)
        grace = int(d.misfire_grace_time)
        jobs.add(scheduler, jobs.Drain(crew), IntervalTrigger(seconds=d.drain_interval),
                 id="drain", misfire_grace_time=grace, next_run_time=now + timedelta(seconds=1))  # fmt: skip
        jobs.add(scheduler, jobs.Notify(crew, leadership), IntervalTrigger(seconds=d.drain_interval),
                 id="notify", misfire_grace_time=grace, next_run_time=now + timedelta(seconds=2))  # fmt: skip
        jobs.add(scheduler, Resync(crew), IntervalTrigger(seconds=d.resync_poll),
                 id="resync", misfire_grace_time=grace, next_run_time=now)  # fmt: skip
        jobs.add(scheduler, jobs.Housekeeping(crew, leadership),
                 IntervalTrigger(seconds=d.housekeeping_interval), id="housekeeping",
                 misfire_grace_time=grace)  # fmt: skip
        jobs.add(scheduler, jobs.Heartbeat(leadership, self._tick), IntervalTrigger(seconds=HEARTBEAT),
                 id="heartbeat", misfire_grace_time=grace, executor="heartbeat", next_run_time=now)  # fmt: skip
        return scheduler

    def _schedule_sources(self, scheduler: BlockingScheduler, crew: Crew) -> None:
        now = datetime.now(UTC)
        d = crew.settings.daemon
        jitter = int(d.jitter) or None
        for i, source in enumerate(crew.settings.sources):
            trigger: CronTrigger | IntervalTrigger
            if source.cron:
                trigger = CronTrigger.from_crontab(source.cron, timezone=TZ)
                trigger.jitter = jitter  # from_crontab() takes no jitter
            else:
                trigger = IntervalTrigger(seconds=source.interval, jitter=jitter)
            jobs.add(
                scheduler, jobs.SourcePoll(crew, source.name), trigger, id=f"source:{source.name}",
                executor="sources", name=f"sync {source.name}",
                misfire_grace_time=int(d.misfire_grace_time),
                next_run_time=None if source.cron else now + timedelta(seconds=1 + 2 * i),
            )  # fmt: skip

    def _tick(self) -> None:
        self.last_tick = time.monotonic()

    # --- scheduler events --------------------------------------------------------------------

    def _on_started(self, event: SchedulerEvent) -> None:
        sdnotify.notify("READY=1")
        sdnotify.notify(f"STATUS=scheduled {len(self.settings.sources)} source(s)")
        watchdog = sdnotify.watchdog_seconds()
        if watchdog:  # pings start after READY, as systemd expects
            threading.Thread(
                target=self._watchdog, args=(watchdog,), name="watchdog", daemon=True
            ).start()

    def _on_skipped(self, crew: Crew, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        if not event.job_id.startswith("source:"):
            return  # polls (drain, resync queue, heartbeat) overlap harmlessly
        if isinstance(event, JobExecutionEvent):
            reason, scheduled = "missed: later than misfire_grace_time", event.scheduled_run_time
        else:
            reason, scheduled = (
                "overlap: the previous run was still going",
                event.scheduled_run_times[0],
            )
        crew.audit_skip(event.job_id, reason, scheduled)

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

    def _control(self, crew: Crew, scheduler: BlockingScheduler) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            if self.stopping.is_set():
                self._shutdown(crew, scheduler)
                return
            if self.reload_wanted.is_set():
                self.reload_wanted.clear()
                self.reload(crew, scheduler)

    def _shutdown(self, crew: Crew, scheduler: BlockingScheduler) -> None:
        log.info(
            "stopping: finishing the item in hand (at most %.0f s)",
            self.settings.daemon.shutdown_timeout,
        )
        sdnotify.notify("STOPPING=1")
        crew.ctx.stop.set()
        timer = threading.Timer(self.settings.daemon.shutdown_timeout, self._give_up)
        timer.daemon = True
        timer.start()
        scheduler.shutdown(wait=True)
        timer.cancel()

    def _give_up(self) -> None:
        log.warning(
            "shutdown timeout reached; exiting with work in flight (its leases expire and it is sent again)"
        )
        logging.shutdown()
        os._exit(0)

    def reload(self, crew: Crew, scheduler: BlockingScheduler) -> None:
        """Load the config again; keep the old one if the new one has problems."""
        try:
            new = config.load(self.config_path)
        except ConfigError as exc:
            log.error(
                "config reload refused, keeping the running config; %d problem(s):",
                len(exc.problems),
            )
            for p in exc.problems:
                log.error("  %s", p)
            self._audit_refused(crew, [str(p) for p in exc.problems])
            return
        if new.state_url.reveal() != self.settings.state_url.reveal():
            problem = "bridge.state_url cannot change while running; restart the daemon for that"
            log.error("config reload refused, keeping the running config: %s", problem)
            self._audit_refused(crew, [problem])
            return
        self.settings = new
        crew.reconfigure(new)
        for job in scheduler.get_jobs():
            if job.id.startswith("source:"):
                job.remove()
        self._schedule_sources(scheduler, crew)
        with crew.db.write() as s:
            audit_log.append(s, audit.CONFIG_LOADED, actor=audit.DAEMON,
                             details={"file": str(self.config_path), "reload": True,
                                      "config_sha256": new.sha256()})  # fmt: skip
        logs.setup_logging(logging.getLogger().level, new.log_format)
        log.info("config reloaded from %s: %d source(s)", self.config_path, len(new.sources))

    def _audit_refused(self, crew: Crew, problems: list[str]) -> None:
        """A reload that kept the running config, with its problems (config problems name
        keys and sources, never a secret's value)."""
        with crew.db.write() as s:
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
