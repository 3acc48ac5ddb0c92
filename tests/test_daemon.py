"""`bridge run` as an operator runs it: a real subprocess against the sandbox servers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import REPO, config_text, state_rows
from waiting import wait_for

from bridge.sandbox.portal import SANDBOX_SECRET
from bridge.sandbox.site import publish

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A `bridge run` subprocess with its admin port and, optionally, a notify socket."""

    def __init__(self, config: Path, admin_port: int, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.admin = f"http://127.0.0.1:{admin_port}/"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BRIDGE_", "NOTIFY_SOCKET", "WATCHDOG_"))
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--config", str(config), "run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**inherited, "PYTHONPATH": str(REPO), **(env or {})}, cwd=REPO,
        )  # fmt: skip

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited {self.proc.returncode} waiting for {what}: {self.proc.stderr.read()}"
                )
            if predicate():
                return
            time.sleep(0.1)  # the polling interval, not a synchronization
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


@pytest.fixture
def daemon_setup(sandbox, tmp_path, state_url):
    box = sandbox(items=20, seed=21)
    port = free_port()
    extra = f'[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\n\n[admin]\nport = {port}\n'
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(state_url, box.site_url, box.portal_url, extra=extra),
        encoding="utf-8",
    )
    started: list[Daemon] = []

    def start(**kw) -> Daemon:
        d = Daemon(config, port, **kw)
        started.append(d)
        return d

    yield box, config, start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.communicate()


def test_daemon_delivers_reports_health_and_stops_cleanly(daemon_setup, cli):
    box, config, start = daemon_setup
    d = start()
    d.wait_for(lambda: box.portal.store.count() == 20, what="20 items on the portal")
    health = requests.get(d.admin + "healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok", "reasons": []})
    metrics = requests.get(d.admin + "metrics", timeout=5).text
    assert 'bridge_items_total{outcome="new",source="yyedu"} 20.0' in metrics
    assert 'bridge_deliveries_total{outcome="created",target="portal"} 20.0' in metrics
    assert 'bridge_queue_depth{status="pending",target="portal"} 0.0' in metrics
    assert 'bridge_circuit_state{target="portal"} 0.0' in metrics
    assert 'bridge_lag_seconds{source="yyedu"}' in metrics
    assert 'bridge_last_success_timestamp_seconds{source="yyedu"}' in metrics

    once = cli("--config", str(config), "sync", "--once")
    assert once.code == 2  # a foreground cycle never crawls beside the daemon
    if "sqlite" in config.read_text():
        assert f"the state store is held by daemon pid {d.proc.pid} on" in once.err
    else:
        assert (
            f"1 xxgk-bridge run worker(s) use this state store ({socket.gethostname()}:{d.proc.pid})"
            in once.err
        )

    code, err = d.stop(signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in err
    assert "bridge daemon stopped" in err


@pytest.mark.sqlite_only  # on PostgreSQL a second `bridge run` is another worker (test_workers)
def test_a_second_daemon_on_a_sqlite_store_is_refused_naming_the_first(daemon_setup, cli):
    box, config, start = daemon_setup
    d = start()
    d.wait_for(lambda: box.portal.store.count() == 20, what="20 items on the portal")
    second = cli("--config", str(config), "run", timeout=60)
    assert second.code == 2
    assert second.err.startswith(
        f"bridge: cannot start the daemon: the state store is held by daemon pid {d.proc.pid} "
        f"on {socket.gethostname()} since "
    )
    assert d.stop()[0] == 0


def test_killed_daemon_does_not_block_a_restart(daemon_setup):
    box, _config, start = daemon_setup
    first = start()
    first.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    first.proc.kill()
    first.proc.communicate()
    publish(box.root, 2)
    second = start()
    second.wait_for(lambda: box.portal.store.count() == 22, what="delivery after restart")
    assert second.stop()[0] == 0


def test_resync_is_queued_to_the_running_daemon_with_who_and_why(daemon_setup, cli):
    box, config, start = daemon_setup
    d = start()
    d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    publish(box.root, 1)
    result = cli(
        "--config",
        str(config),
        "resync",
        "--reason",
        "after the portal outage",
        "--wait",
        timeout=120,  # a hang guard, not a speed bound
    )
    assert result.code == 0, result.both
    lines = result.out.splitlines()
    assert lines[0] == "resync #1 queued for the running daemon"
    assert lines[-1] == "resync #1: all 1 delivery(ies) made"
    assert ", 21 fetched, 1 new, 0 changed, 20 unchanged, 0 quarantined, 0 withdrawn" in result.out
    assert box.portal.store.count() == 21
    audit = cli(
        "--config", str(config), "audit", "--event", "resync.requested", "--format", "jsonl"
    )
    [event] = [json.loads(line) for line in audit.out.splitlines()]
    assert event["actor"].startswith("cli:")
    assert event["details"]["reason"] == "after the portal outage"
    assert event["details"]["mode"] == "queued"
    code, err = d.stop()
    assert code == 0
    assert "database is locked" not in err + result.both + audit.both


def test_sighup_keeps_the_old_config_when_the_new_one_is_broken(daemon_setup, cli):
    box, config, start = daemon_setup
    d = start()
    d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    good = config.read_text()
    config.write_text(
        good.replace('org_code = "002949236"', 'org_code = "12345"').replace(
            "[delivery]", "[delivery]\nbatch = 0"
        )
    )
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(
        lambda: (
            state_rows(config, "SELECT count(*) FROM audit_events WHERE event = 'config.refused'")
            == [(1,)]
        ),
        what="the broken config's refusal in the audit trail",
    )
    config.write_text(good)
    publish(box.root, 1)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: box.portal.store.count() == 21, timeout=40, what="delivery after reload")
    code, err = d.stop()
    assert code == 0
    assert "config reload refused, keeping the running config; 2 problem(s):" in err
    assert "sources[0].org_code: must be a 9-character 组织机构代码" in err
    assert "delivery.batch: must be positive, not 0" in err
    assert "config reloaded from" in err
    trail = cli("--config", str(config), "audit", "--event", "config", "--format", "json")
    events = [(e["event"], e["details"]) for e in json.loads(trail.out)]
    assert [name for name, _ in events] == ["config.loaded", "config.refused", "config.loaded"]
    (_, started), (_, refused), (_, reloaded) = events
    assert refused["problems"] == [
        f"{config}: sources[0].org_code: must be a 9-character 组织机构代码 (8 digits or capital "
        "letters and a check character, e.g. 002949236) or an 18-character 统一社会信用代码",
        f"{config}: delivery.batch: must be positive, not 0",
    ]
    # the same good config before and after: the same hash, which the refusal kept
    assert re.fullmatch(r"[0-9a-f]{64}", started["config_sha256"])
    assert started["config_sha256"] == refused["kept_config_sha256"] == reloaded["config_sha256"]
    assert SANDBOX_SECRET not in trail.out


