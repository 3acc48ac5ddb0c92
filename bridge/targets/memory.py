"""In-memory target: the reference implementation of ``Target`` and the test fake.

It behaves like Portal API v1: the first put of an item mints an index number unless
the record carries one, a put of the same content is "unchanged", a delete keeps the
record marked withdrawn, and files are stored once per sha256.

The checks every target makes on a record before storing it live here too
(``record_problems``), so the exchange targets refuse exactly what the reference refuses.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from bridge.catalog import format_index_no, index_no_form_problem
from bridge.errors import Rejected
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Listed, Receipt, Target

MAX_EXTERNAL_ID = 512  # characters; the exchange table's column width


def attachment_file_ids(record: Mapping[str, Any]) -> list[str]:
    """The ``file_id`` of each attachment that names one (for looking them up)."""
    attachments = record.get("attachments")
    if not isinstance(attachments, list):
        return []
    return [
        a["file_id"]
        for a in attachments
        if isinstance(a, dict) and isinstance(a.get("file_id"), str)
    ]


def record_problems(
    record: Mapping[str, Any], file_sha256: Mapping[str, str]
) -> list[dict[str, str]]:
    """Why a target refuses ``record`` (HTTP 422 on the portal); [] when it is acceptable.

    Only what storing needs: an id, a 成文 date (its year numbers the 索引号), a
    well-formed index_no, and attachments that point at uploaded files with the same
    sha256 (a record is never stored with an attachment the target cannot serve).
    ``file_sha256`` maps the known file ids among the record's onto their sha256.
    """
    errors: list[dict[str, str]] = []

    def fail(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    external_id = record.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        fail("external_id", "is required")
    elif len(external_id) > MAX_EXTERNAL_ID:
        fail("external_id", f"is {len(external_id)} characters; at most {MAX_EXTERNAL_ID}")
    created = record.get("created")
    try:
        date.fromisoformat(created if isinstance(created, str) and len(created) == 10 else "")
    except ValueError:
        fail("created", "must be a date YYYY-MM-DD")
    index_no = record.get("index_no")
    if index_no is not None and (problem := index_no_form_problem(index_no)):
        fail("index_no", problem)
    attachments = record.get("attachments") or []
    if not isinstance(attachments, list):
        fail("attachments", "must be a list")
        attachments = []
    for n, a in enumerate(attachments):
        file_id = a.get("file_id") if isinstance(a, dict) else None
        if not isinstance(file_id, str) or file_id not in file_sha256:
            fail(f"attachments[{n}].file_id", f"unknown file {file_id!r}: upload it first")
        elif a.get("sha256") not in (None, file_sha256[file_id]):
            fail(f"attachments[{n}].sha256", f"does not match the sha256 of file {file_id!r}")
    return errors


def invalid(external_id: object, errors: list[dict[str, str]]) -> Rejected:
    """The 422 for ``record_problems``' answer, with every problem in the message."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Rejected(f"record {external_id!r} refused: {detail}", 422, errors)


def utc_now() -> str:
    """Fixed-width UTC ISO timestamps, so string order is time order (``since`` relies on it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def utc_since(since: str) -> str:
    """``since`` in the form of ``utc_now``; a time without an offset is read as UTC."""
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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
            known = {
                f: hashlib.sha256(self.files[f][1]).hexdigest()
                for f in attachment_file_ids(record)
                if f in self.files
            }
            errors = record_problems(record, known)
            if errors:
                raise invalid(external_id, errors)
            digest = content_hash(record)
            held = self.items.get(external_id)
            index_no = record.get("index_no")
            if held is not None and index_no not in (None, held["index_no"]):
                raise Rejected(
                    f"item {external_id!r} is filed as {held['index_no']}; "
                    f"its index_no cannot change to {index_no}",
                    409,
                )
            if held is None and index_no:
                for other_id, other in self.items.items():
                    if other["index_no"] == index_no:
                        raise Rejected(f"index_no {index_no} already used by {other_id}", 409)
            now = utc_now()
            if held is None:
                index_no = index_no or self._mint(int(record["created"][:4]))
                self.items[external_id] = {
                    **copy.deepcopy(record),
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
                **copy.deepcopy(record),
                "index_no": held["index_no"],
                "version": version,
                "status": "active",
                "content_hash": digest,
                "updated_at": now,
            }
            return Receipt(external_id, held["index_no"], version, "updated")

    def _mint(self, year: int) -> str:
        """The next free serial for the 成文 year; skips numbers supplied with records."""
        taken = {held["index_no"] for held in self.items.values()}
        serial = self._serials.get(year, 0) + 1
        while format_index_no(self.org_code, year, serial) in taken:
            serial += 1
        self._serials[year] = serial
        return format_index_no(self.org_code, year, serial)

    def delete(self, external_id: str) -> Receipt:
        with self._lock:
            self.calls.append(("delete", external_id))
            held = self.items.get(external_id)
            if held is None:
                return Receipt(external_id, None, None, "withdrawn")
            if held["status"] != "withdrawn":  # a repeated withdrawal changes nothing
                held["status"] = "withdrawn"
                held["updated_at"] = utc_now()
            return Receipt(external_id, held["index_no"], held["version"], "withdrawn")

    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        with self._lock:
            self.calls.append(("upload", sha256))
            if hashlib.sha256(data).hexdigest() != sha256:
                raise Rejected(
                    f"file {name!r}: sha256 does not match its bytes",
                    422,
                    [{"field": "sha256", "message": "does not match the bytes"}],
                )
            file_id = "f-" + sha256[:24]
            self.files.setdefault(file_id, (name, data, media_type))
            return file_id

    def get(self, external_id: str) -> dict[str, Any] | None:
        with self._lock:
            held = self.items.get(external_id)
            return copy.deepcopy(held) if held else None

    def listing(self, since: str | None = None) -> Iterator[Listed]:
        after = utc_since(since) if since else None
        with self._lock:
            held_now = list(self.items.items())
        for external_id, held in held_now:
            if after and held["updated_at"] < after:
                continue
            yield Listed(
                external_id,
                held["index_no"],
                held["content_hash"],
                held["status"],
                held["updated_at"],
            )
