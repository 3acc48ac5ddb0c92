"""Storing the attachments of recorded versions: each file once per sha256.

The same file may come with another item, or with another worker's: the same bytes
under the same sha256, so whichever row is stored first is as good as this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from bridge.state.models import BlobRow, times_as_text
from bridge.state.sql import table


class Blob(Protocol):
    """An attachment's bytes, read only when they are stored (a source's
    ``RawAttachment`` waits in a temporary file)."""

    @property
    def sha256(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    def read(self) -> bytes: ...


# Attachment bytes inserted by one statement at most; one larger attachment goes alone.
# Memory holds this much, or that one attachment: never a whole batch's files.
BLOB_ROWS_BYTES = 1 << 20

_BLOBS = table(BlobRow)
_KNOWN_BLOBS = select(_BLOBS.c.sha256).where(_BLOBS.c.sha256.in_(bindparam("shas", expanding=True)))
_INSERT_BLOBS = {
    "sqlite": times_as_text(sqlite.insert(_BLOBS), "created_at").on_conflict_do_nothing(
        index_elements=["sha256"]
    ),
    "postgresql": postgresql.insert(_BLOBS).on_conflict_do_nothing(index_elements=["sha256"]),
}


def store_blobs(conn: Connection, wanted: dict[str, Blob], at: datetime | str) -> None:
    """Store the ``wanted`` blobs (by sha256) the store does not hold yet, read in turn
    and inserted a few at a time (``BLOB_ROWS_BYTES``); ``at`` is the batch's
    ``bound_time``."""
    have = set(conn.execute(_KNOWN_BLOBS, {"shas": list(wanted)}).scalars())
    insert_blobs = _INSERT_BLOBS[conn.dialect.name]
    rows: list[dict[str, Any]] = []
    held = 0
    for sha, blob in wanted.items():
        if sha in have:
            continue
        data = blob.read()
        rows.append(
            {
                "sha256": sha,
                "size": len(data),
                "media_type": blob.media_type,
                "data": data,
                "created_at": at,
            }
        )
        held += len(data)
        if held >= BLOB_ROWS_BYTES:
            conn.execute(insert_blobs, rows)
            rows, held = [], 0
    if rows:
        conn.execute(insert_blobs, rows)
