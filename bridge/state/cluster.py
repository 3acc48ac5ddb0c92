"""Workers, the leader, and source claims: several ``bridge run`` on one store.

- every worker registers and heartbeats in ``workers``;
- exactly one is the leader: on PostgreSQL, the holder of a session advisory lock on a
  connection it keeps open (the server frees it the moment that connection dies, so a
  killed leader is replaced at the next attempt of another worker); on SQLite the one
  daemon the store allows is always the leader;
- a source is crawled by one worker at a time: it is claimed under a lease that the
  crawler renews while it works and that lapses if the crawler dies;
- deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` (see ``outbox.claim``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.state.models import SourceClaimRow, WorkerRow, utcnow

LEADER_KEY = 0x6272_6C65_6164  # advisory lock id of the leader ("brlead")


def register(session: Session, worker_id: str, host: str, pid: int) -> None:
    row = session.get(WorkerRow, worker_id)
    now = utcnow()
    if row is None:
        session.add(
            WorkerRow(
                id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now, is_leader=False
            )
        )
    else:
        row.started_at = row.heartbeat_at = now
        row.is_leader = False


def heartbeat(session: Session, worker_id: str, *, is_leader: bool) -> None:
    row = session.get(WorkerRow, worker_id)
    if row is None:
        return
    row.heartbeat_at = utcnow()
    if is_leader and not row.is_leader:
        row.leader_since = row.heartbeat_at
    row.is_leader = is_leader


def deregister(session: Session, worker_id: str) -> None:
    session.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))
    session.execute(
        update(SourceClaimRow)
        .where(SourceClaimRow.owner == worker_id)
        .values(owner=None, lease_until=None)
    )


def forget_dead(session: Session, older_than: timedelta) -> list[str]:
    """Workers silent for longer than ``older_than`` are removed (leader housekeeping)."""
    cutoff = utcnow() - older_than
    dead = list(
        session.execute(select(WorkerRow.id).where(WorkerRow.heartbeat_at < cutoff)).scalars()
    )
    if dead:
        session.execute(delete(WorkerRow).where(WorkerRow.id.in_(dead)))
    return dead


def try_lead(conn: Connection) -> bool:
    """Take the leader lock on this connection if nobody holds it (PostgreSQL)."""
    got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar())
    conn.commit()
    return got


def claim_source(
    session: Session,
    source: str,
    owner: str,
    *,
    lease: float,
    min_gap: float,
    alive: Callable[[str], bool] = lambda owner: True,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Claim ``source`` for one crawl unless another worker holds it or it ran less than
    ``min_gap`` seconds ago (so several workers' schedules give one crawl per interval).

    ``alive(owner)`` says whether a holder still exists; a holder known to be dead (a
    process of this host that is gone) does not keep its claim until the lease lapses.
    ``clock`` tells the time leases and the gap are judged by (tests pass a fake one).
    """
    now = clock()
    row = session.get(SourceClaimRow, source, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # the first claim ever may race another worker's
                session.add(SourceClaimRow(source=source))
                session.flush()
        except IntegrityError:
            pass
        row = session.get(SourceClaimRow, source, with_for_update=True, populate_existing=True)
        assert row is not None
    held = row.owner is not None and row.lease_until is not None and row.lease_until > now
    if held and row.owner != owner and alive(row.owner or ""):
        return False
    recent = row.last_started is not None and (now - row.last_started).total_seconds() < min_gap
    if recent and not held:
        return False
    row.owner = owner
    row.lease_until = now + timedelta(seconds=lease)
    row.last_started = now
    row.last_owner = owner
    return True


def renew(
    session: Session, owner: str, lease: float, *, clock: Callable[[], datetime] = utcnow
) -> int:
    """Extend every lease this worker holds; returns how many."""
    result = session.execute(
        update(SourceClaimRow)
        .where(SourceClaimRow.owner == owner)
        .values(lease_until=clock() + timedelta(seconds=lease))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_source(session: Session, source: str, owner: str) -> None:
    session.execute(
        update(SourceClaimRow)
        .where(SourceClaimRow.source == source, SourceClaimRow.owner == owner)
        .values(owner=None, lease_until=None, last_finished=utcnow())
    )


@dataclass(frozen=True)
class WorkerView:
    id: str
    started_at: datetime
    heartbeat_at: datetime
    is_leader: bool
    leader_since: datetime | None


@dataclass(frozen=True)
class ClaimView:
    source: str
    owner: str | None
    lease_until: datetime | None
    last_started: datetime | None
    last_finished: datetime | None
    last_owner: str | None


def workers(session: Session) -> list[WorkerView]:
    rows = session.execute(select(WorkerRow).order_by(WorkerRow.started_at)).scalars()
    return [
        WorkerView(r.id, r.started_at, r.heartbeat_at, r.is_leader, r.leader_since) for r in rows
    ]


def claims(session: Session) -> list[ClaimView]:
    rows = session.execute(select(SourceClaimRow).order_by(SourceClaimRow.source)).scalars()
    return [
        ClaimView(r.source, r.owner, r.lease_until, r.last_started, r.last_finished, r.last_owner)
        for r in rows
    ]
