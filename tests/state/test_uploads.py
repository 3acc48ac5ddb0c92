"""The file ids a target gave are remembered together, the first one for a file standing."""

from __future__ import annotations

import time

from sqlalchemy import text

from bridge import defaults
from bridge.state import outbox
from bridge.state.db import open_database
from bridge.state.models import UploadRow, utcnow

_BLOB = text(
    "INSERT INTO blobs (sha256, size, media_type, data, created_at)"
    " VALUES (:sha, :size, 'text/plain', :data, '2026-12-07 08:00:00')"
)


def test_uploads_are_remembered_together_and_the_first_id_stands(state_url):
    db = open_database(state_url)
    try:
        with db.write() as s:
            outbox.remember_uploads(s, "portal", [("a" * 64, "f-a")])
        with db.write() as s:
            outbox.remember_uploads(s, "portal", [])  # nothing to remember: no statement
            outbox.remember_uploads(
                s, "portal", [("a" * 64, "f-other"), ("b" * 64, "f-b"), ("c" * 64, "f-c")]
            )
            outbox.remember_uploads(s, "other", [("b" * 64, "o-b")])
        with db.read_rows() as conn:
            assert outbox.uploaded_files(
                conn, "portal", ["a" * 64, "b" * 64, "c" * 64, "d" * 64]
            ) == {
                "a" * 64: "f-a",
                "b" * 64: "f-b",
                "c" * 64: "f-c",
            }
            assert outbox.uploaded_files(conn, "other", ["a" * 64, "b" * 64]) == {"b" * 64: "o-b"}
        with db.read() as s:  # the time is stored as the ORM stores it, and reads back so
            row = s.get(UploadRow, ("portal", "c" * 64))
            assert row is not None
            assert abs((utcnow() - row.created_at).total_seconds()) < 60
    finally:
        db.dispose()


def test_an_attachment_is_read_while_a_writer_holds_the_store(state_url):
    """The bytes to upload come from a plain read transaction: it neither waits for a
    writer (SQLite: not BEGIN IMMEDIATE) nor sees its uncommitted rows."""
    db = open_database(state_url)
    try:
        with db.write() as s:
            s.connection().execute(_BLOB, {"sha": "a" * 64, "size": 3, "data": b"abc"})
        with db.write() as writer:
            writer.connection().execute(_BLOB, {"sha": "b" * 64, "size": 1, "data": b"b"})
            started = time.monotonic()
            with db.read_rows() as conn:
                assert outbox.blob_data(conn, "a" * 64) == b"abc"
                assert outbox.blob_data(conn, "b" * 64) is None
            assert time.monotonic() - started < defaults.SQLITE_BUSY_TIMEOUT_MS / 1000
    finally:
        db.dispose()
