"""The rows a recorded batch leaves: its times as every backend stores a datetime, its
attachments each once however many statements they took, its record text canonical."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from test_recording import Blob, rec, rows, store

from bridge.audit import verify_chain
from bridge.normalize.hashing import canonical_json
from bridge.state import audit_log, recording_blobs
from bridge.state.db import open_database
from bridge.state.models import UTCDateTime

_TIMES = {
    "items": ("first_seen", "last_seen", "updated_at", "checked_at"),
    "item_versions": ("created_at",),
    "deliveries": ("next_attempt_at", "created_at", "updated_at"),
    "blobs": ("created_at",),
    "audit_events": ("ts",),
}


def test_a_batch_stores_its_times_as_a_bound_datetime_is_stored_and_its_record_canonical(
    state_url,
):
    db = open_database(state_url)
    data = b"%PDF-1.4 attachment"
    blob = Blob(hashlib.sha256(data).hexdigest(), "application/pdf", data)
    a, b = rec("a1"), rec("a2", "另一个通知")
    store(db, a, b, blobs={a.external_id: [blob]})
    process = UTCDateTime().dialect_impl(db.engine.dialect).bind_processor(db.engine.dialect)
    for table, columns in _TIMES.items():
        for column in columns:
            # what the driver got back for the column, read raw (SQLite: the stored text)
            values = [v for (v,) in rows(db, f"SELECT CAST({column} AS TEXT) FROM {table}")]
            assert values, (table, column)
            for raw in values:
                when = datetime.fromisoformat(raw)
                if db.is_sqlite:  # the text of the same time bound as a datetime
                    assert raw == process(when.replace(tzinfo=UTC)), (table, column)
    texts = [t for (t,) in rows(db, "SELECT record FROM item_versions ORDER BY item_id")]
    assert texts == [canonical_json(r.to_state_json()).decode() for r in (a, b)]
    with db.read() as s:
        assert verify_chain(audit_log.iter_chain(s), head=audit_log.head(s)).ok
    db.dispose()


def test_attachments_beyond_one_statements_bytes_are_all_stored_once(state_url, monkeypatch):
    monkeypatch.setattr(recording_blobs, "BLOB_ROWS_BYTES", 100)
    db = open_database(state_url)
    files = [f"file {i} ".encode() * (10 + 20 * i) for i in range(7)]
    blobs = [Blob(hashlib.sha256(d).hexdigest(), "application/pdf", d) for d in files]
    a, b = rec("a1"), rec("a2", "另一个通知")
    store(db, a, b, blobs={a.external_id: blobs[:5], b.external_id: blobs[3:]})
    stored = rows(db, "SELECT sha256, size, data FROM blobs ORDER BY sha256")
    assert stored == sorted((x.sha256, len(x.data), x.data) for x in blobs)
    db.dispose()