def test_systemd_notify_ready_status_watchdog_stopping(daemon_setup, tmp_path):
    box, _config, start = daemon_setup
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.2)
    d = start(env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "2000000"})
    messages: list[str] = []

    def drain_socket() -> None:
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                return

    d.wait_for(lambda: drain_socket() or box.portal.store.count() == 20, what="delivery")
    deadline = (
        time.monotonic() + 20
    )  # the STATUS line follows the run; generous on a loaded machine
    while time.monotonic() < deadline and not any(
        m.startswith("STATUS=yyedu ok") for m in messages
    ):
        drain_socket()
    assert d.stop()[0] == 0
    drain_socket()
    sock.close()
    assert messages[0] == "READY=1"
    assert messages.count("WATCHDOG=1") >= 2
    assert any(m.startswith("STATUS=yyedu ok: 20 new, 0 changed") for m in messages)
    assert messages[-1] == "STOPPING=1"


def test_watchdog_pings_stop_when_the_scheduler_is_stuck(tmp_path, monkeypatch):
    """A stuck scheduler cannot be produced by a real peer: age the heartbeat by hand."""
    import threading

    from bridge import config as config_module
    from bridge.service.daemon import Daemon as RealDaemon

    sock_path = str(tmp_path / "wd.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.1)
    monkeypatch.setenv("NOTIFY_SOCKET", sock_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_text(tmp_path / "s.db", "http://127.0.0.1:1/", "http://127.0.0.1:2/"))
    d = RealDaemon(cfg, config_module.load(cfg))
    thread = threading.Thread(target=d._watchdog, args=(0.2,), daemon=True)
    d.last_tick = time.monotonic() - 3600  # the heartbeat job has not run for an hour
    thread.start()
    time.sleep(0.8)  # a real clock under test: four watchdog periods pass without a ping

    def received() -> list[str]:
        out = []
        while True:
            try:
                out.append(sock.recv(100).decode())
            except TimeoutError:
                return out

    assert received() == []
    d.last_tick = time.monotonic()  # the scheduler runs again
    wait_for(lambda: "WATCHDOG=1" in received(), timeout=10, what="the watchdog pinging again")
    d.stopping.set()
    thread.join(timeout=5)
    sock.close()
