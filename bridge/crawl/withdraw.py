"""Withdrawals: items gone from the site, and whether they may go from the portal.

An item missing from a column's complete listing is checked on its own detail page: only
a page that answers 404/410 (``Gone``) makes it a candidate; one that still answers, or
cannot be checked now, stays. Revalidation (``bridge.crawl.revalidate``) finds gone pages
too and hands them here. The candidates go under the share rule (``withdraw_rule``, which
``reconcile --fix`` applies as well) and the source's ``withdrawals`` switch, then to the
run's recorder as one ``Withdraw`` decision.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bridge.crawl import withdraw_rule
from bridge.crawl.decisions import Withdraw
from bridge.errors import Retriable, SafetyAbort, Skippable
from bridge.raw import Gone, ListEntry
from bridge.state import items

if TYPE_CHECKING:
    from bridge.crawl.reader import SourceRun

log = logging.getLogger("bridge.crawl.run")  # the crawl's one logger, as operators know it


def check_withdrawals(run: SourceRun, column: str, seen: set[str]) -> None:
    """Items missing from a complete listing (``seen``: the ids it showed) whose detail
    page is gone."""
    with run.ctx.db.read() as s:
        in_store = items.known_items(s, run.source_id, column)
    missing = [k for k in in_store.values() if k.status == "active" and k.article_id not in seen]
    if not missing:
        return
    gone: list[items.KnownItem] = []
    for k in missing:
        entry = ListEntry(
            column=column, url=_item_url(run, k), article_id=k.article_id, list_title=""
        )
        try:
            result = run.source.fetch_item(entry)
        except (Retriable, Skippable) as exc:
            log.warning("%s: cannot check %s: %s", run.scfg.name, entry.url, exc)
            continue
        if isinstance(result, Gone):
            gone.append(k)
        else:
            result.discard()  # the page still answers: what it brought is not wanted
    run.stats.withdraw_candidates += len(gone)
    withdraw_gone(run, column, gone, in_store)


def withdraw_gone(
    run: SourceRun,
    column: str,
    gone: list[items.KnownItem],
    in_store: dict[str, items.KnownItem] | None = None,
) -> None:
    """Withdraw items of ``column`` whose detail page is gone, under the share rule."""
    if not gone:
        return
    if in_store is None:
        with run.ctx.db.read() as s:
            in_store = items.known_items(s, run.source_id, column)
    if not run.scfg.withdrawals:
        log.warning(
            "%s: %d item(s) of column %s are gone from the site; withdrawals are "
            "disabled for this source, so the portal keeps them",
            run.scfg.name,
            len(gone),
            column,
        )
        return
    active = sum(1 for k in in_store.values() if k.status == "active")
    run.recorder.withdraw(Withdraw(column, gone, active))


def check_share(run: SourceRun, d: Withdraw) -> None:
    """Raise SafetyAbort when withdrawing ``d.gone`` of ``d.active`` items is too large a
    share (the rule ``reconcile --fix`` applies too), unless forced."""
    over = withdraw_rule.held(len(d.gone), d.active, run.scfg.max_withdraw_share, force=run.force)
    if over is not None:
        raise SafetyAbort(
            f"{run.scfg.name}: {over.describe(d.column)}; nothing was withdrawn; "
            "run again with --force if the bureau really removed them"
        )


def _item_url(run: SourceRun, k: items.KnownItem) -> str:
    with run.ctx.db.read() as s:
        row = items.get_item(s, k.external_id)
        return row.url if row else ""
