"""Recording normalized records: a new version and its pending delivery, in one transaction.

The outbox pattern: the version, the delivery that will push it and the audit events
that say so are stored together or not at all. A backfill records a list page of items
per transaction, and each statement here runs once for the whole page (an ``IN`` list,
a multi-row ``INSERT … RETURNING``, an ``executemany``) rather than once per item:
per item, a dozen statements cost more in SQLAlchemy's execution path than in the
database (``bench/backfill``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from bridge import audit
from bridge.catalog import CatalogRecord
from bridge.normalize.hashing import canonical_text
from bridge.state import audit_log
from bridge.state import recording_claims as claims
from bridge.state import recording_sql as sql
from bridge.state.items import SUPERSEDE_WAITING, allocate_index_no
from bridge.state.models import bind_time, bound_time, utcnow
from bridge.state.recording_blobs import Blob, store_blobs


@dataclass(frozen=True)
class Recording:
    """One normalized record to store, as the pipeline hands it over."""

    record: CatalogRecord
    content_hash: str
    fingerprint: str  # of the list entry: an unchanged entry is not fetched again
    blobs: Sequence[Blob] = ()  # the attachments' bytes


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a normalized record did: new, changed, unchanged, or quarantined
    (its page shows a 索引号 another item holds)."""

    action: str  # new | changed | unchanged | quarantined
    external_id: str
    version: int
    delivery_id: int | None


@dataclass
class _Version:
    """A new version of one item of a batch, between its plan and its rows."""

    item_id: int
    version: int
    record: CatalogRecord  # with the index number it carries
    content_hash: str
    previous_hash: str | None
    is_new: bool
    delivery_id: int = 0


def record_versions(
    session: Session,
    *,
    source_id: int,
    source_name: str,
    recordings: Sequence[Recording],
    target: str,
    actor: str,
    run_id: int | None,
    mint_index_no_for: str | None = None,
) -> list[RecordOutcome]:
    """Store every record whose content is new, with its pending delivery, in the caller's
    write transaction; one outcome per recording, in their order.

    The audit trail reads as if the items had been recorded one after the other: each
    item's events together, items in the order given. ``mint_index_no_for`` is the org
    code when the bridge mints 索引号.
    """
    audit_log.lock_head(session)  # before any other row: see lock_head
    claimed = claims.claimed_elsewhere(session, recordings)
    held: dict[int, RecordOutcome] = {}
    for i, (holder, holder_url) in claimed.items():
        rec = recordings[i]
        claims.quarantine_claim(
            session, source_id, source_name, rec, holder, holder_url, actor, run_id
        )
        held[i] = RecordOutcome("quarantined", rec.record.external_id, 0, None)
    if held:
        recorded = iter(
            record_versions(
                session,
                source_id=source_id,
                source_name=source_name,
                recordings=[r for i, r in enumerate(recordings) if i not in held],
                target=target,
                actor=actor,
                run_id=run_id,
                mint_index_no_for=mint_index_no_for,
            )
        )
        return [held[i] if i in held else next(recorded) for i in range(len(recordings))]
    outcomes: list[RecordOutcome] = []
    start = 0
    while start < len(recordings):
        # An item given twice (listed in two columns of one page): its second recording
        # must see the first, so it starts the next batch of statements.
        seen: set[str] = set()
        end = start
        while end < len(recordings) and recordings[end].record.external_id not in seen:
            seen.add(recordings[end].record.external_id)
            end += 1
        outcomes += _Batch(session, source_id, target, mint_index_no_for).record(
            recordings[start:end], source_name=source_name, actor=actor, run_id=run_id
        )
        start = end
    return outcomes


