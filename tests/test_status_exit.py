"""Exit codes an operator's cron and monitoring can read (issue 20, points 1, 2 and 6):
`bridge status` 0 when all is well, 1 when something needs attention, 2 on an error;
`bridge sync --once` 1 when a delivery of the run failed or was left undelivered; the
piped status never cut. Through the real CLI against the sandbox site and portal."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from conftest import _state_url_of
from test_quarantine import strip_detail_charsets

from bridge.sandbox.site import load_manifest, relayout

pytestmark = pytest.mark.slow

LONG_NAME = "yuyao-education-bureau-main-website"  # longer than any 80-column table cell


def status(cli, config) -> tuple[int, dict, str]:
    as_json = cli("--config", str(config), "status", "--format", "json")
    table = cli("--config", str(config), "status")
    assert as_json.code == table.code, (as_json.both, table.both)
    return as_json.code, json.loads(as_json.out), table.out


def test_sync_once_with_the_portal_down_exits_1_and_0_once_it_is_back(sandbox, write_config, cli):
    box = sandbox(items=6, seed=5)
    config = write_config(box)
    config.write_text(config.read_text().replace("[delivery]", "[delivery]\nconcurrency = 1"))
    box.portal.set_faults(outage_mode="reset")
    box.portal.outage_for(600)  # every connection reset unanswered: the portal is down
    down = cli("--config", str(config), "sync", "--once")
    assert down.code == 1, down.both
    # five failed attempts (some of them retries of one delivery) open the circuit
    assert re.search(
        r"^delivery: 5 sent, 0 created, .* 5 failed, 0 dead; [1-5] wait\(s\) for a retry; "
        r"circuit open: ",
        down.out,
        re.M,
    ), down.out

    box.portal.clear_faults()
    back = cli("--config", str(config), "sync", "--once")
    assert back.code == 0, back.both
    assert box.portal.store.count() == 6


def test_status_exits_0_when_well_and_its_piped_table_is_never_cut(sandbox, write_config, cli):
    box = sandbox(items=6, seed=5)
    config = write_config(box)
    config.write_text(config.read_text().replace('name = "yyedu"', f'name = "{LONG_NAME}"'))
    assert cli("--config", str(config), "sync", "--once").code == 0
    code, data, table = status(cli, config)
    assert code == 0, table
    assert data["attention"] == [] and data["problems"] == []
    assert data["target"]["credentials_refused"] is None
    line = table.splitlines()[0]
    last_run = data["sources"][0]["last_run"]
    assert line.startswith(f"{LONG_NAME}: last run 20")
    assert ", result ok, lag " in line and ", 6 items, 0 pending, 0 failed, 0 dead, " in line
    assert "…" not in table
    assert table.splitlines()[-1] == "all well"
    assert last_run is not None


def test_status_exits_1_for_a_dead_letter(sandbox, write_config, cli):
    box = sandbox(items=10, seed=13)
    config = write_config(box)
    titles = sorted(r.title for r in load_manifest(box.root).items)
    box.portal.store.max_title_length = sorted(len(t) for t in titles)[-2] - 1  # two too long
    assert cli("--config", str(config), "sync", "--once").code == 1
    code, data, table = status(cli, config)
    assert code == 1
    assert data["attention"] == ["yyedu: 2 dead letter(s): fix the cause, then `xxgk-bridge retry`"]
    assert data["problems"] == []  # /healthz stays 200: the daemon itself is fine
    assert "needs attention (1):\n  yyedu: 2 dead letter(s)" in table


def test_status_exits_1_for_quarantined_items(sandbox, write_config, cli):
    box = sandbox(items=12, seed=71, encoding="gbk")
    strip_detail_charsets(box.root)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 1
    code, data, _ = status(cli, config)
    assert code == 1
    assert data["attention"] == ["yyedu: 12 quarantined item(s)"]


def test_status_exits_1_for_a_layout_alarm_and_2_without_a_usable_config(
    sandbox, write_config, cli, tmp_path
):
    box = sandbox(items=6, seed=5)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    relayout(box.root)
    assert cli("--config", str(config), "sync", "--once").code == 1
    code, data, table = status(cli, config)
    assert code == 1
    assert len(data["attention"]) == 1
    assert data["attention"][0].startswith("yyedu: layout alarm: ")
    assert data["problems"] == data["attention"]
    assert "LAYOUT ALARM" in table

    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace("[delivery]", "[delivery]\nbatch = 0"))
    refused = cli("--config", str(broken), "status")
    assert refused.code == 2 and "delivery.batch" in refused.err


def runs_an_hour_ago(config) -> None:
    """Move every run an hour back: more than the max_lag of these tests has passed."""
    from sqlalchemy import update

    from bridge.state.db import Database
    from bridge.state.models import RunRow, utcnow

    db = Database(_state_url_of(config))
    try:
        with db.write() as s:
            hour_ago = utcnow() - timedelta(hours=1)
            s.execute(update(RunRow).values(started_at=hour_ago, finished_at=hour_ago))
    finally:
        db.dispose()


def test_status_exits_1_for_a_source_past_max_lag(sandbox, write_config, cli):
    box = sandbox(items=4, seed=5)
    config = write_config(box, extra='\n[status]\nmax_lag = "1s"\n')
    assert cli("--config", str(config), "sync", "--once").code == 0
    runs_an_hour_ago(config)
    code, data, _ = status(cli, config)
    assert code == 1
    assert len(data["attention"]) == 1
    assert data["attention"][0].startswith("yyedu: no successful run within 1s (last 20")
    assert data["sources"][0]["max_lag_seconds"] == 1


def test_a_paused_source_is_shown_paused_and_its_lag_needs_no_attention(sandbox, write_config, cli):
    box = sandbox(items=4, seed=5)
    config = write_config(box, extra='\n[status]\nmax_lag = "1s"\n')
    assert cli("--config", str(config), "sync", "--once").code == 0
    runs_an_hour_ago(config)
    assert status(cli, config)[0] == 1  # past max_lag
    paused = cli("--config", str(config), "pause", "yyedu", "--reason", "网站改版")
    assert paused.code == 0, paused.both

    code, data, _ = status(cli, config)
    assert code == 0 and data["attention"] == [] and data["problems"] == []
    assert data["sources"][0]["paused"]["reason"] == "网站改版"
    table = cli("--config", str(config), "status")
    assert table.code == 0
    line = next(x for x in table.out.splitlines() if "paused since" in x)
    assert re.fullmatch(
        r"yyedu: paused since 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d by \S.* \(网站改版\): "
        r"`\S+ -m bridge resume yyedu` to read it again",
        line,
    ), line

    assert cli("--config", str(config), "resume", "yyedu").code == 0
    code, data, _ = status(cli, config)
    assert code == 1 and data["sources"][0]["paused"] is None
