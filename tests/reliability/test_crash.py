"""The SIGKILL loop: a bridge killed at random moments during delivery, restarted each time,
against a portal that applies 5% of writes and then drops the connection."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import requests
from conftest import REPO, state_rows
from sqlalchemy.exc import DBAPIError
from waiting import wait_for

from bridge.sandbox.portal_faults import Faults

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

ITEMS = 1000
KILLS = 20


def test_sigkill_during_delivery_loses_nothing_and_duplicates_nothing(sandbox, write_config, cli):
    box = sandbox(items=ITEMS, seed=99)
    config = write_config(box)
    box.portal.faults = Faults(drop_after_write_rate=0.05, seed=5)
    rng = random.Random(2026)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {
        "PYTHONPATH": str(REPO)
    }
    argv = [
        sys.executable,
        "-m",
        "bridge",
        "--config",
        str(config),
        "sync",
        "--once",
        "--deliver-for",
        "30",
    ]

    def delivered() -> int:
        return box.portal.store.count()

    kills_during_delivery = 0
    rounds = 0
    while kills_during_delivery < KILLS and rounds < 200:
        rounds += 1
        before = delivered()
        proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # wait until this process is delivering (the count moves), then kill at a random moment
        wait_for(
            lambda: delivered() != before or proc.poll() is not None,  # noqa: B023
            60,
            what="the process to deliver",
        )
        if proc.poll() is not None:
            break  # it finished everything before we could kill it
        # The moment of the kill is the thing under test: a random one, on a real clock.
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if 0 < delivered() < ITEMS:
            kills_during_delivery += 1

    assert kills_during_delivery >= KILLS, (
        f"only {kills_during_delivery} kills landed during delivery"
    )
    final = cli("--config", str(config), "sync", "--once", "--deliver-for", "120", timeout=300)
    assert final.code == 0, final.both

    held = box.portal.store.items()
    assert len(held) == ITEMS
    assert len({r["external_id"] for r in held}) == ITEMS
    assert len({r["index_no"] for r in held}) == ITEMS
    assert all(r["version"] == 1 for r in held)  # repeats after a lost answer were "unchanged"
    stats = requests.get(box.portal_url + "sandbox/stats?log=0", timeout=10).json()
    assert stats["puts_by_status"]["created"] == ITEMS
    assert stats["faults"]["dropped_after_write"] > 0
    verified = cli("--config", str(config), "audit", "verify")
    assert verified.code == 0, verified.both


def test_a_backfill_killed_half_way_leaves_no_item_behind(
    sandbox, write_config, cli, tmp_path, state_url
):
    """Regression: a crash in the middle of a column's first backfill used to leave the
    items beyond that point unread, because the next cycle saw a page of known items and
    stopped paging."""
    box = sandbox(items=200, seed=31)
    config = write_config(box)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {
        "PYTHONPATH": str(REPO),
        # 40 requests a second: the 220 requests of the backfill take five seconds, so a
        # poller starved of CPU on a loaded machine still sees it half way
        "BRIDGE_FETCH_RATE_LIMIT": "40",
    }
    log = (tmp_path / "backfill.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--config", str(config), "sync", "--once"],
        env=env, cwd=REPO, stdout=log, stderr=log,
    )  # fmt: skip

    def recorded() -> int:
        if "sqlite" in state_url and not (tmp_path / "state.db").exists():
            return 0  # connecting would create an empty file, which the bridge refuses
        try:
            return int(state_rows(config, "SELECT count(*) FROM items")[0][0])
        except DBAPIError:  # not created yet
            return 0

    wait_for(lambda: recorded() >= 80 or proc.poll() is not None, 120, what="80 items recorded")
    assert proc.poll() is None, (
        "the backfill finished before it could be interrupted: "
        + (tmp_path / "backfill.log").read_text()[-2000:]
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert 80 <= recorded() < 200  # killed in the middle of the backfill

    again = cli("--config", str(config), "sync", "--once")
    assert again.code == 0, again.both
    assert box.portal.store.count() == 200
    assert box.portal.stats()["puts_by_status"]["created"] == 200  # none twice
    quiet = cli("--config", str(config), "sync", "--once")
    assert "0 fetched" in quiet.out  # and the next cycle is incremental again


def test_sigkill_between_a_batchs_claim_and_its_answers_loses_nothing(
    sandbox, write_config, cli, state_url
):
    """A sender marks its whole batch sent when it claims it and stores the answers
    together: killed (with its delivery process) while the batch's PUTs go out, after
    the claim committed and before the answers were stored, the next run sends the
    batch again. The portal applied some PUTs twice, idempotently (version 1,
    "unchanged"), none of the batch is lost, and the audit chain still verifies."""
    items = 30
    box = sandbox(items=items, seed=47)
    # One batch of all 30, one sender: the answers are stored only when it ends.
    config = write_config(box, extra="concurrency = 1\nbatch = 30")
    queued = cli("--config", str(config), "sync", "--once", "--no-deliver")
    assert queued.code == 0, queued.both
    box.portal.faults = Faults(latency=0.1)  # each request waits, then applies its write
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {
        "PYTHONPATH": str(REPO)
    }
    argv = [sys.executable, "-m", "bridge", "--config", str(config), "sync", "--once"]
    # A session of its own: the kill reaches the delivery process too.
    proc = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip

    def events(name: str) -> int:
        sql = "SELECT count(*) FROM audit_events WHERE event = :e"
        return int(state_rows(config, sql, e=name)[0][0])

    try:
        wait_for(
            lambda: box.portal.store.count() >= 5 or proc.poll() is not None,
            60,
            what="PUTs of the claimed batch applied",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)  # a request the portal had in hand still applies its write after its wait
    applied = box.portal.store.count()
    # Killed between the claim (all 30 marked sent) and the answers (none stored).
    assert (events("delivery.sent"), events("delivery.confirmed")) == (items, 0)
    assert 5 <= applied < items
    inflight = state_rows(config, "SELECT count(*) FROM deliveries WHERE status = 'inflight'")
    assert inflight[0][0] == items

    again = cli("--config", str(config), "sync", "--once", "--deliver-for", "60", timeout=300)
    assert again.code == 0, again.both
    held = box.portal.store.items()
    assert len(held) == items
    assert len({r["external_id"] for r in held}) == items
    assert all(r["version"] == 1 for r in held)
    puts = box.portal.stats()["puts_by_status"]
    # Each item created once; only what the killed batch had applied was sent again.
    assert puts["created"] == items
    assert puts.get("unchanged", 0) == applied
    done = state_rows(config, "SELECT status, count(*) FROM deliveries GROUP BY status")
    assert dict(done) == {"done": items}
    confirmed = state_rows(
        config,
        "SELECT count(*), count(DISTINCT item) FROM audit_events "
        "WHERE event = 'delivery.confirmed'",
    )
    assert tuple(confirmed[0]) == (items, items)
    verified = cli("--config", str(config), "audit", "verify")
    assert verified.code == 0, verified.both
