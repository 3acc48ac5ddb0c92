"""Issue 19, finding 5: one request is bounded in all, not only each of its reads.

Before, the only bound was the read timeout plus size / MIN_BODY_RATE: a server dripping
a byte before each read timeout held a page for about 85 minutes and an attachment for
14 hours at the default caps. ``fetch.deadline`` (120 s by default) now bounds each
request as a whole: connect, every redirect hop, the whole body (and robots.txt).
These servers stay well within every read timeout; the deadline is made small.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from waiting import wait_for

from bridge.config import FetchConfig
from bridge.errors import Retriable
from bridge.sources.fetch import Fetcher, Page

DEADLINE = 1.5  # seconds
READ_TIMEOUT = 10.0  # far above every pause of these servers
DRIP = 0.4  # seconds between two bytes: the fourth comes at 1.2 s, the fifth at 1.6 s
HOP = 0.4  # seconds each redirect hop waits before answering


class Slow(BaseHTTPRequestHandler):
    """``/drip`` (and ``/drip.pdf``): 1,000 bytes, one each ``DRIP`` seconds; ``/hopN``:
    a redirect to ``/hopN+1`` after ``HOP`` seconds (``/hop5`` is the page); ``/slowN``:
    N bytes, one each 0.1 s; ``/robots.txt`` drips when ``drip_robots``."""

    protocol_version = "HTTP/1.1"
    drip_robots = False
    requested: ClassVar[list[str]] = []  # paths, as they arrive
    cut_at: ClassVar[dict[str, int]] = {}  # path -> bytes sent when the client hung up mid-body

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        Slow.requested.append(self.path)
        if self.path == "/robots.txt":
            if Slow.drip_robots:
                self._drip(b"User-agent: *\nDisallow:\n" * 40, "text/plain", DRIP)
            else:
                self._send(404, b"")
        elif self.path in ("/drip", "/drip.pdf"):
            self._drip(b"<html>" + b"x" * 994, "text/html", DRIP)
        elif self.path.startswith("/hop"):
            n = int(self.path.removeprefix("/hop"))
            time.sleep(HOP)  # a slow peer: real time is what it is made of
            if n < 5:
                self._send(302, b"", {"Location": f"/hop{n + 1}"})
            else:
                self._send(200, b"<p>at last</p>")
        elif self.path.startswith("/slow"):
            self._drip(b"x" * int(self.path.removeprefix("/slow")), "text/html", 0.1)
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, body: bytes, ctype: str, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)  # a slow peer: real time is what it is made of
        except OSError:  # the client gave up
            Slow.cut_at[self.path] = i
            self.close_connection = True


@pytest.fixture
def site() -> Iterator[str]:
    Slow.drip_robots = False
    Slow.requested, Slow.cut_at = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetcher(
    site: str, *, robots: bool = False, concurrency: int = 2, deadline: float = DEADLINE
) -> Fetcher:
    cfg = FetchConfig(
        user_agent="bridge tests",
        respect_robots=robots,
        rate_limit=1000.0,
        concurrency=concurrency,
        read_timeout=READ_TIMEOUT,
        deadline=deadline,
    )
    return Fetcher(cfg, base_url=site)


def hung_up_at(path: str) -> int:
    """How many bytes the peer had sent of ``path`` when the client hung up (it notices at
    its next writes; the wait is a hang guard)."""
    wait_for(lambda: path in Slow.cut_at, 30, what=f"the client to hang up on {path}")
    return Slow.cut_at[path]


def _gave_up(call, message: str) -> float:
    started = time.monotonic()
    with pytest.raises(Retriable) as caught:
        call()
    elapsed = time.monotonic() - started
    assert str(caught.value) == message
    return elapsed


def test_a_page_dripping_a_byte_at_a_time_is_given_up_at_the_deadline(site):
    with closing(fetcher(site)) as f:
        elapsed = _gave_up(
            lambda: f.page(site + "drip"),
            f"{site}drip took longer than the deadline of 1.5 s (4 bytes read); gave up",
        )
    # The fifth byte would come at 1.6 s: the read waits only for what is left. The peer
    # still had most of its 1,000 bytes to send (the old bound waited for them all).
    assert elapsed >= DEADLINE
    assert hung_up_at("/drip") < 1000


def test_an_attachment_dripping_is_given_up_at_the_deadline_and_its_file_removed(site):
    with closing(fetcher(site)) as f:
        elapsed = _gave_up(
            lambda: f.file(site + "drip.pdf"),
            f"{site}drip.pdf took longer than the deadline of 1.5 s (4 bytes read); gave up",
        )
        assert f.spool._dir is not None and os.listdir(f.spool._dir) == []
    assert elapsed >= DEADLINE
    assert hung_up_at("/drip.pdf") < 1000


def test_redirect_hops_that_each_take_a_while_add_up_to_the_deadline(site):
    # Five hops of 0.4 s, each well within the read timeout: 2 s in all.
    with closing(fetcher(site)) as f:
        elapsed = _gave_up(
            lambda: f.page(site + "hop0"),
            f"{site}hop0 took longer than the deadline of 1.5 s (0 bytes read); gave up",
        )
    assert elapsed >= DEADLINE
    assert "/hop5" not in Slow.requested  # the page at the end was never asked for


def test_a_dripping_robots_txt_is_given_up_at_the_deadline(site):
    Slow.drip_robots = True
    with closing(fetcher(site, robots=True)) as f:
        elapsed = _gave_up(
            lambda: f.page(site + "hop5"),
            f"{site}robots.txt took longer than the deadline of 1.5 s (4 bytes read); gave up",
        )
    assert elapsed >= DEADLINE
    assert hung_up_at("/robots.txt") < len(b"User-agent: *\nDisallow:\n" * 40)
    assert Slow.requested == ["/robots.txt"]  # and the page was never asked for


def test_waiting_for_a_turn_at_the_host_does_not_count(site):
    """One request in flight at a time: the second waits 2 s for the first, then takes 2 s
    itself. Its 4 s from the call are past the deadline of 3.3 s (a load can only make
    them longer), its 2 s on the wire are not: 1.3 s of slack for a loaded machine."""
    with closing(fetcher(site, concurrency=1, deadline=3.3)) as f:
        pages: list[object] = []
        first = threading.Thread(target=lambda: pages.append(f.page(site + "slow20")))
        first.start()
        wait_for(lambda: Slow.requested, what="the first request at the host")
        pages.append(f.page(site + "slow20"))
        first.join()
    assert [p.text for p in pages if isinstance(p, Page)] == ["x" * 20, "x" * 20]
