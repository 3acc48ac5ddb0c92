"""Index-number claims: which recordings of a batch show a 索引号 that another item holds.

The store side of the crawl's recorder keeps one document per 索引号: ``recording`` asks
here before it writes, and quarantines each newcomer whose number is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bridge.state import items
from bridge.state.driver_sql import DriverSelect
from bridge.state.models import ItemRow
from bridge.state.sql import table

if TYPE_CHECKING:
    from bridge.state.recording import Recording

_ITEMS = table(ItemRow)
# on the driver's cursor (see driver_sql): each batch of a backfill runs them
_FILED = DriverSelect(
    select(_ITEMS.c.external_id, _ITEMS.c.index_no).where(
        _ITEMS.c.external_id.in_(bindparam("ids", expanding=True)), _ITEMS.c.index_no.is_not(None)
    ),
    "ids",
)
_HOLDERS = DriverSelect(
    select(_ITEMS.c.index_no, _ITEMS.c.external_id, _ITEMS.c.url).where(
        _ITEMS.c.index_no.in_(bindparam("numbers", expanding=True))
    ),
    "numbers",
)


def claimed_elsewhere(
    session: Session, recordings: Sequence[Recording]
) -> dict[int, tuple[str, str]]:
    """The recordings whose page shows a 索引号 another item holds (or claims earlier in
    this batch), by position: (that item's external id, its URL).

    A 索引号 is one document's legal identifier: two items claiming one cannot both be
    filed under it. The item that holds it keeps it; the newcomer is quarantined with
    both URLs until the site is fixed. An item that was filed under a number already
    keeps that one, whatever its page shows later, so it claims nothing.
    """
    wanted = {r.record.index_no for r in recordings if r.record.index_no}
    if not wanted:
        return {}
    ids = [r.record.external_id for r in recordings]
    conn = session.connection()
    filed = dict(_FILED.rows(conn, ids))
    holders = {index_no: (xid, url) for index_no, xid, url in _HOLDERS.rows(conn, sorted(wanted))}
    out: dict[int, tuple[str, str]] = {}
    for i, rec in enumerate(recordings):
        xid, index_no = rec.record.external_id, rec.record.index_no
        if not index_no or xid in filed:
            continue
        holder = holders.get(index_no)
        if holder is None:
            holders[index_no] = (xid, rec.record.source.url)  # first in the batch: it holds
        elif holder[0] != xid:
            out[i] = holder
    return out


def quarantine_claim(
    session: Session,
    source_id: int,
    source_name: str,
    rec: Recording,
    holder: str,
    holder_url: str,
    actor: str,
    run_id: int | None,
) -> None:
    record = rec.record
    message = (
        f"索引号 {record.index_no} is shown by {record.source.url} and by {holder_url} "
        f"(item {holder}, which holds it): one 索引号 names one document, so the site must "
        "correct one of the two pages"
    )
    items.quarantine(
        session,
        source_id=source_id,
        source_name=source_name,
        external_id=record.external_id,
        article_id=record.source.article_id,
        column=record.source.column,
        url=record.source.url,
        fingerprint=rec.fingerprint,
        problems=[{"field": "index_no", "rule": "index_no.duplicate", "message": message}],
        title=record.title,
        actor=actor,
        run_id=run_id,
    )
