"""Delivering from a process of its own while a cycle crawls (``delivery.process``).

A backfill keeps two kinds of work busy at once: the crawl (parsing pages, normalizing,
recording) and the delivery (signing, the portal's HTTP round trips, the outbox
transactions). Both are Python, and in one process they share one interpreter lock:
they take turns on one core however many the machine has. With ``delivery.process =
true`` the drain of ``bridge.delivery.drain`` runs in a child process for as long as the cycle
crawls, so the two use two cores. Nothing else changes: the child claims deliveries
under a lease in the same state store, exactly as a second worker would, so a crash of
either side leaves nothing behind that the next drain does not retake.

The child is a fresh interpreter (``python -m bridge.delivery.process FD``; a fork would copy the
parent's threads' locks and open database connections) joined to the parent by a
socket pair: the settings go down it, never through the command line or the
environment; then "the crawl is over" and "stop"; its counts come back up it. Not
``multiprocessing``: its spawn method starts a resource-tracker process as well, memory
spent on nothing this needs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from bridge import logs
from bridge.context import Context
from bridge.delivery.drain import DeliveryStats, drain

log = logging.getLogger(__name__)

_POLL = 0.02  # seconds between looks at the parent's stop flag and the crawl's end
_JOIN = 10.0  # seconds a child that reported may take to exit before it is killed
CRAWL_OVER, STOP = "crawl over", "stop"


def usable_cores(cgroup: str = "/proc/self/cgroup", cgroup_root: str = "/sys/fs/cgroup") -> float:
    """How many cores this process may use: its CPU affinity (taskset, cpusets), capped
    by its cgroup's CPU quota (``docker run --cpus``, a Kubernetes limit, systemd's
    ``CPUQuota=``), which the affinity does not show."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return float(os.cpu_count() or 1)
    quota = cgroup_quota(cgroup, cgroup_root)
    return cores if quota is None else min(cores, quota)


def cgroup_quota(cgroup: str, cgroup_root: str) -> float | None:
    """The CPU quota of this process's cgroup in cores (cgroup v2 ``cpu.max``, or v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``); None when there is none or it cannot
    be read. A container sees its own cgroup at the root of the mount: that is read too."""
    root = cgroup_root.rstrip("/")
    try:
        with open(cgroup, encoding="utf-8") as lines:
            entries = [line.rstrip("\n").split(":", 2) for line in lines if line.count(":") >= 2]
    except OSError:
        return None
    quotas = []
    for _number, controllers, path in entries:
        for where in dict.fromkeys((path.rstrip("/"), "")):
            try:
                if controllers == "":  # v2
                    quota, period = _read(f"{root}{where}/cpu.max").split()
                    if quota != "max":
                        quotas.append(int(quota) / int(period))
                elif "cpu" in controllers.split(","):  # v1
                    quota = _read(f"{root}/cpu{where}/cpu.cfs_quota_us")
                    if int(quota) > 0:
                        period = _read(f"{root}/cpu{where}/cpu.cfs_period_us")
                        quotas.append(int(quota) / int(period))
                break
            except (OSError, ValueError, ZeroDivisionError):
                continue
    return min(quotas) if quotas else None


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def drain_in_process(ctx: Context, while_running: threading.Event) -> DeliveryStats:
    """``drain(ctx, while_running=...)`` in a child process; returns its counts.

    The parent's stop (SIGTERM, Ctrl-C) is passed on: the child finishes the delivery in
    hand and reports. A child that dies without reporting is logged; what it had claimed
    stays leased until the lease runs out, then any drain sends it again.
    """
    mine, theirs = socket.socketpair()
    fd = theirs.fileno()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "bridge.delivery.process", str(fd)],
            pass_fds=(fd,),
            close_fds=True,
        )
    except OSError as exc:  # no process to be had (limits, a broken interpreter path)
        mine.close()
        theirs.close()
        log.warning("cannot start a delivery process (%s): delivering from a thread", exc)
        return drain(ctx, while_running=while_running)
    theirs.close()
    pipe = Connection(mine.detach())
    stats: DeliveryStats | None = None
    told: set[str] = set()
    try:
        pipe.send((ctx.settings, ctx.actor, logging.getLogger().level, logs.current_format()))
        while child.poll() is None and not pipe.poll(_POLL):
            if not while_running.is_set() and CRAWL_OVER not in told:
                pipe.send(CRAWL_OVER)
                told.add(CRAWL_OVER)
            if ctx.stop.is_set() and STOP not in told:
                pipe.send(STOP)
                told.add(STOP)
        if pipe.poll(0):
            stats = pipe.recv()
    except (EOFError, OSError):
        stats = None  # the child closed its end without a report: it died
    finally:
        try:
            child.wait(_JOIN)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        pipe.close()
    if stats is None:
        log.error(
            "the delivery process ended with exit code %s before reporting; deliveries it "
            "had claimed are sent again once their lease runs out",
            child.returncode,
        )
        return DeliveryStats(stopped=1)
    return stats


def _listen(pipe: Connection, crawling: threading.Event, stop: threading.Event) -> None:
    """The parent's word: the crawl is over, or stop (its end of the pipe closing: stop)."""
    try:
        while True:
            word = pipe.recv()
            if word == CRAWL_OVER:
                crawling.clear()
            elif word == STOP:
                stop.set()
    except (EOFError, OSError):
        stop.set()


def main(fd: int) -> None:
    """The child's whole life: build a context from the parent's settings, drain, report."""
    # Ctrl-C reaches the whole process group: the parent decides when to stop, and says
    # so; SIGTERM (systemd stops the whole control group) means the same.
    stop, crawling = threading.Event(), threading.Event()
    crawling.set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pipe = Connection(fd)
    settings, actor, level, fmt = pipe.recv()
    logs.setup_logging(level, fmt)
    threading.Thread(target=_listen, args=(pipe, crawling, stop), daemon=True).start()

    from bridge.state.db import Database
    from bridge.targets import make_target

    stats = DeliveryStats()
    try:
        db = Database(settings.state_url.reveal())
        target = make_target(settings.target)
        ctx = Context(settings=settings, db=db, target=target, actor=actor, stop=stop)
        log.info("delivering from process %d while process %d crawls", os.getpid(), os.getppid())
        try:
            stats = drain(ctx, while_running=crawling)
        finally:
            target.close()
            db.dispose()
    except Exception as exc:  # a bug or the store going away: one line, the rest stay queued
        logs.internal_error(log, "delivery process stopped", exc)
        stats.stopped += 1
    with contextlib.suppress(OSError):  # the parent is gone: the store has it all anyway
        pipe.send(stats)
    # Everything is done, stored and closed: skip the interpreter's teardown of every
    # module and object (a quarter of a second that the parent would wait for).
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
