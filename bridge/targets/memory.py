"""In-memory target: the reference implementation of ``Target`` and the test fake.

It behaves like Portal API v1: the first put of an item mints an index number unless
the record carries one, a put of the same content is "unchanged", a delete keeps the
record marked withdrawn, and files are stored once per sha256.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from bridge.catalog import format_index_no
from bridge.errors import Rejected
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Listed, Receipt, Target


class MemoryTarget(Target):
    def __init__(self, name: str = "memory", org_code: str = "002949236") -> None:
        self.name = name
        self.org_code = org_code
        self.items: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes, str]] = {}  # file_id -> (name, data, media type)
        self.calls: list[tuple[str, str]] = []  # (operation, key), for tests that count
        self._serials: dict[int, int] = {}
        self._lock = threading.Lock()

    def put(self, record: dict[str, Any]) -> Receipt:
        with self._lock:
            external_id = record["external_id"]
            self.calls.append(("put", external_id))
            for a in record.get("attachments") or ():
                if a.get("file_id") not in self.files:
                    raise Rejected(
                        f"attachment {a.get('name')!r} has no uploaded file",
                        422,
                        [{"field": "attachments", "message": "unknown file_id"}],
                    )
            digest = content_hash(record)
            held = self.items.get(external_id)
            index_no = record.get("index_no")
            if index_no:
                for other_id, other in self.items.items():
                    if other_id != external_id and other["index_no"] == index_no:
                        raise Rejected(f"index_no {index_no} already used by {other_id}", 409)
            now = datetime.now(UTC).isoformat()
            if held is None:
                if not index_no:
                    year = int(record["created"][:4])
                    self._serials[year] = self._serials.get(year, 0) + 1
                    index_no = format_index_no(self.org_code, year, self._serials[year])
                self.items[external_id] = {
                    **record,
                    "index_no": index_no,
                    "version": 1,
                    "status": "active",
                    "content_hash": digest,
                    "updated_at": now,
                }
                return Receipt(external_id, index_no, 1, "created")
            if held["content_hash"] == digest and held["status"] == "active":
                return Receipt(external_id, held["index_no"], held["version"], "unchanged")
            version = held["version"] + 1
            self.items[external_id] = {
                **record,
                "index_no": held["index_no"],
                "version": version,
                "status": "active",
                "content_hash": digest,
                "updated_at": now,
            }
            return Receipt(external_id, held["index_no"], version, "updated")

    def delete(self, external_id: str) -> Receipt:
        with self._lock:
            self.calls.append(("delete", external_id))
            held = self.items.get(external_id)
            if held is None:
                return Receipt(external_id, None, None, "withdrawn")
            held["status"] = "withdrawn"
            held["updated_at"] = datetime.now(UTC).isoformat()
            return Receipt(external_id, held["index_no"], held["version"], "withdrawn")

    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        with self._lock:
            self.calls.append(("upload", sha256))
            if hashlib.sha256(data).hexdigest() != sha256:
                raise Rejected(f"file {name!r}: sha256 does not match its bytes", 422)
            file_id = "f-" + sha256[:24]
            self.files.setdefault(file_id, (name, data, media_type))
            return file_id

    def get(self, external_id: str) -> dict[str, Any] | None:
        held = self.items.get(external_id)
        return dict(held) if held else None

    def listing(self, since: str | None = None) -> Iterator[Listed]:
        for external_id, held in list(self.items.items()):
            if since and held["updated_at"] < since:
                continue
            yield Listed(
                external_id,
                held["index_no"],
                held["content_hash"],
                held["status"],
                held["updated_at"],
            )
