"""Progress an operator can read: a live display on a terminal, a line a minute otherwise,
no line per item at INFO; `resync --wait` and `--dry-run` with a daemon follow it to the end."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
from conftest import REPO, config_text
from test_daemon import Daemon, free_port

from bridge.sandbox.portal_faults import Faults
from bridge.sandbox.site import edit, load_manifest, publish, withdraw

pytestmark = pytest.mark.slow

LINE = re.compile(
    r"yyedu: (\d[\d,]*) of (\d[\d,]*) items read \((\d+) %\), \d+\.\d items/s"
    r"(, about (\d+ min )?\d+ s left)?(, read to the end \((ok|failed|alarm)\))?"
    r"; (\d+) deliveries pending"
)


def _config(tmp_path, state_url, box, extra: str = "") -> str:
    path = tmp_path / "bridge.toml"
    path.write_text(config_text(state_url, box.site_url, box.portal_url, extra=extra))
    return str(path)


def test_piped_sync_prints_a_summary_line_per_interval_and_no_line_per_item(
    sandbox, tmp_path, state_url, cli
):
    box = sandbox(items=40, seed=5)
    box.site.delay = 0.05  # 40 detail pages and their list pages: a few seconds
    config = _config(tmp_path, state_url, box)
    run = cli("--config", config, "sync", "--once", env={"BRIDGE_PROGRESS_INTERVAL": "0.3"})
    assert run.code == 0, run.both
    lines = [
        line for line in run.err.splitlines() if line.startswith("yyedu: ") and "items read" in line
    ]
    assert lines, run.err
    for line in lines:
        assert LINE.fullmatch(line), line
        done, known = (int(g.replace(",", "")) for g in LINE.fullmatch(line).groups()[:2])
        assert done <= known <= 40
    # one INFO line for the run, none per item (there were 40 new ones)
    assert not re.search(r"yyedu: new yyedu:", run.err)
    [summary] = [line for line in run.err.splitlines() if "yyedu: sync ok:" in line]
    assert summary.endswith(
        "yyedu: sync ok: 6 list page(s), 40 item(s) read: 40 new, 0 changed, 0 unchanged, "
        "0 quarantined, 0 withdrawn, 0 skipped, 0 error(s)"
    ), summary


def _run_in_a_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as its stdout and stderr; what the screen got."""
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(PYTHONPATH=str(REPO), TERM="xterm-256color", COLUMNS="160", LINES="40")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", *args], stdin=child, stdout=child, stderr=child,
        env=env, cwd=REPO,
    )  # fmt: skip
    os.close(child)
    screen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(main)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    return proc.returncode, text


def test_sync_on_a_terminal_shows_pages_items_rate_and_deliveries(sandbox, tmp_path, state_url):
    box = sandbox(items=40, seed=5)
    box.site.delay = 0.02
    config = _config(tmp_path, state_url, box)
    code, screen = _run_in_a_terminal("--config", config, "sync", "--once")
    assert code == 0, screen
    # the last frame: everything read of everything known, nothing left to send
    assert "pages 6 of 6" in screen, screen
    assert "40 of 40 items read (100 %)" in screen, screen
    assert "items/s" in screen
    assert "deliveries pending: 0" in screen, screen
    assert box.portal.store.count() == 40


@pytest.fixture
def with_daemon(sandbox, tmp_path, state_url):
    box = sandbox(items=20, seed=21)
    port = free_port()
    extra = f'[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\n\n[admin]\nport = {port}\n'
    config = _config(tmp_path, state_url, box, extra)
    d = Daemon(config, port)
    yield box, config, d
    d.stop()


def test_dry_run_with_a_daemon_waits_for_the_plan_in_plain_words(with_daemon, cli):
    box, config, d = with_daemon
    d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    items = [i for i in load_manifest(box.root).items if not i.withdrawn]
    [added] = publish(box.root, 1)
    changed = edit(box.root, items[0].id, title="关于调整2026年秋季学期作息时间的通知（修订）")
    gone = withdraw(box.root, items[1].id)
    queued = cli("--config", config, "resync", "--dry-run", "--force", timeout=120)
    assert queued.code == 0, queued.both
    lines = queued.out.splitlines()
    assert lines[0] == "resync #1 queued for the running daemon"
    plan = [line for line in lines if line.startswith("  would ")]
    assert sorted(plan) == sorted([
        f"  would add: {added.title} (yyedu:{added.id})",
        f"  would update: {changed.title} (yyedu:{changed.id})",
        f"  would withdraw: {gone.title} (yyedu:{gone.id})",
    ]), queued.out  # fmt: skip
    assert lines[-1] == "dry run: nothing was changed"
    assert box.portal.store.count() == 20  # a plan changes nothing
    assert d.stop()[0] == 0
    here = cli("--config", config, "resync", "--dry-run", "--force", timeout=120)
    assert here.code == 0, here.both
    assert [line for line in here.out.splitlines() if line.startswith("  would ")] == plan


def test_resync_wait_returns_once_the_portal_holds_the_items(with_daemon, cli):
    box, config, d = with_daemon
    d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    publish(box.root, 3)
    # the portal turns away the next writes (429, retry after 3 s): the daemon's resync
    # ends with its three deliveries still waiting for their retry
    box.portal.faults = Faults(rate_limit_burst=6, retry_after=3)
    result = cli(
        "--config", config, "resync", "--wait", env={"BRIDGE_PROGRESS_INTERVAL": "0.3"},
        timeout=120,
    )  # fmt: skip
    held = box.portal.store.count()
    assert result.code == 0, result.both
    assert held == 23
    lines = result.out.splitlines()
    assert lines[0] == "resync #1 queued for the running daemon"
    assert lines[-1] == "resync #1: all 3 delivery(ies) made"
    assert any(LINE.fullmatch(line) for line in result.err.splitlines()), result.err


def test_resync_wait_gives_up_after_its_timeout_with_a_clear_message(with_daemon, cli):
    box, config, d = with_daemon
    d.wait_for(lambda: box.portal.store.count() == 20, what="first delivery")
    publish(box.root, 2)
    box.portal.outage_for(60)
    result = cli("--config", config, "resync", "--wait", "--timeout", "2", timeout=120)
    assert result.code == 1, result.both
    assert re.search(
        r"resync #1: gave up waiting after 2 s: 2 delivery\(ies\) still pending; the daemon "
        r"keeps sending them \(`.+ status` shows why they wait\)",
        result.err,
    ), result.both
