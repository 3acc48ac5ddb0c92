"""``delivery.process``: the drain runs in a child process while the cycle crawls (``true``,
or ``"auto"`` for a first backfill or a resync on more than one core)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import cycle_context, run_cycle, run_out_leases, state_rows
from waiting import wait_for

from bridge.crawl.run import RunOptions, delivery_process, run_once
from bridge.defaults import DELIVERY_CONCURRENCY, DRAIN_BATCH
from bridge.delivery.process import cgroup_quota, usable_cores
from bridge.sandbox.portal import SANDBOX_SECRET
from bridge.sandbox.portal_faults import Faults
from bridge.sandbox.site import publish

pytestmark = pytest.mark.slow

CHILD_LINE = re.compile(r"delivering from process (\d+) while process (\d+) crawls")


def senders() -> list[int]:
    """This process's children that run the delivery process (and have not ended)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and b"bridge.delivery.process" in cmdline:
            found.append(int(entry.name))
    return found


def until(ready: Callable[[], bool], seconds: float = 60) -> None:
    """Wait until ``ready()``; fails naming the wait when the time is up."""
    wait_for(ready, seconds, what="the delivery process to get that far")


def put_answers(box) -> dict[str, int]:
    stats = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()
    return stats["requests"].get("PUT", {})


def delivery_states(path) -> dict[str, int]:
    rows = state_rows(path, "SELECT status, count(*) FROM deliveries GROUP BY status")
    return dict(rows)


def test_sync_delivers_from_a_second_process_exactly_once(sandbox, write_config, cli):
    box = sandbox(items=60, seed=91)
    path = write_config(box, extra="process = true")
    box.portal.faults = Faults(error_rate=0.15, seed=5)
    result = cli("--config", str(path), "sync", "--once", "--deliver-for", "60", timeout=300)
    assert result.code == 0, result.both
    assert "60 new" in result.out
    assert "60 created" in result.out
    (child, parent), *more = CHILD_LINE.findall(result.err)
    assert more == [] and child != parent
    held = box.portal.store.items()
    assert len(held) == len({r["external_id"] for r in held}) == 60
    answers = put_answers(box)
    assert answers["201"] == 60  # every item created once; the other answers were the faults
    assert sorted({code[0] for code in answers}) == ["2", "5"] and "200" not in answers
    assert delivery_states(path) == {"done": 60}
    # Two processes appended to one audit chain: still one unbroken chain.
    verified = cli("--config", str(path), "audit", "verify")
    assert verified.code == 0, verified.both
    assert SANDBOX_SECRET not in result.both + verified.both


def test_a_stop_reaches_the_delivery_process_and_nothing_is_sent_twice(sandbox, write_config):
    box = sandbox(items=80, seed=93)
    path = write_config(box, extra="process = true")
    box.portal.faults = Faults(latency=0.05)
    ctx = cycle_context(path)

    def stop_once_it_delivers() -> None:
        until(lambda: box.portal.store.count() >= 5)
        ctx.stop.set()  # what SIGTERM and Ctrl-C do

    stopper = threading.Thread(target=stop_once_it_delivers)
    stopper.start()
    try:
        first = run_once(ctx)
    finally:
        stopper.join()
        ctx.db.dispose()
    assert senders() == []  # the child finished and was reaped
    assert first.delivery is not None
    states = delivery_states(path)
    assert "inflight" not in states  # the child released what it had not sent
    delivered = first.delivery.created
    assert 0 < delivered < 80
    assert states.get("done", 0) == delivered == box.portal.store.count()

    box.portal.faults = Faults()
    second = run_cycle(path)
    assert second.sources[0].status == "ok"
    assert box.portal.store.count() == 80
    assert put_answers(box) == {"201": 80}  # each item sent once over both runs


