"""Attachments on their way to the target: the file ids it gave, the bytes to upload."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.state.driver_sql import DriverSelect, DriverStatement
from bridge.state.models import BlobRow, UploadRow, bound_time, times_as_text, utcnow
from bridge.state.sql import InsertIgnoring, table

_UPLOADS = table(UploadRow)
_INSERT_UPLOAD = InsertIgnoring(_UPLOADS, "target", "sha256")
# The same for a batch's uploads, on the driver's cursor (see driver_sql): 12 rows bound
# by SQLAlchemy cost more than inserting them
_INSERT_UPLOADS = DriverStatement(
    {
        "sqlite": times_as_text(sqlite.insert(_UPLOADS), "created_at").on_conflict_do_nothing(
            index_elements=["target", "sha256"]
        ),
        "postgresql": postgresql.insert(_UPLOADS).on_conflict_do_nothing(
            index_elements=["target", "sha256"]
        ),
    },
    bound=("created_at",),
)
# Every target's ids of the files (nearly always one target): the list is then the one
# parameter, and the read runs on the driver's cursor (see driver_sql), once per batch
_UPLOADED = DriverSelect(
    select(_UPLOADS.c.target, _UPLOADS.c.sha256, _UPLOADS.c.file_id).where(
        _UPLOADS.c.sha256.in_(bindparam("b_shas", expanding=True))
    ),
    "b_shas",
)
_BLOB_DATA = DriverSelect(
    select(table(BlobRow).c.data).where(
        table(BlobRow).c.sha256.in_(bindparam("b_shas", expanding=True))
    ),
    "b_shas",
)
"""On the driver's cursor: through ``Connection.execute`` SQLAlchemy's Python cost twice
the read itself (80 against 25 µs for a 30 KB file, the read connection included)."""


def uploaded_files(conn: Connection, target: str, sha256s: list[str]) -> dict[str, str]:
    """For a record's attachments: the target's file ids of those it already holds."""
    if not sha256s:
        return {}
    rows = _UPLOADED.rows(conn, list(dict.fromkeys(sha256s)))
    return {sha: file_id for of, sha, file_id in rows if of == target}


def blob_data(conn: Connection, sha256: str) -> bytes | None:
    """One attachment's bytes (None when the store does not hold it). Read one at a time,
    as they are uploaded: an item's attachments together may be hundreds of MB."""
    rows = _BLOB_DATA.rows(conn, [sha256])
    return bytes(rows[0][0]) if rows else None


def remember_upload(session: Session, target: str, sha256: str, file_id: str) -> None:
    # Another worker may have uploaded the same file: the target gives one file_id per
    # sha256, so theirs is ours.
    _INSERT_UPLOAD(session.connection(), {"target": target, "sha256": sha256, "file_id": file_id})


def remember_uploads(session: Session, target: str, uploads: list[tuple[str, str]]) -> None:
    """(sha256, file id) pairs the target gave for files uploaded just now (one
    executemany: a statement per upload was a share of a delivery's CPU)."""
    if not uploads:
        return
    conn = session.connection()
    at = bound_time(utcnow(), conn.dialect)
    _INSERT_UPLOADS.execute_many(
        conn,
        [{"target": target, "sha256": sha256, "file_id": file_id, "created_at": at}
         for sha256, file_id in uploads],
    )  # fmt: skip
