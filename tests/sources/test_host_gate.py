"""The per-host gate: the concurrency cap, and list pages before detail pages."""

from __future__ import annotations

import threading

from waiting import wait_for

from bridge.sources.politeness import HostGate


def test_the_cap_holds_and_a_listing_request_goes_first() -> None:
    gate = HostGate(rate=1_000_000.0, concurrency=2)
    order: list[str] = []
    inside = 0
    most = 0
    lock = threading.Lock()
    release = {name: threading.Event() for name in ("detail-1", "detail-2")}

    def request(name: str, urgent: bool, hold: bool) -> None:
        nonlocal inside, most
        with gate.slot(urgent=urgent):
            with lock:
                inside += 1
                most = max(most, inside)
                order.append(name)
            if hold:
                assert release[name].wait(30)
            with lock:
                inside -= 1

    def waiting() -> int:  # threads blocked on the gate for a free slot
        return len(gate.turns._waiters)  # type: ignore[attr-defined]

    # Two detail pages take both slots, three more queue, then a list page arrives.
    first = [threading.Thread(target=request, args=(f"detail-{n}", False, True)) for n in (1, 2)]
    for t in first:
        t.start()
    wait_for(lambda: len(order) == 2, what="two detail pages holding both slots")
    queued = [
        threading.Thread(target=request, args=(f"detail-{n}", False, False)) for n in (3, 4, 5)
    ]
    for t in queued:
        t.start()
    wait_for(lambda: waiting() == 3, what="three detail pages queued")
    listing = threading.Thread(target=request, args=("listing", True, False))
    listing.start()
    wait_for(lambda: waiting() == 4, what="the list page queued behind them")
    release["detail-1"].set()  # one slot frees: the list page has it, not a detail page
    wait_for(lambda: len(order) >= 3, what="the next request in")
    release["detail-2"].set()
    for t in [*first, *queued, listing]:
        t.join()
    assert most == 2
    assert set(order[:2]) == {"detail-1", "detail-2"}
    assert order[2] == "listing"  # before the three detail pages that waited longer
    assert sorted(order[3:]) == ["detail-3", "detail-4", "detail-5"]


class FakeClock:
    """A monotonic clock that moves only when a thread sleeps: ``sleep(d)`` returns at once,
    with the clock at least ``d`` on from when it was called (threads sleeping together
    share the same timeline, as they do in real time)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.lock = threading.Lock()
        self.woken_at: list[float] = []

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            until = self.now + seconds
            self.woken_at.append(until)
            self.now = max(self.now, until)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_two_a_second_spaces_100_requests_exactly_half_a_second_apart() -> None:
    clock = FakeClock()
    gate = HostGate(rate=2.0, concurrency=4, clock=clock, sleep=clock.sleep)
    started: list[float] = []
    for _ in range(100):
        with gate.slot():
            started.append(clock())
    assert started == [1000.0 + 0.5 * n for n in range(100)]
    # An idle host gets its next request at once, and no burst to make up for the pause.
    clock.advance(60.0)
    for _ in range(3):
        with gate.slot():
            started.append(clock())
    assert started[-3:] == [started[99] + 60.0, started[99] + 60.5, started[99] + 61.0]


def test_threads_sharing_a_gate_get_turns_exactly_one_interval_apart() -> None:
    clock = FakeClock()
    gate = HostGate(rate=2.0, concurrency=4, clock=clock, sleep=clock.sleep)

    def crawl() -> None:
        for _ in range(25):
            with gate.slot():
                pass

    threads = [threading.Thread(target=crawl) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The first request goes at once; each of the 199 others waits for its own turn.
    assert sorted(clock.woken_at) == [1000.0 + 0.5 * n for n in range(1, 200)]
