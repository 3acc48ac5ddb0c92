"""The pace: detail pages on threads while the server keeps them waiting, else one at a time."""

from __future__ import annotations

import logging

from bridge.crawl.pace import (
    PROBE_PAGES,
    RECHECK_AFTER,
    RECHECK_MAX,
    SAMPLE_EVERY,
    SURE_WAIT_SHARE,
    WAIT_SHARE,
    Pace,
)

CPU_MS = 5.0  # what a page costs in these tests
SLOW_MS = (WAIT_SHARE + SURE_WAIT_SHARE) / 2 * CPU_MS  # threads win, not on one page
DISTANT_MS = 1.5 * SURE_WAIT_SHARE * CPU_MS  # one page leaves no doubt


class Clocks:
    """A wall clock and a CPU clock the test moves."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.queued = 0.0

    def page(
        self,
        pace: Pace,
        *,
        wait_ms: float,
        cpu_ms: float,
        queued_ms: float = 0,
        recording_wait_ms: float = 0,
    ) -> None:
        """One page fetched one at a time: fetching it waited (for the server, and for a
        core), handling it waited for the store; it cost ``cpu_ms``, half of it fetching."""
        started = pace.started()
        self.cpu += cpu_ms / 2000
        self.queued += queued_ms / 1000
        self.wall += (wait_ms + queued_ms + cpu_ms / 2) / 1000
        fetched = pace.started()
        self.cpu += cpu_ms / 2000
        self.wall += (recording_wait_ms + cpu_ms / 2) / 1000
        pace.done(started, fetched)


def make() -> tuple[Pace, Clocks]:
    clocks = Clocks()
    pace = Pace(
        "yyedu",
        threads_allowed=True,
        clock=lambda: clocks.wall,
        cpu_clock=lambda: clocks.cpu,
        queued_clock=lambda: clocks.queued,
    )
    return pace, clocks


def fetched_one_at_a_time(pace: Pace, clocks: Clocks, n: int, **cost: float) -> int:
    """Ask for ``n`` pages; returns how many went one at a time (timed as ``cost``)."""
    alone = 0
    for _ in range(n):
        if not pace.threaded():
            alone += 1
            clocks.page(pace, **cost)
    return alone


def on_threads_until_the_check(pace: Pace) -> int:
    """Pages that go to threads before the pace wants one alone again (a check)."""
    n = 0
    while pace.threaded():
        n += 1
    return n


def test_a_near_server_is_read_one_page_at_a_time(caplog):
    pace, clocks = make()
    with caplog.at_level(logging.DEBUG, logger="bridge.crawl.pace"):
        alone = fetched_one_at_a_time(pace, clocks, 1000, wait_ms=0.5, cpu_ms=5.0)
    assert alone == 1000
    assert caplog.messages[0] == (
        "yyedu: a detail page waits 0.5 ms and costs 5.0 CPU ms: fetching one at a time"
    )


def test_a_distant_server_gets_threads_after_the_first_pages_and_checks_that_grow_rarer():
    pace, clocks = make()
    slow = {"wait_ms": SLOW_MS, "cpu_ms": CPU_MS}
    assert fetched_one_at_a_time(pace, clocks, PROBE_PAGES, **slow) == PROBE_PAGES
    assert pace.threaded() is True
    # Checked again after RECHECK_AFTER pages, then twice as many each time threads win.
    between = []
    for _ in range(8):
        between.append(on_threads_until_the_check(pace))
        clocks.page(pace, **slow)  # the check: PROBE_PAGES pages alone
        for _ in range(PROBE_PAGES - 1):
            assert pace.threaded() is False
            clocks.page(pace, **slow)
    first = RECHECK_AFTER - 1  # the first threaded() above counted one
    assert between == [first] + [min(RECHECK_AFTER * 2**k, RECHECK_MAX) for k in range(1, 8)]


def test_a_page_that_leaves_no_doubt_decides_at_once():
    """Each further page alone would keep all but one of the requests the host allows
    out of flight."""
    pace, clocks = make()
    assert fetched_one_at_a_time(pace, clocks, 1, wait_ms=DISTANT_MS, cpu_ms=CPU_MS) == 1
    assert pace.threaded() is True
    # Only beyond SURE_WAIT_SHARE: just below it, the measurement takes its pages.
    pace, clocks = make()
    below = 0.9 * SURE_WAIT_SHARE * CPU_MS
    assert fetched_one_at_a_time(pace, clocks, 1, wait_ms=below, cpu_ms=CPU_MS) == 1
    assert pace.threaded() is False
    n = PROBE_PAGES - 1
    assert fetched_one_at_a_time(pace, clocks, n, wait_ms=below, cpu_ms=CPU_MS) == n
    assert pace.threaded() is True


def test_the_doubt_is_judged_on_the_pages_so_far():
    """A near first page, then a very slow one: the two together leave no doubt, so the
    measurement ends at its second page."""
    pace, clocks = make()
    clocks.page(pace, wait_ms=0.2, cpu_ms=CPU_MS)
    assert pace.threaded() is False
    clocks.page(pace, wait_ms=4 * DISTANT_MS, cpu_ms=CPU_MS)
    assert pace.threaded() is True


def test_a_check_that_leaves_no_doubt_takes_one_page_and_the_next_comes_twice_as_late():
    pace, clocks = make()
    assert fetched_one_at_a_time(pace, clocks, 1, wait_ms=DISTANT_MS, cpu_ms=CPU_MS) == 1
    between = []
    for _ in range(3):
        between.append(on_threads_until_the_check(pace))
        clocks.page(pace, wait_ms=DISTANT_MS, cpu_ms=CPU_MS)  # the whole check
    assert between == [min(RECHECK_AFTER * 2**k, RECHECK_MAX) for k in range(3)]


def test_a_server_that_slows_down_gets_threads_and_one_that_speeds_up_loses_them():
    pace, clocks = make()
    assert fetched_one_at_a_time(pace, clocks, 40, wait_ms=0.2, cpu_ms=CPU_MS) == 40
    # The site slows: the next page timed (one in SAMPLE_EVERY) moves to threads.
    alone = 0
    while not pace.threaded():
        alone += 1
        clocks.page(pace, wait_ms=DISTANT_MS, cpu_ms=CPU_MS)
    assert 1 <= alone <= SAMPLE_EVERY
    # It is fast again: the check after RECHECK_AFTER pages on threads (one of them
    # asked above) finds it, and pages go one at a time from then on.
    alone = fetched_one_at_a_time(pace, clocks, RECHECK_AFTER + 50, wait_ms=0.2, cpu_ms=CPU_MS)
    assert alone == 51
    assert pace.threaded() is False


def test_the_threshold_is_the_wait_share_of_the_cpu():
    threshold = WAIT_SHARE * CPU_MS
    for wait_ms, threads in ((threshold - 0.1, False), (threshold + 0.1, True)):
        pace, clocks = make()
        fetched_one_at_a_time(pace, clocks, PROBE_PAGES, wait_ms=wait_ms, cpu_ms=CPU_MS)
        assert pace.threaded() is threads


def test_with_one_request_in_flight_allowed_pages_never_go_to_threads():
    clocks = Clocks()
    pace = Pace("yyedu", threads_allowed=False, clock=lambda: clocks.wall)
    assert fetched_one_at_a_time(pace, clocks, 100, wait_ms=DISTANT_MS, cpu_ms=CPU_MS) == 100


def test_waiting_for_a_core_is_no_waiting_on_the_server():
    """Busy cores (a delivery process, the portal on the same host) slow every page, and
    threads would only add to the queue."""
    pace, clocks = make()
    for _ in range(PROBE_PAGES):
        clocks.page(pace, wait_ms=0.3, cpu_ms=4, queued_ms=6)
    assert pace.threaded() is False


def test_waiting_while_recording_is_no_waiting_on_the_server():
    """The store's write lock, held by a delivery: fetching ahead would not shorten it."""
    pace, clocks = make()
    for _ in range(PROBE_PAGES):
        clocks.page(pace, wait_ms=0.3, cpu_ms=4, recording_wait_ms=20)
    assert pace.threaded() is False


