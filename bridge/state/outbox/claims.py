"""Taking deliveries under a lease: claim (a sender's batch with its "sent" events),
renew, give back.

A lease names its holder (``bridge.owner``: ``host:pid/n``): completing or renewing a
delivery requires still holding it, and a restart hands back at once what a dead process
of this host held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from bridge import audit
from bridge.owner import Owner
from bridge.state import audit_log, items
from bridge.state.driver_sql import DriverSelect
from bridge.state.models import DeliveryRow, ItemRow, ItemVersionRow, SourceRow, UTCDateTime, utcnow
from bridge.state.sql import table


@dataclass(frozen=True)
class Claimed:
    """A delivery taken under lease, with everything needed to send it."""

    id: int
    item_id: int
    external_id: str
    source: str
    action: str
    attempts: int
    version: int | None
    record: dict[str, Any] | None
    index_no: str | None
    stored: str | None = None  # the record's text as stored: canonical JSON


def claim(
    session: Session,
    *,
    target: str,
    owner: str,
    lease_seconds: float,
    limit: int,
    now: datetime | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` due deliveries under a lease (in the caller's write transaction)."""
    now = now or utcnow()
    q = _DUE_LOCKED if session.get_bind().dialect.name == "postgresql" else _DUE
    conn = session.connection()
    ids = list(conn.execute(q, {"b_target": target, "b_now": now, "b_limit": limit}).scalars())
    if not ids:
        return []
    until = now + timedelta(seconds=lease_seconds)
    conn.execute(_LEASE, {"b_ids": ids, "b_owner": owner, "b_until": until})
    return [
        Claimed(id_, item_id, external_id, source, action, attempts, version,
                None if record is None else json.loads(record), index_no, record)
        for id_, item_id, action, attempts, external_id, index_no, source, version, record
        in _CLAIMED.rows(conn, ids)
    ]  # fmt: skip


def claim_to_send(
    session: Session,
    *,
    target: str,
    owner: str,
    lease_seconds: float,
    limit: int,
    actor: str,
    announce: bool = True,
) -> list[Claimed]:
    """``claim``, and the batch's ``delivery.sent`` rows in the same transaction (one
    append), unless ``announce`` is False (a probe's row waits for its answer).

    The sender then sends the batch in turn and stores the answers together: a crash in
    between repeats at most this batch's idempotent requests. The chain head is locked
    before any delivery row (see ``audit_log.lock_head``), but only once there is work:
    a sender that finds none, several times a second while a crawl records, does not
    wait for the recorder's hold on the head."""
    if session.get_bind().dialect.name == "postgresql":
        due = {"b_target": target, "b_now": utcnow(), "b_limit": 1}
        if session.connection().execute(_DUE, due).first() is None:
            return []
        audit_log.lock_head(session)
    batch = claim(session, target=target, owner=owner, lease_seconds=lease_seconds, limit=limit)
    if batch and announce:
        audit_log.lock_head(session)  # SQLite has no row locks: the order is PostgreSQL's
        append_delivery_events(
            session, [(audit.DELIVERY_SENT, c, sent_details(c, target)) for c in batch],
            actor=actor,
        )  # fmt: skip
    return batch


def renew_held(
    session: Session, batch: list[Claimed], *, owner: str, lease_seconds: float
) -> list[Claimed]:
    """Renew the leases of the deliveries of ``batch`` this sender still holds; returns
    those (another sender may have taken the others once their lease ran out)."""
    if not batch:
        return []
    conn = session.connection()
    ids = [c.id for c in batch]
    until = utcnow() + timedelta(seconds=lease_seconds)
    conn.execute(_RENEW_MANY, {"b_ids": ids, "b_owner": owner, "b_until": until})
    held = set(conn.execute(_HELD_OF, {"b_ids": ids, "b_owner": owner}).scalars())
    return [c for c in batch if c.id in held]


def next_due(session: Session, target: str) -> datetime | None:
    """When the next pending delivery becomes due (for a drain that waits for retries)."""
    return session.execute(
        select(func.min(DeliveryRow.next_attempt_at)).where(
            DeliveryRow.target == target, DeliveryRow.status == "pending"
        )
    ).scalar_one_or_none()


