"""What the target's answer makes of a claimed delivery: done, retry later, dead letter;
and ``bridge retry``, which puts dead letters back in the queue.

Each checks the lease first: a sender whose lease another took changes nothing."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, func, literal_column, null, select, update
from sqlalchemy.orm import Session

from bridge import audit
from bridge.state import audit_log, items
from bridge.state.driver_sql import DriverStatement
from bridge.state.models import (
    DeliveryRow,
    ItemRow,
    SourceRow,
    UTCDateTime,
    bound_time,
    times_as_text,
    utcnow,
)
from bridge.state.outbox.claims import (
    DELIVERIES,
    HELD,
    Claimed,
    append_delivery_events,
    audit_delivery,
    owned,
    sent_details,
)
from bridge.state.sql import table

_ITEMS = table(ItemRow)
_COMPLETE = (
    update(DELIVERIES)
    .where(HELD)
    .values(status="done", attempts=DELIVERIES.c.attempts + 1, lease_owner=None, lease_until=None)
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

# A batch's answers on the driver's cursor (see driver_sql): bound by SQLAlchemy, its
# rows cost more Python than the UPDATEs did. Every value is bound by name or inline,
# and RETURNING tells which deliveries this sender still held (on PostgreSQL the UPDATE
# takes the row lock, so a sender retaking an expired lease waits, then finds it done).
_DONE = (
    update(DELIVERIES)
    .where(HELD)
    .values(status=literal_column("'done'"), attempts=DELIVERIES.c.attempts + literal_column("1"),
            lease_owner=null(), lease_until=null())
)  # fmt: skip
_COMPLETE_HELD = DriverStatement(
    {
        "sqlite": times_as_text(_DONE, "done_at", "updated_at").returning(DELIVERIES.c.id),
        "postgresql": _DONE.returning(DELIVERIES.c.id),
    },
    bound=("done_at", "updated_at"),
)
_CONFIRM_ALL = DriverStatement(
    {"sqlite": times_as_text(_CONFIRMED, "updated_at"), "postgresql": _CONFIRMED},
    bound=("b_now", "updated_at"),
)
# The target's answer as stored (made once: json.dumps with options builds an encoder)
_ANSWER = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def complete(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    actor: str,
    answer: dict[str, Any],
    now: datetime | None = None,
) -> bool:
    """Store the target's answer and mark the delivery done (False: lease was lost).

    The lease is checked by the UPDATE itself (on PostgreSQL it takes the row lock, so a
    worker retaking an expired lease waits for it, then finds the delivery done)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    now = now or utcnow()
    conn = session.connection()
    done = conn.execute(
        _COMPLETE,
        {
            "b_id": c.id,
            "b_owner": owner,
            "done_at": now,
            "response": _ANSWER(answer),
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
    audit_delivery(
        session, audit.DELIVERY_CONFIRMED, c, actor=actor,
        action=c.action, version=c.version, answer=answer,
    )  # fmt: skip
    return True


def complete_all(
    session: Session,
    answered: list[tuple[Claimed, dict[str, Any]]],
    *,
    owner: str,
    actor: str,
    unannounced: Collection[int] = (),
    target: str = "",
    now: datetime | None = None,
) -> list[Claimed]:
    """``complete`` for a batch's answers at once: one UPDATE run over all of them (and
    one over the items confirmed), their audit rows in one append. Returns the
    deliveries whose answer was stored; the others' leases were lost meanwhile.

    The ids in ``unannounced`` (probes) get their ``delivery.sent`` row just before
    their ``delivery.confirmed``."""
    if not answered:
        return []
    audit_log.lock_head(session)  # before any other row: see lock_head
    conn = session.connection()
    at = bound_time(now or utcnow(), conn.dialect)
    done = _COMPLETE_HELD.returning(
        conn,
        [
            {"b_id": c.id, "b_owner": owner, "done_at": at, "response": _ANSWER(answer),
             "updated_at": at}
            for c, answer in answered
        ],
    )  # fmt: skip
    held = {id_ for (id_,) in done}
    kept = [(c, answer) for c, answer in answered if c.id in held]
    if not kept:
        return []
    _CONFIRM_ALL.execute_many(
        conn,
        [
            {"b_id": c.item_id, "b_index_no": answer.get("index_no") or None, "b_now": at,
             "portal_version": answer.get("version"), "updated_at": at}
            for c, answer in kept
            if c.action == "put"
        ],
    )  # fmt: skip
    events: list[tuple[str, Claimed, dict[str, Any]]] = []
    for c, answer in kept:
        if c.id in unannounced:
            events.append((audit.DELIVERY_SENT, c, sent_details(c, target)))
        details = {"action": c.action, "version": c.version, "answer": answer}
        events.append((audit.DELIVERY_CONFIRMED, c, details))
    append_delivery_events(session, events, actor=actor)
    return [c for c, _ in kept]


def retry_later(
    session: Session,
    c: Claimed,
    *,
    owner: str,
    actor: str,
    error: str,
    delay: float,
    max_attempts: int,
    now: datetime | None = None,
) -> str:
    """Count a failed attempt; dead-letter after ``max_attempts``. Returns the new status
    ("pending", "dead", or "lost" when another sender holds the lease by now)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    row = owned(session, c.id, owner)
    if row is None:
        return "lost"
    row.attempts += 1
    row.last_error = error
    row.lease_owner = row.lease_until = None
    if row.attempts >= max_attempts:
        row.status = "dead"
        audit_delivery(
            session, audit.DELIVERY_DEAD, c, actor=actor, attempts=row.attempts, error=error
        )
        return "dead"
    row.status = "pending"
    row.next_attempt_at = (now or utcnow()) + timedelta(seconds=delay)
    audit_delivery(
        session, audit.DELIVERY_FAILED, c, actor=actor,
        attempt=row.attempts, error=error, retry_in_seconds=round(delay, 3),
    )  # fmt: skip
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
    row = owned(session, c.id, owner)
    if row is None:
        return False
    row.attempts += 1
    row.status = "dead"
    row.last_error = error
    row.lease_owner = row.lease_until = None
    audit_delivery(
        session, audit.DELIVERY_DEAD, c, actor=actor,
        attempts=row.attempts, error=error, errors=errors,
    )  # fmt: skip
    return True


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
