"""What the outbox holds, as ``bridge status``, the notifier and the admin pages show it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.state.models import DeliveryRow, ItemRow, SourceRow


def counts(session: Session, target: str) -> dict[str, int]:
    rows = session.execute(
        select(DeliveryRow.status, func.count())
        .where(DeliveryRow.target == target)
        .group_by(DeliveryRow.status)
    ).all()
    return {status: int(n) for status, n in rows}


def counts_by_source(session: Session, target: str) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(SourceRow.name, DeliveryRow.status, func.count())
        .join(ItemRow, ItemRow.id == DeliveryRow.item_id)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(DeliveryRow.target == target)
        .group_by(SourceRow.name, DeliveryRow.status)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for source, status, n in rows:
        out.setdefault(source, {})[status] = int(n)
    return out


def dead_letters(
    session: Session, target: str, limit: int = 50
) -> list[tuple[str, str | None, int]]:
    rows = session.execute(
        select(ItemRow.external_id, DeliveryRow.last_error, DeliveryRow.id)
        .join(ItemRow, ItemRow.id == DeliveryRow.item_id)
        .where(DeliveryRow.status == "dead", DeliveryRow.target == target)
        .order_by(DeliveryRow.id)
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]
