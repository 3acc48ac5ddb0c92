"""A column's listing and the window of detail pages being fetched beside it.

``Listing`` reads list pages (the next one ahead, on a thread of its own, when a column
is read to its end); ``Window`` fetches the detail pages of those pages, on threads or in
turn as the run's ``Pace`` says, and hands them back in listing order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from bridge.crawl.pace import Pace
from bridge.raw import Gone, ListEntry, ListPage, RawItem

WINDOW_AHEAD = 20  # detail pages queued beyond those in flight: about a list page's worth
# Fetch threads beyond the host's cap: a thread that parses the page it got (before asking
# for its attachments) holds no request slot, and with only as many threads as slots one
# slot stood empty meanwhile (bench/README.md, "Figures behind choices in the code"). The
# host's gate still caps the requests in flight.
SPARE_FETCH_THREADS = 1

Fetched = RawItem | Gone | Exception  # a detail page, or what went wrong with it


class Window:
    """Detail pages being fetched, handed back in listing order so that recording stays
    sequential and ordered. ``fetch.concurrency`` (+ ``SPARE_FETCH_THREADS``) threads
    fetch them; the host's gate lets at most ``fetch.concurrency`` requests be in flight.

    The window spans list pages: the last detail pages of one page are still being
    fetched while the next page's are queued, so a distant server always has as many
    requests in flight as it allows, not fewer at every page boundary. Results are taken
    only while more than ``size + WINDOW_AHEAD`` are queued: with just ``size`` queued,
    the fetch threads ran dry whenever they got ahead of the recording, until it came
    back for the next list page, at every page boundary (bench/README.md, "Figures
    behind choices in the code").

    Whether pages go to threads at all is the run's ``Pace``: on a server that answers at
    once, one at a time in this thread costs less CPU and is faster (see ``bridge.crawl.pace``).
    """

    def __init__(
        self,
        size: int,
        pace: Pace,
        pool: Callable[[], ThreadPoolExecutor],
        fetch: Callable[[ListEntry], Fetched],
    ) -> None:
        self.size, self.pace, self.pool, self.fetch = size, pace, pool, fetch
        self.queued = size + WINDOW_AHEAD
        self.pending: deque[tuple[ListEntry, Future[Fetched]]] = deque()

    def add(self, entries: list[ListEntry]) -> Iterator[tuple[ListEntry, Fetched]]:
        """Queue ``entries``; yields the oldest results while more than a window is queued."""
        pace = self.pace
        for entry in entries:
            if pace.threaded():
                self.pending.append((entry, self.pool().submit(self.fetch, entry)))
                while len(self.pending) > self.queued:
                    entry, future = self.pending.popleft()
                    yield entry, future.result()
                continue
            yield from self.rest()  # pages already on threads come first: listing order
            started = pace.started()
            fetched = self.fetch(entry)
            at = pace.started()
            yield entry, fetched
            pace.done(started, at)  # fetched, then handled: what one page costs

    def rest(self) -> Iterator[tuple[ListEntry, Fetched]]:
        while self.pending:
            entry, future = self.pending.popleft()
            yield entry, future.result()

    def cancel(self) -> None:
        while self.pending:
            self.pending.popleft()[1].cancel()


class Listing:
    """A column's list pages. With ``ahead``, the next page is fetched on a thread of its
    own while the caller works on the one it has, starting with the first page as soon
    as the listing is made: a column's first page is then on its way while the last
    detail pages of the column before are still being fetched."""

    def __init__(self, pages: Iterator[ListPage], *, ahead: bool) -> None:
        self.pages = pages
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="listing") if ahead else None
        self.following = self.reader.submit(next, pages, None) if self.reader else None

    def __iter__(self) -> Listing:
        return self

    def __next__(self) -> ListPage:
        if self.reader is None or self.following is None:
            return next(self.pages)
        page = self.following.result()  # the listing's own error, if it broke off
        if page is None:
            self.following = None
            raise StopIteration
        self.following = self.reader.submit(next, self.pages, None)
        return page

    def close(self) -> None:
        close = getattr(self.pages, "close", lambda: None)
        if self.reader is None:
            close()
            return
        if self.following is not None:
            self.following.cancel()
        self.reader.submit(close).result()  # after a fetch in progress, on its thread
        self.reader.shutdown()