class _Batch:
    """Items with distinct external ids, recorded with one statement per kind of row."""

    def __init__(self, session: Session, source_id: int, target: str, mint_for: str | None) -> None:
        self.session = session
        self.conn = session.connection()
        self.source_id = source_id
        self.target = target
        self.mint_for = mint_for
        self.now = utcnow()
        # Every row of the batch carries the transaction's time, given explicitly (no
        # per-row default) and converted for the driver once (see bound_time).
        self.at = bound_time(self.now, self.conn.dialect)

    def record(
        self, batch: Sequence[Recording], *, source_name: str, actor: str, run_id: int | None
    ) -> list[RecordOutcome]:
        rows, discovered = self._lock_items(batch)
        touched: list[dict[str, Any]] = []  # item updates of the unchanged
        changed: list[dict[str, Any]] = []  # and of the new and changed
        versions: list[_Version | None] = []  # None: unchanged
        events: list[tuple[str, str, dict[str, Any] | _Version]] = []
        for rec in batch:
            record = rec.record
            item = rows[record.external_id]
            xid = record.external_id
            is_new = xid in discovered
            if is_new:
                events.append(
                    (
                        audit.ITEM_DISCOVERED,
                        xid,
                        {
                            "url": record.source.url,
                            "column": record.source.column,
                            "title": record.title,
                        },
                    )
                )
            if item.quarantine is not None:
                events.append(
                    (audit.RECORD_RELEASED, xid, {"url": record.source.url, "title": record.title})
                )
            changes: dict[str, Any] = {
                "b_id": item.id,
                "list_fingerprint": rec.fingerprint,
                "last_seen": self.at,
                "updated_at": self.at,
                "url": record.source.url,
                "quarantine": None,
            }
            if item.content_hash == rec.content_hash and item.status == "active":
                touched.append(changes)
                versions.append(None)
                continue
            record = self._index_no(record, item.index_no, events)
            index_no = record.index_no
            v = _Version(
                item.id,
                item.version + 1,
                record,
                rec.content_hash,
                item.content_hash,
                is_new,
            )
            versions.append(v)
            changes.update(
                version=v.version,
                content_hash=rec.content_hash,
                status="active",
                published_at=bind_time(record.published, self.conn.dialect),
                index_no=index_no,
            )
            changed.append(changes)
            events.append((audit.RECORD_CHANGED, xid, v))  # its details once it has a delivery

        self._store_blobs(batch, versions)
        sql.UPDATE_ITEMS.execute_many(self.conn, touched)
        if changed:
            sql.UPDATE_ITEMS.execute_many(self.conn, changed)
            self._insert_versions([v for v in versions if v is not None])
        audit_log.append_many(
            self.session,
            [(event, xid, _details(d)) for event, xid, d in events],
            actor=actor,
            source=source_name,
            run_id=run_id,
        )
        outcomes = []
        for rec, new in zip(batch, versions, strict=True):
            xid = rec.record.external_id
            if new is None:
                outcomes.append(RecordOutcome("unchanged", xid, rows[xid].version, None))
            else:
                action = "new" if new.previous_hash is None else "changed"
                outcomes.append(RecordOutcome(action, xid, new.version, new.delivery_id))
        return outcomes

    def _index_no(
        self,
        record: CatalogRecord,
        filed: str | None,
        events: list[tuple[str, str, dict[str, Any] | _Version]],
    ) -> CatalogRecord:
        """The record under its 索引号: the one it was filed under, never changed; else the
        page's own, kept as written; else one the bridge mints (when it mints)."""
        xid, shown = record.external_id, record.index_no
        remarks = list(record.remarks)
        if filed is not None:
            if shown not in (None, filed):
                remarks.append(f"索引号 {shown}: the page shows it, the item is filed as {filed}")
            if filed != shown:  # a record is copied only where it changes (5 µs a copy)
                record = record.with_index_no(filed, "filed")
        elif shown is None and self.mint_for:
            minted = allocate_index_no(self.session, self.mint_for, record.created.year)
            events.append((audit.INDEX_NO_MINTED, xid, {"index_no": minted, "title": record.title}))
            record = record.with_index_no(minted, "minted:bridge")
        if remarks:
            events.append(
                (
                    audit.RECORD_FLAGGED,
                    xid,
                    {"url": record.source.url, "title": record.title, "remarks": remarks},
                )
            )
        if len(remarks) == len(record.remarks):
            return record
        return replace(record, remarks=tuple(remarks))

    def _lock_items(self, batch: Sequence[Recording]) -> tuple[dict[str, sql.ItemState], set[str]]:
        """The batch's item rows, locked (inserted first for the new ones), and the
        external ids this transaction inserted."""
        ids = [r.record.external_id for r in batch]
        rows = {row.external_id: row for row in self._locked(ids)}
        missing = [r for r in batch if r.record.external_id not in rows]
        if not missing:
            return rows, set()
        inserted = sql.INSERT_ITEMS.returning(
            self.conn,
            [
                {
                    "source_id": self.source_id,
                    "external_id": r.record.external_id,
                    "article_id": r.record.source.article_id,
                    "column": r.record.source.column,
                    "url": r.record.source.url,
                    "status": "active",
                    "version": 0,
                    "first_seen": self.at,
                    "last_seen": self.at,
                    "updated_at": self.at,
                    "checked_at": self.at,
                }
                for r in missing
            ],
        )
        discovered = {row.external_id: row for row in map(sql.ItemState._make, inserted)}
        rows.update(discovered)
        # Those another worker inserted first (and committed: ON CONFLICT waited for it)
        again = [r.record.external_id for r in missing if r.record.external_id not in rows]
        if again:
            rows.update((row.external_id, row) for row in self._locked(again))
        return rows, set(discovered)

    def _locked(self, ids: list[str]) -> list[sql.ItemState]:
        return [sql.ItemState._make(t) for t in sql.LOCK_ITEMS.rows(self.conn, ids)]

    def _store_blobs(self, batch: Sequence[Recording], versions: Sequence[_Version | None]) -> None:
        """The attachments of the new versions (see ``recording_blobs``)."""
        wanted: dict[str, Blob] = {}
        for rec, v in zip(batch, versions, strict=True):
            if v is not None:
                for blob in rec.blobs:
                    wanted.setdefault(blob.sha256, blob)
        if wanted:
            store_blobs(self.conn, wanted, self.at)

    def _insert_versions(self, versions: Sequence[_Version]) -> None:
        by_item = {v.item_id: v for v in versions}
        result = sql.INSERT_VERSIONS.returning(
            self.conn,
            [
                {
                    "item_id": v.item_id,
                    "version": v.version,
                    "content_hash": v.content_hash,
                    "record": canonical_text(v.record.to_state_json()),
                    "created_at": self.at,
                }
                for v in versions
            ],
        )
        version_ids = {item_id: vid for vid, item_id in result}
        # A delivery still waiting for an older version is superseded: the portal gets
        # the newest state, never an older one after a newer.
        waiting = [
            {"b_item_id": v.item_id, "b_target": self.target, "b_now": self.now}
            for v in versions
            if not v.is_new
        ]
        if waiting:
            self.conn.execute(SUPERSEDE_WAITING, waiting)
        result = sql.INSERT_DELIVERIES.returning(
            self.conn,
            [
                {
                    "item_id": v.item_id,
                    "version_id": version_ids[v.item_id],
                    "action": "put",
                    "target": self.target,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": self.at,
                    "created_at": self.at,
                    "updated_at": self.at,
                }
                for v in versions
            ],
        )
        for delivery_id, item_id in result:
            by_item[item_id].delivery_id = delivery_id


def _details(d: dict[str, Any] | _Version) -> dict[str, Any]:
    if not isinstance(d, _Version):
        return d
    return {
        "action": "new" if d.is_new or d.previous_hash is None else "changed",
        "version": d.version,
        "content_hash": d.content_hash,
        "previous_hash": d.previous_hash,
        "title": d.record.title,
        "delivery_id": d.delivery_id,
    }