def owned(session: Session, delivery_id: int, owner: str) -> DeliveryRow | None:
    """The delivery if this worker still holds its lease (another may have retaken it)."""
    row = session.get(DeliveryRow, delivery_id, with_for_update=True)
    if row is None or row.status != "inflight" or row.lease_owner != owner:
        return None
    return row


def mark_sent(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    lease_seconds: float,
    actor: str,
    target: str,
    audited: bool = True,
    now: datetime | None = None,
) -> bool:
    """Record that ``c`` is being sent, renewing its lease from now (False: lost).

    A claim leases a whole batch at once; renewing each delivery when its turn comes
    keeps a slow batch from outliving its leases, so no other sender takes and sends a
    delivery this one is about to send. Without ``audited`` the ``delivery.sent`` row is
    the caller's to write (``audit_sent``) once the target answered."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    if not renew_lease(session, c, owner=owner, lease_seconds=lease_seconds, now=now):
        return False
    if audited:
        audit_sent(session, c, actor=actor, target=target)
    return True


def audit_sent(session: Session, c: Claimed, *, actor: str, target: str) -> None:
    """The ``delivery.sent`` row of ``c``'s attempt."""
    audit_delivery(session, audit.DELIVERY_SENT, c, actor=actor, **sent_details(c, target))


def sent_details(c: Claimed, target: str) -> dict[str, Any]:
    return {"action": c.action, "version": c.version, "target": target, "attempt": c.attempts + 1}


def audit_delivery(session: Session, event: str, c: Claimed, *, actor: str, **details: Any) -> None:
    """One audit row about delivery ``c``: its item, its id, ``details``, the item's title."""
    append_delivery_events(session, [(event, c, details)], actor=actor)


def append_delivery_events(
    session: Session, events: list[tuple[str, Claimed, dict[str, Any]]], *, actor: str
) -> None:
    """Audit rows about deliveries, in their order, with as few appends as their sources
    allow (an append names one source; a batch nearly always has one)."""
    run: list[tuple[str, str | None, dict[str, Any] | None]] = []
    source: str | None = None
    for event, c, details in events:
        if run and c.source != source:
            audit_log.append_many(session, run, actor=actor, source=source)
            run = []
        source = c.source
        row = {"delivery_id": c.id, **details, "title": _title(session, c)}
        run.append((event, c.external_id, row))
    audit_log.append_many(session, run, actor=actor, source=source)


def renew_lease(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    lease_seconds: float,
    now: datetime | None = None,
) -> bool:
    """Hold ``c`` for ``lease_seconds`` from now, if this sender still holds it."""
    until = (now or utcnow()) + timedelta(seconds=lease_seconds)
    renewed = session.connection().execute(
        _RENEW, {"b_id": c.id, "b_owner": owner, "b_until": until}
    )
    return renewed.rowcount == 1


def release(session: Session, c: Claimed, *, owner: str) -> bool:
    """Give a claimed delivery back untouched (circuit open, shutting down, auth failure);
    False if this sender no longer held it."""
    row = owned(session, c.id, owner)
    if row is None:
        return False
    row.status = "pending"
    row.lease_owner = row.lease_until = None
    return True


def audit_returned(
    session: Session, returned: list[Claimed], *, actor: str, target: str, reason: str
) -> None:
    """``delivery.returned`` rows: deliveries whose ``delivery.sent`` row the claim wrote
    went back to the queue without a request, so the trail never shows a delivery as
    sent that was not (its next claim writes a new ``delivery.sent``)."""
    if returned:
        append_delivery_events(
            session,
            [
                (audit.DELIVERY_RETURNED, c, {"target": target, "attempt": c.attempts + 1,
                                              "reason": reason})
                for c in returned
            ],
            actor=actor,
        )  # fmt: skip


