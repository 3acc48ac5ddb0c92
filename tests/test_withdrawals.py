"""Withdrawals (撤销): found only in complete listings, sent only when enabled, capped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import state_execute

from bridge.sandbox.site import load_manifest, withdraw

pytestmark = pytest.mark.slow


def deletes(box) -> dict[str, int]:
    return requests.get(box.portal_url + "sandbox/stats?log=0", timeout=10).json()["requests"][
        "DELETE"
    ]


def column_items(box, column: str) -> list:
    return [i for i in load_manifest(box.root).items if i.column == column and not i.withdrawn]


def test_a_withdrawn_item_is_deleted_once_by_resync(sandbox, write_config, cli):
    box = sandbox(items=60, seed=23)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    gone = column_items(box, "ywgz")[3]
    withdraw(box.root, gone.id)

    quiet = cli("--config", str(config), "sync", "--once")  # incremental: no complete listing
    assert quiet.code == 0 and "0 withdrawn" in quiet.out
    assert deletes(box) == {}

    resync = cli("--config", str(config), "resync", "--reason", "test")
    assert resync.code == 0, resync.both
    assert "1 withdrawn" in resync.out and "1 withdrawn, 0 failed" in resync.out
    assert deletes(box) == {"200": 1}
    record = box.portal.store.get(f"yyedu:{gone.id}")
    assert record["status"] == "withdrawn"
    again = cli("--config", str(config), "resync")
    assert "0 withdrawn" in again.out
    assert deletes(box) == {"200": 1}  # exactly one DELETE
    events = cli("--config", str(config), "audit", "--event", "item.withdrawn", "--format", "jsonl")
    [event] = [json.loads(x) for x in events.out.splitlines()]
    assert (
        event["item"] == f"yyedu:{gone.id}" and event["details"]["reason"] == "gone from the site"
    )
    assert event["details"]["title"] == record["title"]  # the audit names what was withdrawn
    deleted = cli("--config", str(config), "audit", "--event", "delivery.confirmed",
                  "--item", f"yyedu:{gone.id}", "--format", "json")  # fmt: skip
    assert [e["details"]["title"] for e in json.loads(deleted.out)] == [record["title"]] * 2


def test_periodic_complete_listing_finds_withdrawals_between_resyncs(sandbox, write_config, cli):
    box = sandbox(items=40, seed=29)
    config = write_config(box, extra_source='full_listing_interval = "1h"')
    assert cli("--config", str(config), "sync", "--once").code == 0
    gone = column_items(box, "zcwj")[0]
    withdraw(box.root, gone.id)
    # The interval has passed since the last complete listing: its time is moved back.
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    state_execute(config, "UPDATE cursors SET value = :v WHERE source = 'yyedu' "
                  "AND key = 'last_full_listing'", v=json.dumps(two_hours_ago))  # fmt: skip
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    assert "1 withdrawn" in result.out
    assert deletes(box) == {"200": 1}


def test_withdrawals_disabled_keep_the_portal_untouched(sandbox, write_config, cli):
    box = sandbox(items=30, seed=31)
    config = write_config(box)
    config.write_text(config.read_text().replace("withdrawals = true", "withdrawals = false"))
    assert cli("--config", str(config), "sync", "--once").code == 0
    withdraw(box.root, column_items(box, "ywgz")[0].id)
    result = cli("--config", str(config), "resync")
    assert result.code == 0
    assert "item(s) of column ywgz are gone from the site; withdrawals are disabled" in result.err
    assert deletes(box) == {}


def test_a_large_share_gone_at_once_stops_the_run_unless_forced(sandbox, write_config, cli):
    box = sandbox(items=60, seed=37)
    config = write_config(box, extra_source="max_withdraw_share = 0.2")
    assert cli("--config", str(config), "sync", "--once").code == 0
    column = column_items(box, "ywgz")
    doomed = column[: max(3, len(column) // 3)]
    for item in doomed:
        withdraw(box.root, item.id)
    stopped = cli("--config", str(config), "resync")
    assert stopped.code == 1
    assert f"{len(doomed)} of {len(column)} items of column 'ywgz' are gone" in stopped.out
    assert "nothing was withdrawn; run again with --force" in stopped.out
    assert deletes(box) == {}
    forced = cli(
        "--config", str(config), "resync", "--force", "--reason", "bureau removed old notices"
    )
    assert forced.code == 0, forced.both
    assert deletes(box) == {"200": len(doomed)}


def test_force_accepts_a_column_the_bureau_really_emptied(sandbox, write_config, cli):
    box = sandbox(items=60, seed=41)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    emptied = column_items(box, "jgzn")
    assert len(emptied) >= 2
    for item in emptied:
        withdraw(box.root, item.id)

    alarm = cli("--config", str(config), "resync")
    assert alarm.code == 1
    assert "column 'jgzn': the listing parsed to zero items where it had" in alarm.both
    assert deletes(box) == {}  # nothing withdrawn on an alarm

    forced = cli("--config", str(config), "resync", "--force", "--reason", "jgzn merged into zcwj")
    assert forced.code == 0, forced.both
    assert f"{len(emptied)} withdrawn" in forced.out
    assert deletes(box) == {"200": len(emptied)}
