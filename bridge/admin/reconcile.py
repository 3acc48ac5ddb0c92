"""Reconciliation: the bureau site, the state store and the portal, compared item by item.

Terminology, after ``rclone check --combined``:

- ``=`` the same on both sides (the portal's content hash equals the state's);
- ``+`` on the site only: listed on the site, missing (or withdrawn) on the portal;
- ``-`` on the portal only: active on the portal, gone from the site's complete listing
  (should be withdrawn), or *foreign*: an id no configured source would make;
- ``*`` on both, different content (state hash ≠ portal hash);
- ``!`` cannot be decided: a listing failed, the item is quarantined, the store lost it.

The site side is the complete listing of every column (list pages only); a detail page is
read only to confirm that an item missing from the listing is really gone before a
withdrawal is planned. The portal side is its list API (ids, hashes, status). Content is
compared by hash: the state store and the portal hash records with the same function.

Decide first, then act: ``compare`` changes nothing (the rules that judge each item are in
:mod:`bridge.admin.reconcile_rules`); ``plan`` turns differences into fixes
(re-send the current version, send a withdrawal); ``apply`` writes them to the outbox
through the state package, each audited, and drains it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge.admin.reconcile_rules import Line, Report, classify
from bridge.config import SourceConfig
from bridge.context import Context
from bridge.crawl import withdraw_rule
from bridge.delivery.drain import DeliveryStats, drain
from bridge.errors import BridgeError, Retriable, Skippable
from bridge.net.scope import Scope
from bridge.raw import Gone, ListEntry
from bridge.sources.base import Source
from bridge.state import admin_queries, audit_log, runs
from bridge.state.admin_queries import StateEntry

log = logging.getLogger(__name__)


@dataclass
class _Site:
    """One source's complete listing: entries by external id, and which columns were read
    to the end (an item is only "missing" when its column's listing is complete)."""

    scfg: SourceConfig
    source: Source
    entries: dict[str, ListEntry] = field(default_factory=dict)
    complete: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def _read_site(scfg: SourceConfig, source: Source) -> _Site:
    site = _Site(scfg, source)
    for column in source.columns():
        n = 0
        try:
            for page in source.list_pages(column, conditional=False):
                n += len(page.entries)
                for entry in page.entries:
                    site.entries.setdefault(f"{scfg.name}:{entry.article_id}", entry)
        except BridgeError as exc:
            site.problems[column] = str(exc)
            log.warning("%s: listing of column %s failed: %s", scfg.name, column, exc)
            continue
        site.counts[column] = n
        site.complete.add(column)
    return site


def compare(ctx: Context, sources: list[str] | None = None, *, force: bool = False) -> Report:
    """Read the three sides and classify every item; changes nothing.

    ``force`` lets planned withdrawals exceed a source's ``max_withdraw_share``.
    """
    settings = ctx.settings
    chosen = [settings.source(n) for n in sources] if sources else list(settings.sources)
    names = [s.name for s in chosen]
    report = Report(datetime.now(UTC).isoformat(timespec="seconds"), ctx.actor, names)
    try:
        portal = {e.external_id: e for e in ctx.target.listing()}
    except BridgeError as exc:
        report.lines.append(
            Line("!", "portal", None, None, "", "unknown", "absent", "unknown", note=str(exc))
        )
        return report
    with ctx.db.read() as s:
        state = admin_queries.state_entries(s, names)
    sites: dict[str, _Site] = {}
    try:
        for scfg in chosen:
            sites[scfg.name] = _read_site(scfg, ctx.source_factory(scfg))
        prefixes = {f"{s.name}:" for s in settings.sources}
        ids = set(state) | {i for site in sites.values() for i in site.entries}
        for external_id in portal:
            if external_id.startswith(tuple(f"{n}:" for n in names)) or (
                not sources and not external_id.startswith(tuple(prefixes))
            ):
                ids.add(external_id)
        for site in sites.values():
            report.lines.extend(_column_errors(site, state))
        for external_id in sorted(ids):
            entry = state.get(external_id)
            ours = ":" in external_id and external_id.split(":", 1)[0] in sites
            on_site = _site_side(external_id, sites, entry) if ours else "missing"
            line = classify(external_id, ours=ours, on_site=on_site, entry=entry,
                            listed=portal.get(external_id))  # fmt: skip
            if line is not None:
                report.lines.append(line)
        _check_withdrawals(ctx, report, sites, state, force)
    finally:
        for site in sites.values():
            site.source.close()
    _fill_titles(ctx, report, sites)
    return report


def _column_errors(site: _Site, state: dict[str, StateEntry]) -> Iterator[Line]:
    """A ``!`` line per column whose listing failed or suddenly parsed empty (a layout
    alarm): nothing in such a column is judged missing from the site."""
    name = site.scfg.name

    def line(column: str, note: str) -> Line:
        return Line("!", f"{name}/{column}", name, column, "", "unknown", "-", "-", note=note)

    for column, problem in site.problems.items():
        yield line(column, problem)
    for column, n in site.counts.items():
        known = sum(e.source == name and e.column == column and e.status == "active"
                    for e in state.values())  # fmt: skip
        if n == 0 and known:
            site.complete.discard(column)
            yield line(column, f"layout alarm: the listing parsed to zero items where the "
                               f"state store has {known} active")  # fmt: skip


def _site_side(external_id: str, sites: dict[str, _Site], entry: StateEntry | None) -> str:
    name = external_id.split(":", 1)[0]
    site = sites.get(name)
    if site is None:
        return "unknown"
    if external_id in site.entries:
        return "listed"
    if entry is not None and entry.column:
        return "missing" if entry.column in site.complete else "unknown"
    return "missing" if site.complete == set(site.source.columns()) else "unknown"


def _check_withdrawals(
    ctx: Context,
    report: Report,
    sites: dict[str, _Site],
    state: dict[str, StateEntry],
    force: bool,
) -> None:
    """Confirm each planned withdrawal on the site (detail page gone), honour the source's
    ``withdrawals`` switch and its ``max_withdraw_share`` safety valve."""
    per_column: dict[tuple[str, str], list[Line]] = {}
    for line in report.lines:
        if line.fix != "withdraw" or line.source is None:
            continue
        site = sites[line.source]
        if not site.scfg.withdrawals:
            line.fix = None
            line.note += f"; withdrawals are disabled for source {line.source} (withdrawals = true)"
            continue
        url = line.url or _portal_url(ctx, line.external_id)
        if url and not _on_site(url, site.scfg):
            line.note += "; its page is not on this site"
        elif url:
            entry = ListEntry(line.column or "", url, line.external_id.split(":", 1)[1], "")
            try:
                found = site.source.fetch_item(entry)
            except (Retriable, Skippable) as exc:
                line.symbol, line.fix = "!", None
                line.note = f"not listed on the site, and its page cannot be checked: {exc}"
                continue
            if not isinstance(found, Gone):
                found.discard()  # its attachments' temporary files: only the answer counts
                line.fix = None
                line.note = "not listed on the site, but its page still answers: left alone"
                continue
            line.note += f"; its page answers {found.status}"
        per_column.setdefault((line.source, line.column or ""), []).append(line)
    for (source, column), lines in per_column.items():
        if not column:
            continue
        active = sum(
            1
            for e in state.values()
            if e.source == source and e.column == column and e.status == "active"
        )
        limit = sites[source].scfg.max_withdraw_share
        over = withdraw_rule.held(len(lines), active, limit, force=force)  # as a resync does
        if over is not None:
            for line in lines:
                line.fix = "held"
                line.note += f"; held: {over.describe(column)}; --force sends them"


def _on_site(url: str, scfg: SourceConfig) -> bool:
    return Scope(scfg.base_url, scfg.allowed_hosts).admits(url)


def _portal_url(ctx: Context, external_id: str) -> str | None:
    """The source URL the portal holds for an item the state store does not know."""
    try:
        record = ctx.target.get(external_id)
    except BridgeError:
        return None
    source = (record or {}).get("source") or {}
    return source.get("url") if isinstance(source, dict) else None


def _fill_titles(ctx: Context, report: Report, sites: dict[str, _Site]) -> None:
    """Titles for the lines shown: the state's record, else the list text, else the
    portal's record (only for the few portal-only items)."""
    with ctx.db.read() as s:
        known = admin_queries.titles(s, [line.external_id for line in report.differences])
    for line in report.lines:
        if line.title:
            continue
        if line.external_id in known:
            line.title = known[line.external_id]
            continue
        site = sites.get(line.source or "")
        entry = site.entries.get(line.external_id) if site else None
        if entry is not None:
            line.title = entry.list_title
        elif line.symbol == "-":
            try:
                record = ctx.target.get(line.external_id)
            except BridgeError:
                record = None
            line.title = str((record or {}).get("title") or "")


def apply(ctx: Context, report: Report) -> DeliveryStats:
    """Write every planned fix to the outbox (one audited transaction each), then drain."""
    target = ctx.settings.target.name
    done: dict[str, list[str]] = {"put": [], "withdraw": [], "skipped": []}
    for line in report.plan():
        if line.fix == "drain":
            continue
        with ctx.db.write() as s:
            if line.fix == "put":
                delivery = admin_queries.requeue_current(
                    s,
                    external_id=line.external_id,
                    target=target,
                    actor=ctx.actor,
                    reason=line.note,
                    symbol=line.symbol,
                )
            else:
                assert line.source is not None
                delivery = admin_queries.withdraw_on_portal(
                    s,
                    external_id=line.external_id,
                    source_name=line.source,
                    target=target,
                    actor=ctx.actor,
                    reason=line.note,
                    symbol=line.symbol,
                )
        done[line.fix if delivery and line.fix else "skipped"].append(line.external_id)
    stats = drain(ctx)
    report.applied = {**done, "delivery": stats.counts()}
    return stats


def remember(ctx: Context, report: Report, *, fix: bool) -> None:
    """Keep the result for the admin page and audit the comparison itself."""
    data = report.as_json(with_same=False)
    with ctx.db.write() as s:
        runs.set_cursor(s, admin_queries.CURSOR_SOURCE, admin_queries.LAST_RECONCILE, data)
        audit_log.append(
            s,
            admin_queries.RECONCILE_FINISHED,
            actor=ctx.actor,
            details={
                "sources": report.sources,
                "counts": report.counts(),
                "fix": fix,
                "applied": {
                    k: len(v) for k, v in (report.applied or {}).items() if k != "delivery"
                },
            },
        )
