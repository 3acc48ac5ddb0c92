"""What the administrator's tools read and write: reconcile's view of the store and its
repairs, one item's whole history for the admin page, the retry counts per source.

The annual report's reads are in :mod:`bridge.state.report_queries`, the audit trail's
pages and export slices in :mod:`bridge.state.audit_queries`.

Kept apart from ``items`` and ``outbox`` (the pipeline's hot path) because these queries
serve people, not the sync cycle: they read whole histories and write only repairs that
an operator asked for, each audited as ``reconcile.fix``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bridge import audit
from bridge.audit import AuditEvent
from bridge.state import audit_log, items
from bridge.state.audit_log import AuditFilter
from bridge.state.models import (
    AuditEventRow,
    DeliveryRow,
    ItemRow,
    ItemVersionRow,
    SourceRow,
    utcnow,
)

RECONCILE_FIX = "reconcile.fix"  # one repair an operator applied with `reconcile --fix --yes`
RECONCILE_FINISHED = "reconcile.finished"  # one comparison of site, state and portal
AUDIT_EXPORTED = "audit.exported"  # an auditor took a day's slice of the trail

CURSOR_SOURCE = "_bridge"  # cursors row of the bridge itself, not of a source
LAST_RECONCILE = "last_reconcile"

OPEN = ("pending", "inflight", "dead")


@dataclass(frozen=True)
class StateEntry:
    """One item as the state store knows it, for the three-way comparison."""

    external_id: str
    source: str
    article_id: str
    column: str
    url: str
    status: str  # active | withdrawn | quarantined
    content_hash: str | None
    version: int
    quarantine: str | None
    waiting: str | None  # the newest open delivery, e.g. "pending #12", "dead #9: 422 …"


def state_entries(session: Session, sources: Iterable[str]) -> dict[str, StateEntry]:
    """Every item of the given sources, keyed by external id (titles are read separately)."""
    names = list(sources)
    rows = session.execute(
        select(ItemRow, SourceRow.name)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(SourceRow.name.in_(names))
    ).all()
    waiting = _open_deliveries(session)
    out = {}
    for item, source in rows:
        out[item.external_id] = StateEntry(
            external_id=item.external_id,
            source=source,
            article_id=item.article_id,
            column=item.column,
            url=item.url,
            status=item.status,
            content_hash=item.content_hash,
            version=item.version,
            quarantine=item.quarantine,
            waiting=waiting.get(item.id),
        )
    return out


def _open_deliveries(session: Session) -> dict[int, str]:
    """The newest delivery per item that is not done yet, described in a few words."""
    rows = session.execute(
        select(DeliveryRow.item_id, DeliveryRow.id, DeliveryRow.status, DeliveryRow.last_error)
        .where(DeliveryRow.status.in_(OPEN))
        .order_by(DeliveryRow.id)
    ).all()
    out = {}
    for item_id, delivery_id, status, error in rows:
        text = f"{status} #{delivery_id}"
        out[item_id] = f"{text}: {error}" if status == "dead" and error else text
    return out


def latest_records(session: Session, external_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The newest stored record of each item (those without a version are left out)."""
    ids = list(external_ids)
    if not ids:
        return {}
    newest = (
        select(ItemVersionRow.item_id, func.max(ItemVersionRow.version).label("version"))
        .group_by(ItemVersionRow.item_id)
        .subquery()
    )
    rows = session.execute(
        select(ItemRow.external_id, ItemVersionRow.record)
        .join(newest, newest.c.item_id == ItemRow.id)
        .join(
            ItemVersionRow,
            (ItemVersionRow.item_id == ItemRow.id) & (ItemVersionRow.version == newest.c.version),
        )
        .where(ItemRow.external_id.in_(ids))
    ).all()
    return {external_id: json.loads(record) for external_id, record in rows}


def titles(session: Session, external_ids: Iterable[str]) -> dict[str, str]:
    return {k: str(v.get("title") or "") for k, v in latest_records(session, external_ids).items()}


def known_titles(session: Session, external_ids: Iterable[str]) -> dict[str, str]:
    """``titles``, and for items without a recorded version (quarantined before their first)
    the newest title their audit events carry."""
    ids = set(external_ids)
    found = {k: v for k, v in titles(session, ids).items() if v}
    missing = ids - set(found)
    if missing:
        rows = session.execute(
            select(AuditEventRow.item, AuditEventRow.details)
            .where(AuditEventRow.item.in_(missing))
            .order_by(AuditEventRow.id.desc())
        ).all()
        for item, details in rows:
            value = json.loads(details) if item not in found else None
            title = value.get("title") if isinstance(value, dict) else None
            if item is not None and isinstance(title, str) and title:
                found[item] = title
    return found


# --- repairs (reconcile --fix --yes) ---------------------------------------------------------


