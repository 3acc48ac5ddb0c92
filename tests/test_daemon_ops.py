"""The daemon under an operator's eye: missed and overlapping runs, health, a stop mid-delivery."""

from __future__ import annotations

import json
import signal
import socket

import pytest
import requests
from conftest import config_text, state_rows
from test_daemon import Daemon, free_port

from bridge.defaults import DELIVERY_CONCURRENCY
from bridge.sandbox.portal_faults import Faults
from bridge.sandbox.site import relayout

pytestmark = pytest.mark.slow


def setup(sandbox, tmp_path, state_url, *, items=20, daemon="", source="", **site):
    box = sandbox(items=items, seed=81, **site)
    port = free_port()
    extra = f'[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\njitter = 0.0\n{daemon}\n[admin]\nport = {port}\n'
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(state_url, box.site_url, box.portal_url, extra=extra, extra_source=source),
        encoding="utf-8",
    )
    return box, config, port


def skipped_runs(config) -> list[dict]:
    rows = state_rows(
        config, "SELECT details FROM audit_events WHERE event = 'run.skipped' ORDER BY id"
    )
    return [json.loads(r[0]) for r in rows]


def test_overlapping_and_missed_runs_are_audited(sandbox, tmp_path, state_url):
    # A site 0.2 s away per request and a 1 s interval: a crawl outlasts its interval
    # (an overlap); one crawl at a time and a 1 s grace: the second source's run waits
    # longer than the grace (missed). Neither may vanish silently.
    box, config, port = setup(
        sandbox, tmp_path, state_url, items=40,
        daemon='parallel_sources = 1\nmisfire_grace_time = "1s"\n', source='interval = "1s"',
    )  # fmt: skip
    box.site.delay = 0.2
    text = config.read_text()
    second = text[text.index("[[sources]]") : text.index("[target]")].replace(
        'name = "yyedu"', 'name = "yyedu2"'
    )
    config.write_text(text.replace("[target]", second + "[target]", 1))
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: health(port)[0] != 0, what="the daemon's admin port")  # store open
        d.wait_for(lambda: len({s["reason"].split(":")[0] for s in skipped_runs(config)}) == 2,
                   timeout=90, what="an overlap and a missed run in the audit trail")  # fmt: skip
    finally:
        assert d.stop()[0] == 0
    reasons = {s["reason"] for s in skipped_runs(config)}
    assert "overlap: the previous run was still going" in reasons
    assert "missed: later than misfire_grace_time" in reasons
    assert all(s["job"].startswith("source:") and s["scheduled"] for s in skipped_runs(config))


def health(port: int) -> tuple[int, dict]:
    try:
        r = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    except requests.ConnectionError:  # the daemon has not opened its admin port yet
        return 0, {"reasons": []}
    return r.status_code, r.json()


def test_healthz_turns_503_with_the_reason(sandbox, tmp_path, state_url):
    box, config, port = setup(
        sandbox, tmp_path, state_url, daemon="health_intervals = 2\n", source='interval = "1s"'
    )
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
        assert health(port) == (200, {"status": "ok", "reasons": []})

        relayout(box.root)  # a redesign: the next run raises the layout alarm
        d.wait_for(lambda: health(port)[0] == 503, timeout=30, what="503 after the redesign")
        code, body = health(port)
        assert (code, body["status"]) == (503, "unhealthy")
        assert any(r.startswith("yyedu: layout alarm: ") for r in body["reasons"]), body

        relayout(box.root, "classic")
        box.site.stop()  # the site goes away: no successful run within 2 intervals
        d.wait_for(
            lambda: any("no successful run within 2 intervals" in r for r in health(port)[1]["reasons"]),
            timeout=30, what="the stale-run reason",
        )  # fmt: skip
    finally:
        assert d.stop()[0] == 0


def test_healthz_reports_an_open_circuit(sandbox, tmp_path, state_url):
    box, config, port = setup(
        sandbox, tmp_path, state_url, items=30,
        daemon="", source="",
    )  # fmt: skip
    config.write_text(
        config.read_text().replace("[delivery]", '[delivery]\ncircuit_threshold = 2\nmax_attempts = 50\n')
        .replace('circuit_cooldown = "0.5s"', 'circuit_cooldown = "30s"')
    )  # fmt: skip
    box.portal.set_faults(outage_mode="reset")
    box.portal.outage_for(60)
    d = Daemon(config, port)
    try:
        d.wait_for(lambda: health(port)[0] == 503, timeout=60, what="503 while the portal is down")
        reasons = health(port)[1]["reasons"]
        assert any(r.startswith("target portal: circuit open") for r in reasons), reasons
    finally:
        assert d.stop()[0] == 0


def test_sigterm_during_a_delivery_exits_0_and_the_delivery_is_neither_lost_nor_duplicated(
    sandbox, tmp_path, state_url
):
    box, config, port = setup(sandbox, tmp_path, state_url, items=12)
    box.portal.faults = Faults(latency=1.5)  # each answer takes 1.5 s: SIGTERM lands mid-request
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.1)
    d = Daemon(config, port, env={"NOTIFY_SOCKET": sock_path})
    d.wait_for(lambda: 2 <= box.portal.store.count() < 12, timeout=60, what="deliveries under way")

    def a_put_in_flight() -> bool:  # its "sent" row is written before the request goes
        sent = state_rows(config, "SELECT count(*) FROM audit_events WHERE event = 'delivery.sent'")
        return sent[0][0] > box.portal.store.count()

    d.wait_for(a_put_in_flight, what="a PUT in flight")
    held_before_stop = box.portal.store.count()
    code, err = d.stop(signal.SIGTERM)  # its 60 s timeout is a hang guard
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    sock.close()
    assert code == 0, err
    assert "STOPPING=1" in messages
    held_at_stop = box.portal.store.count()
    # Each sender finished the PUT in hand (and at most the one whose turn it took with
    # that answer before it heard of the stop): the rest of the queue stayed queued.
    assert held_at_stop - held_before_stop <= 2 * DELIVERY_CONCURRENCY
    pending = state_rows(config, "SELECT count(*) FROM deliveries WHERE status != 'done'")[0][0]
    assert held_at_stop + pending == 12  # every delivery is either confirmed or still queued
    assert state_rows(config, "SELECT count(*) FROM deliveries WHERE status = 'inflight'") == [(0,)]

    box.portal.clear_faults()
    again = Daemon(config, port)
    try:
        again.wait_for(
            lambda: box.portal.store.count() == 12, timeout=60, what="the rest delivered"
        )
    finally:
        assert again.stop()[0] == 0
    stats = box.portal.stats()
    assert stats["puts_by_status"]["created"] == 12  # none twice
    assert len({r["external_id"] for r in box.portal.store.items()}) == 12
