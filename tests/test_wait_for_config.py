"""`run --wait-for-config` (the image sets BRIDGE_WAIT_FOR_CONFIG=1): a config error at
start is said once and the daemon waits for the file to change instead of exiting 2,
which a container's restart policy would restart for ever; fixed, it starts by itself."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import config_text
from test_daemon import Daemon, free_port

pytestmark = pytest.mark.slow


def said(d: Daemon, timeout: float = 30.0) -> list[str]:
    """What the daemon writes on stderr up to saying that it waits (or what it wrote in
    ``timeout`` seconds, when it never says so)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x.rstrip("\n")) for x in iter(d.proc.stderr.readline, "")],
        daemon=True,
    ).start()
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while not (out and out[-1].startswith("waiting for ")):
        try:
            out.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    return out


def test_a_wrong_config_waits_and_the_fixed_one_starts(sandbox, tmp_path, state_url):
    box = sandbox(items=5, seed=41)
    port = free_port()
    config = tmp_path / "bridge.toml"
    good = config_text(state_url, box.site_url, box.portal_url, extra=f"[admin]\nport = {port}\n")
    config.write_text(good + "\n[nonsense]\nx = 1\n", encoding="utf-8")
    d = Daemon(config, port, env={"BRIDGE_WAIT_FOR_CONFIG": "1"})
    try:
        assert said(d) == [
            "1 problem(s) in the configuration:",
            f"  {config}: nonsense: unknown table",
            f"waiting for {config} to change (--wait-for-config)",
        ]
        # Still there: no exit 2 for a restart policy to loop on. That it stays until the
        # fix is shown below: the fixed config's run is made by this same process
        # (``Daemon.wait_for`` fails at once if it exited).
        assert d.proc.poll() is None
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # shows unhealthy

        config.write_text(good, encoding="utf-8")  # the operator fixes it
        d.wait_for(lambda: box.portal.store.count() == 5, timeout=30, what="the fixed config's run")
        code, err = d.stop()
    except BaseException:
        d.proc.kill()
        raise
    assert code == 0, err
    assert "problem(s)" not in err  # said once, not again once fixed


def test_sigterm_while_waiting_exits_2(tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text("[bridge]\nlog_level = 7\n", encoding="utf-8")
    d = Daemon(config, free_port(), env={"BRIDGE_WAIT_FOR_CONFIG": "1"})
    assert said(d)[-1] == f"waiting for {config} to change (--wait-for-config)"
    assert d.proc.poll() is None
    code, err = d.stop()
    assert (code, err) == (2, "")


def test_without_it_a_config_error_still_exits_2(tmp_path):
    config = tmp_path / "bridge.toml"
    config.write_text("[bridge]\nlog_level = 7\n", encoding="utf-8")
    d = Daemon(config, free_port())
    assert d.proc.wait(timeout=30) == 2


def test_a_fix_saved_while_the_problems_are_printed_is_seen(tmp_path, monkeypatch):
    """The operator saves the fix the moment the first problem line appears: the wait
    notices it (the file's stamp was taken before it was read, not after the problems)."""
    from bridge.cli import App, config_wait

    config = tmp_path / "bridge.toml"
    good = config_text(
        "sqlite:///" + str(tmp_path / "s.db"), "http://127.0.0.1:9/", "http://127.0.0.1:9/"
    )
    config.write_text(good + "\n[nonsense]\nx = 1\n", encoding="utf-8")
    printed: list[str] = []

    def echo(line: str, err: bool = False) -> None:
        if not printed:
            config.write_text(good, encoding="utf-8")  # fixed as the first line shows
        printed.append(line)

    monkeypatch.setattr(config_wait, "echo", echo)
    stamp, looks = config_wait._stamp, []

    def counted(path: Path) -> tuple[int, int] | None:
        looks.append(path)
        if len(looks) > 40:  # 2 s of looks at 0.05 s: it waits for a change already made
            raise AssertionError("still waiting for a change that was already made")
        return stamp(path)

    monkeypatch.setattr(config_wait, "_stamp", counted)
    settings = config_wait.settings_when_valid(App(str(config), None), poll=0.05)
    assert settings.sources[0].name == "yyedu"
    assert printed == [
        "1 problem(s) in the configuration:",
        f"  {config}: nonsense: unknown table",
        f"waiting for {config} to change (--wait-for-config)",
    ]
