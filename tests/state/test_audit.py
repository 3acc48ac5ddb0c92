"""The hash-chained audit trail: every kind of tampering is found at the right row."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text

from bridge import audit
from bridge.state import audit_log
from bridge.state.audit_log import AuditFilter
from bridge.state.db import Database, open_database


@pytest.fixture
def trail(state_url: str) -> str:
    """A store (SQLite or PostgreSQL: --state-backend) with 18 chained events."""
    db = open_database(state_url)
    events = [audit.RUN_STARTED, audit.ITEM_DISCOVERED, audit.RECORD_CHANGED, audit.DELIVERY_SENT,
              audit.DELIVERY_CONFIRMED, audit.RUN_FINISHED]  # fmt: skip
    for n in range(3):
        with db.write() as s:
            for event in events:
                audit_log.append(s, event, actor="daemon" if n else "cli:alice", source="yyedu",
                                 item=f"yyedu:t{n}" if event.startswith(("item", "record", "delivery")) else None,
                                 details={"n": n, "标题": "关于做好招生工作的通知"})  # fmt: skip
    db.dispose()
    return state_url


def tamper(url: str, sql: str, **params: object) -> None:
    """Change the trail behind the bridge's back, as someone with database access could."""
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)
    db.dispose()


def verify(url: str) -> audit.VerifyResult:
    db = open_database(url)
    with db.read() as s:
        result = audit.verify_chain(audit_log.iter_chain(s), head=audit_log.head(s))
    db.dispose()
    return result


def test_intact_trail_verifies(trail):
    result = verify(trail)
    assert result.ok
    assert result.message == "audit trail intact: 18 events verified"


def test_edited_row(trail):
    tamper(trail, "UPDATE audit_events SET actor = 'cli:mallory' WHERE id = 7")
    result = verify(trail)
    assert (result.ok, result.first_bad_id) == (False, 7)
    assert (
        result.message
        == "audit chain broken at row 7: its content does not match its hash (the row was edited)"
    )


def test_deleted_row(trail):
    tamper(trail, "DELETE FROM audit_events WHERE id = 10")
    result = verify(trail)
    assert (result.ok, result.first_bad_id) == (False, 11)
    assert "does not follow row 9" in result.message


def test_reordered_rows(trail):
    columns = "ts, actor, event, source, item, run_id, details, prev_hash, hash"
    db = Database(trail)
    with db.engine.begin() as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                text(f"SELECT id, {columns} FROM audit_events WHERE id IN (4, 5)")
            )
        }
        sets = ", ".join(f"{c} = :{c}" for c in columns.split(", "))
        for target, source in ((4, 5), (5, 4)):
            values = dict(zip(columns.split(", "), rows[source], strict=True))
            conn.execute(
                text(f"UPDATE audit_events SET {sets} WHERE id = :id"), {**values, "id": target}
            )
    db.dispose()
    result = verify(trail)
    assert (result.ok, result.first_bad_id) == (False, 4)


def test_rows_cut_off_the_end(trail):
    tamper(trail, "DELETE FROM audit_events WHERE id > 15")
    result = verify(trail)
    assert (result.ok, result.first_bad_id) == (False, 16)
    assert result.message == (
        "audit chain broken after row 15: the chain head records row 18, so rows at the end were deleted"
    )


def test_verify_command_exit_codes(trail, tmp_path, cli):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bridge]\nstate_url = "{trail}"\n[[sources]]\nname = "yyedu"\nbase_url = "http://x/"\n'
        'publisher = "p"\norg_code = "002949236"\n[[sources.columns]]\nkey = "k"\npath = "k/"\n'
        '[target]\nurl = "https://y/"\nkey = "k"\nsecret = "s"\n'
    )
    ok = cli("--config", str(config), "audit", "verify")
    assert (ok.code, ok.out.strip()) == (0, "audit trail intact: 18 events verified")
    tamper(trail, "UPDATE audit_events SET details = '{}' WHERE id = 3")
    bad = cli("--config", str(config), "audit", "verify")
    assert bad.code == 1
    assert (
        bad.err.strip()
        == "bridge: audit chain broken at row 3: its content does not match its hash (the row was edited)"
    )


def test_audit_filters_and_formats(trail, tmp_path, cli):
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bridge]\nstate_url = "{trail}"\n[[sources]]\nname = "yyedu"\nbase_url = "http://x/"\n'
        'publisher = "p"\norg_code = "002949236"\n[[sources.columns]]\nkey = "k"\npath = "k/"\n'
        '[target]\nurl = "https://y/"\nkey = "k"\nsecret = "s"\n'
    )
    as_json = cli(
        "--config",
        str(config),
        "audit",
        "--event",
        "delivery",
        "--item",
        "yyedu:t1",
        "--format",
        "json",
    )
    assert as_json.code == 0, as_json.err
    events = json.loads(as_json.out)  # one array
    assert [(e["id"], e["event"], e["item"], e["actor"]) for e in events] == [
        (10, "delivery.sent", "yyedu:t1", "daemon"),
        (11, "delivery.confirmed", "yyedu:t1", "daemon"),
    ]
    assert events[0]["details"] == {"n": 1, "标题": "关于做好招生工作的通知"}

    as_csv = cli("--config", str(config), "audit", "--limit", "2", "--format", "csv")
    assert as_csv.out.startswith("\ufeff")  # Excel reads UTF-8 only with a BOM
    rows = list(csv.reader(io.StringIO(as_csv.out.removeprefix("\ufeff"))))
    assert rows[0] == [
        "id",
        "time",
        "actor",
        "event",
        "source",
        "item",
        "run_id",
        "title",
        "details",
        "details_json",
        "prev_hash",
        "hash",
    ]
    assert all(r[1].endswith("+08:00") for r in rows[1:])  # Asia/Shanghai, as the table
    assert [r[0] for r in rows[1:]] == ["17", "18"]

    db = open_database(trail)
    with db.read() as s:
        first = audit_log.query(s, AuditFilter(), limit=1)[0]
    db.dispose()
    later = first.ts.isoformat()
    since = cli(
        "--config",
        str(config),
        "audit",
        "--since",
        later,
        "--event",
        "run.started",
        "--format",
        "jsonl",
    )
    assert [json.loads(x)["id"] for x in since.out.splitlines()] == [1, 7, 13]
    until = cli("--config", str(config), "audit", "--until", later, "--format", "jsonl")
    assert until.out == ""

    table = cli("--config", str(config), "audit", "--event", "run.finished")
    assert table.code == 0
    assert "run.finished" in table.out and "cli:alice" in table.out
    bad = cli("--config", str(config), "audit", "--since", "yesterday")
    assert bad.code == 2
    assert "'yesterday' is not a date" in bad.err
