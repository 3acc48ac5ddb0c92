"""The resync request queue: the CLI asks, the running daemon takes it within seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge import audit
from bridge.state import audit_log
from bridge.state.models import DeliveryRow, ItemRow, ResyncRequestRow, SourceRow, utcnow


@dataclass(frozen=True)
class ResyncRequest:
    id: int
    actor: str
    reason: str
    params: dict[str, Any]
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    exit_code: int | None


def _view(row: ResyncRequestRow) -> ResyncRequest:
    return ResyncRequest(
        id=row.id,
        actor=row.actor,
        reason=row.reason,
        params=json.loads(row.params),
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        progress=json.loads(row.progress) if row.progress else None,
        result=json.loads(row.result) if row.result else None,
        exit_code=row.exit_code,
    )


def enqueue(session: Session, *, actor: str, reason: str, params: dict[str, Any]) -> int:
    row = ResyncRequestRow(
        actor=actor, reason=reason, params=json.dumps(params, ensure_ascii=False)
    )
    session.add(row)
    session.flush()
    audit_log.append(
        session,
        audit.RESYNC_REQUESTED,
        actor=actor,
        details={"request": row.id, "reason": reason, "mode": "queued", **params},
    )
    return row.id


def take_next(session: Session, owner: str) -> ResyncRequest | None:
    """The oldest queued request, marked running (in the caller's write transaction)."""
    q = (
        select(ResyncRequestRow)
        .where(ResyncRequestRow.status == "queued")
        .order_by(ResyncRequestRow.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    row = session.execute(q).scalar_one_or_none()
    if row is None:
        return None
    row.status = "running"
    row.taken_by = owner
    row.started_at = utcnow()
    return _view(row)


def set_progress(session: Session, request_id: int, progress: dict[str, Any]) -> None:
    row = session.get(ResyncRequestRow, request_id)
    if row is not None:
        row.progress = json.dumps(progress, ensure_ascii=False)


def finish(session: Session, request_id: int, *, result: dict[str, Any], exit_code: int) -> None:
    row = session.get(ResyncRequestRow, request_id)
    if row is not None:
        row.status = "done" if exit_code == 0 else "failed"
        row.finished_at = utcnow()
        row.result = json.dumps(result, ensure_ascii=False)
        row.exit_code = exit_code


def get(session: Session, request_id: int) -> ResyncRequest | None:
    row = session.get(ResyncRequestRow, request_id)
    return _view(row) if row else None


def requeue_running(session: Session) -> int:
    """Requests a dead daemon was running go back to the queue; called by the daemon that
    just took the store's lock, so no other daemon can be running them."""
    rows = session.execute(
        select(ResyncRequestRow).where(ResyncRequestRow.status == "running")
    ).scalars()
    n = 0
    for row in rows:
        row.status = "queued"
        row.taken_by = None
        n += 1
    return n


def deliveries(
    session: Session,
    *,
    target: str,
    sources: list[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, int]:
    """Deliveries by status (pending, inflight, done, dead, superseded) of the chosen
    sources' items (all when None), made between ``since`` and ``until``: those of one
    run, which ``resync --wait`` waits for; the polls after it do not keep it waiting."""
    q = (
        select(DeliveryRow.status, func.count())
        .join(ItemRow, ItemRow.id == DeliveryRow.item_id)
        .where(DeliveryRow.target == target)
        .group_by(DeliveryRow.status)
    )
    if sources:
        q = q.join(SourceRow, SourceRow.id == ItemRow.source_id).where(SourceRow.name.in_(sources))
    if since is not None:
        q = q.where(DeliveryRow.created_at >= since)
    if until is not None:
        q = q.where(DeliveryRow.created_at <= until)
    return {status: int(n) for status, n in session.execute(q).all()}