def requeue_current(
    session: Session, *, external_id: str, target: str, actor: str, reason: str, symbol: str
) -> int | None:
    """Queue the item's current version for the portal again; returns the delivery id.

    A waiting delivery of the same item is superseded (the portal gets the newest once).
    None when the item has no recorded version to send.
    """
    audit_log.lock_head(session)  # before any other row: see lock_head
    item = session.execute(
        select(ItemRow).where(ItemRow.external_id == external_id).with_for_update()
    ).scalar_one_or_none()
    if item is None or item.status != "active" or item.version == 0:
        return None
    version = session.execute(
        select(ItemVersionRow).where(
            ItemVersionRow.item_id == item.id, ItemVersionRow.version == item.version
        )
    ).scalar_one_or_none()
    if version is None:
        return None
    now = utcnow()
    _supersede(session, item.id, target, now)
    delivery = DeliveryRow(
        item_id=item.id, version_id=version.id, action="put", target=target, next_attempt_at=now
    )
    session.add(delivery)
    session.flush()
    _audit_fix(session, item, actor, "put", symbol, reason, delivery.id, item.version)
    return delivery.id


def withdraw_on_portal(
    session: Session,
    *,
    external_id: str,
    source_name: str,
    target: str,
    actor: str,
    reason: str,
    symbol: str,
) -> int:
    """Send a withdrawal for an item gone from the site but still active on the portal.

    An item of ours the state store does not know (a lost store, an old experiment) gets
    an item row first, marked withdrawn, so the DELETE goes through the outbox like every
    other delivery and a later sync that finds it on the site records it again.
    """
    audit_log.lock_head(session)  # before any other row: see lock_head
    item = session.execute(
        select(ItemRow).where(ItemRow.external_id == external_id).with_for_update()
    ).scalar_one_or_none()
    if item is not None and item.status != "withdrawn":
        delivery_id = items.withdraw(
            session,
            external_id=external_id,
            source_name=source_name,
            target=target,
            actor=actor,
            run_id=None,
            reason=reason,
        )
        assert delivery_id is not None
        _audit_fix(session, item, actor, "withdraw", symbol, reason, delivery_id, None)
        return delivery_id
    now = utcnow()
    if item is None:
        source_id = session.execute(
            select(SourceRow.id).where(SourceRow.name == source_name)
        ).scalar_one()
        item = ItemRow(
            source_id=source_id,
            external_id=external_id,
            article_id=external_id.split(":", 1)[1],
            column="",
            url="",
            status="withdrawn",
            version=0,
        )
        session.add(item)
        session.flush()
    _supersede(session, item.id, target, now)
    delivery = DeliveryRow(
        item_id=item.id, version_id=None, action="delete", target=target, next_attempt_at=now
    )
    session.add(delivery)
    session.flush()
    audit_log.append(
        session,
        audit.ITEM_WITHDRAWN,
        actor=actor,
        source=source_name,
        item=external_id,
        details={
            "reason": reason,
            "delivery_id": delivery.id,
            "title": items.latest_title(session, item.id),
        },
    )
    _audit_fix(session, item, actor, "withdraw", symbol, reason, delivery.id, None)
    return delivery.id


def _supersede(session: Session, item_id: int, target: str, now: datetime) -> None:
    session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.item_id == item_id,
            DeliveryRow.status == "pending",
            DeliveryRow.target == target,
        )
        .values(status="superseded", updated_at=now)
    )


def _audit_fix(
    session: Session,
    item: ItemRow,
    actor: str,
    action: str,
    symbol: str,
    reason: str,
    delivery_id: int,
    version: int | None,
) -> None:
    source = session.get(SourceRow, item.source_id)
    audit_log.append(
        session,
        RECONCILE_FIX,
        actor=actor,
        source=source.name if source else None,
        item=item.external_id,
        details={
            "action": action,
            "symbol": symbol,
            "reason": reason,
            "delivery_id": delivery_id,
            "version": version,
        },
    )


# --- the admin pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemHistory:
    item: ItemRow
    source: str
    versions: list[ItemVersionRow]
    deliveries: list[DeliveryRow]
    events: list[AuditEvent]


def item_history(session: Session, external_id: str) -> ItemHistory | None:
    """Everything the store holds about one item, oldest first."""
    item = items.get_item(session, external_id)
    if item is None:
        return None
    source = session.get(SourceRow, item.source_id)
    versions = list(
        session.execute(
            select(ItemVersionRow)
            .where(ItemVersionRow.item_id == item.id)
            .order_by(ItemVersionRow.version)
        ).scalars()
    )
    deliveries = list(
        session.execute(
            select(DeliveryRow).where(DeliveryRow.item_id == item.id).order_by(DeliveryRow.id)
        ).scalars()
    )
    events = audit_log.query(session, AuditFilter(item=external_id))
    return ItemHistory(item, source.name if source else "", versions, deliveries, events)


def retrying_by_source(session: Session, target: str) -> dict[str, int]:
    """Per source: deliveries still queued that failed at least once (being retried)."""
    rows = session.execute(
        select(SourceRow.name, func.count())
        .join(ItemRow, ItemRow.source_id == SourceRow.id)
        .join(DeliveryRow, DeliveryRow.item_id == ItemRow.id)
        .where(
            DeliveryRow.target == target,
            DeliveryRow.status.in_(("pending", "inflight")),
            DeliveryRow.attempts > 0,
        )
        .group_by(SourceRow.name)
    ).all()
    return {name: int(n) for name, n in rows}
