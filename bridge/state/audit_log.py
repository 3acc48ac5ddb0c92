"""Appending to and reading the hash-chained audit trail (see ``bridge.audit``).

``append`` is the one audit call every outcome goes through. It runs inside the caller's
write transaction, so an event is recorded exactly when the change it describes is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, event, func, insert, literal_column, or_, select, update
from sqlalchemy.orm import Session

from bridge.audit import GENESIS, AuditEvent, canonical_details, chain_hash_at
from bridge.state.driver_sql import DriverSelect, DriverStatement
from bridge.state.models import AuditEventRow, AuditHeadRow, bound_time, times_as_text, utcnow
from bridge.state.sql import table

log = logging.getLogger("bridge.audit")


_HEAD = table(AuditHeadRow)
# The head's two statements on the driver's cursor too (see driver_sql): every write
# transaction that appends runs both, and through SQLAlchemy they cost 62 us, 14 here.
# (The head's one id is bound as DriverSelect's list.)
_LOCK_HEAD = DriverSelect(
    select(_HEAD.c.last_id, _HEAD.c.last_hash)
    .where(_HEAD.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update(),
    "ids",
)
_EVENTS = table(AuditEventRow)
# on the driver's cursor (see driver_sql): each item recorded appends a few events
_INSERT_EVENT = DriverStatement(
    {"sqlite": times_as_text(insert(_EVENTS), "ts"), "postgresql": insert(_EVENTS)},
    bound=("ts",),
)
_BUMP = (
    update(_HEAD)
    .where(_HEAD.c.id == literal_column("1"))
    .values(
        last_id=bindparam("new_id"),
        last_hash=bindparam("digest"),
        count=_HEAD.c.count + bindparam("n"),
    )
)
_BUMP_HEAD = DriverStatement({"sqlite": _BUMP, "postgresql": _BUMP})


def append(
    session: Session,
    event: str,
    *,
    actor: str,
    source: str | None = None,
    item: str | None = None,
    run_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the chain (locks the chain head until the transaction ends).

    Prepared Core statements on the session's connection rather than ORM objects: four
    events per item make this the busiest write of a backfill, and building statements
    and running the unit of work cost more than the SQL did. The head is read (and
    locked) at the transaction's first event and written back once, just before it
    commits: a transaction that records a page of items appends dozens of events."""
    (row,) = append_many(
        session, [(event, item, details)], actor=actor, source=source, run_id=run_id
    )
    return row


