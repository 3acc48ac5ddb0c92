"""`bridge audit` as an operator reads it: whole values when piped, details as text with
the title, JSON as one array, CSV for Excel, --grep. Through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest

from bridge import audit
from bridge.state import audit_log
from bridge.state.db import open_database

URL = "http://www.yyjy.gov.cn/col/col1229/art/2026/art_7f3c2a9b4e6d4a1f8c0e5b7d9a2c4e6f.html"
HASH = "3f2a9c" + "0" * 58


@pytest.fixture
def config(state_url, tmp_path):
    db = open_database(state_url)
    with db.write() as s:
        audit_log.append(
            s,
            audit.ITEM_DISCOVERED,
            actor="daemon",
            source="yyedu",
            item="yyedu:t1",
            details={"url": URL, "column": "zcwj", "title": "关于做好2026年招生工作的通知"},
        )
        audit_log.append(
            s,
            audit.RECORD_CHANGED,
            actor="daemon",
            source="yyedu",
            item="yyedu:t1",
            details={
                "action": "new",
                "version": 1,
                "content_hash": HASH,
                "previous_hash": None,
                "title": "关于做好2026年招生工作的通知",
            },
        )
        audit_log.append(
            s,
            audit.DELIVERY_FAILED,
            actor="daemon",
            source="yyedu",
            item="yyedu:t2",
            details={
                "attempt": 2,
                "error": "PUT yyedu:t2: cannot connect to http://portal/: connection refused",
                "title": "校车安全公告",
                "errors": [{"field": "title", "message": "too long"}],
            },
        )
    db.dispose()  # fmt: skip
    path = tmp_path / "c.toml"
    path.write_text(
        f'[bridge]\nstate_url = "{state_url}"\n[[sources]]\nname = "yyedu"\nbase_url = "http://x/"\n'
        'publisher = "p"\norg_code = "002949236"\n[[sources.columns]]\nkey = "k"\npath = "k/"\n'
        '[target]\nurl = "https://y/"\nkey = "k"\nsecret = "s"\n'
    )
    return str(path)


def test_piped_audit_is_one_whole_line_per_event(config, cli):
    result = cli("--config", config, "audit")
    assert result.code == 0, result.both
    lines = result.out.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert len(lines) == 3
    assert re.fullmatch(
        rf"1  {stamp}  item\.discovered  daemon  yyedu:t1  "
        rf"title=关于做好2026年招生工作的通知, column=zcwj, url={re.escape(URL)}",
        lines[0],
    ), lines[0]
    assert re.fullmatch(
        rf"2  {stamp}  record\.changed  daemon  yyedu:t1  "
        r"title=关于做好2026年招生工作的通知, action=new, content_hash=3f2a9c000000…, version=1",
        lines[1],
    ), lines[1]
    assert lines[2].endswith(
        "title=校车安全公告, attempt=2, error=PUT yyedu:t2: cannot connect to http://portal/: "
        'connection refused, errors=[{"field": "title", "message": "too long"}]'
    )
    assert "│" not in result.out and "{'" not in result.out  # no table cut, no Python repr


def test_json_is_one_array_and_jsonl_one_object_per_line(config, cli):
    as_json = cli("--config", config, "audit", "--format", "json")
    events = json.loads(as_json.out)
    assert [e["event"] for e in events] == ["item.discovered", "record.changed", "delivery.failed"]
    assert events[2]["details"]["errors"] == [{"field": "title", "message": "too long"}]
    lines = cli("--config", config, "audit", "--format", "jsonl").out.splitlines()
    assert [json.loads(line) for line in lines] == events


def test_csv_has_a_bom_and_the_tables_times_with_their_offset(config, cli):
    out = cli("--config", config, "audit", "--format", "csv").out
    assert out.startswith("\ufeffid,time,actor,event,source,item,run_id,title,details,")
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    table_times = [
        line.split("  ")[1] for line in cli("--config", config, "audit").out.splitlines()
    ]
    for row, shown in zip(rows, table_times, strict=True):
        when = datetime.fromisoformat(row["time"])
        assert row["time"].endswith("+08:00")
        assert when.strftime("%Y-%m-%d %H:%M:%S") == shown
    assert [r["title"] for r in rows] == ["关于做好2026年招生工作的通知"] * 2 + ["校车安全公告"]
    assert rows[0]["details"] == f"column=zcwj, url={URL}"
    assert json.loads(rows[1]["details_json"])["content_hash"] == HASH


def test_grep_searches_titles_and_details(config, cli):
    def ids(*args: str) -> list[int]:
        out = cli("--config", config, "audit", "--format", "json", *args).out
        return [e["id"] for e in json.loads(out)]

    assert ids("--grep", "招生") == [1, 2]
    assert ids("--grep", "校车") == [3]
    assert ids("--grep", "CONNECTION REFUSED") == [3]  # Latin letters in any case
    assert ids("--grep", "yyedu:t2") == [3]
    assert ids("--grep", "100%_not_there") == []
