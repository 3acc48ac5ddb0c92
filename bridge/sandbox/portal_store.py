"""Storage of the sandbox portal: one SQLite file that outlives the server.

Terminology (the portal's side of DESIGN.md §5):

- *item*: one catalog entry, named by the bridge's ``external_id`` and, once filed, by
  its 索引号 ``index_no`` (never changes again);
- *version*: what a PUT stored when the content hash changed; every version is kept in
  ``item_history`` so a test can see exactly what the bridge sent;
- *withdrawn*: 撤销 — still stored and listed for reconciliation, hidden from citizens.

The store validates records itself (it knows which files exist) with the rules of
:mod:`bridge.sandbox.portal_rules` and raises ``Invalid`` or ``Conflict``; the HTTP layer
only translates those into 422 and 409.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.catalog import (
    CATEGORIES,
)
from bridge.normalize.hashing import content_hash
from bridge.sandbox.portal_rules import Invalid, index_no_for, utc_now, validate_record

BUSY_TIMEOUT_MS = 5000  # a second PortalStore on the same file (a test) may hold the lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT NOT NULL UNIQUE,
    index_no TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn')),
    content_hash TEXT NOT NULL,
    category TEXT NOT NULL,  -- copied out of the record for the public lists
    created TEXT NOT NULL,   -- 生成日期, the public lists' order
    record TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_updated ON items (updated_at);
CREATE INDEX IF NOT EXISTS items_public ON items (status, category, created);
CREATE TABLE IF NOT EXISTS item_history (
    item_id INTEGER NOT NULL REFERENCES items (id),
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    record TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (item_id, version)
);
CREATE TABLE IF NOT EXISTS files (
    file_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_seen ON nonces (seen_at);
CREATE TABLE IF NOT EXISTS index_serials (
    org_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_serial INTEGER NOT NULL,
    PRIMARY KEY (org_code, year)
);
"""


@dataclass(frozen=True)
class Outcome:
    """What a PUT or DELETE did; ``status`` is created, updated, unchanged or withdrawn."""

    external_id: str
    index_no: str
    version: int
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "index_no": self.index_no,
            "version": self.version,
            "status": self.status,
        }


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    sha256: str
    name: str
    size: int
    media_type: str
    data: bytes