def test_a_killed_delivery_process_loses_nothing(sandbox, write_config, caplog):
    box = sandbox(items=60, seed=95)
    # A lease far longer than the test: it runs out only where the test ages it.
    path = write_config(box, extra='process = true\nlease_seconds = "1h"')
    box.portal.faults = Faults(latency=0.05)
    ctx = cycle_context(path)

    def kill_the_child_once_it_delivers() -> None:
        until(lambda: bool(senders()) and box.portal.store.count() >= 5)
        os.kill(senders()[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_child_once_it_delivers)
    killer.start()
    try:
        first = run_once(ctx)
    finally:
        killer.join()
        run_out_leases(ctx.db)  # the dead child's leases run out
        ctx.db.dispose()
    assert first.delivery is not None and first.delivery.stopped == 1
    assert first.exit_code == 1  # its records wait queued: the run did not do its job
    assert "the delivery process ended with exit code -9 before reporting" in caplog.text
    assert first.sources[0].stats.new == 60  # the crawl went on regardless

    box.portal.faults = Faults()
    second = run_cycle(path)
    assert second.exit_code == 0
    assert delivery_states(path) == {"done": 60}
    held = box.portal.store.items()
    assert len(held) == len({r["external_id"] for r in held}) == 60
    # At most the batches the child's senders had claimed when it died are repeated
    # (their answers are stored together), and the portal answers a repeat as
    # unchanged: never a second item.
    answers = put_answers(box)
    assert answers["201"] == 60
    assert sum(answers.values()) - 60 == answers.get("200", 0) <= DRAIN_BATCH


def crawl_libraries(pid: int | str) -> list[str]:
    """The compiled parts of the crawl's libraries (lxml, nh3) that process ``pid`` maps."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    files = {line.split()[-1] for line in maps if line.endswith(".so") or ".so." in line}
    return sorted(Path(f).name for f in files if "/lxml/" in f or "/nh3/" in f)


def test_the_delivery_process_does_not_load_the_crawl(sandbox, write_config):
    """The child only sends: the parsers stay in the parent (memory: ``bridge.context``)."""
    box = sandbox(items=40, seed=97)
    path = write_config(box, extra="process = true")
    box.portal.faults = Faults(latency=0.05)
    ctx = cycle_context(path)
    seen: dict[str, list[str]] = {}

    def look_once_it_delivers() -> None:
        until(lambda: bool(senders()) and box.portal.store.count() >= 3)
        seen["child"] = crawl_libraries(senders()[0])
        seen["parent"] = crawl_libraries("self")
        ctx.stop.set()

    looker = threading.Thread(target=look_once_it_delivers)
    looker.start()
    try:
        run_once(ctx)
    finally:
        looker.join()
        ctx.db.dispose()
    assert seen["child"] == []
    assert any(name.startswith("etree.") for name in seen["parent"])  # the check can see it


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_a_cycle_broken_off_stops_delivering_at_once(sandbox, write_config, process):
    """Ctrl-C in `bridge sync --once` is a KeyboardInterrupt in the crawl: the sender
    finishes the delivery in hand and leaves the rest queued (it used to drain them all)."""
    box = sandbox(items=40, seed=97)
    path = write_config(box, extra=f"process = {'true' if process else 'false'}")
    ctx = cycle_context(path)
    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0  # 40 deliveries queued
    finally:
        ctx.db.dispose()
    box.portal.faults = Faults(latency=0.2)  # all 40 would take 4 s with two senders

    puts_at_interrupt: list[int] = []

    def interrupted(_scfg: object) -> object:
        until(lambda: box.portal.store.count() >= 2)  # the sender is busy by now
        puts_at_interrupt.append(sum(put_answers(box).values()))
        raise KeyboardInterrupt

    ctx = cycle_context(path)
    ctx.source_factory = interrupted  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            run_once(ctx)
    finally:
        ctx.db.dispose()
    # Each sender finishes the delivery in hand, and at most the one whose turn it took
    # with that answer before it heard of the stop: never the rest of its batch.
    after_interrupt = sum(put_answers(box).values()) - puts_at_interrupt[0]
    assert after_interrupt <= 2 * DELIVERY_CONCURRENCY
    assert 0 < box.portal.store.count() < 40
    states = delivery_states(path)
    assert "inflight" not in states and states["pending"] == 40 - box.portal.store.count()


def test_no_delivery_process_to_be_had_means_delivering_from_a_thread(
    sandbox, write_config, monkeypatch, caplog
):
    import subprocess

    box = sandbox(items=12, seed=99)
    path = write_config(box, extra="process = true")

    def no_process(*_args: object, **_kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    summary = run_cycle(path)
    assert summary.exit_code == 0 and summary.delivery is not None
    assert summary.delivery.created == 12 == box.portal.store.count()
    assert (
        "cannot start a delivery process ([Errno 11] Resource temporarily unavailable): "
        "delivering from a thread" in caplog.text
    )


# "auto" chooses a process only where more than one core may be used (CI: two).
TWO_CORES = pytest.mark.skipif(usable_cores() <= 1, reason="this machine gives the tests one core")


@TWO_CORES
def test_auto_delivers_a_backfill_from_a_process_and_a_poll_from_a_thread(
    sandbox, write_config, cli
):
    box = sandbox(items=30, seed=101)
    path = write_config(box)  # delivery.process left at its default: "auto"
    sync = ("--config", str(path), "sync", "--once")
    backfill = cli(*sync, timeout=300)
    assert backfill.code == 0, backfill.both
    assert "30 new" in backfill.out and "30 created" in backfill.out
    assert len(CHILD_LINE.findall(backfill.err)) == 1  # a first backfill: a process

    publish(box.root, 2)
    poll = cli(*sync, timeout=300)
    assert poll.code == 0, poll.both
    assert "2 new" in poll.out and "2 created" in poll.out
    assert CHILD_LINE.findall(poll.err) == []  # a poll: a thread

    resync = cli("--config", str(path), "resync", "--reason", "test", timeout=300)
    assert resync.code == 0, resync.both
    assert len(CHILD_LINE.findall(resync.err)) == 1  # a complete read again
    assert put_answers(box) == {"201": 32}  # the resync found nothing to send again
    assert delivery_states(path) == {"done": 32}


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is missing")
def test_auto_on_one_core_delivers_a_backfill_from_a_thread(sandbox, write_config, cli):
    box = sandbox(items=12, seed=103)
    path = write_config(box)
    one_core = ("taskset", "-c", "0")  # the process and its children may use core 0 only
    backfill = cli("--config", str(path), "sync", "--once", timeout=300, launcher=one_core)
    assert backfill.code == 0, backfill.both
    assert "12 created" in backfill.out
    assert CHILD_LINE.findall(backfill.err) == []  # a second process would only take turns


@TWO_CORES
def test_auto_is_a_process_for_a_first_backfill_and_a_resync_only(sandbox, write_config):
    box = sandbox(items=30, seed=105)
    path = write_config(box)
    ctx = cycle_context(path)
    try:
        chosen = list(ctx.settings.sources)
        first_column = [chosen[0].columns[0].key]
        assert delivery_process(ctx, chosen, full=False) is True  # nothing in the store
        run_once(ctx, RunOptions(columns=first_column, deliver=False))
        # Taken up again after one column: a thread, as for a backfill broken off (no
        # telling it from a column that keeps failing before the crawl).
        assert delivery_process(ctx, chosen, full=False) is False
        assert delivery_process(ctx, chosen, full=True) is True  # a resync
    finally:
        ctx.db.dispose()


@pytest.mark.parametrize(
    ("cgroup", "files", "expected"),
    [
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),
        ("0::/system.slice/bridge.service\n",
         {"system.slice/bridge.service/cpu.max": "150000 100000\n"}, 1.5),
        ("0::/docker/abc\n", {"cpu.max": "100000 100000\n"}, 1.0),  # a container's own root
        ("2:cpu,cpuacct:/docker/abc\n0::/\n",
         {"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ("1:cpu:/\n0::/\n", {"cpu/cpu.cfs_quota_us": "-1\n"}, None),  # v1, no quota
        ("0::/\n", {}, None),  # nothing to read
        ("0::/\n", {"cpu.max": "garbage\n"}, None),
    ],
    ids=["v2 max", "v2 service", "v2 container", "v1 container", "v1 unlimited", "none", "bad"],
)  # fmt: skip
def test_a_cpu_quota_is_read_from_the_cgroup(tmp_path, cgroup, files, expected):
    (tmp_path / "cgroup").write_text(cgroup)
    for name, text in files.items():
        (tmp_path / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / name).write_text(text)
    assert cgroup_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == expected
