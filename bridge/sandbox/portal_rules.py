"""The sandbox portal's rules for what a client sends: the checks a PUT body must pass (all
problems named at once, as HTTP 422), how an item gets its 索引号 and the conflicts that
can cause (409), and the one timestamp form the store writes and ``since`` compares.

Apart from :mod:`bridge.sandbox.portal_store` (SQLite, versions, files, nonces) because
these are the portal's contract as the bridge sees it, readable without the storage.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from bridge.catalog import (
    CATEGORIES,
    DISCLOSURE_MODES,
    VALIDITY,
    format_index_no,
    index_no_form_problem,
)

MAX_SUMMARY = 150  # DESIGN.md §4: 内容概述 is at most 150 characters

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REQUIRED_TEXT = ("title", "publisher", "created", "body_html")
_OPTIONAL_TEXT = ("summary", "doc_no", "topic", "genre", "scope", "published")


class Invalid(Exception):
    """The record breaks a rule; ``errors`` names every field at once (HTTP 422)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class Conflict(Exception):
    """The record's index_no belongs to another item, or differs from the item's (409)."""


def utc_now() -> str:
    """Fixed-width UTC ISO timestamps, so string order is time order (``since`` relies on it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def normalize_since(value: str) -> str:
    """``since`` in the stored timestamp form; a naive datetime is read as UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def validate_record(
    record: Any, external_id: str, file_sha256: dict[str, str], max_title_length: int | None = None
) -> list[dict[str, str]]:
    """Every rule the portal enforces on a PUT body, all problems reported together.

    ``file_sha256`` maps the known file ids this record refers to onto their sha256.
    ``max_title_length`` is a vendor-specific limit some real portals impose (the
    sandbox leaves it off unless asked, to let tests provoke a 422).
    """
    if not isinstance(record, dict):
        return [{"field": "body", "message": "must be a JSON object (the catalog record)"}]
    errors: list[dict[str, str]] = []

    def fail(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    if record.get("external_id") != external_id:
        fail("external_id", f"must equal the id in the path ({external_id!r})")
    for name in _REQUIRED_TEXT:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            fail(name, "is required")
    for name in _OPTIONAL_TEXT:
        if record.get(name) is not None and not isinstance(record[name], str):
            fail(name, "must be a string or null")
    created = record.get("created")
    if isinstance(created, str) and created.strip() and not _parses_as_date(created):
        fail("created", "must be a date YYYY-MM-DD")
    published = record.get("published")
    if isinstance(published, str) and not _parses_as_datetime(published):
        fail("published", "must be an ISO 8601 date and time or null")
    title = record.get("title")
    if max_title_length is not None and isinstance(title, str) and len(title) > max_title_length:
        fail("title", f"is {len(title)} characters; this portal accepts at most {max_title_length}")
    summary = record.get("summary")
    if isinstance(summary, str) and len(summary) > MAX_SUMMARY:
        fail("summary", f"is {len(summary)} characters; at most {MAX_SUMMARY} allowed")
    for name, allowed in (
        ("category", CATEGORIES),
        ("disclosure", DISCLOSURE_MODES),
        ("validity", VALIDITY),
    ):
        if record.get(name) not in allowed:
            fail(name, "must be one of " + ", ".join(allowed))
    index_no = record.get("index_no")
    if index_no is not None and (problem := index_no_form_problem(index_no)):
        fail("index_no", problem)
    keywords = record.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        fail("keywords", "must be a list of strings")
    if record.get("source") is not None and not isinstance(record["source"], dict):
        fail("source", "must be an object or null")
    attachments = record.get("attachments", [])
    if not isinstance(attachments, list):
        fail("attachments", "must be a list")
        attachments = []
    for n, attachment in enumerate(attachments):
        where = f"attachments[{n}]"
        if not isinstance(attachment, dict):
            fail(where, "must be an object")
            continue
        file_id = attachment.get("file_id")
        if not isinstance(file_id, str) or file_id not in file_sha256:
            fail(f"{where}.file_id", f"unknown file {file_id!r}: upload it with POST /api/v1/files")
        elif attachment.get("sha256") not in (None, file_sha256[file_id]):
            fail(f"{where}.sha256", f"does not match the sha256 of file {file_id!r}")
    return errors


def _parses_as_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(_DATE_RE.fullmatch(value))


def _parses_as_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def index_no_for(
    db: sqlite3.Connection, record: dict[str, Any], row: sqlite3.Row | None, org_code: str
) -> str:
    """The item's 索引号: kept forever once filed, taken as supplied, or minted."""
    wanted = record.get("index_no")
    if row is not None:
        if wanted not in (None, row["index_no"]):
            raise Conflict(
                f"item {row['external_id']!r} is filed as {row['index_no']}; "
                f"its index_no cannot change to {wanted}"
            )
        return str(row["index_no"])
    if wanted is not None:
        holder = db.execute(
            "SELECT external_id FROM items WHERE index_no = ?", (wanted,)
        ).fetchone()
        if holder is not None:
            raise Conflict(f"index_no {wanted} is already used by item {holder[0]!r}")
        return str(wanted)
    return _mint(db, org_code, date.fromisoformat(record["created"]).year)


def _mint(db: sqlite3.Connection, org_code: str, year: int) -> str:
    """Next free serial for (org, 成文 year); skips numbers a bridge supplied itself."""
    found = db.execute(
        "SELECT last_serial FROM index_serials WHERE org_code = ? AND year = ?",
        (org_code, year),
    ).fetchone()
    serial = (found[0] if found else 0) + 1
    while db.execute(
        "SELECT 1 FROM items WHERE index_no = ?", (format_index_no(org_code, year, serial),)
    ).fetchone():
        serial += 1
    db.execute(
        "INSERT INTO index_serials (org_code, year, last_serial) VALUES (?, ?, ?)"
        " ON CONFLICT (org_code, year) DO UPDATE SET last_serial = excluded.last_serial",
        (org_code, year, serial),
    )
    return format_index_no(org_code, year, serial)
