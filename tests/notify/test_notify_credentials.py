"""The done-when of issue 20's first point, the notification part: the daemon running
with a wrong portal secret sends one `credentials_refused` notice to a webhook within a
drain interval or two, none more while the episode lasts, and one recovery notice after
the operator fixes the secret. A real `bridge run`, sandbox site and portal, a real
loopback receiver."""

from __future__ import annotations

import time

import pytest
from conftest import config_text
from receivers import HttpReceiver
from test_daemon import Daemon, free_port
from test_daemon_credentials import events, refused_requests
from test_daemon_ops import health as healthz

from bridge.sandbox.portal import SANDBOX_SECRET

pytestmark = pytest.mark.slow


def test_a_wrong_secret_is_one_notice_and_its_fix_one_more(sandbox, tmp_path, state_url):
    hook = HttpReceiver()
    box = sandbox(items=8, seed=23)
    port = free_port()
    extra = (
        f'[daemon]\ndrain_interval = "1s"\njitter = 0.0\n[admin]\nport = {port}\n'
        f'[[notify]]\nkind = "webhook"\nurl = "{hook.url}/hook"\n'
        'events = ["credentials_refused"]\n'
    )
    config = tmp_path / "bridge.toml"

    def write(secret: str) -> None:
        config.write_text(
            config_text(state_url, box.site_url, box.portal_url, secret=secret, extra=extra),
            encoding="utf-8",
        )

    def notices() -> list[tuple[str, str, str]]:
        return [(r.json()["event"], r.json()["state"], r.json()["source"]) for r in hook.requests]

    write("not-the-portal-secret")
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: healthz(port)[0] != 0, what="the daemon's admin port")  # store open
        d.wait_for(lambda: events(config, "delivery.failed"), timeout=60, what="a refusal")
        d.wait_for(lambda: hook.requests, timeout=10, what="the notice")
        probes = refused_requests(box)
        d.wait_for(
            lambda: refused_requests(box) >= probes + 3, timeout=30, what="three more probes"
        )
        d.wait_for(  # another notifier pass or two in the same episode
            lambda: refused_requests(box) >= probes + 5, timeout=30, what="two probes more"
        )
        assert notices() == [("credentials_refused", "opened", "portal")]
        body = hook.requests[0].json()
        assert "not-the-portal-secret" not in hook.requests[0].body.decode("utf-8")
        assert body["at"].endswith("+08:00")
    finally:
        assert d.stop()[0] == 0

    write(SANDBOX_SECRET)
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: box.portal.store.count() == 8, timeout=60, what="8 items delivered")
        d.wait_for(lambda: len(hook.requests) == 2, timeout=10, what="the recovery notice")
        # A real clock is the subject: notifier passes that find nothing new leave no trace
        # to wait for, and none of them in this period may send a third notice.
        time.sleep(1.5)  # another notifier pass or two
        assert notices() == [
            ("credentials_refused", "opened", "portal"),
            ("credentials_refused", "recovered", "portal"),
        ]
    finally:
        assert d.stop()[0] == 0
        hook.stop()
