"""The state store's tables (SQLAlchemy 2). Alembic migrations create and change them.

Terminology follows ``bridge.catalog``: an *item* is one document of a source; each
content change makes an *item version*; every version (and every withdrawal) to send
makes one *delivery* in the outbox. Times are stored as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=8)
def _time_processor(dialect: Dialect) -> Any:
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


def bound_time(value: datetime, dialect: Dialect) -> datetime | str:
    """``value`` ready for a column of a ``times_as_text`` statement: on SQLite the text
    a ``UTCDateTime`` column stores (made by SQLAlchemy's own processors, so the row is
    byte for byte what binding the datetime writes), on other backends the datetime.

    A batch binds one transaction time in a dozen columns of each row: processed once,
    not once per column and row."""
    if dialect.name != "sqlite":
        return value
    return _time_processor(dialect)(value)


def bind_time(value: datetime | None, dialect: Dialect) -> Any:
    """``value`` as SQLAlchemy binds it to a ``UTCDateTime`` column, on any backend: for
    a statement run on the driver's cursor (``driver_sql``)."""
    return None if value is None else _time_processor(dialect)(value)


_Stmt = TypeVar("_Stmt", bound=Any)


def times_as_text(stmt: _Stmt, *columns: str) -> _Stmt:
    """An INSERT or UPDATE for SQLite whose time ``columns`` take ``bound_time`` text as
    is (PostgreSQL keeps the statement as it is: its times are native)."""
    return stmt.values({c: bindparam(c, type_=String()) for c in columns})


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemRow(Base):
    """One document of a source, whatever happened to it."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    article_id: Mapped[str] = mapped_column(String(160))
    column: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(Text)
    list_fingerprint: Mapped[str | None] = mapped_column(Text)
    # active | quarantined | withdrawn
    status: Mapped[str] = mapped_column(String(20), default="active")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
    index_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    portal_version: Mapped[int | None] = mapped_column(Integer)
    quarantine: Mapped[str | None] = mapped_column(Text)  # JSON: problems, url
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # when the detail page was last revalidated (bridge/crawl/revalidate.py); None: never
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    """When the detail page was last fetched or revalidated (the revalidation queue)."""

    __table_args__ = (
        Index("ix_items_source_column", "source_id", "column"),
        Index("ix_items_source_checked", "source_id", "checked_at"),
    )


class ItemVersionRow(Base):
    __tablename__ = "item_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)  # CatalogRecord.to_state_json(), canonical JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "version"),)


class DeliveryRow(Base):
    """The outbox: one row per thing to send. Done only after the target answered."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("item_versions.id"))
    action: Mapped[str] = mapped_column(String(10))  # put | delete
    target: Mapped[str] = mapped_column(String(40))
    # pending | inflight | done | dead | superseded
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)  # JSON answer of the target
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_item", "item_id", "id"),
    )


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # sync | resync | drain
    source: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # running | ok | failed | alarm
    status: Mapped[str] = mapped_column(String(12), default="running")
    stats: Mapped[str | None] = mapped_column(Text)  # JSON counters
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_runs_source_started", "source", "started_at"),)


class AuditEventRow(Base):
    """Append-only; each row carries the hash of the one before (see bridge.audit)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    event: Mapped[str] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(40))
    item: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_ts", "ts"),
        Index("ix_audit_events_item", "item"),
        Index("ix_audit_events_event", "event"),
    )


class AuditHeadRow(Base):
    """The newest chain link: one row, locked by every append, so appends serialize and
    deleting rows at the end of the chain is detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class CursorRow(Base):
    """Free-form progress markers per source (newest seen, last full scan …)."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FetchCacheRow(Base):
    """Validators of pages we parsed, for conditional GET (304 costs no parsing)."""

    __tablename__ = "fetch_cache"

    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IndexSerialRow(Base):
    """Next 索引号 serial per (org code, 成文 year); serials are never reused."""

    __tablename__ = "index_serials"

    org_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_serial: Mapped[int] = mapped_column(Integer, default=1)


class BlobRow(Base):
    """Attachment bytes, kept with the state so a delivery never needs the source."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UploadRow(Base):
    """A blob already uploaded to a target, and the target's handle for it."""

    __tablename__ = "uploads"

    target: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CircuitRow(Base):
    """Circuit breaker state per target, shared by every process on the store."""

    __tablename__ = "circuits"

    target: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="closed")  # closed|open|half-open
    failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ResyncRequestRow(Base):
    """A resync asked for from the command line, taken by the running daemon."""

    __tablename__ = "resync_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[str] = mapped_column(Text)  # JSON: sources, columns, since, dry_run, force
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    taken_by: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress: Mapped[str | None] = mapped_column(Text)  # JSON, updated while it runs
    result: Mapped[str | None] = mapped_column(Text)  # JSON summary
    exit_code: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_resync_requests_status", "status", "id"),)


class WorkerRow(Base):
    """A running ``bridge run`` process; several share a PostgreSQL store."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    leader_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceClaimRow(Base):
    """Which worker crawls a source now (under a lease), and when it last ran."""

    __tablename__ = "source_claims"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_owner: Mapped[str | None] = mapped_column(String(120))
