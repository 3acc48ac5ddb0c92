"""What the administrator's tools read and write: reconcile, the annual report, the admin
pages and the audit export.

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


# --- the annual report ------------------------------------------------------------------------


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


def version_numbers(session: Session, version_ids: Iterable[int]) -> dict[int, int]:
    ids = list(version_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(ItemVersionRow.id, ItemVersionRow.version).where(ItemVersionRow.id.in_(ids))
    ).all()
    return {i: v for i, v in rows}


def audit_page(
    session: Session, f: AuditFilter, *, before_id: int | None, limit: int
) -> tuple[list[AuditEvent], int, bool]:
    """One page of matching events, newest first, below ``before_id``; also the number of
    all matching events and whether older ones follow (keyset paging: stable while the
    trail grows)."""
    total = audit_log.count(session, f)
    q = audit_log._filtered(f)  # the CLI's filter, so both show the same events
    if before_id is not None:
        q = q.where(AuditEventRow.id < before_id)
    rows = list(session.execute(q.order_by(AuditEventRow.id.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    return [audit_log._to_event(r) for r in rows[:limit]], total, more


def event_names(session: Session) -> list[str]:
    """Every event name the trail holds (for the filter's choice list)."""
    rows = session.execute(select(AuditEventRow.event).distinct()).scalars()
    return sorted(set(rows) | set(audit.EVENTS))


# --- the audit export ----------------------------------------------------------------------------


def day_slice(session: Session, start: datetime, end: datetime) -> tuple[int, int] | None:
    """The first and last id of the events stamped in [start, end), or None.

    The export takes every row between the two ids, so it is one unbroken piece of the
    chain even if a clock step put a row's time slightly out of order.
    """
    first, last = session.execute(
        select(func.min(AuditEventRow.id), func.max(AuditEventRow.id)).where(
            AuditEventRow.ts >= start, AuditEventRow.ts < end
        )
    ).one()
    return None if first is None else (int(first), int(last))


def events_between(session: Session, first_id: int, last_id: int) -> list[AuditEvent]:
    rows = session.execute(
        select(AuditEventRow)
        .where(AuditEventRow.id >= first_id, AuditEventRow.id <= last_id)
        .order_by(AuditEventRow.id)
    ).scalars()
    return [audit_log._to_event(r) for r in rows]


def last_id_before(session: Session, moment: datetime) -> int:
    """The newest id stamped before ``moment`` (0 when none): where an empty day's slice
    would start."""
    found = session.execute(
        select(func.max(AuditEventRow.id)).where(AuditEventRow.ts < moment)
    ).scalar_one()
    return int(found or 0)
