"""The rows a recorded batch leaves: its times as every backend stores a datetime, its
attachments each once however many statements they took, its record text canonical."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from test_recording import Blob, rec, rows, store

from bridge.audit import verify_chain
from bridge.normalize.hashing import canonical_json
from bridge.state import audit_log, recording_blobs, recording_claims
from bridge.state import recording_sql as sql
from bridge.state.db import open_database
from bridge.state.models import UTCDateTime, bind_time, bound_time, utcnow

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


def test_each_statement_run_on_the_drivers_cursor_stores_the_row_sqlalchemy_stores(state_url):
    """driver_sql skips SQLAlchemy's parameter processing: each batch statement, given the
    same row, stores the same values through the cursor as through ``Connection.execute``
    (ids apart: PostgreSQL's sequences do not roll back)."""
    db = open_database(state_url)
    store(db, rec("a0"))  # a source, an item and a version to refer to
    (source_id, item_id, version_id) = rows(
        db, "SELECT i.source_id, i.id, v.id FROM items i JOIN item_versions v ON v.item_id = i.id"
    )[0]
    dialect = db.engine.dialect
    at = bound_time(utcnow(), dialect)
    published = datetime(2026, 11, 2, 17, 30, 5, 120, tzinfo=timezone(timedelta(hours=8)))
    item = {
        "source_id": source_id, "external_id": "yyedu:x1", "article_id": "x1",
        "column": "ywgz", "url": "http://site.example/x1.html", "status": "active",
        "version": 0, "first_seen": at, "last_seen": at, "updated_at": at, "checked_at": at,
    }  # fmt: skip
    update = {
        "b_id": item_id, "list_fingerprint": "fp", "last_seen": at, "updated_at": at,
        "url": "http://site.example/a0.html?2", "quarantine": None, "version": 2,
        "content_hash": "ab" * 32, "status": "active", "index_no": "002949236/2026-00009",
    }  # fmt: skip
    version = {
        "item_id": item_id, "version": 2, "content_hash": "cd" * 32,
        "record": '{"title":"甲"}', "created_at": at,
    }  # fmt: skip
    delivery = {
        "item_id": item_id, "version_id": version_id, "action": "put", "target": "portal",
        "status": "pending", "attempts": 0, "next_attempt_at": at, "created_at": at,
        "updated_at": at,
    }  # fmt: skip
    event = {
        "id": 10_000, "ts": at, "actor": "test", "event": "record.changed", "source": "yyedu",
        "item": "yyedu:a0", "run_id": None, "details": '{"title":"甲"}', "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }  # fmt: skip
    cases = [
        (sql.INSERT_ITEMS, "items", item, {}),
        (sql.UPDATE_ITEMS, "items", update, {"published_at": published}),
        (sql.INSERT_VERSIONS, "item_versions", version, {}),
        (sql.INSERT_DELIVERIES, "deliveries", delivery, {}),
        (audit_log._INSERT_EVENT, "audit_events", event, {}),
    ]
    for statement, table, row, times in cases:
        stored = []
        for on_cursor in (False, True):
            with db.write() as s:
                conn = s.connection()
                if on_cursor:
                    bound = {k: bind_time(t, dialect) for k, t in times.items()}
                    if "RETURNING" in statement.compile(dialect, list(row | bound))[0]:
                        statement.returning(conn, [row | bound])
                    else:
                        statement.execute_many(conn, [row | bound])
                else:
                    conn.execute(statement.core(dialect), [row | times])
                result = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
                names = [d[0] for d in result.cursor.description]
                stored.append(
                    [{k: v for k, v in zip(names, r, strict=True) if k != "id"} for r in result]
                )
                s.rollback()
        assert stored[1] == stored[0], table
    db.dispose()


def test_each_select_run_on_the_drivers_cursor_reads_what_sqlalchemy_reads(state_url):
    """The batch's IN-list selects, expanded once per list length: the same rows as
    ``Connection.execute`` reads, for a list of one and of several (unknown ids too)."""
    db = open_database(state_url)
    store(db, rec("a1"), rec("a2", "另一个通知"), mint_index_no_for="002949236")
    ids = ["yyedu:a2", "yyedu:zz", "yyedu:a1"]
    numbers = [n for (n,) in rows(db, "SELECT index_no FROM items ORDER BY id")] + ["none"]
    cases = [
        (sql.LOCK_ITEMS, "ids", ids),
        (recording_claims._FILED, "ids", ids),
        (recording_claims._HOLDERS, "numbers", numbers),
    ]
    for select, param, values in cases:
        for given in (values[:1], values):
            with db.write() as s:
                conn = s.connection()
                expected = [tuple(r) for r in conn.execute(select.stmt, {param: given})]
                got = select.rows(conn, given)
            assert sorted(got) == sorted(expected) and expected, (select.stmt, given)
            if select is sql.LOCK_ITEMS:
                assert got == expected  # in id order: the one lock order
    db.dispose()


def test_an_error_on_the_drivers_cursor_is_raised_as_sqlalchemy_raises_it(state_url):
    db = open_database(state_url)
    store(db, rec("a1"))
    (event_id,) = rows(db, "SELECT min(id) FROM audit_events")[0]
    row = {
        "id": event_id, "ts": bound_time(utcnow(), db.engine.dialect), "actor": "test", "event": "e", "source": None, "item": None,
        "run_id": None, "details": "{}", "prev_hash": "0" * 64, "hash": "1" * 64,
    }  # fmt: skip
    with pytest.raises(IntegrityError), db.write() as s:  # the id is taken
        audit_log._INSERT_EVENT.execute_many(s.connection(), [row])
    with db.write() as s:  # the store is usable after
        assert recording_claims._FILED.rows(s.connection(), ["yyedu:a1"]) == []
    db.dispose()
