"""The conditional-GET cache and the cursors: what a write keeps, and what it costs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text

from bridge.state import runs
from bridge.state.db import Database, open_database

PAGE = "http://site.example/art/"


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the store runs inside the block (BEGIN and COMMIT left out)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def cache(db: Database) -> dict[str, tuple[str | None, str | None, object]]:
    with db.read() as s:
        rows = s.execute(text("SELECT url, etag, last_modified, updated_at FROM fetch_cache"))
        return {url: (etag, modified, at) for url, etag, modified, at in rows}


def test_a_batch_of_validators_is_written_with_one_statement_and_each_page_keeps_the_newest(
    state_url, monkeypatch
):
    db = open_database(state_url)
    upserts: list[int] = []  # rows per call of the upsert on the driver's cursor
    real = runs._UPSERT_VALIDATORS.execute_many

    def counted(conn, rows):
        upserts.append(len(rows))
        real(conn, rows)

    monkeypatch.setattr(runs._UPSERT_VALIDATORS, "execute_many", counted)
    try:
        with db.write() as s:
            runs.remember_validators(s, {f"{PAGE}{i}.html": (f'"v{i}"', None) for i in range(3)})
        before = cache(db)
        pages: dict[str, tuple[str | None, str | None]] = {
            f"{PAGE}{i}.html": (f'"w{i}"', "Mon, 02 Nov 2026 09:00:00 GMT") for i in range(50)
        }
        pages[f"{PAGE}1.html"] = ('"v1"', None)  # unchanged
        pages[f"{PAGE}2.html"] = (None, None)  # the page came without validators this time
        with statements(db) as seen, db.write() as s:
            runs.remember_validators(s, pages)
        # One upsert for all 49 pages (one executemany on the driver's cursor, which
        # SQLAlchemy's cursor events do not see) and one DELETE.
        assert upserts == [3, 49]
        assert [s.split()[0] for s in seen] == ["DELETE"], seen
        after = cache(db)
        assert set(after) == set(pages) - {f"{PAGE}2.html"}
        assert after[f"{PAGE}0.html"][:2] == ('"w0"', "Mon, 02 Nov 2026 09:00:00 GMT")
        assert after[f"{PAGE}1.html"] == before[f"{PAGE}1.html"]  # not written again
        assert after[f"{PAGE}0.html"][2] != before[f"{PAGE}0.html"][2]
        # The time is stored as SQLAlchemy stores it (the cursors' upsert binds it
        # through SQLAlchemy): the same form, digit for digit.
        with db.write() as s:
            runs.set_cursor(s, "yyedu", "k", 1)
        with db.read() as s:
            (cursor_at,) = s.execute(text("SELECT updated_at FROM cursors")).one()
        assert re.sub(r"\d", "0", str(after[f"{PAGE}0.html"][2])) == re.sub(
            r"\d", "0", str(cursor_at)
        )
        with db.read() as s:
            assert runs.validators(s, [f"{PAGE}7.html", f"{PAGE}2.html"]) == {
                f"{PAGE}7.html": ('"w7"', "Mon, 02 Nov 2026 09:00:00 GMT")
            }
    finally:
        db.dispose()


def test_workers_remembering_the_same_pages_at_once_all_commit(state_url):
    """Another worker may store a page's validators between our look and our write: the
    conflict clause takes it over, no worker fails (PostgreSQL runs these concurrently)."""
    db = open_database(state_url)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        try:
            start.wait()
            for round_ in range(5):
                with db.write() as s:
                    runs.remember_validators(
                        s, {f"{PAGE}{i}.html": (f'"{n}-{round_}"', None) for i in range(40)}
                    )
                    runs.set_cursor(s, "yyedu", "listing_complete:ywgz", {"by": n})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        rows = cache(db)
        assert len(rows) == 40
        assert len({etag for etag, _, _ in rows.values()}) == 1  # one transaction's, whole
        with db.read() as s:
            assert runs.get_cursor(s, "yyedu", "listing_complete:ywgz") in (
                {"by": n} for n in range(4)
            )
    finally:
        db.dispose()


def test_a_cursor_is_set_overwritten_read_and_cleared(state_url):
    db = open_database(state_url)
    try:
        with db.write() as s:
            assert runs.get_cursor(s, "yyedu", "k") is None
            runs.set_cursor(s, "yyedu", "k", {"a": 1, "标题": "甲"})
            assert runs.get_cursor(s, "yyedu", "k") == {"a": 1, "标题": "甲"}
        with db.write() as s:
            runs.set_cursor(s, "yyedu", "k", False)
        with db.read() as s:
            assert runs.get_cursor(s, "yyedu", "k") is False
        with db.write() as s:
            runs.clear_cursor(s, "yyedu", "k")
            runs.clear_cursor(s, "yyedu", "never set")
        with db.read() as s:
            assert runs.get_cursor(s, "yyedu", "k") is None
    finally:
        db.dispose()
