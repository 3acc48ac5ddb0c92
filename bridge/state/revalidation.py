"""What revalidation (``bridge.crawl.revalidate``) asks of the store: the items due, their
stored list entries, and when each was last checked (``items.checked_at``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bridge.state.models import ItemRow, UTCDateTime


@dataclass(frozen=True)
class Candidate:
    """A known active item whose detail page may be asked for again."""

    external_id: str
    article_id: str
    column: str
    url: str
    fingerprint: str | None


_CANDIDATE = (
    ItemRow.external_id,
    ItemRow.article_id,
    ItemRow.column,
    ItemRow.url,
    ItemRow.list_fingerprint,
)
# The last check of an item never revalidated is its first fetch (checked_at is set at
# insert, and migration 0005 set it to first_seen): a new item goes to the end of the
# queue, and an upgraded store starts with its oldest items. One indexed column.
_last_check = ItemRow.checked_at


def _active(source_id: int) -> list:
    return [
        ItemRow.source_id == source_id,
        ItemRow.status == "active",
        ItemRow.quarantine.is_(None),
        ItemRow.content_hash.is_not(None),
    ]


def _old(recent_since: datetime | None) -> list:
    if recent_since is None:
        return []
    return [or_(ItemRow.published_at.is_(None), ItemRow.published_at < recent_since)]


def recent(
    session: Session, source_id: int, since: datetime, read_before: datetime
) -> list[Candidate]:
    """Active items published at or after ``since``, newest first; not those first read
    at or after ``read_before`` (this cycle's start: their page was just fetched)."""
    q = (
        select(*_CANDIDATE)
        .where(
            *_active(source_id),
            ItemRow.published_at >= since,
            _last_check < read_before,
        )
        .order_by(ItemRow.published_at.desc())
    )
    return [Candidate(*r) for r in session.execute(q)]


@dataclass(frozen=True)
class OldCounts:
    total: int  # active items not recent
    stale: int  # last checked (or first fetched) longer ago than revalidate_all
    newest_check: datetime | None


def old_counts(
    session: Session, source_id: int, recent_since: datetime | None, stale_before: datetime
) -> OldCounts:
    q = select(
        func.count(),
        func.count().filter(_last_check < stale_before),
        func.max(_last_check, type_=UTCDateTime()),
    ).where(*_active(source_id), *_old(recent_since))
    total, stale, newest = session.execute(q).one()
    return OldCounts(int(total), int(stale), newest)


def checked_longest_ago(
    session: Session, source_id: int, recent_since: datetime | None, limit: int
) -> list[Candidate]:
    """The ``limit`` old items whose last check is oldest."""
    if limit <= 0:
        return []
    q = (
        select(*_CANDIDATE)
        .where(*_active(source_id), *_old(recent_since))
        .order_by(_last_check, ItemRow.id)
        .limit(limit)
    )
    return [Candidate(*r) for r in session.execute(q)]


def mark_checked(session: Session, external_ids: Collection[str], at: datetime) -> None:
    if external_ids:
        session.execute(
            update(ItemRow)
            .where(ItemRow.external_id.in_(list(external_ids)))
            .values(checked_at=at, updated_at=ItemRow.updated_at)  # not an edit
            .execution_options(synchronize_session=False)
        )
