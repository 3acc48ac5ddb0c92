"""Reading a source's columns: list pages, detail pages, and a decision for each.

``SourceRun.read_column`` reads one column's listing newest first (an overlap of the
newest pages every time; further only while pages still bring something new), fetches
the detail pages of new or changed entries (``bridge.crawl.listing``), judges what came
back (``handle_entry``) and normalizes each page into a decision (``bridge.crawl.decisions``)
for the run's recorder (``bridge.crawl.recorder``). A complete listing also finds
withdrawals (``bridge.crawl.withdraw``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

from bridge import logs
from bridge.config import SourceConfig
from bridge.context import Context
from bridge.crawl import withdraw
from bridge.crawl.decisions import Quarantine, SourceStats, Version
from bridge.crawl.listing import SPARE_FETCH_THREADS, Fetched, Listing, Window
from bridge.crawl.options import RunOptions
from bridge.crawl.pace import Pace
from bridge.crawl.recorder import Planner, Recorder
from bridge.errors import Fatal, LayoutAlarm, Retriable, Skippable
from bridge.normalize import QuarantineError, normalize
from bridge.normalize.dates import DateError, parse_date
from bridge.normalize.hashing import content_hash
from bridge.raw import Gone, ListEntry, RawItem
from bridge.sources.base import Source
from bridge.state import items, runs

log = logging.getLogger("bridge.crawl.run")  # the crawl's one logger, as operators know it

MAX_CONSECUTIVE_ERRORS = 5  # a site failing this often in a row is down: stop hammering it
MAX_CONSECUTIVE_LAYOUT_MISSES = 3  # detail pages in a row without body or title: a redesign


class SiteDown(Retriable):
    """Too many requests in a row got no answer: stop the source, not just a column."""


class SiteWatch:
    """Whether the site is down: requests in a row (list or detail pages) that got no
    answer. Any answer, even a 404, says the server is there."""

    def __init__(self) -> None:
        self.failures = 0

    def answered(self) -> None:
        self.failures = 0

    def failed(self, message: str) -> None:
        """One more request without an answer; too many in a row raise ``SiteDown``."""
        self.failures += 1
        if self.failures >= MAX_CONSECUTIVE_ERRORS:
            raise SiteDown(f"{self.failures} requests in a row failed; last: {message}") from None


class SourceRun:
    """One source's cycle: reads its columns and turns each fetched page into a decision
    for ``recorder`` (a ``Recorder``, or a ``Planner`` in a dry run)."""

    def __init__(
        self, ctx: Context, scfg: SourceConfig, source: Source, options: RunOptions
    ) -> None:
        self.ctx, self.scfg, self.source = ctx, scfg, source
        self.full, self.since, self.force = options.full, options.since, options.force
        self.started = datetime.now(UTC)
        # A periodic complete listing (list pages only; detail pages of new, changed or
        # vanished entries) finds withdrawals and edits deep in a listing between resyncs.
        self.check_listing = False
        self.listing_incomplete = False
        self._pool: ThreadPoolExecutor | None = None
        self._primed: tuple[str, Listing] | None = None  # the next column's, started early
        self.read_urls: set[str] = set()  # list pages taken by the column being read
        self.stats = SourceStats()
        self.run_id: int | None = None
        self.source_id = 0
        self.known: dict[str, items.KnownItem] = {}
        self.site = SiteWatch()
        self.detail_alarms = 0
        self.profile = scfg.profile()
        self.pace = Pace(scfg.name, threads_allowed=scfg.fetch.concurrency > 1)
        self.recorder = (Planner if options.dry_run else Recorder)(self)

    def read_column(self, column: str, upcoming: str | None = None) -> bool:
        """Read one column's listing, newest first, recording what is new or changed.
        Returns True when every entry it wanted was handled (nothing failed or was
        interrupted): only then may the pages' validators be kept for conditional GET.

        Incremental mode stops after the overlap pages once a page brings nothing new,
        but only on a column whose listing has been read to its end once. Until then (a
        first backfill, or one that a crash interrupted) every page is read, so the items
        beyond the point of a crash are never left behind.
        """
        seen: set[str] = set()
        backfilled, incremental = self._reading(column)
        exhausted = False  # read to the last page
        failures_before = self.stats.errors + self.stats.skipped
        # A complete read fetches the next list page while this one's detail pages are
        # fetched; a poll does not (it usually stops after the first page or two).
        pages = self.listing(column, conditional=incremental, ahead=not incremental)
        window = Window(self.scfg.fetch.concurrency, self.pace, self.pool, self.fetch)
        try:
            while not self.ctx.stop.is_set():
                try:
                    page = next(pages, None)
                except Exception:
                    # The listing broke off: what its earlier pages brought is still
                    # recorded before the column fails, as when pages were read in turn.
                    self.handle(window.rest())
                    raise
                if page is None:
                    exhausted = True
                    self.prime(upcoming)  # its first page comes while this one's last do
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
                self.look_up(page.entries)
                fresh = [e for e in page.entries if self._wanted(e)]
                self.ctx.report(
                    "list page", source=self.scfg.name, column=column, number=page.number,
                    page_count=page.page_count, entries=len(page.entries), wanted=len(fresh),
                    reads_all=not incremental,
                )  # fmt: skip
                self.handle(window.add(fresh))
                seen.update(e.article_id for e in page.entries)
                if incremental and page.number + 1 >= self.scfg.overlap_pages and not fresh:
                    break
                if self.full and self.since and self._all_older(page.entries):
                    break
            self.handle(window.rest())
        finally:
            window.cancel()
            pages.close()
        exhausted = exhausted and not self.ctx.stop.is_set()
        clean = self.stats.errors + self.stats.skipped == failures_before
        if exhausted and clean and not backfilled:
            # Items that failed are not known yet; until they succeed, each cycle reads the
            # whole listing again (list pages only) so that they are tried again.
            self.recorder.complete_column(column)
        if not exhausted:
            self.listing_incomplete = True
        if (self.full or self.check_listing) and exhausted:
            withdraw.check_withdrawals(self, column, seen)
        return clean and not self.ctx.stop.is_set()

    def _reading(self, column: str) -> tuple[bool, bool]:
        """(read to its end once, incremental this time) for ``column``."""
        with self.ctx.db.read() as s:
            backfilled = bool(runs.get_cursor(s, self.scfg.name, f"listing_complete:{column}"))
        return backfilled, not self.full and not self.check_listing and backfilled

    def prime(self, column: str | None) -> None:
        """Start reading the next column's listing now, when it is to be read completely
        (a poll reads a page or two, and conditionally: no head start needed)."""
        if column is None or self.ctx.stop.is_set() or self._reading(column)[1]:
            return
        self._primed = (column, self.listing(column, conditional=False, ahead=True))

    def look_up(self, entries: tuple[ListEntry, ...]) -> None:
        """What the store knows of one list page's entries. Only the page's: a long
        backfill or listing keeps no growing map of every item it met."""
        ids = {f"{self.scfg.name}:{e.article_id}" for e in entries}
        with self.ctx.db.read_rows() as conn:
            self.known = items.known_by_external_id(conn, ids)

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

    def handle(self, results: Iterator[tuple[ListEntry, Fetched]]) -> None:
        try:
            for entry, fetched in results:
                if self.ctx.stop.is_set():
                    break
                self.handle_entry(entry, fetched)
                self.ctx.report("item", source=self.scfg.name)  # read, whatever came of it
        finally:
            self.recorder.flush()  # what was judged good is recorded, whatever stops the page

    def listing(self, column: str, *, conditional: bool, ahead: bool) -> Listing:
        """The column's list pages; with ``ahead``, each next page is fetched on a
        thread of its own while the caller works on the one it has. A listing started
        ahead of time for this column (``_prime``) is taken when it fits."""
        primed, self._primed = self._primed, None
        if primed is not None:
            if primed[0] == column and ahead and not conditional:
                return primed[1]
            primed[1].close()
        pages = self.source.list_pages(column, conditional=conditional)
        return Listing(pages, ahead=ahead and self.scfg.fetch.concurrency > 1)

    def fetch(self, entry: ListEntry) -> Fetched:
        """One detail page; what went wrong with it comes back as its exception, to be
        judged in listing order by ``handle_entry``."""
        if self.ctx.stop.is_set():
            return Skippable("stopping")
        try:
            return self.source.fetch_item(entry)
        except Fatal:
            raise  # the whole source is refused: nothing more to try
        except Exception as exc:  # one page's trouble, judged by handle_entry()
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

    def handle_entry(self, entry: ListEntry, fetched: Fetched) -> None:
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
        self.site.answered()
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
        self.site.answered()  # the server answered: it is not down
        log.warning("%s: skipped %s: %s", self.scfg.name, entry.url, reason)

    def _internal_error(self, entry: ListEntry, exc: Exception) -> None:
        self.stats.errors += 1
        logs.internal_error(log, "%s: internal error on %s", exc, self.scfg.name, entry.url)

    def _error(self, entry: ListEntry, message: str) -> None:
        self.stats.errors += 1
        log.warning("%s: %s", self.scfg.name, message)
        self.site.failed(message)

    def record(self, entry: ListEntry, raw: RawItem) -> None:
        """Normalize an item and hand the decision to the recorder. Its attachments'
        temporary files go once it is recorded, or now when it goes no further."""
        try:
            decision = self.judge(entry, raw)
            if isinstance(decision, Version):
                self.recorder.add_version(decision)  # it owns the files from here
                return
            if decision is not None:
                self.recorder.quarantine(decision)
        except BaseException:
            raw.discard()
            raise
        raw.discard()

    def judge(self, entry: ListEntry, raw: RawItem) -> Version | Quarantine | None:
        """What to do with a fetched page: its next version, or its quarantine; None when
        normalization broke (a bug: counted and logged as this page's error)."""
        try:
            record = normalize(raw, self.profile)
        except Exception as exc:  # normalization is pure code: a failure is this page's
            if not isinstance(exc, QuarantineError):
                self._internal_error(entry, exc)
                return None
            self.stats.quarantined += 1
            log.warning("%s", exc)
            return Quarantine(entry, raw, exc)
        return Version(entry, raw, record, content_hash(record.to_json()))
