"""One cycle: discover → normalize → plan → record, then drain the outbox.

``run_once`` is what the scheduler, ``bridge sync --once`` and a manual resync all call,
with a ``RunOptions``. Per source, a ``SourceRun`` (``bridge.crawl.reader``) reads the
column listings and turns each fetched page into a decision; its recorder
(``bridge.crawl.recorder``) records each new version together with its pending delivery,
or, in a dry run, keeps the plan. The outbox drains beside the crawl.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from bridge import logs
from bridge.config import SourceConfig
from bridge.context import Context
from bridge.crawl import revalidate
from bridge.crawl.decisions import SourceStats
from bridge.crawl.listing import SPARE_FETCH_THREADS
from bridge.crawl.options import RunOptions
from bridge.crawl.reader import SiteDown, SourceRun
from bridge.delivery.drain import DeliveryStats, drain
from bridge.delivery.process import drain_in_process, usable_cores
from bridge.errors import Fatal, LayoutAlarm, Retriable, SafetyAbort, Skippable
from bridge.sources.fetch import RobotsDisallowed
from bridge.state import admin_queries, items, runs

__all__ = [
    "SPARE_FETCH_THREADS", "RunOptions", "RunSummary", "SiteDown", "SourceResult", "SourceRun",
    "SourceStats", "delivery_process", "run_once", "sync_source",
]  # fmt: skip

log = logging.getLogger(__name__)


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


def run_once(ctx: Context, options: RunOptions | None = None) -> RunSummary:
    """One cycle over the chosen sources (all by default), then one drain of the outbox."""
    opts = options or RunOptions()
    chosen = (
        [ctx.settings.source(n) for n in opts.sources]
        if opts.sources
        else list(ctx.settings.sources)
    )
    results = []
    # Delivery overlaps discovery: what is recorded goes out while the crawl goes on.
    crawling = threading.Event()
    background: list[DeliveryStats] = []
    sender_thread = None
    if opts.delivers:
        crawling.set()
        process = delivery_process(ctx, chosen, full=opts.full)
        sender_thread = threading.Thread(
            target=lambda: background.append(_drain_beside(ctx, crawling, process=process)),
            name="deliver", daemon=True,
        )  # fmt: skip
        sender_thread.start()
    try:
        for scfg in chosen:
            if ctx.stop.is_set():
                break
            results.append(sync_source(ctx, scfg, opts))
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
    if opts.delivers and delivery is not None and opts.deliver_for > 0 and not ctx.stop.is_set():
        later = drain(ctx, wait=opts.deliver_for)  # retries and cooldowns that fall due
        delivery.merge(later)
        delivery.circuit_open = later.circuit_open  # a cooldown waited out holds nothing back
    if delivery is not None and delivery.failed:  # did the retries make good every failure?
        with ctx.db.read() as s:
            waiting = admin_queries.retrying_by_source(s, ctx.settings.target.name)
        delivery.retrying = sum(waiting.values())
    return RunSummary(results, delivery, dry_run=opts.dry_run)


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


def sync_source(ctx: Context, scfg: SourceConfig, options: RunOptions) -> SourceResult:
    """One source's cycle: its columns read, its decisions recorded (or planned)."""
    source = ctx.source_factory(scfg)
    run = SourceRun(ctx, scfg, source, options)
    recorder, columns, since = run.recorder, options.columns, options.since
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
            recorder.start(
                s,
                options.run_kind,
                {
                    "columns": chosen,
                    "full": options.full,
                    "since": since.isoformat() if since else None,
                },
            )
        source.validators = runs.StoredValidators(ctx.db, scfg.base_url)
        with ctx.db.read() as s:
            has_items = items.has_items(s, scfg.name)
            last_listing = runs.get_cursor(s, scfg.name, "last_full_listing")
        if not options.full and columns is None:
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
                settled = run.read_column(column, upcoming)
            except RobotsDisallowed as exc:  # the site asks us not to: a warning, not a failure
                run.stats.columns_skipped += 1
                log.warning("%s: column %s skipped: %s", scfg.name, column, exc)
            except SiteDown:
                raise
            except (Skippable, Retriable) as exc:  # this column's listing cannot be read now
                if isinstance(exc, Retriable):
                    run.stats.errors += 1
                    run.site.failed(str(exc))
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
            if settled and read:
                recorder.keep_validators(read)
        # Known detail pages, after the listings (never starved by them): corrections
        if options.revalidates and not ctx.stop.is_set():
            revalidate.revalidate(run)
    except LayoutAlarm as exc:
        status, message = "alarm", str(exc)
        log.error("%s", exc)
        recorder.alarm(exc)
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
    if status == "ok" and complete_listing:
        recorder.complete_listing()
    recorder.finish(status, message)
    st = run.stats
    log.info(
        "%s: %s %s: %d list page(s), %d item(s) read: %d new, %d changed, %d unchanged, "
        "%d quarantined, %d withdrawn, %d skipped, %d error(s)",
        scfg.name, "planned" if options.dry_run else options.run_kind, status, st.pages, st.fetched, st.new,
        st.changed, st.unchanged, st.quarantined, st.withdrawn, st.skipped, st.errors,
    )  # fmt: skip  # the one line per run; each item's is at DEBUG
    ctx.report("source done", source=scfg.name, status=status, stats=asdict(run.stats))
    return SourceResult(scfg.name, status, run.stats, message, recorder.plan)
