"""Revalidation: known detail pages asked for again with conditional GET, so that a
correction (更正) appended to a published article reaches the portal although its
listing never changed.

The rule, per source and poll cycle (after the listings, so it never starves them):

- every active item published within ``revalidate_recent`` is checked, every cycle
  (but not one first read by this very cycle);
- of the other active items (the *old* ones), the cycle checks those checked longest
  ago: ``ceil(n_old × elapsed / revalidate_all)`` of them, where ``elapsed`` is the time
  since the source's previous revalidation (stored, so it holds across restarts and
  irregular cycles; none at a source's first, whose items were just read; at most
  ``revalidate_all``, so a bridge that was down longer than that goes through every old
  item in its first cycle back). Over any ``revalidate_all`` the shares add up to
  ``n_old``, so each old item is checked within that period, a little every cycle, never
  in one burst; items that age out of the recent ones were checked every cycle until
  then. An item never revalidated counts as checked when it was first fetched
  (``items.checked_at`` starts there), so a store upgraded to 0005 starts with its
  oldest items and no burst.

A 304 costs no parsing. A 200 is judged as any edit: the content hash decides (a new
version and a delivery, or nothing sent); pages without validators are read whole and
the hash decides. A page now gone (404/410) goes through ``withdraw_rule`` as a vanished
entry does. ``revalidate_recent = 0`` and ``revalidate_all = 0`` switch either part off.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bridge.crawl import withdraw
from bridge.errors import Fatal, SafetyAbort
from bridge.raw import Gone, ListEntry, RawItem
from bridge.sources.fetch import NotModified
from bridge.state import items, runs
from bridge.state import revalidation as store

if TYPE_CHECKING:
    from bridge.crawl.reader import SourceRun

log = logging.getLogger(__name__)

REVALIDATION_OUTCOMES = ("not_modified", "unchanged", "changed", "gone")
CURSOR = "revalidation"  # per source: the last cycle's figures (RevalidationCycle)


def old_share(n_old: int, elapsed: float, period: float) -> int:
    """How many old items one cycle checks: its share of ``period`` (see the module doc)."""
    if n_old <= 0 or period <= 0:
        return 0
    return math.ceil(n_old * min(max(elapsed, 0.0), period) / period)


def full_by(now: datetime, period: float, counts: store.OldCounts) -> datetime | None:
    """When every old item will have been checked within ``period``: now when none is
    stale, else the time the schedule takes to work through the stale ones (they are
    first in the queue), at ``n_old / period`` items a second."""
    if period <= 0 or counts.total == 0:
        return None
    if counts.stale == 0:
        return now
    return now + timedelta(seconds=period * counts.stale / counts.total)


@dataclass
class RevalidationCycle:
    """What one cycle's revalidation did (stored in the ``revalidation`` cursor; shown by
    ``bridge status``)."""

    at: str
    checked: int = 0
    recent: int = 0
    old: int = 0
    old_total: int = 0
    not_modified: int = 0
    unchanged: int = 0
    changed: int = 0
    gone: int = 0
    failed: int = 0
    full_by: str | None = None


def revalidate(run: SourceRun) -> RevalidationCycle | None:
    """Check the detail pages due this cycle (the module's rule) for one source."""
    fetch = run.scfg.fetch
    if fetch.revalidate_recent <= 0 and fetch.revalidate_all <= 0:
        return None
    now = datetime.now(UTC)
    recent_since = now - timedelta(seconds=fetch.revalidate_recent)
    with run.ctx.db.read() as s:
        last = runs.get_cursor(s, run.scfg.name, CURSOR)
        due_recent = (
            store.recent(s, run.source_id, recent_since, run.started)
            if fetch.revalidate_recent
            else []
        )
        old: list[store.Candidate] = []
        counts = store.OldCounts(0, 0, None)
        if fetch.revalidate_all > 0:
            stale_before = now - timedelta(seconds=fetch.revalidate_all)
            since = recent_since if fetch.revalidate_recent else None
            counts = store.old_counts(s, run.source_id, since, stale_before)
            elapsed = (
                (now - datetime.fromisoformat(last["at"])).total_seconds()
                if last and last.get("at")
                else 0.0  # the first revalidation of a source: its items were just read
            )
            share = old_share(counts.total, elapsed, fetch.revalidate_all)
            old = store.checked_longest_ago(s, run.source_id, since, share)
    cycle = RevalidationCycle(at=now.isoformat(), recent=len(due_recent), old=len(old))
    cycle.old_total = counts.total
    _check(run, due_recent + old, cycle)
    with run.ctx.db.read() as s:  # after the checks: what is left stale
        if fetch.revalidate_all > 0:
            since = recent_since if fetch.revalidate_recent else None
            after = store.old_counts(
                s, run.source_id, since, now - timedelta(seconds=fetch.revalidate_all)
            )
            done = full_by(now, fetch.revalidate_all, after)
            cycle.full_by = done.isoformat() if done else None
    with run.ctx.db.write() as s:
        runs.set_cursor(s, run.scfg.name, CURSOR, asdict(cycle))
    log.info(
        "%s: revalidated %d detail page(s) (%d recent, %d of %d old): %d not modified, "
        "%d unchanged, %d changed, %d gone, %d failed",
        run.scfg.name, cycle.checked, cycle.recent, cycle.old, cycle.old_total,
        cycle.not_modified, cycle.unchanged, cycle.changed, cycle.gone, cycle.failed,
    )  # fmt: skip
    return cycle


def _check(run: SourceRun, due: list[store.Candidate], cycle: RevalidationCycle) -> None:
    """Ask for each page; record what changed; stamp what was checked."""
    st = run.stats
    changed0, unchanged0 = st.changed, st.unchanged
    failed0 = st.errors + st.skipped + st.quarantined
    checked: list[str] = []
    fetched: dict[str, tuple[str, tuple[str | None, str | None]]] = {}  # article → url, validators
    gone: dict[str, list[items.KnownItem]] = {}
    run.known = {}  # filled by recording: the pages whose outcome is stored
    try:
        for c in due:
            if run.ctx.stop.is_set():
                break
            entry = _entry(c)
            etag, modified = run.source.validators.get(c.url, (None, None))
            try:
                result: RawItem | Gone | NotModified | Exception = run.source.revalidate_item(
                    entry, etag, modified
                )
            except Fatal:
                raise
            except Exception as exc:  # one page's trouble, judged as in a listing
                result = exc
            if isinstance(result, NotModified):
                run.site.answered()
                cycle.not_modified += 1
                checked.append(c.external_id)
                continue
            if isinstance(result, Gone):
                run.site.answered()
                cycle.gone += 1
                checked.append(c.external_id)
                gone.setdefault(c.column, []).append(
                    items.KnownItem(c.external_id, c.article_id, c.column, c.fingerprint,
                                    "active", None)
                )  # fmt: skip
                continue
            if isinstance(result, RawItem):
                fetched[c.article_id] = (c.url, (result.etag, result.last_modified))
                checked.append(c.external_id)
            run.handle_entry(entry, result)
    finally:
        run.recorder.flush()
        cycle.checked = len(checked)
        cycle.changed = st.changed - changed0
        cycle.unchanged = st.unchanged - unchanged0
        cycle.failed = st.errors + st.skipped + st.quarantined - failed0
        # Validators only of pages whose outcome is stored: a 304 must never hide a page
        # that failed to be recorded.
        kept = {url: v for a, (url, v) in fetched.items() if a in run.known}
        with run.ctx.db.write() as s:
            if kept:
                runs.remember_validators(s, kept)
            store.mark_checked(s, checked, datetime.now(UTC))
        st.revalidated += cycle.checked
        for outcome in REVALIDATION_OUTCOMES:
            setattr(st, f"revalidated_{outcome}", getattr(cycle, outcome))
    for column, known in gone.items():
        try:
            withdraw.withdraw_gone(run, column, known)
        except SafetyAbort as exc:  # held by the share rule: the portal keeps them
            log.warning("%s", exc)


def _entry(c: store.Candidate) -> ListEntry:
    """The item's list entry as last seen (its fingerprint is the list title and date), so
    that an unchanged page records exactly what the listing recorded."""
    title, _, listed = (c.fingerprint or "").partition("\x1f")
    return ListEntry(
        column=c.column, url=c.url, article_id=c.article_id, list_title=title,
        list_date=listed or None,
    )  # fmt: skip