def release_dead_owners(
    session: Session, host: str, alive: Callable[[Owner], bool] = Owner.alive
) -> int:
    """Deliveries in flight for a process of this host that no longer exists go back to
    the queue at once, instead of waiting for their lease to expire (a restart after a
    crash resends them immediately; the idempotent PUT makes that safe)."""
    q = select(DeliveryRow).where(
        DeliveryRow.status == "inflight", DeliveryRow.lease_owner.startswith(f"{host}:")
    )
    if session.get_bind().dialect.name == "postgresql":
        # Locked as read: a row another worker retakes meanwhile (its lease ran out) is
        # skipped, not handed back to the queue under that worker's feet.
        q = q.with_for_update(skip_locked=True)
    rows = session.execute(q).scalars()
    n = 0
    for row in rows:
        holder = Owner.parse(row.lease_owner or "")
        if holder is not None and not alive(holder):
            row.status = "pending"
            row.lease_owner = row.lease_until = None
            n += 1
    return n


def _title(session: Session, c: Claimed) -> str | None:
    """The title of the item a delivery carries (a withdrawal: of its last version)."""
    if c.record is not None and isinstance(c.record.get("title"), str):
        return str(c.record["title"])
    return items.latest_title(session, c.item_id)


DELIVERIES = table(DeliveryRow)
_ITEMS = table(ItemRow)
_VERSIONS = table(ItemVersionRow)
_SOURCES = table(SourceRow)
# Core statements for the claim, built once: it runs several times a second while a crawl
# records, and ORM entities and a statement built per claim cost more than the rows did.
_EARLIER = DELIVERIES.alias("earlier")
# Due: pending and due, or in flight under a lease that ran out; and no earlier delivery
# of the same item still waiting (per-item order).
_DUE = (
    select(DELIVERIES.c.id)
    .where(
        DELIVERIES.c.target == bindparam("b_target"),
        or_(
            and_(DELIVERIES.c.status == "pending",
                 DELIVERIES.c.next_attempt_at <= bindparam("b_now")),
            and_(DELIVERIES.c.status == "inflight",
                 DELIVERIES.c.lease_until < bindparam("b_now")),
        ),
        ~exists().where(
            _EARLIER.c.item_id == DELIVERIES.c.item_id,
            _EARLIER.c.id < DELIVERIES.c.id,
            _EARLIER.c.target == DELIVERIES.c.target,
            _EARLIER.c.status.in_(("pending", "inflight")),
        ),
    )
    .order_by(DELIVERIES.c.id)
    .limit(bindparam("b_limit"))
)  # fmt: skip
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_LEASE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(status="inflight", lease_owner=bindparam("b_owner"),
            lease_until=bindparam("b_until", type_=UTCDateTime))
)  # fmt: skip
# On the driver's cursor (see driver_sql): through ``Connection.execute`` the rows of a
# batch cost more Python than reading them.
_CLAIMED = DriverSelect(
    select(
        DELIVERIES.c.id, DELIVERIES.c.item_id, DELIVERIES.c.action, DELIVERIES.c.attempts,
        _ITEMS.c.external_id, _ITEMS.c.index_no, _SOURCES.c.name, _VERSIONS.c.version,
        _VERSIONS.c.record,
    )
    .select_from(
        DELIVERIES.join(_ITEMS, _ITEMS.c.id == DELIVERIES.c.item_id)
        .join(_SOURCES, _SOURCES.c.id == _ITEMS.c.source_id)
        .outerjoin(_VERSIONS, _VERSIONS.c.id == DELIVERIES.c.version_id)
    )
    .where(DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(DELIVERIES.c.id),
    "b_ids",
)  # fmt: skip
# The delivery, if this sender still holds it: what completing and renewing both require.
# (The status inline, not bound: ``outcomes`` runs a statement of it on the driver's cursor.)
HELD = and_(
    DELIVERIES.c.id == bindparam("b_id"),
    DELIVERIES.c.status == literal_column("'inflight'"),
    DELIVERIES.c.lease_owner == bindparam("b_owner"),
)
_RENEW = update(DELIVERIES).where(HELD).values(lease_until=bindparam("b_until", type_=UTCDateTime))
# The same for the rest of a batch at once, and which of it this sender still holds.
HELD_MANY = and_(
    DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)),
    DELIVERIES.c.status == "inflight",
    DELIVERIES.c.lease_owner == bindparam("b_owner"),
)
_RENEW_MANY = (
    update(DELIVERIES).where(HELD_MANY).values(lease_until=bindparam("b_until", type_=UTCDateTime))
)
_HELD_OF = select(DELIVERIES.c.id).where(HELD_MANY)
