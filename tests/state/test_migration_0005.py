"""Migration 0005 (items.checked_at) on a store holding items, on the backend under test:
`pytest --state-backend=postgresql` runs it against PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from bridge.state import revalidation
from bridge.state.db import Database, _alembic_config, head_revision, open_database
from bridge.state.models import ItemRow


def test_0005_adds_checked_at_to_a_store_with_items_and_revalidation_reads_it(state_url):
    from alembic import command

    db = Database(state_url)
    cfg = _alembic_config()
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(
            text(
                "INSERT INTO sources (id, name, kind, base_url, created_at) "
                "VALUES (1, 'a', 'trs', 'http://x/', :t)"
            ),
            {"t": now},
        )
        for n in (1, 2):
            conn.execute(
                text(
                    'INSERT INTO items (id, source_id, external_id, article_id, "column", url, '
                    "status, content_hash, version, first_seen, last_seen, updated_at) VALUES "
                    "(:n, 1, :ext, :art, 'k', :url, 'active', 'h', 1, :t, :t, :t)"
                ),
                {"n": n, "ext": f"a:t{n}", "art": f"t{n}", "url": f"http://x/t{n}.html", "t": now},
            )
    db.dispose()

    db = Database(state_url)
    assert db.current_revision() == "0004"
    assert db.upgrade() == ("0004", head_revision())
    db.dispose()

    db = open_database(state_url)
    with db.engine.connect() as conn:
        columns = {c["name"]: c for c in inspect(conn).get_columns("items")}
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("items")}
    assert columns["checked_at"]["nullable"] is True
    assert indexes["ix_items_source_checked"] == ["source_id", "checked_at"]
    with db.read() as s:
        # never revalidated: checked when first fetched (the migration set first_seen)
        assert [s.get(ItemRow, n).checked_at for n in (1, 2)] == [now, now]
        # queued at their first fetch, oldest (then lowest id) first
        due = revalidation.checked_longest_ago(s, 1, None, 1)
        assert [c.external_id for c in due] == ["a:t1"]
    checked = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    with db.write() as s:
        revalidation.mark_checked(s, ["a:t1"], checked)
    with db.read() as s:
        assert [c.external_id for c in revalidation.checked_longest_ago(s, 1, None, 2)] == [
            "a:t2",
            "a:t1",
        ]
        assert s.get(ItemRow, 1).checked_at == checked
        assert s.get(ItemRow, 2).checked_at == now
    db.dispose()
