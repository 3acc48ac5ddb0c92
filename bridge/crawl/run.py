"""One cycle: discover → normalize → plan → record, then drain the outbox.

``run_once`` is what the scheduler, ``bridge sync --once`` and a manual resync all call.
Per source, it reads the column listings newest first (an overlap of the newest pages
every time; further only while pages still bring something new), fetches the detail
pages of new or changed entries, normalizes them, and records each new version together
with its pending delivery. A complete listing (a full resync) also finds withdrawals.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from bridge import audit
from bridge.catalog import CatalogRecord
from bridge.config import SourceConfig
from bridge.context import Context
from bridge.crawl import revalidate, withdraw_rule
from bridge.crawl.pace import Pace
from bridge.delivery.drain import DeliveryStats, drain
from bridge.delivery.process import drain_in_process, usable_cores
from bridge.errors import Fatal, LayoutAlarm, Retriable, SafetyAbort, Skippable
from bridge.normalize import QuarantineError, normalize
from bridge.normalize.dates import DateError, parse_date
from bridge.normalize.hashing import content_hash
from bridge.raw import Gone, ListEntry, ListPage, RawItem
from bridge.service import logs
from bridge.sources.base import Source
from bridge.sources.fetch import RobotsDisallowed
from bridge.state import admin_queries, audit_log, items, recording, runs
from bridge.text import clean_text

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 5  # a site failing this often in a row is down: stop hammering it
MAX_CONSECUTIVE_LAYOUT_MISSES = 3  # detail pages in a row without body or title: a redesign
RECORD_BATCH = 50  # items recorded in one transaction at most (a list page holds 20 or so)
WINDOW_AHEAD = 20  # detail pages queued beyond those in flight: about a list page's worth
# Fetch threads beyond the host's cap: a thread that parses the page it got (before asking
# for its attachments) holds no request slot, and with only as many threads as slots one
# slot stood empty meanwhile (measured with 50 ms answers: 3 of 4 in flight for 1.0 s of
# 11, 0.5 s with one spare thread). The host's gate still caps the requests in flight.
SPARE_FETCH_THREADS = 1
RECORD_BATCH_BYTES = 16 << 20  # and attachments held for it at most: memory stays flat


class SiteDown(Retriable):
    """Too many requests in a row got no answer: stop the source, not just a column."""


@dataclass
class SourceStats:
    pages: int = 0
    pages_not_modified: int = 0
    entries: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    withdrawn: int = 0
    withdraw_candidates: int = 0
    skipped: int = 0
    gone: int = 0
    columns_skipped: int = 0
    errors: int = 0
    replacement_chars: int = 0
    revalidated: int = 0  # known detail pages asked for again (bridge.crawl.revalidate)
    revalidated_not_modified: int = 0
    revalidated_unchanged: int = 0
    revalidated_changed: int = 0
    revalidated_gone: int = 0


@dataclass
class SourceResult:
    source: str
    status: str  # ok | failed | alarm
    stats: SourceStats
    message: str | None = None
    plan: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (action, id, title)


@dataclass
class RunSummary:
    sources: list[SourceResult]
    delivery: DeliveryStats | None
    dry_run: bool = False  # a plan: nothing was recorded or sent

    @property
    def exit_code(self) -> int:
        # Items the cycle could not deliver make the run a failure (cron must see it); a
        # listed page that is gone, or a column robots.txt forbids, is only a warning.
        failed = any(
            r.status != "ok" or r.stats.errors or r.stats.quarantined or r.stats.skipped
            for r in self.sources
        )
        # A delivery this run left undelivered makes it a failure too (cron sees the portal
        # down as well as a bad record): dead, refused for credentials, held by an open
        # circuit, failed and still waiting for a retry, or held by a sender that stopped
        # on a bug. A failed attempt that a retry of the same run made good is no failure.
        d = self.delivery
        if d is not None and (d.dead or d.auth_error or d.circuit_open or d.retrying or d.stopped):
            failed = True
        return 1 if failed else 0


def run_once(
    ctx: Context,
    *,
    sources: list[str] | None = None,
    columns: list[str] | None = None,
    full: bool = False,
    since: date | None = None,
    dry_run: bool = False,
    force: bool = False,
    deliver: bool = True,
    kind: str | None = None,
    deliver_for: float = 0.0,
) -> RunSummary:
    """One cycle over the chosen sources (all by default), then one drain of the outbox."""
    chosen = [ctx.settings.source(n) for n in sources] if sources else list(ctx.settings.sources)
    results = []
    delivering = deliver and not dry_run
    # Delivery overlaps discovery: what is recorded goes out while the crawl goes on.
    crawling = threading.Event()
    background: list[DeliveryStats] = []
    sender_thread = None
    if delivering:
        crawling.set()
        process = delivery_process(ctx, chosen, full=full)
        sender_thread = threading.Thread(
            target=lambda: background.append(_drain_beside(ctx, crawling, process=process)),
            name="deliver", daemon=True,
        )  # fmt: skip
        sender_thread.start()
    try:
        for scfg in chosen:
            if ctx.stop.is_set():
                break
            results.append(
                sync_source(
                    ctx,
                    scfg,
                    columns=columns,
                    full=full,
                    since=since,
                    dry_run=dry_run,
                    force=force,
                    kind=kind or ("resync" if full else "sync"),
                )
            )
    except BaseException:
        # Ctrl-C (KeyboardInterrupt) or a bug broke the cycle off: the sender finishes
        # the delivery in hand and leaves the rest queued, instead of draining it all.
        ctx.stop.set()
        raise
    finally:
        crawling.clear()
        if sender_thread is not None:
            sender_thread.join()
    delivery = background[0] if background else None
    if delivering and delivery is not None and deliver_for > 0 and not ctx.stop.is_set():
        later = drain(ctx, wait=deliver_for)  # retries and cooldowns that fall due
        delivery.merge(later)
        delivery.circuit_open = later.circuit_open  # a cooldown waited out holds nothing back
    if delivery is not None and delivery.failed:  # did the retries make good every failure?
        with ctx.db.read() as s:
            waiting = admin_queries.retrying_by_source(s, ctx.settings.target.name)
        delivery.retrying = sum(waiting.values())
    return RunSummary(results, delivery, dry_run=dry_run)


def delivery_process(ctx: Context, chosen: list[SourceConfig], *, full: bool) -> bool:
    """Whether this cycle delivers from a process of its own (``delivery.process``).

    ``"auto"`` (the default) says yes for a resync and for a source's first backfill (the
    store holds nothing of it yet), when the bridge may use more than one core:
    thousands of items then go out on a second core while the crawl keeps the first. A
    poll delivers from a thread, and so does a backfill broken off and taken up again
    (a column whose listing is unfinished is read again every cycle until it settles,
    also when robots.txt forbids it or an entry keeps failing: no telling a large job
    from those before the crawl). A source that robots.txt forbids entirely has nothing
    in the store and starts a process every cycle: half a second, and a warning says why.
    """
    wanted = ctx.settings.delivery.process
    if wanted != "auto":
        return bool(wanted)
    if usable_cores() <= 1:
        return False  # a second process would only take turns with this one
    if full:
        return True
    with ctx.db.read() as s:
        return any(not items.has_items(s, scfg.name) for scfg in chosen)


def _drain_beside(ctx: Context, crawling: threading.Event, *, process: bool) -> DeliveryStats:
    """The drain that overlaps the crawl: on a thread here, or in a process of its own
    (two cores instead of one; see bridge.delivery.process)."""
    try:
        if process:
            return drain_in_process(ctx, crawling)
        return drain(ctx, while_running=crawling)
    except Exception as exc:  # the store went away before a sender started: one line
        logs.internal_error(log, "delivery stopped", exc)
        return DeliveryStats(stopped=1)


class _Window:
    """Detail pages being fetched, handed back in listing order so that recording stays
    sequential and ordered. ``fetch.concurrency`` (+ ``SPARE_FETCH_THREADS``) threads
    fetch them; the host's gate lets at most ``fetch.concurrency`` requests be in flight.

    The window spans list pages: the last detail pages of one page are still being
    fetched while the next page's are queued, so a distant server always has as many
    requests in flight as it allows, not fewer at every page boundary. Results are taken
    only while more than ``size + WINDOW_AHEAD`` are queued: with just ``size`` queued,
    the fetch threads ran dry whenever they got ahead of the recording, until it came
    back for the next list page (measured with 50 ms responses: 1.3 s of 11 with fewer
    requests in flight than allowed, at every page boundary).

    Whether pages go to threads at all is the run's ``Pace``: on a server that answers at
    once, one at a time in this thread costs less CPU and is faster (see ``bridge.crawl.pace``).
    """

    def __init__(self, run: _SourceRun) -> None:
        self.run = run
        self.size = run.scfg.fetch.concurrency
        self.queued = self.size + WINDOW_AHEAD
        self.pending: deque[tuple[ListEntry, Future[RawItem | Gone | Exception]]] = deque()

    def add(
        self, entries: list[ListEntry]
    ) -> Iterator[tuple[ListEntry, RawItem | Gone | Exception]]:
        """Queue ``entries``; yields the oldest results while more than a window is queued."""
        pace = self.run.pace
        for entry in entries:
            if pace.threaded():
                self.pending.append((entry, self.run.pool().submit(self.run.fetch, entry)))
                while len(self.pending) > self.queued:
                    entry, future = self.pending.popleft()
                    yield entry, future.result()
                continue
            yield from self.rest()  # pages already on threads come first: listing order
            started = pace.started()
            fetched = self.run.fetch(entry)
            at = pace.started()
            yield entry, fetched
            pace.done(started, at)  # fetched, then handled: what one page costs

    def rest(self) -> Iterator[tuple[ListEntry, RawItem | Gone | Exception]]:
        while self.pending:
            entry, future = self.pending.popleft()
            yield entry, future.result()

    def cancel(self) -> None:
        while self.pending:
            self.pending.popleft()[1].cancel()


class _Listing:
    """A column's list pages. With ``ahead``, the next page is fetched on a thread of its
    own while the caller works on the one it has, starting with the first page as soon
    as the listing is made: a column's first page is then on its way while the last
    detail pages of the column before are still being fetched."""

    def __init__(self, pages: Iterator[ListPage], *, ahead: bool) -> None:
        self.pages = pages
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="listing") if ahead else None
        self.following = self.reader.submit(next, pages, None) if self.reader else None

    def __iter__(self) -> _Listing:
        return self

    def __next__(self) -> ListPage:
        if self.reader is None or self.following is None:
            return next(self.pages)
        page = self.following.result()  # the listing's own error, if it broke off
        if page is None:
            self.following = None
            raise StopIteration
        self.following = self.reader.submit(next, self.pages, None)
        return page

    def close(self) -> None:
        close = getattr(self.pages, "close", lambda: None)
        if self.reader is None:
            close()
            return
        if self.following is not None:
            self.following.cancel()
        self.reader.submit(close).result()  # after a fetch in progress, on its thread
        self.reader.shutdown()


class _SourceRun:
    """The state of one source's cycle; methods are its steps."""

    def __init__(
        self,
        ctx: Context,
        scfg: SourceConfig,
        source: Source,
        *,
        full: bool,
        since: date | None,
        dry_run: bool,
        force: bool,
    ) -> None:
        self.ctx, self.scfg, self.source = ctx, scfg, source
        self.full, self.since, self.dry_run, self.force = full, since, dry_run, force
        self.started = datetime.now(UTC)
        # A periodic complete listing (list pages only; detail pages of new, changed or
        # vanished entries) finds withdrawals and edits deep in a listing between resyncs.
        self.check_listing = False
        self.listing_incomplete = False
        self._pool: ThreadPoolExecutor | None = None
        self._primed: tuple[str, _Listing] | None = None  # the next column's, started early
        self.read_urls: set[str] = set()  # list pages taken by the column being read
        self.stats = SourceStats()
        self.plan: list[tuple[str, str, str]] = []
        self.run_id: int | None = None
        self.source_id = 0
        self.known: dict[str, items.KnownItem] = {}
        self.consecutive_errors = 0
        self.detail_alarms = 0
        # Normalized items not yet recorded: written together at the end of each batch of
        # fetched pages (see _flush), never held past it.
        self.unrecorded: list[tuple[ListEntry, RawItem, CatalogRecord, str]] = []
        self.unrecorded_bytes = 0
        self.profile = scfg.profile()
        self.mint = scfg.org_code if ctx.settings.target.index_no == "bridge" else None
        self.pace = Pace(scfg.name, threads_allowed=scfg.fetch.concurrency > 1)

    def column(self, column: str, upcoming: str | None = None) -> bool:
        """Read one column's listing, newest first, recording what is new or changed.
        Returns True when every entry it wanted was handled (nothing failed or was
        interrupted): only then may the pages' validators be kept for conditional GET.

        Incremental mode stops after the overlap pages once a page brings nothing new,
        but only on a column whose listing has been read to its end once. Until then (a
        first backfill, or one that a crash interrupted) every page is read, so the items
        beyond the point of a crash are never left behind.
        """
        seen: set[str] = set()
        cursor = f"listing_complete:{column}"
        backfilled, incremental = self._reading(column)
        exhausted = False  # read to the last page
        failures_before = self.stats.errors + self.stats.skipped
        # A complete read fetches the next list page while this one's detail pages are
        # fetched; a poll does not (it usually stops after the first page or two).
        pages = self._listing(column, conditional=incremental, ahead=not incremental)
        window = _Window(self)
        try:
            while not self.ctx.stop.is_set():
                try:
                    page = next(pages, None)
                except Exception:
                    # The listing broke off: what its earlier pages brought is still
                    # recorded before the column fails, as when pages were read in turn.
                    self._handle(window.rest())
                    raise
                if page is None:
                    exhausted = True
                    self._prime(upcoming)  # its first page comes while this one's last do
                    break
                self.read_urls.add(page.url)
                self.stats.pages += 1
                if page.not_modified:
                    self.stats.pages_not_modified += 1
                    if page.number + 1 >= self.scfg.overlap_pages:
                        break
                    continue
                if page.number == 0 and not page.entries and not self.force:
                    with self.ctx.db.read() as s:
                        active_before = items.count_items(s, self.source_id, column)
                    if active_before:
                        raise LayoutAlarm(
                            self.scfg.name,
                            column,
                            page.url,
                            "list entries",
                            f"the listing parsed to zero items where it had {active_before}",
                        )
                self.stats.entries += len(page.entries)
                self._look_up(page.entries)
                fresh = [e for e in page.entries if self._wanted(e)]
                self.ctx.report(
                    "list page", source=self.scfg.name, column=column, number=page.number,
                    page_count=page.page_count, entries=len(page.entries), wanted=len(fresh),
                    reads_all=not incremental,
                )  # fmt: skip
                self._handle(window.add(fresh))
                seen.update(e.article_id for e in page.entries)
                if incremental and page.number + 1 >= self.scfg.overlap_pages and not fresh:
                    break
                if self.full and self.since and self._all_older(page.entries):
                    break
            self._handle(window.rest())
        finally:
            window.cancel()
            pages.close()
        exhausted = exhausted and not self.ctx.stop.is_set()
        clean = self.stats.errors + self.stats.skipped == failures_before
        if exhausted and clean and not backfilled and not self.dry_run:
            # Items that failed are not known yet; until they succeed, each cycle reads the
            # whole listing again (list pages only) so that they are tried again.
            with self.ctx.db.write() as s:
                runs.set_cursor(s, self.scfg.name, cursor, True)
        if not exhausted:
            self.listing_incomplete = True
        if (self.full or self.check_listing) and exhausted:
            self.withdrawals(column, seen)
        return clean and not self.ctx.stop.is_set()

    def _reading(self, column: str) -> tuple[bool, bool]:
        """(read to its end once, incremental this time) for ``column``."""
        with self.ctx.db.read() as s:
            backfilled = bool(runs.get_cursor(s, self.scfg.name, f"listing_complete:{column}"))
        return backfilled, not self.full and not self.check_listing and backfilled

    def _prime(self, column: str | None) -> None:
        """Start reading the next column's listing now, when it is to be read completely
        (a poll reads a page or two, and conditionally: no head start needed)."""
        if column is None or self.ctx.stop.is_set() or self._reading(column)[1]:
            return
        self._primed = (column, self._listing(column, conditional=False, ahead=True))

    def _look_up(self, entries: tuple[ListEntry, ...]) -> None:
        """What the store knows of one list page's entries. Only the page's: a long
        backfill or listing keeps no growing map of every item it met."""
        ids = {f"{self.scfg.name}:{e.article_id}" for e in entries}
        with self.ctx.db.read() as s:
            self.known = items.known_by_external_id(s, ids)

    def _wanted(self, entry: ListEntry) -> bool:
        if self.full:
            if self.since and entry.list_date and not entry.pinned:
                try:
                    return parse_date(entry.list_date) >= self.since
                except DateError:
                    return True
            return True
        known = self.known.get(entry.article_id)
        return known is None or known.fingerprint != entry.fingerprint

    def _all_older(self, entries: tuple[ListEntry, ...]) -> bool:
        dated = [e for e in entries if e.list_date and not e.pinned]
        try:
            return bool(dated) and all(
                parse_date(e.list_date or "") < (self.since or date.min) for e in dated
            )
        except DateError:
            return False

    def _handle(self, results: Iterator[tuple[ListEntry, RawItem | Gone | Exception]]) -> None:
        try:
            for entry, fetched in results:
                if self.ctx.stop.is_set():
                    break
                self.entry(entry, fetched)
                self.ctx.report("item", source=self.scfg.name)  # read, whatever came of it
        finally:
            self._flush()  # what was judged good is recorded, whatever stops the page

    def _listing(self, column: str, *, conditional: bool, ahead: bool) -> _Listing:
        """The column's list pages; with ``ahead``, each next page is fetched on a
        thread of its own while the caller works on the one it has. A listing started
        ahead of time for this column (``_prime``) is taken when it fits."""
        primed, self._primed = self._primed, None
        if primed is not None:
            if primed[0] == column and ahead and not conditional:
                return primed[1]
            primed[1].close()
        pages = self.source.list_pages(column, conditional=conditional)
        return _Listing(pages, ahead=ahead and self.scfg.fetch.concurrency > 1)

    def fetch(self, entry: ListEntry) -> RawItem | Gone | Exception:
        """One detail page; what went wrong with it comes back as its exception, to be
        judged in listing order by ``entry``."""
        if self.ctx.stop.is_set():
            return Skippable("stopping")
        try:
            return self.source.fetch_item(entry)
        except Fatal:
            raise  # the whole source is refused: nothing more to try
        except Exception as exc:  # one page's trouble, judged by entry()
            return exc

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            threads = self.scfg.fetch.concurrency + SPARE_FETCH_THREADS
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fetch")
        return self._pool

    def close(self) -> None:
        if self._primed is not None:
            self._primed[1].close()
            self._primed = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def entry(self, entry: ListEntry, fetched: RawItem | Gone | Exception) -> None:
        """Judge one fetched page: record it, or count and log why not.

        - Retriable (no answer, 5xx): an error; several in a row mean the site is down;
        - a layout alarm on one detail page (no body, no title) is skipped like any bad
          page (a maintenance notice, a special page); several in a row without a good
          page between them are a redesign, and stop the source with the alarm;
        - Skippable (the server answered, but not with an article): skipped;
        - anything else is a bug in the bridge for this page: logged with its URL (the
          traceback at DEBUG) and counted as an error; the cycle goes on.
        """
        if isinstance(fetched, Retriable):
            self._error(entry, str(fetched))
            return
        if isinstance(fetched, LayoutAlarm):
            self.detail_alarms += 1
            if self.detail_alarms >= MAX_CONSECUTIVE_LAYOUT_MISSES:
                raise fetched
            self._skipped(entry, str(fetched))
            return
        if isinstance(fetched, Skippable):
            self._skipped(entry, str(fetched))
            return
        if isinstance(fetched, Exception):
            self._internal_error(entry, fetched)
            return
        raw = fetched
        self.consecutive_errors = 0
        if isinstance(raw, Gone):
            log.info(
                "%s: %s answered %d; it is listed but gone", self.scfg.name, entry.url, raw.status
            )
            self.stats.gone += 1
            return
        self.detail_alarms = 0
        self.stats.fetched += 1
        self.ctx.report("fetched", source=self.scfg.name, url=entry.url)
        if raw.replacement_chars:
            self.stats.replacement_chars += raw.replacement_chars
        self.record(entry, raw)

    def _skipped(self, entry: ListEntry, reason: str) -> None:
        self.stats.skipped += 1
        self.consecutive_errors = 0  # the server answered: it is not down
        log.warning("%s: skipped %s: %s", self.scfg.name, entry.url, reason)

    def _internal_error(self, entry: ListEntry, exc: Exception) -> None:
        self.stats.errors += 1
        logs.internal_error(log, "%s: internal error on %s", exc, self.scfg.name, entry.url)

    def _error(self, entry: ListEntry, message: str) -> None:
        self.stats.errors += 1
        self.consecutive_errors += 1
        log.warning("%s: %s", self.scfg.name, message)
        if self.consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
            raise SiteDown(f"{self.consecutive_errors} requests in a row failed; last: {message}")

    def record(self, entry: ListEntry, raw: RawItem) -> None:
        """Normalize an item and queue it for recording (``_flush``). Its attachments'
        temporary files go once it is recorded, or now when it goes no further."""
        try:
            judged = self._judge(entry, raw)
        except BaseException:
            raw.discard()
            raise
        if judged is None:
            raw.discard()
            return
        self.unrecorded.append((entry, raw, *judged))
        self.unrecorded_bytes += sum(a.size for a in raw.attachments)
        if len(self.unrecorded) >= RECORD_BATCH or self.unrecorded_bytes >= RECORD_BATCH_BYTES:
            self._flush()

    def _judge(self, entry: ListEntry, raw: RawItem) -> tuple[CatalogRecord, str] | None:
        """The normalized record and its content hash, to record; None when the item was
        quarantined, planned (a dry run), or broke normalization."""
        external_id = f"{self.scfg.name}:{raw.article_id}"
        try:
            record = normalize(raw, self.profile)
        except Exception as exc:  # normalization is pure code: a failure is this page's
            if not isinstance(exc, QuarantineError):
                self._internal_error(entry, exc)
                return None
            self.stats.quarantined += 1
            problems = [
                {"field": p.field, "rule": p.rule, "message": p.message} for p in exc.problems
            ]
            log.warning("%s", exc)
            if self.dry_run:
                # The page's own title, as canonical text (no terminal control sequence).
                self.plan.append(
                    ("quarantine", external_id, clean_text(raw.title or raw.list_title))
                )
                return None
            with self.ctx.db.write() as s:
                items.quarantine(
                    s,
                    source_id=self.source_id,
                    source_name=self.scfg.name,
                    external_id=external_id,
                    article_id=raw.article_id,
                    column=raw.column,
                    url=raw.url,
                    fingerprint=entry.fingerprint,
                    problems=problems,
                    actor=self.ctx.actor,
                    run_id=self.run_id,
                    title=clean_text(raw.title or raw.list_title) or None,
                )
            return None
        digest = content_hash(record.to_json())
        if self.dry_run:
            known = self.known.get(raw.article_id)
            if known is None:  # listed on an earlier page, still in the fetch window
                with self.ctx.db.read() as s:
                    known = items.known_by_external_id(s, [external_id]).get(raw.article_id)
            if known is None or known.content_hash is None:
                self.plan.append(("add", external_id, record.title))
                self.stats.new += 1
            elif known.content_hash != digest:
                self.plan.append(("update", external_id, record.title))
                self.stats.changed += 1
            else:
                self.stats.unchanged += 1
            return None
        return record, digest

    def _flush(self) -> None:
        """Record the normalized items in hand, with their deliveries and audit events, in
        one transaction: per item, the transaction's own cost (the lock, the commit, the
        audit chain's head) was as much as the item's rows."""
        batch, self.unrecorded, self.unrecorded_bytes = self.unrecorded, [], 0
        if not batch:
            return
        target = self.ctx.settings.target.name
        try:
            with self.ctx.db.write() as s:
                outcomes = recording.record_versions(
                    s,
                    source_id=self.source_id,
                    source_name=self.scfg.name,
                    recordings=[
                        recording.Recording(record, digest, entry.fingerprint, raw.attachments)
                        for entry, raw, record, digest in batch
                    ],
                    target=target,
                    actor=self.ctx.actor,
                    run_id=self.run_id,
                    mint_index_no_for=self.mint,
                )
                # Each detail page's validators, for its revalidation (bridge.crawl.revalidate)
                pages = {raw.url: (raw.etag, raw.last_modified) for _, raw, _, _ in batch}
                runs.remember_validators(s, {u: v for u, v in pages.items() if any(v)})
        finally:  # stored or not, the attachments' temporary files go
            for _, raw, _, _ in batch:
                raw.discard()
        for (entry, raw, record, digest), outcome in zip(batch, outcomes, strict=True):
            setattr(self.stats, outcome.action, getattr(self.stats, outcome.action) + 1)
            if outcome.action == "quarantined":  # its 索引号 is another item's
                log.warning(
                    "%s: quarantined %s: its 索引号 %s is another item's",
                    self.scfg.name,
                    raw.url,
                    record.index_no,
                )
                continue
            self.known[raw.article_id] = items.KnownItem(
                outcome.external_id, raw.article_id, raw.column, entry.fingerprint, "active", digest
            )
            if outcome.action != "unchanged":  # one line per item: 3,000 in a backfill
                log.debug(
                    "%s: %s %s %s",
                    self.scfg.name,
                    outcome.action,
                    outcome.external_id,
                    record.title,
                )

    def withdrawals(self, column: str, seen: set[str]) -> None:
        """Items missing from a complete listing whose detail page is gone."""
        with self.ctx.db.read() as s:
            in_store = items.known_items(s, self.source_id, column)
        missing = [
            k for k in in_store.values() if k.status == "active" and k.article_id not in seen
        ]
        if not missing:
            return
        gone: list[items.KnownItem] = []
        for k in missing:
            entry = ListEntry(
                column=column, url=self._item_url(k), article_id=k.article_id, list_title=""
            )
            try:
                result = self.source.fetch_item(entry)
            except (Retriable, Skippable) as exc:
                log.warning("%s: cannot check %s: %s", self.scfg.name, entry.url, exc)
                continue
            if isinstance(result, Gone):
                gone.append(k)
            else:
                result.discard()  # the page still answers: what it brought is not wanted
        self.stats.withdraw_candidates += len(gone)
        self.withdraw_gone(column, gone, in_store)

    def withdraw_gone(
        self,
        column: str,
        gone: list[items.KnownItem],
        in_store: dict[str, items.KnownItem] | None = None,
    ) -> None:
        """Withdraw items of ``column`` whose detail page is gone, under the share rule."""
        if not gone:
            return
        if in_store is None:
            with self.ctx.db.read() as s:
                in_store = items.known_items(s, self.source_id, column)
        if not self.scfg.withdrawals:
            log.warning(
                "%s: %d item(s) of column %s are gone from the site; withdrawals are "
                "disabled for this source, so the portal keeps them",
                self.scfg.name,
                len(gone),
                column,
            )
            return
        active = sum(1 for k in in_store.values() if k.status == "active")
        over = withdraw_rule.held(
            len(gone), active, self.scfg.max_withdraw_share, force=self.force
        )  # the rule reconcile --fix applies too
        if over is not None:
            raise SafetyAbort(
                f"{self.scfg.name}: {over.describe(column)}; nothing was withdrawn; "
                "run again with --force if the bureau really removed them"
            )
        titles: dict[str, str] = {}
        if self.dry_run:  # the title the portal shows: the item's last version's
            with self.ctx.db.read() as s:
                titles = admin_queries.titles(s, [k.external_id for k in gone])
        for k in gone:
            if self.dry_run:
                self.plan.append(("withdraw", k.external_id, titles.get(k.external_id, "")))
                self.stats.withdrawn += 1
                continue
            with self.ctx.db.write() as s:
                if (
                    items.withdraw(
                        s,
                        external_id=k.external_id,
                        source_name=self.scfg.name,
                        target=self.ctx.settings.target.name,
                        actor=self.ctx.actor,
                        run_id=self.run_id,
                        reason="gone from the site",
                    )
                    is not None
                ):
                    self.stats.withdrawn += 1

    def _item_url(self, k: items.KnownItem) -> str:
        with self.ctx.db.read() as s:
            row = items.get_item(s, k.external_id)
            return row.url if row else ""