class PortalStore:
    """The portal's database. Safe to share between threads; writes are serialized.

    A second ``PortalStore`` on the same file (a test looking in while the server runs)
    works too: SQLite's WAL mode lets it read while the server writes.
    """

    def __init__(self, db_path: Path | str, max_title_length: int | None = None) -> None:
        self.db_path = Path(db_path)
        self.max_title_length = max_title_length
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # WAL keeps commits durable enough
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PortalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- items -------------------------------------------------------------------------

    def put(self, external_id: str, record: Any, org_code: str) -> Outcome:
        """Create, update or confirm one item; raises ``Invalid`` or ``Conflict``.

        The whole decision runs in one write transaction, so a PUT repeated after a lost
        answer (or two racing copies) finds the first one's row and never adds a second.
        """
        with self._lock, self._write():
            errors = validate_record(
                record, external_id, self._file_hashes(record), self.max_title_length
            )
            if errors:
                raise Invalid(errors)
            row = self._row(external_id)
            index_no = index_no_for(self._db, record, row, org_code)
            stored = dict(record, index_no=index_no)
            digest = content_hash(stored)
            now = utc_now()
            if row is not None and row["status"] == "active" and row["content_hash"] == digest:
                return Outcome(external_id, index_no, row["version"], "unchanged")
            text = _dump(stored)  # once for the item and its history: 10 us a record
            if row is None:
                cursor = self._db.execute(
                    "INSERT INTO items (external_id, index_no, version, status, content_hash,"
                    " category, created, record, created_at, updated_at)"
                    " VALUES (?, ?, 1, 'active', ?, ?, ?, ?, ?, ?)",
                    (external_id, index_no, digest, record["category"], record["created"],
                     text, now, now),
                )  # fmt: skip
                self._add_history(cursor.lastrowid, 1, digest, text, now)
                return Outcome(external_id, index_no, 1, "created")
            version = row["version"] + 1
            self._db.execute(
                "UPDATE items SET version = ?, status = 'active', content_hash = ?, category = ?,"
                " created = ?, record = ?, updated_at = ? WHERE id = ?",
                (version, digest, record["category"], record["created"], text, now, row["id"]),
            )  # fmt: skip
            self._add_history(row["id"], version, digest, text, now)
            return Outcome(external_id, index_no, version, "updated")

    def withdraw(self, external_id: str) -> Outcome | None:
        """Mark an item 撤销 (kept, hidden from citizens); None when it is unknown.

        Withdrawing twice is harmless: the second call finds it withdrawn and says so.
        """
        with self._lock, self._write():
            row = self._row(external_id)
            if row is None:
                return None
            if row["status"] != "withdrawn":
                self._db.execute(
                    "UPDATE items SET status = 'withdrawn', updated_at = ? WHERE id = ?",
                    (utc_now(), row["id"]),
                )
            return Outcome(external_id, row["index_no"], row["version"], "withdrawn")

    def get(self, external_id: str) -> dict[str, Any] | None:
        """The record as the portal holds it, with index_no, version, status and hash."""
        with self._lock:
            row = self._row(external_id)
        return None if row is None else _full_record(row)

    def items(self, include_withdrawn: bool = True) -> list[dict[str, Any]]:
        """Every stored record in arrival order (see ``get`` for the form)."""
        where = "" if include_withdrawn else " WHERE status = 'active'"
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM items{where} ORDER BY id").fetchall()
        return [_full_record(row) for row in rows]

    def count(self, include_withdrawn: bool = True) -> int:
        where = "" if include_withdrawn else " WHERE status = 'active'"
        with self._lock:
            return int(self._db.execute(f"SELECT count(*) FROM items{where}").fetchone()[0])

    def history(self, external_id: str) -> list[dict[str, Any]]:
        """Every version the bridge delivered, oldest first; [] for an unknown item."""
        with self._lock:
            rows = self._db.execute(
                "SELECT h.* FROM item_history h JOIN items i ON i.id = h.item_id"
                " WHERE i.external_id = ? ORDER BY h.version",
                (external_id,),
            ).fetchall()
        return [
            {
                "version": row["version"],
                "content_hash": row["content_hash"],
                "recorded_at": row["recorded_at"],
                "record": json.loads(row["record"]),
            }
            for row in rows
        ]

    def changes(
        self, since: str | None, after_id: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the reconciliation list, in id order, and the id to continue after.

        Ordering by the internal id (not by time) keeps pages stable while items change.
        """
        sql = "SELECT * FROM items WHERE id > ?"
        params: list[Any] = [after_id]
        if since is not None:
            sql += " AND updated_at >= ?"
            params.append(since)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit + 1)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        page = [
            {
                "external_id": row["external_id"],
                "index_no": row["index_no"],
                "content_hash": row["content_hash"],
                "status": row["status"],
                "updated_at": row["updated_at"],
            }
            for row in rows
        ]
        return page, (rows[-1]["id"] if more else None)

    # -- the citizen's view --------------------------------------------------------------

    def category_counts(self) -> dict[str, int]:
        """Active items per 组配分类, every category present (zero when empty)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT category, count(*) FROM items WHERE status = 'active' GROUP BY category"
            ).fetchall()
        found = {row[0]: row[1] for row in rows}
        return {category: found.get(category, 0) for category in CATEGORIES}

    def public_list(
        self, category: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Active items newest first (by 生成日期, then arrival), and how many there are."""
        where = "status = 'active'" + (" AND category = ?" if category else "")
        params: list[Any] = [category] if category else []
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM items WHERE {where}", params)
            count = int(total.fetchone()[0])
            rows = self._db.execute(
                f"SELECT * FROM items WHERE {where} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [_full_record(row) for row in rows], count

    # -- files ---------------------------------------------------------------------------

    def add_file(self, data: bytes, sha256: str, name: str, media_type: str) -> tuple[str, bool]:
        """Store an attachment once per sha256; returns (file_id, created)."""
        with self._lock, self._write():
            row = self._db.execute("SELECT file_id FROM files WHERE sha256 = ?", (sha256,))
            found = row.fetchone()
            if found is not None:
                return str(found[0]), False
            file_id = "f" + secrets.token_hex(12)
            self._db.execute(
                "INSERT INTO files (file_id, sha256, name, size, media_type, bytes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file_id, sha256, name, len(data), media_type, data, utc_now()),
            )
            return file_id, True

    def get_file(self, file_id: str) -> StoredFile | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM files WHERE file_id = ?", (file_id,)).fetchone()
        if row is None:
            return None
        return StoredFile(
            row["file_id"], row["sha256"], row["name"], row["size"], row["media_type"], row["bytes"]
        )

    # -- replay protection -----------------------------------------------------------------

    def remember_nonce(self, nonce: str, now: float, ttl: float) -> bool:
        """Record a nonce; False when it was already seen within ``ttl`` seconds (a replay).

        Older nonces are purged on the way: the timestamp check refuses them anyway.
        """
        with self._lock, self._write():
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - ttl,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO nonces (nonce, seen_at) VALUES (?, ?)", (nonce, now)
            )
            return cursor.rowcount == 1

    # -- internals -------------------------------------------------------------------------

    def _write(self) -> _Transaction:
        return _Transaction(self._db)

    def _row(self, external_id: str) -> sqlite3.Row | None:
        cursor = self._db.execute("SELECT * FROM items WHERE external_id = ?", (external_id,))
        row: sqlite3.Row | None = cursor.fetchone()
        return row

    def _file_hashes(self, record: Any) -> dict[str, str]:
        attachments = record.get("attachments") if isinstance(record, dict) else None
        if not isinstance(attachments, list):
            return {}
        ids = [a["file_id"] for a in attachments if isinstance(a, dict) and a.get("file_id")]
        ids = [i for i in ids if isinstance(i, str)]
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT file_id, sha256 FROM files WHERE file_id IN ({marks})", ids
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def _add_history(
        self, item_id: int | None, version: int, digest: str, record: str, at: str
    ) -> None:
        self._db.execute(
            "INSERT INTO item_history (item_id, version, content_hash, record, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (item_id, version, digest, record, at),
        )


class _Transaction:
    """``BEGIN IMMEDIATE`` … COMMIT/ROLLBACK: takes the write lock up front, so two
    writers (two PortalStores on one file) wait for each other instead of deadlocking."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


# json.dumps(record, ensure_ascii=False) with the encoder made once, not on every call
_dump = json.JSONEncoder(ensure_ascii=False).encode


def _full_record(row: sqlite3.Row) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(row["record"])
    record.update(
        index_no=row["index_no"],
        version=row["version"],
        status=row["status"],
        content_hash=row["content_hash"],
        updated_at=row["updated_at"],
    )
    return record
