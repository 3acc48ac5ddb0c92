"""Items, their versions, quarantine, withdrawals, and what the pipeline needs to plan.

Recording a new version and enqueueing its delivery happen in one transaction (the
outbox pattern): either both are stored or neither is.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import audit
from bridge.catalog import format_index_no
from bridge.state import audit_log
from bridge.state.driver_sql import DriverSelect
from bridge.state.models import (
    DeliveryRow,
    IndexSerialRow,
    ItemRow,
    ItemVersionRow,
    SourceRow,
    utcnow,
)
from bridge.state.sql import InsertIgnoring, new_id, table


def ensure_source(session: Session, name: str, kind: str, base_url: str) -> int:
    row = session.execute(select(SourceRow).where(SourceRow.name == name)).scalar_one_or_none()
    if row is None:
        try:
            with session.begin_nested():  # another worker may insert it at the same moment
                row = SourceRow(name=name, kind=kind, base_url=base_url)
                session.add(row)
                session.flush()
            return row.id
        except IntegrityError:
            row = session.execute(select(SourceRow).where(SourceRow.name == name)).scalar_one()
    if row.base_url != base_url or row.kind != kind:
        row.base_url, row.kind = base_url, kind
    return row.id


@dataclass(frozen=True)
class KnownItem:
    """What the pipeline needs to decide whether to fetch an entry again."""

    external_id: str
    article_id: str
    column: str
    fingerprint: str | None
    status: str
    content_hash: str | None


_ITEMS = table(ItemRow)
_KNOWN = (
    ItemRow.external_id,
    ItemRow.article_id,
    ItemRow.column,
    ItemRow.list_fingerprint,
    ItemRow.status,
    ItemRow.content_hash,
)


def known_items(
    session: Session, source_id: int, column: str | None = None
) -> dict[str, KnownItem]:
    """Items of a source (optionally one column), keyed by article id."""
    q = select(*_KNOWN).where(ItemRow.source_id == source_id)
    if column is not None:
        q = q.where(ItemRow.column == column)
    return {r.article_id: KnownItem(*r) for r in session.execute(q)}


_KNOWN_BY_EXTERNAL_ID = DriverSelect(
    select(*(_ITEMS.c[c.key] for c in _KNOWN)).where(
        _ITEMS.c.external_id.in_(bindparam("ids", expanding=True))
    ),
    "ids",
)


def known_by_external_id(conn: Connection, external_ids: Collection[str]) -> dict[str, KnownItem]:
    """The known items among ``external_ids`` (one list page's entries), keyed by article
    id: a poll looks up what it lists, so its cost does not grow with the history. On the
    driver's cursor (``Database.read_rows``): a list page's look-up through an ORM session
    cost as much again as the query."""
    known = [KnownItem(*r) for r in _KNOWN_BY_EXTERNAL_ID.rows(conn, list(external_ids))]
    return {k.article_id: k for k in known}


def has_items(session: Session, source: str) -> bool:
    """Whether the store holds any item of the source named ``source``."""
    q = (
        select(ItemRow.id)
        .join(SourceRow, ItemRow.source_id == SourceRow.id)
        .where(SourceRow.name == source)
        .limit(1)
    )
    return session.execute(q).first() is not None


def count_items(session: Session, source_id: int, column: str, status: str = "active") -> int:
    q = (
        select(func.count())
        .select_from(ItemRow)
        .where(ItemRow.source_id == source_id, ItemRow.column == column, ItemRow.status == status)
    )
    return int(session.execute(q).scalar_one())


def get_item(session: Session, external_id: str) -> ItemRow | None:
    return session.execute(
        select(ItemRow).where(ItemRow.external_id == external_id)
    ).scalar_one_or_none()


_DELIVERIES = table(DeliveryRow)
SUPERSEDE_WAITING = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.item_id == bindparam("b_item_id"),
        _DELIVERIES.c.status == "pending",
        _DELIVERIES.c.target == bindparam("b_target"),
    )
    .values(status="superseded", updated_at=bindparam("b_now"))
)
"""A delivery of the item still waiting gives way to a newer one: the portal gets the
newest state, never an older one after a newer (withdrawals and recording use it)."""
_INSERT_DELIVERY = insert(_DELIVERIES)


def _item_for_update(session: Session, external_id: str) -> ItemRow | None:
    q = select(ItemRow).where(ItemRow.external_id == external_id).with_for_update()
    return session.execute(q).scalar_one_or_none()


def _new_item(session: Session, source_id: int, record_like: dict[str, Any]) -> ItemRow | None:
    """Insert the item; None when another worker inserted it first (the caller locks theirs)."""
    row = ItemRow(
        source_id=source_id,
        external_id=record_like["external_id"],
        article_id=record_like["article_id"],
        column=record_like["column"],
        url=record_like["url"],
        status="active",
        version=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


_SERIALS = table(IndexSerialRow)
_BUMP_SERIAL = (
    update(_SERIALS)
    .where(_SERIALS.c.org_code == bindparam("b_org"), _SERIALS.c.year == bindparam("b_year"))
    .values(next_serial=_SERIALS.c.next_serial + 1)
    .returning(_SERIALS.c.next_serial)
)
_FIRST_SERIAL = InsertIgnoring(_SERIALS, "org_code", "year")
_INDEX_NO_HELD = select(_ITEMS.c.id).where(_ITEMS.c.index_no == bindparam("index_no"))


def allocate_index_no(session: Session, org_code: str, year: int) -> str:
    """The next 索引号 for (org code, year); atomic, never reused.

    The serial row is updated in the caller's write transaction: on SQLite the whole
    transaction holds the write lock (BEGIN IMMEDIATE); on PostgreSQL the UPDATE takes
    the row lock, so concurrent allocators queue instead of colliding. Prepared Core
    statements: a backfill mints for every page that shows no number of its own.
    """
    conn = session.connection()
    key = {"b_org": org_code, "b_year": year}
    while True:
        serial = conn.execute(_BUMP_SERIAL, key).scalar()
        if serial is None:
            # The year's first number: another process may race us, and its row stands.
            first = {"org_code": org_code, "year": year, "next_serial": 2}
            serial = (
                2 if _FIRST_SERIAL(conn, first) else conn.execute(_BUMP_SERIAL, key).scalar_one()
            )
        index_no = format_index_no(org_code, year, serial - 1)
        # A page may show a number of the same series (the site's CMS numbers too): that
        # one is the page's item's, so the allocator passes it by.
        if conn.execute(_INDEX_NO_HELD, {"index_no": index_no}).first() is None:
            return index_no


def _enqueue(
    session: Session, item_id: int, version_id: int | None, action: str, target: str
) -> int:
    """A pending delivery for the item (its id). One still waiting is superseded by it:
    the portal gets the newest state, never an older one after a newer."""
    now = utcnow()
    conn = session.connection()
    conn.execute(SUPERSEDE_WAITING, {"b_item_id": item_id, "b_target": target, "b_now": now})
    result = conn.execute(
        _INSERT_DELIVERY,
        {
            "item_id": item_id,
            "version_id": version_id,
            "action": action,
            "target": target,
            "status": "pending",
            "next_attempt_at": now,
        },
    )
    return new_id(result)


def touch_unchanged(session: Session, external_id: str, fingerprint: str) -> None:
    session.execute(
        update(ItemRow)
        .where(ItemRow.external_id == external_id)
        .values(list_fingerprint=fingerprint, last_seen=utcnow())
    )


def quarantine(
    session: Session,
    *,
    source_id: int,
    source_name: str,
    external_id: str,
    article_id: str,
    column: str,
    url: str,
    fingerprint: str,
    problems: list[dict[str, str]],
    actor: str,
    run_id: int | None,
    title: str | None = None,
) -> bool:
    """Hold an item back with its reasons; returns False when it was already held for the
    same reasons (no new audit event for a repeat)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    item = _item_for_update(session, external_id)
    if item is None:
        item = _new_item(
            session,
            source_id,
            {"external_id": external_id, "article_id": article_id, "column": column, "url": url},
        ) or _item_for_update(session, external_id)
        assert item is not None
        if item.version == 0:
            item.status = "quarantined"
    item.list_fingerprint = fingerprint
    item.last_seen = utcnow()
    reason = json.dumps({"url": url, "problems": problems}, ensure_ascii=False, sort_keys=True)
    if item.quarantine == reason:
        return False
    item.quarantine = reason
    audit_log.append(
        session,
        audit.RECORD_QUARANTINED,
        actor=actor,
        source=source_name,
        item=external_id,
        run_id=run_id,
        details={"url": url, "title": title, "problems": problems},
    )
    return True


def withdraw(
    session: Session,
    *,
    external_id: str,
    source_name: str,
    target: str,
    actor: str,
    run_id: int | None,
    reason: str,
) -> int | None:
    """Mark an item withdrawn and enqueue the portal DELETE; returns the delivery id."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    item = _item_for_update(session, external_id)
    if item is None or item.status == "withdrawn":
        return None
    item.status = "withdrawn"
    item.content_hash = None
    delivery_id = _enqueue(session, item.id, None, "delete", target)
    audit_log.append(
        session,
        audit.ITEM_WITHDRAWN,
        actor=actor,
        source=source_name,
        item=external_id,
        run_id=run_id,
        details={
            "reason": reason,
            "delivery_id": delivery_id,
            "title": latest_title(session, item.id),
        },
    )
    return delivery_id


def latest_record(session: Session, item_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(ItemVersionRow.record)
        .where(ItemVersionRow.item_id == item_id)
        .order_by(ItemVersionRow.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return json.loads(row) if row else None


def quarantined(session: Session, source_id: int | None = None) -> list[ItemRow]:
    q = select(ItemRow).where(ItemRow.quarantine.is_not(None)).order_by(ItemRow.id)
    if source_id is not None:
        q = q.where(ItemRow.source_id == source_id)
    return list(session.execute(q).scalars())


def last_seen_before(
    session: Session, source_id: int, column: str, before: datetime
) -> list[ItemRow]:
    q = select(ItemRow).where(
        ItemRow.source_id == source_id,
        ItemRow.column == column,
        ItemRow.status == "active",
        ItemRow.last_seen < before,
    )
    return list(session.execute(q).scalars())


def source_name(session: Session, source_id: int) -> str:
    row = session.get(SourceRow, source_id)
    return row.name if row is not None else ""


def latest_title(session: Session, item_id: int) -> str | None:
    """The title of an item's newest recorded version (for an audit entry that names it)."""
    text = session.execute(
        select(ItemVersionRow.record)
        .where(ItemVersionRow.item_id == item_id)
        .order_by(ItemVersionRow.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if text is None:
        return None
    try:
        title = json.loads(text).get("title")
    except (ValueError, AttributeError):
        return None
    return title if isinstance(title, str) else None