def sync_source(
    ctx: Context,
    scfg: SourceConfig,
    *,
    columns: list[str] | None,
    full: bool,
    since: date | None,
    dry_run: bool,
    force: bool,
    kind: str,
) -> SourceResult:
    source = ctx.source_factory(scfg)
    run = _SourceRun(ctx, scfg, source, full=full, since=since, dry_run=dry_run, force=force)
    chosen = columns or source.columns()
    unknown = [c for c in chosen if c not in source.columns()]
    if unknown:
        source.close()
        return SourceResult(
            scfg.name, "failed", run.stats, f"unknown column(s) {', '.join(unknown)}"
        )
    status, message = "ok", None
    try:
        with ctx.db.write() as s:
            run.source_id = items.ensure_source(s, scfg.name, scfg.kind, scfg.base_url)
            if not dry_run:
                run.run_id = runs.start(
                    s,
                    kind=kind,
                    source=scfg.name,
                    actor=ctx.actor,
                    details={
                        "columns": chosen,
                        "full": full,
                        "since": since.isoformat() if since else None,
                    },
                )
        source.validators = runs.StoredValidators(ctx.db, scfg.base_url)
        with ctx.db.read() as s:
            has_items = items.has_items(s, scfg.name)
            last_listing = runs.get_cursor(s, scfg.name, "last_full_listing")
        if not full and columns is None:
            due = (
                last_listing is None
                or (datetime.now(UTC) - datetime.fromisoformat(last_listing)).total_seconds()
                >= scfg.full_listing_interval
            )
            run.check_listing = due and has_items
        for i, column in enumerate(chosen):
            if ctx.stop.is_set():
                break
            settled = False
            upcoming = chosen[i + 1] if i + 1 < len(chosen) else None
            try:
                settled = run.column(column, upcoming)
            except RobotsDisallowed as exc:  # the site asks us not to: a warning, not a failure
                run.stats.columns_skipped += 1
                log.warning("%s: column %s skipped: %s", scfg.name, column, exc)
            except SiteDown:
                raise
            except (Skippable, Retriable) as exc:  # this column's listing cannot be read now
                if isinstance(exc, Retriable):
                    run.stats.errors += 1
                    run.consecutive_errors += 1
                    if run.consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                        raise SiteDown(
                            f"{run.consecutive_errors} requests in a row failed; last: {exc}"
                        ) from None
                else:
                    run.stats.skipped += 1
                log.warning("%s: column %s skipped: %s", scfg.name, column, exc)
            # A page's validators are kept only once all its entries are recorded: a 304
            # next time must never hide an entry that a stop or a failure left behind.
            # Only the pages this column took: the next column's first page may be in
            # already (started early), and is kept for when its own entries are in.
            read = {u: v for u, v in list(source.new_validators.items()) if u in run.read_urls}
            for url in read:
                del source.new_validators[url]
            run.read_urls.clear()
            if settled and not dry_run and read:
                with ctx.db.write() as s:
                    runs.remember_validators(s, read)
        # Known detail pages, after the listings (never starved by them): corrections
        if not (full or dry_run or columns or since or ctx.stop.is_set()):
            revalidate.revalidate(run)
    except LayoutAlarm as exc:
        status, message = "alarm", str(exc)
        log.error("%s", exc)
        if not dry_run:
            with ctx.db.write() as s:
                audit_log.append(
                    s,
                    audit.LAYOUT_ALARM,
                    actor=ctx.actor,
                    source=scfg.name,
                    run_id=run.run_id,
                    details={
                        "column": exc.column,
                        "url": exc.url,
                        "selector": exc.selector,
                        "message": str(exc),
                    },
                )
    except SafetyAbort as exc:
        status, message = "failed", str(exc)
        log.error("%s", exc)
    except Retriable as exc:  # the message is the run's: every view puts the source first
        status, message = "failed", f"site unreachable: {exc}"
        log.error("%s: %s", scfg.name, message)
    except Fatal as exc:
        status, message = "failed", str(exc)
        log.error("%s: %s", scfg.name, message)
    finally:
        run.close()
        source.close()
    if status == "ok" and run.stats.errors:
        message = f"{run.stats.errors} item(s) could not be read"
    # Every column read to its end (a backfill, a resync, a periodic check) is a complete
    # listing; the next periodic check is due a full interval later.
    complete_listing = since is None and columns is None and not run.listing_incomplete
    if status == "ok" and complete_listing and not dry_run:
        with ctx.db.write() as s:
            runs.set_cursor(s, scfg.name, "last_full_listing", datetime.now(UTC).isoformat())
    if not dry_run and run.run_id is not None:
        with ctx.db.write() as s:
            runs.finish(
                s,
                run.run_id,
                status=status,
                stats=asdict(run.stats),
                message=message,
                actor=ctx.actor,
            )
    st = run.stats
    log.info(
        "%s: %s %s: %d list page(s), %d item(s) read: %d new, %d changed, %d unchanged, "
        "%d quarantined, %d withdrawn, %d skipped, %d error(s)",
        scfg.name, "planned" if dry_run else kind, status, st.pages, st.fetched, st.new,
        st.changed, st.unchanged, st.quarantined, st.withdrawn, st.skipped, st.errors,
    )  # fmt: skip  # the one line per run; each item's is at DEBUG
    ctx.report("source done", source=scfg.name, status=status, stats=asdict(run.stats))
    return SourceResult(scfg.name, status, run.stats, message, run.plan)
