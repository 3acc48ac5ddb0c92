"""The delivery outbox: claim under a lease, then done / retry later / dead letter.

A delivery is claimable when it is pending and due, or in flight with an expired lease
(its worker died), and no earlier delivery of the same item is still waiting: per item,
deliveries go out in order, so an older version never overwrites a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from bridge import audit
from bridge.state import audit_log, items
from bridge.state.models import (
    BlobRow,
    CircuitRow,
    DeliveryRow,
    ItemRow,
    ItemVersionRow,
    SourceRow,
    UploadRow,
    UTCDateTime,
    utcnow,
)
from bridge.state.sql import InsertIgnoring, table


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


def _claimable(now: datetime, target: str) -> ColumnElement[bool]:
    earlier = aliased(DeliveryRow)
    waiting_before = exists().where(
        earlier.item_id == DeliveryRow.item_id,
        earlier.id < DeliveryRow.id,
        earlier.target == DeliveryRow.target,
        earlier.status.in_(("pending", "inflight")),
    )
    return and_(
        DeliveryRow.target == target,
        or_(
            and_(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now),
            and_(DeliveryRow.status == "inflight", DeliveryRow.lease_until < now),
        ),
        ~waiting_before,
    )


def claim(
    session: Session,
    *,
    target: str,
    owner: str,
    lease_seconds: float,
    limit: int,
    clock: Callable[[], datetime] = utcnow,
) -> list[Claimed]:
    """Take up to ``limit`` due deliveries under a lease (in the caller's write transaction);
    ``clock`` tells the time leases and due dates are judged by (tests pass a fake one)."""
    now = clock()
    q = select(DeliveryRow.id).where(_claimable(now, target)).order_by(DeliveryRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    conn = session.connection()
    ids = list(conn.execute(q).scalars())
    if not ids:
        return []
    until = now + timedelta(seconds=lease_seconds)
    conn.execute(_LEASE, {"b_ids": ids, "b_owner": owner, "b_until": until})
    return [
        Claimed(
            id=row.id,
            item_id=row.item_id,
            external_id=row.external_id,
            source=row.name,
            action=row.action,
            attempts=row.attempts,
            version=row.version,
            record=json.loads(row.record) if row.record is not None else None,
            index_no=row.index_no,
        )
        for row in conn.execute(_CLAIMED, {"b_ids": ids})
    ]


def next_due(session: Session, target: str) -> datetime | None:
    """When the next pending delivery becomes due (for a drain that waits for retries)."""
    return session.execute(
        select(func.min(DeliveryRow.next_attempt_at)).where(
            DeliveryRow.target == target, DeliveryRow.status == "pending"
        )
    ).scalar_one_or_none()


def _owned(session: Session, delivery_id: int, owner: str) -> DeliveryRow | None:
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
) -> bool:
    """Record that ``c`` is being sent, renewing its lease from now (False: lost).

    A claim leases a whole batch at once; renewing each delivery when its turn comes
    keeps a slow batch from outliving its leases, so no other sender takes and sends a
    delivery this one is about to send. Without ``audited`` the ``delivery.sent`` row is
    the caller's to write (``audit_sent``) once the target answered."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    if not renew_lease(session, c, owner=owner, lease_seconds=lease_seconds):
        return False
    if audited:
        audit_sent(session, c, actor=actor, target=target)
    return True


def audit_sent(session: Session, c: Claimed, *, actor: str, target: str) -> None:
    """The ``delivery.sent`` row of ``c``'s attempt."""
    audit_log.append(
        session,
        audit.DELIVERY_SENT,
        actor=actor,
        source=c.source,
        item=c.external_id,
        details={
            "delivery_id": c.id,
            "action": c.action,
            "version": c.version,
            "target": target,
            "attempt": c.attempts + 1,
            "title": _title(session, c),
        },
    )


def renew_lease(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    lease_seconds: float,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Hold ``c`` for ``lease_seconds`` from now, if this sender still holds it."""
    until = clock() + timedelta(seconds=lease_seconds)
    renewed = session.connection().execute(
        _RENEW, {"b_id": c.id, "b_owner": owner, "b_until": until}
    )
    return renewed.rowcount == 1


_DELIVERIES = table(DeliveryRow)
_ITEMS = table(ItemRow)
_VERSIONS = table(ItemVersionRow)
_SOURCES = table(SourceRow)
# Core statements for the claim: it runs several times a second while a crawl records,
# and ORM entities cost more than the rows did.
_LEASE = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(status="inflight", lease_owner=bindparam("b_owner"),
            lease_until=bindparam("b_until", type_=UTCDateTime))
)  # fmt: skip
_CLAIMED = (
    select(
        _DELIVERIES.c.id, _DELIVERIES.c.item_id, _DELIVERIES.c.action, _DELIVERIES.c.attempts,
        _ITEMS.c.external_id, _ITEMS.c.index_no, _SOURCES.c.name, _VERSIONS.c.version,
        _VERSIONS.c.record,
    )
    .select_from(
        _DELIVERIES.join(_ITEMS, _ITEMS.c.id == _DELIVERIES.c.item_id)
        .join(_SOURCES, _SOURCES.c.id == _ITEMS.c.source_id)
        .outerjoin(_VERSIONS, _VERSIONS.c.id == _DELIVERIES.c.version_id)
    )
    .where(_DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(_DELIVERIES.c.id)
)  # fmt: skip
# The delivery, if this sender still holds it: what completing and renewing both require.
_HELD = and_(
    _DELIVERIES.c.id == bindparam("b_id"),
    _DELIVERIES.c.status == "inflight",
    _DELIVERIES.c.lease_owner == bindparam("b_owner"),
)
_COMPLETE = (
    update(_DELIVERIES)
    .where(_HELD)
    .values(status="done", attempts=_DELIVERIES.c.attempts + 1, lease_owner=None, lease_until=None)
)
_RENEW = (
    update(_DELIVERIES).where(_HELD).values(lease_until=bindparam("b_until", type_=UTCDateTime))
)
_CONFIRMED = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("b_id"))
    .values(
        index_no=func.coalesce(_ITEMS.c.index_no, bindparam("b_index_no", type_=String)),
        first_confirmed_at=func.coalesce(
            _ITEMS.c.first_confirmed_at, bindparam("b_now", type_=UTCDateTime)
        ),
    )
)
_INSERT_UPLOAD = InsertIgnoring(table(UploadRow), "target", "sha256")


def complete(
    session: Session, c: Claimed, *, owner: str, actor: str, answer: dict[str, Any]
) -> bool:
    """Store the target's answer and mark the delivery done (False: lease was lost).

    The lease is checked by the UPDATE itself (on PostgreSQL it takes the row lock, so a
    worker retaking an expired lease waits for it, then finds the delivery done)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    now = utcnow()
    conn = session.connection()
    done = conn.execute(
        _COMPLETE,
        {
            "b_id": c.id,
            "b_owner": owner,
            "done_at": now,
            "response": json.dumps(answer, ensure_ascii=False, sort_keys=True),
        },
    )
    if done.rowcount != 1:
        return False
    if c.action == "put":
        conn.execute(
            _CONFIRMED,
            {
                "b_id": c.item_id,
                "b_index_no": answer.get("index_no") or None,
                "b_now": now,
                "portal_version": answer.get("version"),
            },
        )
    audit_log.append(
        session,
        audit.DELIVERY_CONFIRMED,
        actor=actor,
        source=c.source,
        item=c.external_id,
        details={
            "delivery_id": c.id,
            "action": c.action,
            "version": c.version,
            "answer": answer,
            "title": _title(session, c),
        },
    )
    return True


def retry_later(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    actor: str,
    error: str,
    delay: float,
    max_attempts: int,
) -> str:
    """Count a failed attempt; dead-letter after ``max_attempts``. Returns the new status."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    row = _owned(session, c.id, owner)
    if row is None:
        return "lost"
    row.attempts += 1
    row.last_error = error
    row.lease_owner = row.lease_until = None
    if row.attempts >= max_attempts:
        row.status = "dead"
        audit_log.append(
            session,
            audit.DELIVERY_DEAD,
            actor=actor,
            source=c.source,
            item=c.external_id,
            details={
                "delivery_id": c.id,
                "attempts": row.attempts,
                "error": error,
                "title": _title(session, c),
            },
        )
        return "dead"
    row.status = "pending"
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    audit_log.append(
        session,
        audit.DELIVERY_FAILED,
        actor=actor,
        source=c.source,
        item=c.external_id,
        details={
            "delivery_id": c.id,
            "attempt": row.attempts,
            "error": error,
            "retry_in_seconds": round(delay, 3),
            "title": _title(session, c),
        },
    )
    return "pending"


def dead_letter(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    actor: str,
    error: str,
    errors: list[dict[str, str]],
) -> bool:
    """Give up on a delivery the target refused, with its message (``bridge retry``)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    row = _owned(session, c.id, owner)
    if row is None:
        return False
    row.attempts += 1
    row.status = "dead"
    row.last_error = error
    row.lease_owner = row.lease_until = None
    audit_log.append(
        session,
        audit.DELIVERY_DEAD,
        actor=actor,
        source=c.source,
        item=c.external_id,
        details={
            "delivery_id": c.id,
            "attempts": row.attempts,
            "error": error,
            "errors": errors,
            "title": _title(session, c),
        },
    )
    return True


def release(session: Session, c: Claimed, *, owner: str) -> None:
    """Give a claimed delivery back untouched (circuit open, shutting down, auth failure)."""
    row = _owned(session, c.id, owner)
    if row is not None:
        row.status = "pending"
        row.lease_owner = row.lease_until = None


def retry_dead(session: Session, *, target: str, actor: str, external_id: str | None = None) -> int:
    """Put dead letters back in the queue (``bridge retry``); returns how many."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    q = (
        select(DeliveryRow, ItemRow.external_id, SourceRow.name)
        .join(ItemRow, ItemRow.id == DeliveryRow.item_id)
        .join(SourceRow, SourceRow.id == ItemRow.source_id)
        .where(DeliveryRow.status == "dead", DeliveryRow.target == target)
    )
    if external_id is not None:
        q = q.where(ItemRow.external_id == external_id)
    n = 0
    now = utcnow()
    for row, ext, source in session.execute(q).all():
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = now
        audit_log.append(
            session,
            audit.DELIVERY_RETRIED,
            actor=actor,
            source=source,
            item=ext,
            details={
                "delivery_id": row.id,
                "last_error": row.last_error,
                "title": items.latest_title(session, row.item_id),
            },
        )
        n += 1
    return n


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


# --- attachments ---------------------------------------------------------------------------


_UPLOADED = select(table(UploadRow).c.sha256, table(UploadRow).c.file_id).where(
    table(UploadRow).c.target == bindparam("b_target"),
    table(UploadRow).c.sha256.in_(bindparam("b_shas", expanding=True)),
)
_BLOB_DATA = select(table(BlobRow).c.data).where(table(BlobRow).c.sha256 == bindparam("b_sha"))


def uploaded_files(session: Session, target: str, sha256s: list[str]) -> dict[str, str]:
    """For a record's attachments: the target's file ids of those it already holds."""
    if not sha256s:
        return {}
    uploaded = session.connection().execute(_UPLOADED, {"b_target": target, "b_shas": sha256s})
    return {sha: file_id for sha, file_id in uploaded}


def blob_data(session: Session, sha256: str) -> bytes | None:
    """One attachment's bytes (None when the store does not hold it). Read one at a time,
    as they are uploaded: an item's attachments together may be hundreds of MB."""
    data = session.connection().execute(_BLOB_DATA, {"b_sha": sha256}).scalar()
    return None if data is None else bytes(data)


def remember_upload(session: Session, target: str, sha256: str, file_id: str) -> None:
    # Another worker may have uploaded the same file: the target gives one file_id per
    # sha256, so theirs is ours.
    _INSERT_UPLOAD(session.connection(), {"target": target, "sha256": sha256, "file_id": file_id})


def remember_uploads(session: Session, target: str, uploads: list[tuple[str, str]]) -> None:
    """(sha256, file id) pairs the target gave for files uploaded just now."""
    for sha256, file_id in uploads:
        remember_upload(session, target, sha256, file_id)


# --- circuit breaker -----------------------------------------------------------------------


def circuit(session: Session, target: str) -> CircuitRow:
    row = session.get(CircuitRow, target, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # several senders may meet the new target at once
                row = CircuitRow(target=target, state="closed", failures=0)
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.get(CircuitRow, target, with_for_update=True, populate_existing=True)
            assert row is not None
    return row


def circuit_state(session: Session, target: str) -> tuple[str, datetime | None, int] | None:
    """(state, opened until, failures) of the target's circuit, read without a lock."""
    row = session.execute(
        select(CircuitRow.state, CircuitRow.opened_until, CircuitRow.failures).where(
            CircuitRow.target == target
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def circuits(session: Session) -> list[CircuitRow]:
    return list(session.execute(select(CircuitRow).order_by(CircuitRow.target)).scalars())


def release_dead_owners(session: Session, host: str, alive: Callable[[int], bool]) -> int:
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
        pid = (row.lease_owner or "").rsplit(":", 1)[-1].partition("/")[0]  # host:pid/sender
        if pid.isdigit() and not alive(int(pid)):
            row.status = "pending"
            row.lease_owner = row.lease_until = None
            n += 1
    return n


def _title(session: Session, c: Claimed) -> str | None:
    """The title of the item a delivery carries (a withdrawal: of its last version)."""
    if c.record is not None and isinstance(c.record.get("title"), str):
        return str(c.record["title"])
    return items.latest_title(session, c.item_id)
