"""The per-host gate: the concurrency cap, and list pages before detail pages."""

from __future__ import annotations

import threading
import time

from bridge.sources.politeness import HostGate


def test_the_cap_holds_and_a_listing_request_goes_first() -> None:
    gate = HostGate(rate=1_000_000.0, concurrency=2)
    order: list[str] = []
    inside = 0
    most = 0
    lock = threading.Lock()

    def request(name: str, urgent: bool, hold: float) -> None:
        nonlocal inside, most
        with gate.slot(urgent=urgent):
            with lock:
                inside += 1
                most = max(most, inside)
                order.append(name)
            time.sleep(hold)
            with lock:
                inside -= 1

    # Two detail pages take both slots, three more queue, then a list page arrives.
    first = [threading.Thread(target=request, args=(f"detail-{n}", False, 0.3)) for n in (1, 2)]
    for t in first:
        t.start()
    while len(order) < 2:
        time.sleep(0.005)
    queued = [
        threading.Thread(target=request, args=(f"detail-{n}", False, 0.01)) for n in (3, 4, 5)
    ]
    for t in queued:
        t.start()
    time.sleep(0.05)
    listing = threading.Thread(target=request, args=("listing", True, 0.01))
    listing.start()
    for t in [*first, *queued, listing]:
        t.join()
    assert most == 2
    assert set(order[:2]) == {"detail-1", "detail-2"}
    assert order[2] == "listing"  # before the three detail pages that waited longer
    assert sorted(order[3:]) == ["detail-3", "detail-4", "detail-5"]
