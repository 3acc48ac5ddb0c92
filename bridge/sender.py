"""Delivering from a process of its own while a cycle crawls (``delivery.process``).

A backfill keeps two kinds of work busy at once: the crawl (parsing pages, normalizing,
recording) and the delivery (signing, the portal's HTTP round trips, the outbox
transactions). Both are Python, and in one process they share one interpreter lock:
they take turns on one core however many the machine has. With ``delivery.process =
true`` the drain of ``bridge.deliver`` runs in a child process for as long as the cycle
crawls, so the two use two cores. Nothing else changes: the child claims deliveries
under a lease in the same state store, exactly as a second worker would, so a crash of
either side leaves nothing behind that the next drain does not retake.

The child is started with ``spawn`` (a fork would copy the parent's threads' locks and
its open database connections), gets the settings through a pipe, never through its
command line or environment, and reports its counts back through the same pipe.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from typing import TYPE_CHECKING

from bridge.deliver import DeliveryStats, drain

if TYPE_CHECKING:
    from bridge.pipeline import Context

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
_POLL = 0.02  # seconds between looks at the parent's stop flag and the crawl's end
_JOIN = 10.0  # seconds a child that reported may take to exit before it is terminated
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def drain_in_process(ctx: Context, while_running: threading.Event) -> DeliveryStats:
    """``drain(ctx, while_running=...)`` in a child process; returns its counts.

    The parent's stop (SIGTERM, Ctrl-C) is passed on: the child finishes the delivery in
    hand and reports. A child that dies without reporting is logged; what it had claimed
    stays leased until the lease runs out, then any drain sends it again.
    """
    crawling, stop = _SPAWN.Event(), _SPAWN.Event()
    crawling.set()
    here, there = _SPAWN.Pipe()
    child = _SPAWN.Process(
        target=_child,
        args=(there, crawling, stop, logging.getLogger().level, _log_format()),
        name="bridge-deliver",
        daemon=True,
    )
    child.start()
    there.close()
    stats: DeliveryStats | None = None
    try:
        # The settings go down the pipe: secrets never reach a command line or an
        # environment another user could read in /proc.
        here.send((ctx.settings, ctx.actor))
        while child.is_alive() and not here.poll(_POLL):
            if not while_running.is_set():
                crawling.clear()
            if ctx.stop.is_set():
                stop.set()
        if here.poll(0):
            stats = here.recv()
    except (EOFError, OSError, BrokenPipeError):
        stats = None  # the child closed its end without a report: it died
    finally:
        if stats is None:
            stop.set()
        child.join(_JOIN)
        if child.is_alive():
            child.terminate()
            child.join()
        here.close()
    if stats is None:
        log.error(
            "the delivery process ended with exit code %s before reporting; deliveries it "
            "had claimed are sent again once their lease runs out",
            child.exitcode,
        )
        return DeliveryStats(failed=1)
    return stats


def _log_format() -> str:
    for handler in logging.getLogger().handlers:
        fmt = getattr(handler.formatter, "_fmt", None)
        if fmt:
            return str(fmt)
    return _LOG_FORMAT


def _child(
    pipe: Connection, crawling: ProcessEvent, stop: ProcessEvent, level: int, fmt: str
) -> None:
    """The child's whole life: build a context from the parent's settings, drain, report."""
    # Ctrl-C reaches the whole process group: the parent decides when to stop, and tells
    # us through ``stop``; SIGTERM (systemd stops the whole control group) means the same.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))

    from bridge.pipeline import Context  # the pipeline imports this module
    from bridge.state.db import Database
    from bridge.targets import make_target

    stats = DeliveryStats()
    try:
        settings, actor = pipe.recv()
        db = Database(settings.state_url.reveal())
        target = make_target(settings.target)
        # ``stop`` has a threading.Event's interface, and the parent can set it.
        ctx = Context(settings=settings, db=db, target=target, actor=actor, stop=stop)  # type: ignore[arg-type]
        log.info("delivering from process %d while process %d crawls", os.getpid(), os.getppid())
        try:
            stats = drain(ctx, while_running=crawling)  # type: ignore[arg-type]
        finally:
            target.close()
            db.dispose()
    except Exception as exc:  # a bug or the store going away: one line, the rest stay queued
        log.error(
            "delivery process stopped: %s: %s (the traceback is logged at DEBUG)",
            type(exc).__name__,
            exc,
        )
        log.debug("delivery process traceback", exc_info=exc)
        stats.failed += 1
    pipe.send(stats)
    pipe.close()
    # Everything is done, stored and closed: skip the interpreter's teardown of every
    # module and object (a quarter of a second that the parent would wait for).
    logging.shutdown()
    os._exit(0)
