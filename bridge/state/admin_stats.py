"""Numbers behind the admin page's charts: the outbox backlog over time, deliveries the
portal confirmed per day, and how long items took from publication to the portal.

Days are the bureau's (Asia/Shanghai). Grouping is done here in Python, not in SQL, so
SQLite and PostgreSQL give the same days without date functions of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge import audit
from bridge.state.models import AuditEventRow, DeliveryRow, ItemRow
from bridge.workdays import working_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
LATENCY_BUCKETS = ("≤1 天", "≤3 天", "≤7 天", "≤20 个工作日", "超过 20 个工作日")


def _local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def backlog(
    session: Session, target: str, now: datetime, *, days: int = 7, step_hours: int = 6
) -> list[tuple[datetime, int]]:
    """Deliveries waiting to be sent (queued, not yet done, dead or superseded) at every
    ``step_hours`` over the last ``days``, the last point being ``now``.

    Read from the outbox rows themselves, which keep when each was queued (``created_at``)
    and when it stopped waiting: ``done_at`` when the portal confirmed it, ``updated_at``
    for one that went dead or was superseded (nothing changes such a row afterwards, and a
    dead one sent again by ``bridge retry`` is waiting again). The audit trail has no event
    for a queued delivery, so it cannot give this count.
    """
    start = now - timedelta(days=days)
    rows = session.execute(
        select(DeliveryRow.created_at, DeliveryRow.status, DeliveryRow.done_at,
               DeliveryRow.updated_at)
        .where(DeliveryRow.target == target, DeliveryRow.created_at <= now)
        .where(or_(DeliveryRow.status.in_(("pending", "inflight")),
                   DeliveryRow.updated_at >= start, DeliveryRow.done_at >= start))
    ).all()  # fmt: skip
    spans: list[tuple[datetime, datetime | None]] = []
    for created, status, done_at, updated in rows:
        if status in ("pending", "inflight"):
            spans.append((created, None))
        else:
            spans.append((created, done_at if status == "done" and done_at else updated))
    points = []
    steps = days * 24 // step_hours
    for i in range(steps + 1):
        at = start + timedelta(hours=i * step_hours)
        points.append((at, sum(1 for c, e in spans if c <= at and (e is None or e > at))))
    return points


def confirmed_per_day(session: Session, now: datetime, *, days: int = 30) -> list[tuple[date, int]]:
    """``delivery.confirmed`` audit events per Asia/Shanghai day, the last ``days`` days up
    to today (days without one count 0)."""
    today = _local_day(now)
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), SHANGHAI)
    stamps = session.execute(
        select(AuditEventRow.ts).where(
            AuditEventRow.event == audit.DELIVERY_CONFIRMED, AuditEventRow.ts >= start
        )
    ).scalars()
    counts = {first + timedelta(days=i): 0 for i in range(days)}
    for ts in stamps:
        day = _local_day(ts)
        if day in counts:
            counts[day] += 1
    return list(counts.items())


@dataclass(frozen=True)
class Latency:
    buckets: list[tuple[str, int]]  # LATENCY_BUCKETS with their counts
    items: int


def latency(session: Session, now: datetime, *, days: int = 90) -> Latency:
    """Items first confirmed by the portal in the last ``days`` days, by the time from their
    published date to that confirmation (``items.first_confirmed_at``, set with the first
    ``delivery.confirmed``): calendar days up to 7, then working days (the 20 working days
    of the disclosure rules), then more."""
    rows = session.execute(
        select(ItemRow.published_at, ItemRow.first_confirmed_at).where(
            ItemRow.first_confirmed_at >= now - timedelta(days=days),
            ItemRow.published_at.is_not(None),
        )
    ).all()
    counts = dict.fromkeys(LATENCY_BUCKETS, 0)
    for published, confirmed in rows:
        if published is None or confirmed is None:
            continue
        p, c = _local_day(published), _local_day(confirmed)
        gap = (c - p).days
        if gap <= 1:
            counts[LATENCY_BUCKETS[0]] += 1
        elif gap <= 3:
            counts[LATENCY_BUCKETS[1]] += 1
        elif gap <= 7:
            counts[LATENCY_BUCKETS[2]] += 1
        elif working_days(p, c) <= 20:
            counts[LATENCY_BUCKETS[3]] += 1
        else:
            counts[LATENCY_BUCKETS[4]] += 1
    return Latency(list(counts.items()), len(rows))
