"""Runs (one cycle of one source), cursors, and the conditional-GET cache."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from bridge import audit
from bridge.state import audit_log
from bridge.state.driver_sql import DriverStatement
from bridge.state.sql import table

if TYPE_CHECKING:
    from bridge.state.db import Database
from bridge.state.models import (
    CursorRow,
    FetchCacheRow,
    ItemRow,
    RunRow,
    SourceRow,
    bound_time,
    times_as_text,
    utcnow,
)


def start(
    session: Session, *, kind: str, source: str | None, actor: str, details: dict[str, Any]
) -> int:
    run = RunRow(kind=kind, source=source, actor=actor, status="running")
    session.add(run)
    session.flush()
    audit_log.append(
        session,
        audit.RUN_STARTED,
        actor=actor,
        source=source,
        run_id=run.id,
        details={"kind": kind, **details},
    )
    return run.id


def finish(
    session: Session,
    run_id: int,
    *,
    status: str,
    stats: dict[str, Any],
    message: str | None,
    actor: str,
) -> None:
    run = session.get(RunRow, run_id)
    assert run is not None
    run.status = status
    run.finished_at = utcnow()
    run.stats = json.dumps(stats, ensure_ascii=False, sort_keys=True)
    run.message = message
    audit_log.append(
        session,
        audit.RUN_FINISHED,
        actor=actor,
        source=run.source,
        run_id=run_id,
        details={"kind": run.kind, "status": status, "stats": stats, "message": message},
    )


def last_runs(session: Session) -> dict[str, RunRow]:
    """The newest finished-or-running run per source."""
    newest = (
        select(RunRow.source, func.max(RunRow.id).label("id"))
        .where(RunRow.source.is_not(None))
        .group_by(RunRow.source)
        .subquery()
    )
    rows = session.execute(select(RunRow).join(newest, newest.c.id == RunRow.id)).scalars()
    return {r.source: r for r in rows if r.source}


def last_success(session: Session, source: str) -> RunRow | None:
    q = (
        select(RunRow)
        .where(RunRow.source == source, RunRow.status == "ok")
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    return session.execute(q).scalar_one_or_none()


def item_counts(session: Session) -> dict[str, dict[str, int]]:
    """Per source: active, withdrawn and quarantined item counts."""
    out: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(SourceRow.name, ItemRow.status, func.count())
        .join(ItemRow, ItemRow.source_id == SourceRow.id)
        .group_by(SourceRow.name, ItemRow.status)
    ).all()
    for name, status, n in rows:
        out.setdefault(name, {})[status] = int(n)
    q = (
        select(SourceRow.name, func.count())
        .join(ItemRow, ItemRow.source_id == SourceRow.id)
        .where(ItemRow.quarantine.is_not(None))
        .group_by(SourceRow.name)
    )
    for name, n in session.execute(q).all():
        out.setdefault(name, {})["quarantined"] = int(n)
    return out


# --- cursors ---------------------------------------------------------------------------------


_CURSORS = table(CursorRow)
_GET_CURSOR = select(_CURSORS.c.value).where(
    _CURSORS.c.source == bindparam("source"), _CURSORS.c.key == bindparam("key")
)
_DELETE_CURSOR = delete(_CURSORS).where(
    _CURSORS.c.source == bindparam("source"), _CURSORS.c.key == bindparam("key")
)


def _upsert(dialect: Any, target: Table, keys: list[str], values: list[str]) -> Insert:
    """``INSERT … ON CONFLICT DO UPDATE`` of ``values`` (and ``updated_at``), only where
    they differ: a row another worker stored first is overwritten, as a row read before
    would have been, without a savepoint; an unchanged row is not written again."""
    insert = dialect.insert(target)
    differ = [target.c[v].is_distinct_from(insert.excluded[v]) for v in values]
    return insert.on_conflict_do_update(
        index_elements=keys,
        set_={v: insert.excluded[v] for v in [*values, "updated_at"]},
        where=or_(*differ),
    )


_SET_CURSOR = {
    "sqlite": _upsert(sqlite, _CURSORS, ["source", "key"], ["value"]),
    "postgresql": _upsert(postgresql, _CURSORS, ["source", "key"], ["value"]),
}


def get_cursor(session: Session, source: str, key: str) -> Any:
    return read_cursor(session.connection(), source, key)


def read_cursor(conn: Connection, source: str, key: str) -> Any:
    """``get_cursor`` on a plain connection (``Database.read_rows``)."""
    value = conn.execute(_GET_CURSOR, {"source": source, "key": key}).scalar()
    return json.loads(value) if value is not None else None


def set_cursor(session: Session, source: str, key: str, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    conn = session.connection()
    conn.execute(
        _SET_CURSOR[conn.dialect.name],
        {"source": source, "key": key, "value": text, "updated_at": utcnow()},
    )


def clear_cursor(session: Session, source: str, key: str) -> None:
    session.connection().execute(_DELETE_CURSOR, {"source": source, "key": key})


# --- pause ----------------------------------------------------------------------------------
# A paused source is a cursor of that source ("paused": {reason, at, actor}): every
# process on the store sees it at its next look, and no migration was needed for it.

PAUSED = "paused"


def paused(session: Session) -> dict[str, dict[str, Any]]:
    """Paused sources: name → {reason, at (ISO 8601, UTC), actor}."""
    rows = session.connection().execute(
        select(_CURSORS.c.source, _CURSORS.c.value).where(_CURSORS.c.key == PAUSED)
    )
    return {row.source: json.loads(row.value) for row in rows}


def pause(session: Session, source: str, *, reason: str, actor: str) -> dict[str, Any] | None:
    """Pause a source (audited); returns the pause it was already under, if any."""
    before = get_cursor(session, source, PAUSED)
    info = {"reason": reason, "at": utcnow().isoformat(timespec="seconds"), "actor": actor}
    set_cursor(session, source, PAUSED, info)
    audit_log.append(
        session, audit.SOURCE_PAUSED, actor=actor, source=source,
        details={"reason": reason, "already_paused_since": before["at"] if before else None},
    )  # fmt: skip
    return before


def resume(session: Session, source: str, *, actor: str) -> dict[str, Any] | None:
    """Resume a paused source (audited); returns its pause, or None when it had none."""
    before = get_cursor(session, source, PAUSED)
    if before is None:
        return None
    clear_cursor(session, source, PAUSED)
    audit_log.append(
        session, audit.SOURCE_RESUMED, actor=actor, source=source,
        details={"paused_since": before.get("at"), "reason": before.get("reason")},
    )  # fmt: skip
    return before


# --- conditional GET -------------------------------------------------------------------------


def validators(session: Session, urls: list[str]) -> dict[str, tuple[str | None, str | None]]:
    if not urls:
        return {}
    rows = session.execute(select(FetchCacheRow).where(FetchCacheRow.url.in_(urls))).scalars()
    return {r.url: (r.etag, r.last_modified) for r in rows}


_CACHE = table(FetchCacheRow)


# One statement for every page of a batch rather than a lookup and a savepoint per page.
_UPSERT_VALIDATORS = DriverStatement(
    {
        "sqlite": times_as_text(
            _upsert(sqlite, _CACHE, ["url"], ["etag", "last_modified"]), "updated_at"
        ),
        "postgresql": _upsert(postgresql, _CACHE, ["url"], ["etag", "last_modified"]),
    },
    bound=("updated_at",),
)
"""On the driver's cursor: a batch's validators, one row per page fetched, bound by
SQLAlchemy cost more Python than the upsert itself."""
_DELETE_VALIDATORS = delete(_CACHE).where(_CACHE.c.url.in_(bindparam("urls", expanding=True)))


def remember_validators(
    session: Session, entries: dict[str, tuple[str | None, str | None]]
) -> None:
    """Store the pages' validators; a page that came without any has its old ones removed."""
    conn = session.connection()
    now = bound_time(utcnow(), conn.dialect)
    # In URL order: one lock order among workers writing overlapping pages (PostgreSQL).
    rows = [
        {"url": url, "etag": etag, "last_modified": modified, "updated_at": now}
        for url, (etag, modified) in sorted(entries.items())
        if etag is not None or modified is not None
    ]
    gone = sorted(
        url for url, (etag, modified) in entries.items() if etag is None and modified is None
    )
    _UPSERT_VALIDATORS.execute_many(conn, rows)
    if gone:
        conn.execute(_DELETE_VALIDATORS, {"urls": gone})


