"""Politeness towards one host: a rate limit and a cap on requests in flight, shared by all
the fetch threads of a source (``fetch.Fetcher`` keeps one gate per host).

robots.txt stays in ``fetch``: it is read through the fetcher's own redirect, scope, size
and deadline rules, so it is not a value apart from the fetcher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class HostGate:
    """Rate limit and concurrency cap for one host, shared by all threads.

    A listing request goes before detail pages waiting for a slot: the next list page is
    what feeds the fetch threads more work, and behind a page's worth of detail pages and
    attachments it came late, so the threads ran dry at every page boundary (fewer
    requests in flight than the cap, with a distant server)."""

    def __init__(
        self,
        rate: float,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock, self.sleep = clock, sleep  # injected by tests to check the rate exactly
        self.lock = threading.Lock()
        self.next_time = 0.0
        self.turns = threading.Condition()
        self.free = concurrency
        self.urgent_waiting = 0

    def slot(self, *, urgent: bool = False) -> Slot:
        return Slot(self, urgent)

    def _acquire(self, urgent: bool) -> None:
        with self.turns:
            if urgent:
                self.urgent_waiting += 1
            try:
                while self.free == 0 or (not urgent and self.urgent_waiting):
                    self.turns.wait()
            finally:
                if urgent:
                    self.urgent_waiting -= 1
            self.free -= 1
        with self.lock:
            now = self.clock()
            start = max(now, self.next_time)
            self.next_time = start + self.interval
        if start > now:
            self.sleep(start - now)

    def _release(self) -> None:
        with self.turns:
            self.free += 1
            self.turns.notify_all()


class Slot:
    """One request's turn at a host: ``with gate.slot(): ...``."""

    def __init__(self, gate: HostGate, urgent: bool) -> None:
        self.gate, self.urgent = gate, urgent

    def __enter__(self) -> None:
        self.gate._acquire(self.urgent)

    def __exit__(self, *exc: object) -> None:
        self.gate._release()
