"""Whether a source's detail pages are worth fetching on threads, measured as a run goes.

Threads pay for waiting on a distant server: with 50 ms answers, four in flight make a
backfill four times as fast. On a near server (the same host, the local network) they
cost: the fetch threads and the thread that normalizes and records take turns on one
interpreter lock, and each turn is a hand-off between threads. Measured with nginx on
loopback (2,000 items, ``run_once`` without delivery): one page at a time 4.8 CPU ms
per item and 190 items/s, two threads 6.1–6.6 ms and 170, four 6.8–7.1 ms and 160.

So the run measures, on a few pages fetched one at a time in its own thread, how long a
page keeps it waiting (wall time less its CPU time) against the CPU time it costs (fetch,
parse, normalize, record). When the waiting is more than ``WAIT_SHARE`` of the CPU,
threads win and pages go out ``fetch.concurrency`` at a time; otherwise one at a time,
which measures itself at no cost and switches to threads as soon as the server slows
down. While threads win they are checked again after ``RECHECK_AFTER`` pages, then after
twice as many each time they still win (a check costs a few pages' waiting).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

PROBE_PAGES = 4  # detail pages fetched one at a time per measurement
WAIT_SHARE = 0.5  # threads win when waiting exceeds this share of the CPU per page
RECHECK_AFTER = 200  # detail pages on threads before the first check that they still win
RECHECK_MAX = 6400  # and never more than this many between checks


class Pace:
    """``threaded()`` before each detail page says how to fetch it; a page fetched one at
    a time is timed with ``started()`` before it and ``done(started)`` once handled."""

    def __init__(
        self,
        name: str,
        *,
        threads_allowed: bool,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.name = name
        self.allowed = threads_allowed
        self.clock, self.cpu_clock = clock, cpu_clock
        self.threads = False  # how pages go now; the first ones are measured
        self.on_threads = 0  # pages fetched on threads since the last check
        self.recheck = RECHECK_AFTER
        self.rechecking = False  # threads won, and this measurement checks they still do
        self._reset()

    def _reset(self) -> None:
        self.waited = self.cpu = 0.0
        self.measured = 0

    def threaded(self) -> bool:
        """True when the next detail page goes to a thread."""
        if not self.threads:
            return False
        self.on_threads += 1
        if self.on_threads > self.recheck:
            self.threads, self.rechecking, self.on_threads = False, True, 0
            self._reset()
            return False
        return True

    def started(self) -> tuple[float, float]:
        return self.clock(), self.cpu_clock()

    def done(self, started: tuple[float, float]) -> None:
        """One page fetched one at a time, and handled, since ``started``."""
        wall = self.clock() - started[0]
        cpu = self.cpu_clock() - started[1]
        self.waited += max(0.0, wall - cpu)
        self.cpu += cpu
        self.measured += 1
        if self.allowed and self.measured >= PROBE_PAGES:
            self._decide()

    def _decide(self) -> None:
        threads = self.waited > WAIT_SHARE * self.cpu
        if threads:  # checked again later, less often while they keep winning
            self.recheck = min(self.recheck * 2, RECHECK_MAX) if self.rechecking else RECHECK_AFTER
        log.debug(
            "%s: a detail page waits %.1f ms and costs %.1f CPU ms: %s",
            self.name,
            1000 * self.waited / self.measured,
            1000 * self.cpu / self.measured,
            "fetching on threads" if threads else "fetching one at a time",
        )
        self.threads, self.rechecking = threads, False
        self._reset()
