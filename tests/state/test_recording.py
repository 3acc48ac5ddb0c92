"""Recording a batch of records: the same rows and audit trail as one record at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from conftest import make_record
from sqlalchemy import text

from bridge import audit
from bridge.catalog import CatalogRecord
from bridge.normalize.hashing import content_hash
from bridge.state import audit_log, items, recording
from bridge.state.db import Database, open_database

WHEN = datetime(2026, 11, 2, 9, tzinfo=UTC)


@dataclass(frozen=True)
class Blob:
    """An attachment's bytes as the store reads them (a source's are in a file)."""

    sha256: str
    media_type: str
    data: bytes

    def read(self) -> bytes:
        return self.data


def rec(article_id: str, title: str = "关于做好冬季安全工作的通知") -> CatalogRecord:
    return make_record(f"yyedu:{article_id}", title, published=WHEN)


def store(
    db: Database, *records: CatalogRecord, blobs: dict[str, list] | None = None, **kw: object
) -> list[recording.RecordOutcome]:
    with db.write() as s:
        source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
        return recording.record_versions(
            s,
            source_id=source_id,
            source_name="yyedu",
            recordings=[
                recording.Recording(
                    r,
                    content_hash(r.to_json()),
                    f"fp-{r.title}",
                    (blobs or {}).get(r.external_id, ()),
                )
                for r in records
            ],
            target="portal",
            actor="test",
            run_id=None,
            **kw,  # type: ignore[arg-type]
        )


def rows(db: Database, sql: str) -> list[tuple]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(text(sql))]


def trail(db: Database) -> list[tuple[str, str, dict]]:
    return [
        (event, item, json.loads(details))
        for event, item, details in rows(
            db, "SELECT event, item, details FROM audit_events ORDER BY id"
        )
    ]


def test_a_batch_stores_each_item_its_version_and_delivery_and_the_events_item_by_item(state_url):
    db = open_database(state_url)
    try:
        outcomes = store(db, rec("a1", "甲"), rec("a2", "乙"), mint_index_no_for="002949236")
        assert [(o.action, o.external_id, o.version) for o in outcomes] == [
            ("new", "yyedu:a1", 1),
            ("new", "yyedu:a2", 1),
        ]
        deliveries = rows(
            db,
            "SELECT d.id, i.external_id, d.status, v.version FROM deliveries d "
            "JOIN items i ON i.id = d.item_id JOIN item_versions v ON v.id = d.version_id "
            "ORDER BY d.id",
        )
        assert [d[1:] for d in deliveries] == [
            ("yyedu:a1", "pending", 1),
            ("yyedu:a2", "pending", 1),
        ]
        assert [o.delivery_id for o in outcomes] == [d[0] for d in deliveries]
        events = trail(db)
        # Each item's events together, in the order the items were given.
        assert [(e, i) for e, i, _ in events] == [
            (audit.ITEM_DISCOVERED, "yyedu:a1"),
            (audit.INDEX_NO_MINTED, "yyedu:a1"),
            (audit.RECORD_CHANGED, "yyedu:a1"),
            (audit.ITEM_DISCOVERED, "yyedu:a2"),
            (audit.INDEX_NO_MINTED, "yyedu:a2"),
            (audit.RECORD_CHANGED, "yyedu:a2"),
        ]
        assert [d["index_no"] for e, _, d in events if e == audit.INDEX_NO_MINTED] == [
            "002949236/2026-00001",
            "002949236/2026-00002",
        ]
        changed = [d for e, _, d in events if e == audit.RECORD_CHANGED]
        assert changed[1] == {
            "action": "new",
            "version": 1,
            "content_hash": content_hash(rec("a2", "乙").to_json()),
            "previous_hash": None,
            "title": "乙",
            "delivery_id": deliveries[1][0],
        }
        stored = rows(db, "SELECT record FROM item_versions ORDER BY id")
        assert [json.loads(r[0])["index_no"] for r in stored] == [
            "002949236/2026-00001",
            "002949236/2026-00002",
        ]
        with db.read() as s:
            assert audit_log.head(s)[0] == len(events)
    finally:
        db.dispose()


def test_unchanged_changed_and_released_items_in_one_batch(state_url):
    db = open_database(state_url)
    try:
        a, b = rec("a1", "甲"), rec("a2", "乙")
        store(db, a, b)
        with db.write() as s:  # b is held back on a later read, a's delivery still waits
            source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
            items.quarantine(
                s, source_id=source_id, source_name="yyedu", external_id=b.external_id,
                article_id="a2", column="ywgz", url=b.source.url, fingerprint="",
                problems=[{"field": "title", "message": "required"}], actor="test", run_id=None,
            )  # fmt: skip
        before = len(trail(db))
        a2 = replace(a, body_html="<p>内容已更新。</p>")
        outcomes = store(db, a2, b, rec("a3", "丙"))
        assert [(o.action, o.version) for o in outcomes] == [
            ("changed", 2),
            ("unchanged", 1),
            ("new", 1),
        ]
        assert [(e, i) for e, i, _ in trail(db)[before:]] == [
            (audit.RECORD_CHANGED, "yyedu:a1"),
            (audit.RECORD_RELEASED, "yyedu:a2"),
            (audit.ITEM_DISCOVERED, "yyedu:a3"),
            (audit.RECORD_CHANGED, "yyedu:a3"),
        ]
        assert trail(db)[before][2]["previous_hash"] == content_hash(a.to_json())
        # a's first delivery is superseded by the second: the portal gets the newest only.
        assert rows(
            db,
            "SELECT i.external_id, v.version, d.status FROM deliveries d JOIN items i "
            "ON i.id = d.item_id JOIN item_versions v ON v.id = d.version_id ORDER BY d.id",
        ) == [
            ("yyedu:a1", 1, "superseded"),
            ("yyedu:a2", 1, "pending"),
            ("yyedu:a1", 2, "pending"),
            ("yyedu:a3", 1, "pending"),
        ]
        assert rows(
            db, "SELECT external_id, quarantine, list_fingerprint FROM items ORDER BY id"
        ) == [
            ("yyedu:a1", None, "fp-甲"),
            ("yyedu:a2", None, "fp-乙"),
            ("yyedu:a3", None, "fp-丙"),
        ]
    finally:
        db.dispose()


def test_an_item_given_twice_in_a_batch_is_recorded_as_if_one_after_the_other(state_url):
    """A list page may hold the same item twice (cross-listed): the second sees the first."""
    db = open_database(state_url)
    try:
        a = rec("a1", "甲")
        edited = replace(a, body_html="<p>第二次。</p>")
        outcomes = store(db, a, a, edited)
        assert [(o.action, o.version) for o in outcomes] == [
            ("new", 1),
            ("unchanged", 1),
            ("changed", 2),
        ]
        assert rows(db, "SELECT count(*) FROM items") == [(1,)]
        assert rows(db, "SELECT status FROM deliveries ORDER BY id") == [
            ("superseded",),
            ("pending",),
        ]
    finally:
        db.dispose()


def test_an_attachment_shared_by_items_of_a_batch_is_stored_once(state_url):
    db = open_database(state_url)
    try:
        shared = Blob("ab" * 32, "application/pdf", b"%PDF-1.4 shared")
        own = Blob("cd" * 32, "application/msword", b"own file")
        store(
            db,
            rec("a1"),
            rec("a2"),
            blobs={"yyedu:a1": [shared], "yyedu:a2": [shared, own]},
        )
        store(db, rec("a3"), blobs={"yyedu:a3": [own]})  # already stored: not again
        assert rows(db, "SELECT sha256, size, media_type FROM blobs ORDER BY sha256") == [
            ("ab" * 32, len(shared.data), "application/pdf"),
            ("cd" * 32, len(own.data), "application/msword"),
        ]
    finally:
        db.dispose()


def test_a_withdrawn_item_that_comes_back_is_a_new_version_and_its_waiting_delete_gives_way(
    state_url,
):
    db = open_database(state_url)
    try:
        a = rec("a1", "甲")
        store(db, a)
        with db.write() as s:
            items.withdraw(
                s, external_id=a.external_id, source_name="yyedu", target="portal",
                actor="test", run_id=None, reason="gone from the site",
            )  # fmt: skip
        (outcome,) = store(db, a)  # the same content, listed again
        # "new" to the portal again: a withdrawal holds no content (as before batching).
        assert (outcome.action, outcome.version) == ("new", 2)
        assert rows(db, "SELECT action, status FROM deliveries ORDER BY id") == [
            ("put", "superseded"),
            ("delete", "superseded"),
            ("put", "pending"),
        ]
        assert rows(db, "SELECT status, version FROM items") == [("active", 2)]
        assert trail(db)[-1][2]["previous_hash"] is None  # withdrawn: no content held
    finally:
        db.dispose()


def test_a_changed_version_is_filed_under_the_items_number_whatever_its_page_shows(state_url):
    # The record is copied only where its 索引号 or remarks change: the one it was filed
    # under kept as the page's when the page shows it, else taken as "filed" (with a remark
    # when the page shows another), the remarks normalization made kept either way.
    db = open_database(state_url)
    number, other = "002949236/2026-00001", "002949236/2026-00009"
    first = replace(
        rec("a1"), index_no=number, provenance={"index_no": "page:索引号"}, remarks=("odd",)
    )
    store(db, first)
    for title, shown in (("改一", number), ("改二", other), ("改三", None)):
        store(db, replace(first, title=title, index_no=shown))
    states = [
        json.loads(t) for (t,) in rows(db, "SELECT record FROM item_versions ORDER BY version")
    ]
    assert [(s["index_no"], s["provenance"]["index_no"], s["remarks"]) for s in states] == [
        (number, "page:索引号", ["odd"]),
        (number, "page:索引号", ["odd"]),
        (
            number,
            "filed",
            ["odd", f"索引号 {other}: the page shows it, the item is filed as {number}"],
        ),
        (number, "filed", ["odd"]),
    ]
    flagged = [d["remarks"] for event, _, d in trail(db) if event == audit.RECORD_FLAGGED]
    assert flagged == [["odd"], ["odd"], states[2]["remarks"], ["odd"]]
    db.dispose()
