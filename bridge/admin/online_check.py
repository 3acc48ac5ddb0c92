"""``config check --online``: reach every peer the configuration names, read-only.

- each source: its robots.txt (status; whether the column paths are allowed for our
  User-Agent, as the fetcher judges it) and the first list page of each column through
  the real source and fetcher (status, charset and how it was chosen, entries found);
- the target: a signed read for the portal (proves key and secret), a rolled-back row for
  the exchange database, a file created and removed in the exchange folder;
- the state store: it opens, its schema revision against this bridge's, a rolled-back
  write, and who holds its daemon lock.

Nothing is delivered, migrated or recorded. Every check runs in its own thread with its
own time limit, so one site that never answers holds up nothing else.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bridge.config import ExchangeDirConfig, Settings, SourceConfig, TargetConfig
from bridge.errors import BridgeError
from bridge.sources.fetch import Page

CHECK_SLACK = 5.0  # seconds a check may take beyond its peer's own timeouts
STATE_TIMEOUT = 30.0  # seconds for the state store: a local file, or a database nearby
EXCHANGE_DB_TIMEOUT = 45.0  # connect timeout (10 s) and lock timeout (30 s) of exchange-db
STATE_BUSY_MS = 5000  # how long the write check waits for a writer that holds SQLite


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':<4}  {self.what}  {self.detail}"


Job = Callable[[], list[Check]]


def run(settings: Settings, *, revision_line: Callable[[str | None, str], str]) -> list[Check]:
    """Every check, in config order: sources, target, state store."""
    jobs: list[tuple[str, float, Job]] = []
    opened = []
    for cfg in settings.sources:
        source_jobs, closer = _source_jobs(cfg)
        jobs += source_jobs
        opened.append(closer)
    jobs.append(_target_job(settings.target))
    jobs.append(
        (
            "state store",
            STATE_TIMEOUT,
            lambda: [_state_check(settings.state_url.reveal(), revision_line)],
        )
    )
    checks = _run_all(jobs)
    for close in opened:
        close()
    return checks


def _run_all(jobs: list[tuple[str, float, Job]]) -> list[Check]:
    """All jobs at once, each in a daemon thread (one that never ends is left behind, not
    waited for); a job past its time limit is one failed check."""
    results: list[list[Check] | None] = [None] * len(jobs)
    threads = []
    for n, (what, _timeout, job) in enumerate(jobs):

        def work(n: int = n, what: str = what, job: Job = job) -> None:
            try:
                results[n] = job()
            except Exception as exc:  # a bug in a check is one failed line, not a traceback
                results[n] = [Check(False, what, f"check failed: {exc}")]

        thread = threading.Thread(target=work, name=f"check {what}", daemon=True)
        thread.start()
        threads.append(thread)
    start = time.monotonic()
    checks: list[Check] = []
    for n, (what, timeout, _job) in enumerate(jobs):
        threads[n].join(max(0.0, start + timeout - time.monotonic()))
        found = results[n]
        if found is None:
            checks.append(Check(False, what, f"no answer within {timeout:g} s; gave up"))
        else:
            checks += found
    return checks


# --- sources ---------------------------------------------------------------------------------


def _source_jobs(cfg: SourceConfig) -> tuple[list[tuple[str, float, Job]], Callable[[], None]]:
    from bridge.sources import make_source
    from bridge.sources.cms import CmsSource

    source = make_source(cfg)
    fetch = cfg.fetch
    # robots.txt and the page, each within the deadline, after waiting for a turn at the host
    timeout = 2 * fetch.deadline + (len(cfg.columns) + 1) / fetch.rate_limit + CHECK_SLACK
    pages: dict[str, Page] = {}
    if isinstance(source, CmsSource):
        source.fetcher.on_page = pages.__setitem__
    jobs: list[tuple[str, float, Job]] = [
        (f"source {cfg.name} robots.txt", timeout, lambda: [_robots_check(cfg, source)])
    ]
    for column in cfg.columns:
        what = f"column {cfg.name}/{column.key}"

        def job(key: str = column.key, what: str = what) -> list[Check]:
            return [_column_check(source, key, what, pages)]

        jobs.append((what, timeout, job))
    return jobs, source.close


def _robots_check(cfg: SourceConfig, source: object) -> Check:
    from bridge.sources.cms import CmsSource

    what = f"source {cfg.name} robots.txt"
    if not cfg.fetch.respect_robots:
        return Check(True, what, "not consulted (fetch.respect_robots = false)")
    if not isinstance(source, CmsSource):
        return Check(True, what, "no site behind this source")
    agent = cfg.fetch.user_agent
    try:
        status, rules = source.fetcher.robots_file(cfg.base_url)
    except BridgeError as exc:
        return Check(False, what, str(exc))
    if rules is None:
        shown = "too many redirects" if status is None else f"answered {status}"
        return Check(True, what, f"{shown}: everything allowed (RFC 9309)")
    refused = [
        f"{c.key} ({url})"
        for c in cfg.columns
        if not rules.can_fetch(url := source.column_url(c.key), agent)
    ]
    if refused:
        return Check(False, what, f"disallows column {', '.join(refused)} for User-Agent {agent!r}")
    return Check(True, what, f"{status}: all {len(cfg.columns)} column paths allowed")


def _column_check(source: object, column: str, what: str, pages: dict[str, Page]) -> Check:
    from bridge.sources.base import Source

    assert isinstance(source, Source)
    try:
        first = next(iter(source.list_pages(column, conditional=False)), None)
    except BridgeError as exc:
        return Check(False, what, str(exc))
    if first is None:
        return Check(False, what, "the listing yielded no page")
    page = pages.get(first.url)
    how = f"{page.status}, {page.charset} ({page.charset_how})" if page else "read"
    if not first.entries:
        return Check(
            False,
            what,
            f"{first.url}: {how}, but 0 entries: the column path or the list selectors "
            "do not match this site",
        )
    count = first.page_count
    pages_shown = f" (page 1 of {count})" if count else ""
    return Check(True, what, f"{first.url}: {how}, {len(first.entries)} entries{pages_shown}")


# --- the target ------------------------------------------------------------------------------


def _target_job(cfg: TargetConfig) -> tuple[str, float, Job]:
    what = f"target {cfg.name}"
    timeout = {"http": cfg.timeout + CHECK_SLACK, "exchange-db": EXCHANGE_DB_TIMEOUT}.get(
        cfg.kind, STATE_TIMEOUT
    )
    return what, timeout, lambda: [_target_check(cfg, what)]


def _target_check(cfg: TargetConfig, what: str) -> Check:
    if cfg.kind == "memory":
        return Check(True, what, "in memory: nothing to reach")
    if isinstance(cfg, ExchangeDirConfig):
        from bridge.targets.below import probe_writable

        try:
            probe_writable(Path(cfg.directory))
        except OSError as exc:
            return Check(False, what, f"exchange folder {cfg.directory}: {exc.strerror or exc}")
        except BridgeError as exc:
            return Check(False, what, str(exc))
        return Check(True, what, f"exchange folder {cfg.directory} is writable")
    from bridge.targets import make_target

    try:
        target = make_target(cfg)
    except BridgeError as exc:
        return Check(False, what, str(exc))
    try:
        if cfg.kind == "exchange-db":
            from bridge.targets.exchange_db import ExchangeDbTarget

            assert isinstance(target, ExchangeDbTarget)
            return Check(True, what, f"{target.display_url}: {target.check_writable()}")
        from bridge.targets.http import HttpTarget

        assert isinstance(target, HttpTarget)
        asked = target.check_credentials()
        return Check(True, what, f"{target.base}: {asked} accepted our key and secret")
    except BridgeError as exc:
        return Check(False, what, str(exc))
    finally:
        target.close()


# --- the state store -------------------------------------------------------------------------


def _state_check(url: str, revision_line: Callable[[str | None, str], str]) -> Check:
    from bridge.state.db import head_revision, open_database, sqlite_path

    what = "state store"
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return _new_file_check(path)
    try:
        db = open_database(url, create=False, check=False)
    except BridgeError as exc:
        return Check(False, what, str(exc))
    try:
        current, head = db.current_revision(), head_revision()
        if current != head:
            return Check(False, what, f"{db.display_url}: {revision_line(current, head)}")
        with db.engine.connect() as conn:
            if db.is_sqlite:  # on the driver's connection: SQLAlchemy's would begin first
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute(f"PRAGMA busy_timeout = {STATE_BUSY_MS}")
            tx = conn.begin()  # BEGIN IMMEDIATE on SQLite: takes the write lock
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                tx.rollback()
        held = _lock_holder(db) if path is not None else None
        return Check(True, what, f"{db.display_url}: at {head}, writable{held or ''}")
    except DBAPIError as exc:
        return Check(False, what, f"{db.display_url}: {db.reason(exc)}")
    except BridgeError as exc:
        return Check(False, what, str(exc))
    finally:
        db.dispose()


def _new_file_check(path: Path) -> Check:
    """A SQLite store not created yet is a new setup's normal state: the first ``sync`` or
    ``run`` creates it (and its folders), if the nearest existing folder lets us."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return Check(False, "state store", f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        return Check(False, "state store", f"{path} does not exist and {folder} is not writable")
    return Check(True, "state store", f"{path} not there yet: the first sync or run creates it")


def _lock_holder(db: object) -> str | None:
    """``; held by daemon pid …`` when a daemon holds the store (normal, not a failure)."""
    from bridge.service.lock import StoreLock, describe
    from bridge.state.db import Database

    assert isinstance(db, Database)
    lock = StoreLock(db)
    if lock.path is None or not lock.path.exists():
        return None
    with lock.path.open("r") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return f"; held by {describe(lock.holder() or {})}"
        fcntl.flock(f, fcntl.LOCK_UN)
    return None
