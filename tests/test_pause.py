"""`bridge pause` / `bridge resume` through the real CLI and daemon, sandbox site and portal."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import config_text, state_rows
from test_daemon import Daemon, free_port

from bridge.sandbox.site import publish
from bridge.state import resync
from bridge.state.db import open_database

pytestmark = pytest.mark.slow


def poll_finished(config) -> bool:
    """No run of the source is under way and its claim is given back."""
    running = state_rows(config, "SELECT count(*) FROM runs WHERE finished_at IS NULL")
    held = state_rows(config, "SELECT count(*) FROM source_claims WHERE owner IS NOT NULL")
    return running == [(0,)] and held == [(0,)]


SINCE = r"paused since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 by [^ ]+ \(site maintenance\)"


def _request(db, rid: int):
    with db.read() as s:
        return resync.get(s, rid)


def audit_rows(cli, config, event: str) -> list[dict]:
    out = cli("--config", str(config), "audit", "--event", event, "--format", "jsonl").out
    return [json.loads(line) for line in out.splitlines()]


def test_sync_once_reads_nothing_of_a_paused_source(sandbox, write_config, cli):
    box = sandbox(items=12, seed=5)
    config = str(write_config(box))

    unknown = cli("--config", config, "pause", "nosuch")
    assert unknown.code == 2
    assert unknown.err == "bridge: no source named 'nosuch' (known: yyedu)\n"

    paused = cli("--config", config, "pause", "yyedu", "--reason", "site maintenance")
    assert paused.code == 0, paused.both
    assert re.fullmatch(f"yyedu: {SINCE}\n", paused.out)

    once = cli("--config", config, "sync", "--once")
    assert once.code == 0, once.both
    assert re.fullmatch(
        f"yyedu: {SINCE}: nothing read\n"
        r"every source chosen is paused: nothing read \(`\S+ -m bridge resume SOURCE`\)\n",
        once.out,
    )
    assert box.site.requests == [] and box.portal.store.count() == 0

    refused = cli("--config", config, "resync", "--source", "yyedu")
    assert refused.code == 1
    assert re.fullmatch(
        f"bridge: yyedu: {SINCE}; run `\\S+ -m bridge resume yyedu` first\n", refused.err
    )
    assert box.site.requests == []

    resumed = cli("--config", config, "resume", "yyedu")
    assert resumed.code == 0, resumed.both
    assert resumed.out.startswith("yyedu: resumed (paused since ")
    assert cli("--config", config, "resume", "yyedu").out == "yyedu: not paused; nothing to do\n"

    again = cli("--config", config, "sync", "--once")
    assert again.code == 0, again.both
    assert box.portal.store.count() == 12

    [p] = audit_rows(cli, config, "source.paused")
    [r] = audit_rows(cli, config, "source.resumed")  # the second resume changed nothing
    assert (p["source"], p["details"]["reason"]) == ("yyedu", "site maintenance")
    assert (r["source"], r["details"]["reason"]) == ("yyedu", "site maintenance")


def test_the_daemon_skips_a_paused_source_until_resumed(sandbox, tmp_path, state_url, cli):
    box = sandbox(items=12, seed=5)
    port = free_port()
    extra = f'[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\njitter = 0.0\n\n[admin]\nport = {port}\n'
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(state_url, box.site_url, box.portal_url, extra=extra,
                    extra_source='interval = "1s"'),
        encoding="utf-8",
    )  # fmt: skip
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: box.portal.store.count() == 12, what="12 items on the portal")
        paused = cli("--config", str(config), "pause", "yyedu", "--reason", "site maintenance")
        assert paused.code == 0, paused.both
        d.wait_for(lambda: poll_finished(config), what="a poll under way at the pause to finish")
        read = len(box.site.requests)
        publish(box.root, 2)
        # A real clock is the subject: a skipped poll leaves no trace to wait for (its log
        # line comes once, at the first skip), and none in four intervals may read the site.
        time.sleep(4.0)  # four polls' worth
        assert len(box.site.requests) == read and box.portal.store.count() == 12

        refused = cli("--config", str(config), "resync", "--wait")
        assert refused.code == 1
        assert "every source is paused: nothing to resync" in refused.err

        # A request queued before the pause (here: straight into the queue) is refused
        # by the daemon when it comes to it.
        db = open_database(state_url)
        try:
            with db.write() as s:
                rid = resync.enqueue(s, actor="test", reason="", params={"sources": ["yyedu"]})
            d.wait_for(lambda: _request(db, rid).status == "failed", what="the refusal")
            request = _request(db, rid)
        finally:
            db.dispose()
        assert request.exit_code == 1
        assert re.fullmatch(
            f"refused: yyedu: {SINCE}; `xxgk-bridge resume` first", request.result["error"]
        )
        assert len(box.site.requests) == read

        assert cli("--config", str(config), "resume", "yyedu").code == 0
        d.wait_for(lambda: box.portal.store.count() == 14, timeout=15, what="14 on the portal")
    finally:
        code, err = d.stop()
    assert code == 0
    assert len(re.findall(f"yyedu: {SINCE}; its polls are skipped", err)) == 1  # once
    assert err.count("yyedu: resumed; polling again") == 1