def test_the_time_a_thread_waits_for_a_core_is_read_from_linux():
    from bridge.crawl import pace as pace_module

    def from_linux() -> float:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9

    before = from_linux()
    got = pace_module._time_queued_for_a_core()
    assert before <= got <= from_linux()


class Counted:
    """The thread's ``/proc`` counter, counting its reads."""

    def __init__(self, clocks: Clocks) -> None:
        self.clocks, self.reads = clocks, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.clocks.queued


def counted() -> tuple[Pace, Clocks, Counted]:
    clocks = Clocks()
    counter = Counted(clocks)
    pace = Pace(
        "yyedu",
        threads_allowed=True,
        clock=lambda: clocks.wall,
        cpu_clock=lambda: clocks.cpu,
        queued_clock=counter,
    )
    return pace, clocks, counter


def test_once_one_at_a_time_is_chosen_one_page_in_sample_every_is_timed():
    """Timing a page reads /proc twice: on a near server, a share of what a page costs."""
    pace, clocks, counter = counted()
    near = {"wait_ms": 0.5, "cpu_ms": CPU_MS}
    fetched_one_at_a_time(pace, clocks, PROBE_PAGES, **near)
    assert counter.reads == 2 * PROBE_PAGES  # the first measurement times every page
    assert pace.threaded() is False
    clocks.page(pace, **near)
    counter.reads = 0
    fetched_one_at_a_time(pace, clocks, 100 * SAMPLE_EVERY, **near)
    assert counter.reads == 2 * 100


def test_the_counters_read_one_page_in_sample_every_still_move_it_to_threads():
    """A near server's pages wait for a core, not for the server; then a busy core frees
    and the server answers slowly: the counters of the next page timed say so."""
    pace, clocks, counter = counted()
    assert fetched_one_at_a_time(pace, clocks, 50, wait_ms=0.3, cpu_ms=4, queued_ms=6) == 50
    alone = 0
    while not pace.threaded():
        alone += 1
        clocks.page(pace, wait_ms=DISTANT_MS, cpu_ms=CPU_MS)
    # The pages timed so far in this measurement count too (one near page here): with
    # it the first slow page leaves doubt, the second slow page timed decides.
    assert SAMPLE_EVERY < alone <= 2 * SAMPLE_EVERY
    # And threads lose again at the check when the server is near again: every page of
    # the check is timed.
    on_threads_until_the_check(pace)
    counter.reads = 0
    for _ in range(PROBE_PAGES):
        clocks.page(pace, wait_ms=0.3, cpu_ms=4, queued_ms=6)
    assert counter.reads == 2 * PROBE_PAGES
    assert pace.threaded() is False


def test_a_slow_page_between_timed_ones_is_not_measured_but_a_slow_server_is():
    """One page in SAMPLE_EVERY decides: a single slow page elsewhere does not."""
    pace, clocks, _ = counted()
    fetched_one_at_a_time(pace, clocks, PROBE_PAGES, wait_ms=0.2, cpu_ms=CPU_MS)
    assert pace.threaded() is False  # untimed, counted
    clocks.page(pace, wait_ms=4 * DISTANT_MS, cpu_ms=CPU_MS)
    assert fetched_one_at_a_time(pace, clocks, SAMPLE_EVERY, wait_ms=0.2, cpu_ms=CPU_MS) == (
        SAMPLE_EVERY
    )
