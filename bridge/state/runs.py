"""Runs (one cycle of one source), cursors, and the conditional-GET cache."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import audit
from bridge.state import audit_log

if TYPE_CHECKING:
    from bridge.state.db import Database
from bridge.state.models import CursorRow, FetchCacheRow, ItemRow, RunRow, SourceRow, utcnow


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


def get_cursor(session: Session, source: str, key: str) -> Any:
    row = session.get(CursorRow, (source, key))
    return json.loads(row.value) if row else None


def set_cursor(session: Session, source: str, key: str, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    row = session.get(CursorRow, (source, key), with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # another worker may set it at the same moment
                session.add(CursorRow(source=source, key=key, value=text))
                session.flush()
            return
        except IntegrityError:
            row = session.get(
                CursorRow, (source, key), with_for_update=True, populate_existing=True
            )
            assert row is not None
    row.value = text


def clear_cursor(session: Session, source: str, key: str) -> None:
    row = session.get(CursorRow, (source, key))
    if row is not None:
        session.delete(row)


# --- pause ----------------------------------------------------------------------------------
# A paused source is a cursor of that source ("paused": {reason, at, actor}): every
# process on the store sees it at its next look, and no migration was needed for it.

PAUSED = "paused"


def paused(session: Session) -> dict[str, dict[str, Any]]:
    """Paused sources: name → {reason, at (ISO 8601, UTC), actor}."""
    rows = session.scalars(select(CursorRow).where(CursorRow.key == PAUSED))
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


def remember_validators(
    session: Session, entries: dict[str, tuple[str | None, str | None]]
) -> None:
    for url, (etag, last_modified) in entries.items():
        row = session.get(FetchCacheRow, url)
        if etag is None and last_modified is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            try:
                with session.begin_nested():  # another worker may have read the same page
                    session.add(FetchCacheRow(url=url, etag=etag, last_modified=last_modified))
                    session.flush()
                continue
            except IntegrityError:
                row = session.get(FetchCacheRow, url, populate_existing=True)
                assert row is not None
        row.etag, row.last_modified = etag, last_modified


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
