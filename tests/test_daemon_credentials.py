"""A wrong portal secret is loud (issue 20, point 1): the daemon running with it, every
view says "credentials refused" (`bridge status` exit 1, /healthz 503, the admin page, a
gauge), the audit trail has one `delivery.failed` for the episode however many drains
probe, no `delivery.sent` row per probe; the right secret ends it with one
`delivery.resumed`. A real `bridge run` subprocess against the sandbox site and portal."""

from __future__ import annotations

import json
import time

import pytest
import requests
from conftest import config_text, state_rows
from test_daemon import Daemon, free_port
from test_daemon_ops import health as healthz

from bridge.sandbox.portal import SANDBOX_SECRET

pytestmark = pytest.mark.slow


def events(config, name: str) -> list[dict]:
    rows = state_rows(
        config, "SELECT details FROM audit_events WHERE event = :e ORDER BY id", e=name
    )
    return [json.loads(r[0]) for r in rows]


def refused_requests(box) -> int:
    counts = box.portal.stats(with_log=False)["requests"].values()  # an upload or a PUT
    return sum(c.get("401", 0) for c in counts)


def test_a_wrong_secret_is_one_loud_episode_and_the_right_one_ends_it(
    sandbox, tmp_path, state_url, cli
):
    box = sandbox(items=20, seed=21)
    port = free_port()
    extra = f'[daemon]\ndrain_interval = "1s"\njitter = 0.0\n\n[admin]\nport = {port}\n'
    config = tmp_path / "bridge.toml"

    def write(secret: str) -> None:
        config.write_text(
            config_text(state_url, box.site_url, box.portal_url, secret=secret, extra=extra),
            encoding="utf-8",
        )

    write("not-the-portal-secret")
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: healthz(port)[0] != 0, what="the daemon's admin port")  # store open
        d.wait_for(lambda: events(config, "delivery.failed"), timeout=60, what="a refusal")
        status = cli("--config", str(config), "status")
        assert status.code == 1, status.both
        assert "target portal: CREDENTIALS REFUSED since 20" in status.out
        assert "check target.key and the target secret" in status.out
        health = requests.get(d.admin + "healthz", timeout=10)
        assert health.status_code == 503
        reasons = health.json()["reasons"]
        assert any(r.startswith("target portal: credentials refused (401 ") for r in reasons), (
            reasons
        )
        page = requests.get(d.admin, timeout=10).text
        assert "凭据被拒绝" in page and 'class="bad" id="credentials-refused"' in page
        metrics = requests.get(d.admin + "metrics", timeout=10).text
        assert 'bridge_target_credentials_refused{target="portal"} 1.0' in metrics

        # Several drains probe again (one request each): not one audit row more.
        sent = len(events(config, "delivery.sent"))
        probes = refused_requests(box)
        d.wait_for(
            lambda: refused_requests(box) >= probes + 3, timeout=30, what="three more probes"
        )
        assert len(events(config, "delivery.sent")) == sent
        failed = events(config, "delivery.failed")
        assert len(failed) == 1, failed
        assert failed[0]["reason"] == "credentials refused" and failed[0]["status"] == 401
        assert set(failed[0]) == {"reason", "status", "message", "target"}
        assert "not-the-portal-secret" not in json.dumps(failed)
        assert box.portal.store.count() == 0
    finally:
        assert d.stop()[0] == 0

    write(SANDBOX_SECRET)  # the operator fixes the secret and starts the daemon again
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: box.portal.store.count() == 20, timeout=60, what="20 items delivered")
        assert events(config, "delivery.resumed") == [
            {"after": "credentials refused", "target": "portal"}
        ]
        assert len(events(config, "delivery.failed")) == 1
        status = cli("--config", str(config), "status")
        assert status.code == 0, status.both
        assert "CREDENTIALS REFUSED" not in status.out
        health = requests.get(d.admin + "healthz", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok", "reasons": []})
        metrics = requests.get(d.admin + "metrics", timeout=10).text
        assert 'bridge_target_credentials_refused{target="portal"} 0.0' in metrics
        assert "凭据被拒绝" not in requests.get(d.admin, timeout=10).text
        # A real clock is the subject: drains that find nothing to send leave no trace to
        # wait for, and none of them in this period may add a resumption.
        time.sleep(1.5)  # another drain or two: still one episode, one resumption
        assert len(events(config, "delivery.resumed")) == 1
    finally:
        assert d.stop()[0] == 0
