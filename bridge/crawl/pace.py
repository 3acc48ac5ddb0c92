"""Whether a source's detail pages are worth fetching on threads, measured as a run goes.

Threads pay for waiting on a distant server: with 50 ms answers, four in flight make a
backfill four times as fast. On a near server (the same host, the local network) they
cost: the fetch threads and the thread that normalizes and records take turns on one
interpreter lock, and each turn is a hand-off between threads, so one page at a time is
both cheaper and faster there (the measurement: bench/README.md, "Figures behind
choices in the code").

So the run measures, on a few pages fetched one at a time in its own thread, how long
fetching a page keeps it waiting against the CPU time the page costs in all (fetch,
parse, normalize, record). Waiting is the fetch's wall time less what is not the
server's: the CPU time of the whole process meanwhile (while a delivery thread holds
the interpreter lock, the crawl thread waits for the lock), and the time the thread
waited for a core (Linux counts it per thread in ``/proc/thread-self/schedstat``: a
delivery process or the portal on the same host keep the cores busy). Waits while
recording (the store's write lock, held by a delivery) are left out: threads fetching
ahead would not shorten them either. When the waiting is more than ``WAIT_SHARE`` of
the CPU, threads win and pages go out ``fetch.concurrency`` at a time; otherwise one at
a time, which goes on measuring itself on one page in ``SAMPLE_EVERY`` (timing a page reads
``/proc`` twice) and switches to threads as soon as a timed page finds the server slow. A
measurement takes ``PROBE_PAGES`` pages, or ends as soon as the waiting
so far is beyond doubt (more than ``SURE_WAIT_SHARE`` times the CPU so far): every page
fetched alone from a distant server is time the other requests could have been in
flight. While threads win they are checked again after ``RECHECK_AFTER`` pages, then
after twice as many each time they still win (a check costs a page or a few alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bridge.defaults import PACE_PROBE_PAGES as PROBE_PAGES
from bridge.defaults import PACE_RECHECK_AFTER as RECHECK_AFTER
from bridge.defaults import PACE_RECHECK_MAX as RECHECK_MAX
from bridge.defaults import PACE_SAMPLE_EVERY as SAMPLE_EVERY
from bridge.defaults import PACE_SURE_WAIT_SHARE as SURE_WAIT_SHARE
from bridge.defaults import PACE_WAIT_SHARE as WAIT_SHARE

log = logging.getLogger(__name__)


class Pace:
    """``threaded()`` before each detail page says how to fetch it; a page fetched one at
    a time is timed with ``started()`` before it and after it, and ``done(before, after)``
    once it is handled."""

    def __init__(
        self,
        name: str,
        *,
        threads_allowed: bool,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        queued_clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.allowed = threads_allowed
        self.clock, self.cpu_clock = clock, cpu_clock
        self.queued_clock = queued_clock or _time_queued_for_a_core
        self.threads = False  # how pages go now; the first ones are measured
        self.on_threads = 0  # pages fetched on threads since the last check
        self.recheck = RECHECK_AFTER
        self.rechecking = False  # threads won, and this measurement checks they still do
        self.sparse = False  # one at a time was chosen: one page in SAMPLE_EVERY is timed
        self.timing = True  # the next page fetched one at a time is timed
        self.untimed = 0  # pages since the last timed one, while sparse
        self._reset()

    def _reset(self) -> None:
        self.waited = self.cpu = 0.0
        self.measured = 0

    def threaded(self) -> bool:
        """True when the next detail page goes to a thread."""
        if not self.threads:
            if self.sparse:
                self.untimed += 1
                self.timing = self.untimed >= SAMPLE_EVERY
                if self.timing:
                    self.untimed = 0
            return False
        self.on_threads += 1
        if self.on_threads > self.recheck:
            self.threads, self.rechecking, self.on_threads = False, True, 0
            self.timing = True  # every page of the check
            self._reset()
            return False
        return True

    def started(self) -> tuple[float, float, float]:
        """Before a page is fetched one at a time, and again once it is fetched."""
        if not self.allowed or not self.timing:  # nothing to measure on this page
            return _UNTIMED
        return self.clock(), self.cpu_clock(), self.queued_clock()

    def done(
        self, started: tuple[float, float, float], fetched: tuple[float, float, float]
    ) -> None:
        """The page fetched (between ``started`` and ``fetched``) and handled since."""
        if started is _UNTIMED:
            return
        wall = fetched[0] - started[0]
        cpu = fetched[1] - started[1]
        queued = fetched[2] - started[2]
        self.waited += max(0.0, wall - cpu - queued)
        self.cpu += self.cpu_clock() - started[1]
        self.measured += 1
        if self.measured >= PROBE_PAGES or self.waited > SURE_WAIT_SHARE * self.cpu:
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
        self.sparse, self.timing, self.untimed = not threads, threads, 0
        self._reset()


_UNTIMED = (0.0, 0.0, 0.0)  # what ``started`` gives for a page that is not timed


_SCHEDSTAT = "/proc/thread-self/schedstat"  # ns on a core, ns waiting for one, slices


def _time_queued_for_a_core() -> float:
    """Seconds this thread has waited, runnable, for a core (0 where Linux does not say)."""
    try:
        with open(_SCHEDSTAT, "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
