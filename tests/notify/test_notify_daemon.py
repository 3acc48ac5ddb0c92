"""The daemon's notifier job: a layout alarm reaches a webhook within a drain interval,
once, and its end once."""

from __future__ import annotations

import pytest
from conftest import config_text, state_rows
from receivers import HttpReceiver
from test_daemon import Daemon, free_port

from bridge.sandbox.site import relayout

pytestmark = pytest.mark.slow


def runs(config) -> int:
    [(n,)] = state_rows(config, "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
    return int(n)


def test_the_daemon_notifies_an_alarm_and_its_end(sandbox, tmp_path, state_url):
    hook = HttpReceiver()
    box = sandbox(items=12, seed=81)
    port = free_port()
    extra = (
        f'[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\njitter = 0.0\n[admin]\nport = {port}\n'
        f'[[notify]]\nkind = "webhook"\nurl = "{hook.url}/d"\nevents = ["layout_alarm"]\n'
    )
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(state_url, box.site_url, box.portal_url, extra=extra,
                    extra_source='interval = "1s"'),
        encoding="utf-8",
    )  # fmt: skip
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: box.portal.store.count() == 12, what="first delivery")
        relayout(box.root)
        d.wait_for(lambda: len(hook.requests) == 1, timeout=30, what="the alarm's notice")
        crawls = runs(config)
        d.wait_for(
            lambda: runs(config) >= crawls + 3,
            what="three more crawls (and notifier passes) in the same episode",
        )
        assert [(r.json()["event"], r.json()["state"]) for r in hook.requests] == [
            ("layout_alarm", "opened")
        ]
        relayout(box.root, "classic")
        d.wait_for(lambda: len(hook.requests) == 2, timeout=30, what="the recovery notice")
    finally:
        assert d.stop()[0] == 0
        hook.stop()
    assert [(r.json()["event"], r.json()["state"]) for r in hook.requests] == [
        ("layout_alarm", "opened"), ("layout_alarm", "recovered")
    ]  # fmt: skip
