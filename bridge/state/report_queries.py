"""What the annual report reads from the state store: every item with a recorded version,
its newest record and the history of its 有效性, and when the bridge first read each column.

Apart from :mod:`bridge.state.admin_queries` (reconcile's reads and repairs) because the
report and the live timeliness figures read whole histories for statistics, not to repair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.state.models import ItemRow, ItemVersionRow, SourceRow


@dataclass(frozen=True)
class ReportItem:
    """An item with a recorded version: what the annual statistics count."""

    external_id: str
    source: str
    status: str
    published_at: datetime | None
    first_confirmed_at: datetime | None
    record: dict[str, Any]
    validity_changes: tuple[tuple[datetime, str], ...]  # (version recorded at, validity)
    column: str = ""
    column_first_read: datetime | None = None
    """When the bridge first read the item's column: the earliest ``first_seen`` of any
    item of that source and column (quarantined ones too). Items published before that
    day are the baseline (存量) of :mod:`bridge.admin.report.timeliness`."""


def column_first_reads(session: Session) -> dict[tuple[int, str], datetime]:
    """(source id, column) → the earliest ``items.first_seen`` there: when the bridge first
    read that column. The store keeps no other record of it (a run is per source, a cursor
    is overwritten), and an item row is never deleted, so this moment never moves."""
    rows = session.execute(
        select(ItemRow.source_id, ItemRow.column, func.min(ItemRow.first_seen)).group_by(
            ItemRow.source_id, ItemRow.column
        )
    ).all()
    return {(sid, col): first for sid, col, first in rows if first is not None}


def report_items(session: Session, source: str | None = None) -> list[ReportItem]:
    """Every item that has at least one version, with its newest record and the history
    of its 有效性 (for the 废止 column of the official table)."""
    q = (
        select(ItemRow, SourceRow.name)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(ItemRow.version > 0)
        .order_by(ItemRow.id)
    )
    if source is not None:
        q = q.where(SourceRow.name == source)
    found = session.execute(q).all()
    first_read = column_first_reads(session)
    history: dict[int, list[tuple[datetime, str, dict[str, Any]]]] = {}
    ids = [item.id for item, _ in found]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = session.execute(
            select(ItemVersionRow.item_id, ItemVersionRow.created_at, ItemVersionRow.record)
            .where(ItemVersionRow.item_id.in_(chunk))
            .order_by(ItemVersionRow.item_id, ItemVersionRow.version)
        ).all()
        for item_id, created_at, text in rows:
            record = json.loads(text)
            history.setdefault(item_id, []).append(
                (created_at, str(record.get("validity") or ""), record)
            )
    out = []
    for item, name in found:
        versions = history.get(item.id)
        if not versions:
            continue
        out.append(
            ReportItem(
                external_id=item.external_id,
                source=name,
                status=item.status,
                published_at=item.published_at,
                first_confirmed_at=item.first_confirmed_at,
                record={k: v for k, v in versions[-1][2].items() if k != "body_html"},
                validity_changes=tuple((at, validity) for at, validity, _ in versions),
                column=item.column,
                column_first_read=first_read.get((item.source_id, item.column)),
            )
        )
    return out
