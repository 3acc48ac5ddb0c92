"""Reading one answer's body within bounds: a size cap, a minimum rate and a deadline for
the whole request, so a server that sends a byte now and then, or one endless body,
cannot hold a fetcher for hours or fill the disk.

The fetcher (:mod:`bridge.sources.fetch`) opens the request and follows redirects; this
module only counts time and bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import urllib3

from bridge.defaults import MIN_BODY_RATE
from bridge.errors import Retriable, Skippable
from bridge.net.exchange import Answering


class TooLarge(Skippable):
    """A body over the cap the request was made with."""


class Deadline:
    """What is left of one request's time (``fetch.deadline``) besides the read timeout,
    which bounds each read: connect, every redirect hop and the whole body count; waiting
    for a turn at the host (``with deadline:`` is entered after it) does not. A server that
    drips a byte before each read timeout is cut off at the deadline, not after hours."""

    def __init__(self, seconds: float, url: str) -> None:
        self.seconds, self.url = seconds, url
        self.spent = 0.0
        self.since: float | None = None

    def __enter__(self) -> Deadline:
        self.since = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.since is not None:
            self.spent += time.monotonic() - self.since
            self.since = None

    def left(self) -> float:
        running = time.monotonic() - self.since if self.since is not None else 0.0
        return self.seconds - self.spent - running

    def cap(self, timeout: float, size: int = 0) -> float:
        """``timeout``, or the time left when that is shorter; past the deadline, raised."""
        left = self.left()
        if left <= 0:
            raise self.exceeded(size)
        return min(timeout, left)

    def exceeded(self, size: int) -> Retriable:
        return Retriable(
            f"{self.url} took longer than the deadline of {self.seconds:g} s "
            f"({size} bytes read); gave up"
        )


def read_capped(
    r: Answering,
    url: str,
    max_bytes: int,
    deadline: Deadline,
    read_timeout: float,
    *,
    truncate: bool = False,
    into: Callable[[bytes], object] | None = None,
) -> bytes:
    """The body, up to ``max_bytes``, arriving at ``MIN_BODY_RATE`` at least and
    within the deadline: the read timeout bounds each read, not the whole, and a
    server sending a byte now and then would otherwise hold the fetcher for hours.
    Each read waits the read timeout or what is left of the deadline, whichever is
    shorter. A longer body is refused, or with ``truncate`` cut at ``max_bytes``.
    With ``into``, chunks go there as they arrive and nothing is kept. The connection
    is kept for the next request when the body was read to its end, dropped otherwise."""
    declared = r.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes and not truncate:
        r.close()
        raise TooLarge(f"{url} is {int(declared)} bytes, over the cap of {max_bytes}")
    chunks: list[bytes] = []
    keep = chunks.append if into is None else into
    size = 0
    start = time.monotonic()
    sock = getattr(r.connection, "sock", None)  # None once the answer is read whole
    # A body sent as it is, of a declared length, is whole once that many bytes are in:
    # asking again would only hear the end. A compressed one is read to the end, which
    # is where the decompressor gives up what it still holds.
    counted = "Content-Encoding" not in r.headers
    try:
        while True:
            wait = deadline.cap(read_timeout, size)
            if sock is not None and wait < read_timeout:
                sock.settimeout(wait)  # urllib3 sets it again for the next request
            try:
                chunk = r.read1(65536, decode_content=True)  # whatever has arrived
            except urllib3.exceptions.TimeoutError:
                if deadline.left() <= 0:
                    raise deadline.exceeded(size) from None
                raise
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                if truncate:
                    keep(chunk[: max_bytes - size])
                    r.close()
                    return b"".join(chunks)
                raise TooLarge(f"{url} is over the cap of {max_bytes} bytes")
            keep(chunk)
            if time.monotonic() - start > read_timeout + size / MIN_BODY_RATE:
                raise Retriable(
                    f"{url} arrives at less than {MIN_BODY_RATE} bytes a second "
                    f"({size} bytes in {time.monotonic() - start:.0f} s); gave up"
                )
            if counted and r.length_remaining == 0:
                break
    except BaseException:
        r.close()
        raise
    r.release_conn()
    return b"".join(chunks)
