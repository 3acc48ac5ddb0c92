"""What the admin pages and the audit export read from the audit trail: one page of events
(keyset paging), the event names for the filter, and a day's unbroken slice of the chain.

Beside :mod:`bridge.state.audit_log` (which writes and verifies the chain) and uses its
filter, so the CLI, the pages and the export show the same events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge import audit
from bridge.audit import AuditEvent
from bridge.state import audit_log
from bridge.state.audit_log import AuditFilter
from bridge.state.models import AuditEventRow, ItemVersionRow


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
