"""`bridge audit export` and `bridge audit verify --file`: a day's slice of the chain,
checked offline, with the first bad row named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import config_text

from bridge import audit
from bridge.state import audit_log
from bridge.state.db import open_database

MOMENTS = [  # UTC; the day boundary in Asia/Shanghai is 16:00 UTC
    datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC),  # 11-26 23:59:59 in Shanghai
    datetime(2026, 11, 26, 16, 0, 0, tzinfo=UTC),  # 11-27 00:00:00 in Shanghai
    datetime(2026, 11, 27, 3, 30, tzinfo=UTC),
    datetime(2026, 11, 27, 8, 15, 0, 123456, tzinfo=UTC),
    datetime(2026, 11, 27, 15, 59, 59, tzinfo=UTC),  # 11-27 23:59:59 in Shanghai
    datetime(2026, 11, 27, 16, 0, 1, tzinfo=UTC),  # 11-28 in Shanghai
]


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state_url: str) -> Path:
    """A trail with events at chosen moments (the clock of the audit call is pinned)."""
    state = state_url
    db = open_database(state)
    for n, moment in enumerate(MOMENTS, 1):
        monkeypatch.setattr(audit_log, "utcnow", lambda m=moment: m)
        with db.write() as s:
            audit_log.append(
                s,
                audit.DELIVERY_CONFIRMED,
                actor="daemon",
                source="yyedu",
                item=f"yyedu:t{n}",
                details={"n": n, "title": "关于做好招生工作的通知"},
            )
    db.dispose()
    config = tmp_path / "bridge.toml"
    config.write_text(config_text(state, "http://127.0.0.1:9/", "http://127.0.0.1:9/"), "utf-8")
    return config


def export(cli, config: Path, day: str, out: Path):
    return cli("--config", str(config), "audit", "export", "--date", day, "--out", str(out))


def test_export_takes_the_shanghai_day_and_verifies_offline(trail, cli, tmp_path, state_url):
    out = tmp_path / "exports"
    result = export(cli, trail, "2026-11-27", out)
    assert result.code == 0, result.both
    jsonl = out / "audit-2026-11-27.jsonl"
    assert (
        result.out
        == f"wrote {jsonl} (4 events, ids 3–6) and {out / 'audit-2026-11-27.digest.json'}\n"
    )
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [3, 4, 5, 6]
    assert rows[0]["ts"] == "2026-11-26T16:00:00+00:00"
    assert rows[0]["details"] == '{"n":3,"title":"关于做好招生工作的通知"}'  # as hashed
    digest = json.loads((out / "audit-2026-11-27.digest.json").read_text(encoding="utf-8"))
    db = open_database(state_url)
    with db.read() as s:
        chain = {e.id: e for e in audit_log.iter_chain(s)}
        exported = audit_log.query(s, audit_log.AuditFilter(events=("audit.exported",)))
    db.dispose()
    assert digest["prev_hash"] == chain[2].hash  # the slice starts after 11-26 23:59:59
    assert digest["last_hash"] == chain[6].hash
    assert (digest["first_id"], digest["last_id"], digest["count"]) == (3, 6, 4)
    assert digest["head"] == {"id": 7, "hash": chain[7].hash}
    assert digest["complete"] is True
    assert [e.details_dict()["sha256"] for e in exported] == [digest["sha256"]]

    ok = cli("audit", "verify", "--file", str(jsonl))  # no config, no state store: offline
    assert ok.code == 0, ok.both
    assert ok.out == (
        "audit export intact: 4 events (rows 3–6) of 2026-11-27 verified; "
        "the file matches its digest\n"
    )
    by_digest = cli("audit", "verify", "--file", str(out / "audit-2026-11-27.digest.json"))
    assert by_digest.code == 0


def tamper(jsonl: Path, change) -> None:
    lines = jsonl.read_text(encoding="utf-8").splitlines(keepends=True)
    jsonl.write_text("".join(change(lines)), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ls: [ls[0], ls[1].replace('"actor": "daemon"', '"actor": "cli:mallory"'), *ls[2:]],
         "audit export broken at row 4: its content does not match its hash (the row was edited)"),
        (lambda ls: [ls[0], *ls[2:]],
         "audit export broken at row 5: it does not follow row 3 (a row before it was deleted, "
         "inserted or reordered)"),
        (lambda ls: [ls[1], ls[0], *ls[2:]],
         "audit export broken at row 4: it does not follow the digest's prev_hash (a row before "
         "it was deleted, inserted or reordered)"),
        (lambda ls: ls[:-1],
         "audit export broken: the digest names rows 3–6 (4 events), the file holds rows 3–5 (3): "
         "rows were removed or added"),
        (lambda ls: [*ls[:-1], ls[-1].rstrip("\n") + " \n"],
         "audit export broken: the file does not match the sha256 in its digest"),
        (lambda ls: [ls[0], "not json\n", *ls[2:]],
         "audit export broken at line 2: not an exported event"),
    ],
    ids=["edited", "deleted", "reordered", "cut-short", "reformatted", "garbled"],
)  # fmt: skip
def test_verify_names_the_first_bad_row(trail, cli, tmp_path, change, message):
    out = tmp_path / "exports"
    assert export(cli, trail, "2026-11-27", out).code == 0
    jsonl = out / "audit-2026-11-27.jsonl"
    tamper(jsonl, change)
    bad = cli("audit", "verify", "--file", str(jsonl))
    assert bad.code == 1
    assert bad.err == f"bridge: {message}\n"


def test_a_day_without_events_exports_an_empty_verifiable_slice(trail, cli, tmp_path):
    out = tmp_path / "exports"
    result = export(cli, trail, "2026-11-20", out)
    assert result.code == 0, result.both
    assert (out / "audit-2026-11-20.jsonl").read_bytes() == b""
    digest = json.loads((out / "audit-2026-11-20.digest.json").read_text(encoding="utf-8"))
    assert (digest["count"], digest["first_id"], digest["prev_hash"]) == (0, None, audit.GENESIS)
    ok = cli("audit", "verify", "--file", str(out / "audit-2026-11-20.jsonl"))
    assert ok.code == 0
    assert ok.out.startswith("audit export intact: 0 events of 2026-11-20 verified")


def test_a_missing_digest_is_a_clear_error(tmp_path, cli):
    lone = tmp_path / "audit-2026-11-27.jsonl"
    lone.write_text("", encoding="utf-8")
    result = cli("audit", "verify", "--file", str(lone))
    assert result.code == 1
    assert result.err.startswith("bridge: cannot read the export and its digest (")
    assert "Traceback" not in result.both