def forget_validators(session: Session, prefix: str) -> None:
    for row in session.execute(
        select(FetchCacheRow).where(FetchCacheRow.url.startswith(prefix))
    ).scalars():
        session.delete(row)


class StoredValidators(Mapping[str, tuple[str | None, str | None]]):
    """The stored validators of a source's pages, read from the store when a page is
    about to be fetched (and kept): a poll that asks for 20 first pages reads 20 rows,
    not the thousands a long listing has stored."""

    def __init__(self, db: Database, prefix: str) -> None:
        self.db, self.prefix = db, prefix
        self._cache: dict[str, tuple[str | None, str | None] | None] = {}

    def __getitem__(self, url: str) -> tuple[str | None, str | None]:
        if url not in self._cache:
            with self.db.read() as s:
                row = s.execute(
                    select(FetchCacheRow.etag, FetchCacheRow.last_modified).where(
                        FetchCacheRow.url == url
                    )
                ).first()
            self._cache[url] = (row.etag, row.last_modified) if row is not None else None
        found = self._cache[url]
        if found is None:
            raise KeyError(url)
        return found

    def __iter__(self) -> Iterator[str]:
        with self.db.read() as s:
            return iter(validators_under(s, self.prefix))

    def __len__(self) -> int:
        with self.db.read() as s:
            return len(validators_under(s, self.prefix))


def validators_under(session: Session, prefix: str) -> dict[str, tuple[str | None, str | None]]:
    """Stored validators of every URL below ``prefix`` (one source's pages)."""
    rows = session.execute(
        select(FetchCacheRow).where(FetchCacheRow.url.startswith(prefix))
    ).scalars()
    return {r.url: (r.etag, r.last_modified) for r in rows}
