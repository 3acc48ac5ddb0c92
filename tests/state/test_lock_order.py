"""One lock order for every transaction that appends to the audit chain (PostgreSQL).

A transaction recording a batch of items and a sender storing a portal answer both
append to the chain and both lock item rows. When the chain head was locked at the
first event, the recorder held the head and wanted an item row that the sender held
while it waited for the head: PostgreSQL broke the deadlock by failing one of them
(seen in CI). Every appending transaction now takes the head first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from conftest import make_record
from sqlalchemy import text
from waiting import wait_for

from bridge.audit import verify_chain
from bridge.catalog import CatalogRecord
from bridge.normalize.hashing import content_hash
from bridge.state import audit_log, items, outbox, recording
from bridge.state.db import Database, open_database

pytestmark = pytest.mark.slow


def record(article_id: str, title: str) -> CatalogRecord:
    return make_record(f"yyedu:{article_id}", title, published=datetime(2026, 11, 2, 9, tzinfo=UTC))


def put(db: Database, source_id: int, rec: CatalogRecord, session=None) -> None:
    def write(s) -> None:
        recording.record_versions(
            s, source_id=source_id, source_name="yyedu",
            recordings=[recording.Recording(rec, content_hash(rec.to_json()), "")],
            target="portal", actor="test", run_id=None,
        )  # fmt: skip

    if session is not None:
        write(session)
        return
    with db.write() as s:
        write(s)


def waiting_on_a_lock(db: Database) -> int:
    with db.read() as s:
        return int(
            s.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")
            ).scalar_one()
        )  # fmt: skip


def test_a_recording_batch_and_a_sender_on_the_same_item_both_commit(pg_url):
    db = open_database(pg_url)
    try:
        with db.write() as s:
            source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
        put(db, source_id, record("x1", "关于做好冬季校园安全工作的通知"))
        with db.write() as s:
            (claimed,) = outbox.claim(s, target="portal", owner="h:1/0", lease_seconds=60, limit=1)
            assert outbox.mark_sent(
                s, claimed, owner="h:1/0", lease_seconds=60, actor="test", target="portal"
            )

        errors: list[BaseException] = []

        def sender_stores_the_answer() -> None:
            try:
                with db.write() as s:
                    answer = {"external_id": claimed.external_id, "index_no": "I/2026-00001",
                              "version": 1, "status": "created"}  # fmt: skip
                    assert outbox.complete(s, claimed, owner="h:1/0", actor="test", answer=answer)
            except BaseException as exc:  # the assertion below says what
                errors.append(exc)

        # The recorder's transaction: a new item first (its event takes the head)...
        with db.write() as s:
            put(db, source_id, record("x2", "关于开展学生体质健康监测的通知"), session=s)
            sender = threading.Thread(target=sender_stores_the_answer)
            sender.start()
            wait_for(lambda: waiting_on_a_lock(db), 10, what="the sender to wait on a lock")
            assert waiting_on_a_lock(db) == 1  # the sender waits for the head
            # ...then the item the sender is confirming, changed at the source.
            put(db, source_id, record("x1", "关于做好冬季校园安全工作的补充通知"), session=s)
        sender.join(timeout=30)
        assert errors == [] and not sender.is_alive()

        with db.read() as s:
            states = dict(
                s.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status")).all()
            )
            events = [
                tuple(r)
                for r in s.execute(text("SELECT item, event FROM audit_events ORDER BY id")).all()
            ]
            head = tuple(s.execute(text("SELECT last_id, count FROM audit_head")).one())
        # The first version confirmed, the second waiting for its turn, the new item queued.
        assert states == {"done": 1, "pending": 2}
        assert events == [
            ("yyedu:x1", "item.discovered"),
            ("yyedu:x1", "record.changed"),
            ("yyedu:x1", "delivery.sent"),
            ("yyedu:x2", "item.discovered"),
            ("yyedu:x2", "record.changed"),
            ("yyedu:x1", "record.changed"),
            ("yyedu:x1", "delivery.confirmed"),
        ]
        assert head == (7, 7)
        with db.read() as s:
            assert verify_chain(audit_log.iter_chain(s), head=audit_log.head(s)).ok
    finally:
        db.dispose()