def append_many(
    session: Session,
    events: Sequence[tuple[str, str | None, dict[str, Any] | None]],
    *,
    actor: str,
    source: str | None = None,
    run_id: int | None = None,
) -> list[AuditEvent]:
    """Add (event, item, details) events to the chain in their order, with one INSERT.
    They carry one time: the events of one call are recorded together."""
    if not events:
        return []
    last_id, prev, appended = lock_head(session)
    conn = session.connection()
    ts = utcnow()
    at = bound_time(ts, conn.dialect)
    iso_ts = ts.isoformat()
    rows: list[dict[str, Any]] = []
    added: list[AuditEvent] = []
    for name, item, details in events:
        last_id += 1
        text = canonical_details(details)
        digest = chain_hash_at(prev, last_id, iso_ts, actor, name, source, item, run_id, text)
        rows.append(
            {
                "id": last_id,
                "ts": at,
                "actor": actor,
                "event": name,
                "source": source,
                "item": item,
                "run_id": run_id,
                "details": text,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        added.append(AuditEvent(last_id, ts, actor, name, source, item, run_id, text, prev, digest))
        log.debug("audit %s %s %s %s", name, source or "-", item or "-", text)
        prev = digest
    _INSERT_EVENT.execute_many(conn, rows)
    session.info[_HEAD_KEY] = (last_id, prev, appended + len(rows))
    return added


_HEAD_KEY = "bridge.audit_head"  # (last id, last hash, events) of this transaction


def lock_head(session: Session) -> tuple[int, str, int]:
    """Lock the chain head for the rest of the transaction (once; later calls are free).

    The one lock order of the store: a transaction that appends takes the head before
    any other row it locks. The head is the lock every appending transaction waits for;
    taken after an item or a delivery row, it made a recording transaction (item, head,
    next item) and a sender's (its item, then the head) wait for each other on PostgreSQL.
    So each state function that locks rows and then appends calls this first."""
    head = session.info.get(_HEAD_KEY)
    if head is None:
        [(last_id, prev)] = _LOCK_HEAD.rows(session.connection(), [1])
        head = session.info[_HEAD_KEY] = (last_id, prev, 0)
    return head


@event.listens_for(Session, "before_commit")
def _write_head(session: Session) -> None:
    head = session.info.pop(_HEAD_KEY, None)
    if head is not None and head[2]:
        new_id, digest, appended = head
        _BUMP_HEAD.execute_many(
            session.connection(), [{"new_id": new_id, "digest": digest, "n": appended}]
        )


@event.listens_for(Session, "after_rollback")
def _forget_head(session: Session) -> None:
    session.info.pop(_HEAD_KEY, None)


def _to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        ts=row.ts,
        actor=row.actor,
        event=row.event,
        source=row.source,
        item=row.item,
        run_id=row.run_id,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    events: tuple[str, ...] = ()
    item: str | None = None
    source: str | None = None
    after_id: int | None = None
    grep: str | None = None  # text in the details (titles, errors, URLs), item or event


def _filtered(f: AuditFilter) -> Select[AuditEventRow]:
    q = select(AuditEventRow)
    if f.since:
        q = q.where(AuditEventRow.ts >= f.since)
    if f.until:
        q = q.where(AuditEventRow.ts < f.until)
    if f.events:
        conditions = []
        for name in f.events:
            if name.endswith(".*") or "." not in name:
                prefix = name.removesuffix(".*")
                conditions.append(AuditEventRow.event.startswith(prefix + "."))
            else:
                conditions.append(AuditEventRow.event == name)
        q = q.where(or_(*conditions))
    if f.item:
        q = q.where(AuditEventRow.item == f.item)
    if f.source:
        q = q.where(AuditEventRow.source == f.source)
    if f.after_id is not None:
        q = q.where(AuditEventRow.id > f.after_id)
    if f.grep:
        # details are stored as JSON with ensure_ascii=False: a Chinese title is there as
        # written; lower() folds Latin letters (SQLite folds ASCII only, as needed here)
        text = f.grep.lower()
        q = q.where(
            or_(
                func.lower(AuditEventRow.details).contains(text, autoescape=True),
                func.lower(func.coalesce(AuditEventRow.item, "")).contains(text, autoescape=True),
                AuditEventRow.event.contains(text, autoescape=True),
            )
        )
    return q


def query(
    session: Session, f: AuditFilter, *, limit: int | None = None, newest_first: bool = False
) -> list[AuditEvent]:
    q = _filtered(f).order_by(AuditEventRow.id.desc() if newest_first else AuditEventRow.id)
    if limit is not None:
        q = q.limit(limit)
    return [_to_event(r) for r in session.execute(q).scalars()]


def count(session: Session, f: AuditFilter) -> int:
    sub = _filtered(f).subquery()
    return int(session.execute(select(func.count()).select_from(sub)).scalar_one())


def iter_chain(session: Session, *, batch: int = 5000, after_id: int = 0) -> Iterator[AuditEvent]:
    """Every event in id order, read in batches so memory stays flat on long trails."""
    last = after_id
    while True:
        rows = (
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.id > last)
                .order_by(AuditEventRow.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for r in rows:
            yield _to_event(r)
        last = rows[-1].id


def head(session: Session) -> tuple[int, str]:
    last_id, last_hash = session.execute(
        select(AuditHeadRow.last_id, AuditHeadRow.last_hash).where(AuditHeadRow.id == 1)
    ).one()
    return last_id, last_hash


def previous_hash(session: Session, before_id: int) -> str:
    """The hash of the row just before ``before_id`` (genesis when there is none)."""
    row = session.execute(
        select(AuditEventRow.hash)
        .where(AuditEventRow.id < before_id)
        .order_by(AuditEventRow.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return row or GENESIS
