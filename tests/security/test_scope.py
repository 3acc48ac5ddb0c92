"""Issue 19, findings 1–3: nothing outside the source's scope is ever fetched.

Each attack runs against real loopback servers: the source's site, and a "victim" on
another port of the same address that must never see a connection. Before the scope
check moved onto urllib3's own parser, the backslash redirect, the other-port redirect
and the robots.txt redirect each reached the victim.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import FetchConfig
from bridge.errors import Skippable
from bridge.net.scope import Scope, entry_problem
from bridge.sources import parse
from bridge.sources.fetch import Fetcher


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, tuple[int, dict[str, str]]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.connections = 0
        self.paths: list[str] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def handle(self) -> None:
        with self.server.lock:  # counted at accept: even a TLS hello that is no request
            self.server.connections += 1
        super().handle()

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.paths.append(self.path)
        status, headers = self.server.routes.get(self.path, (200, {}))
        body = b"" if status != 200 else b"<html><body><p>ok</p></body></html>"
        self.send_response(status)
        for k, v in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serving(routes: dict[str, tuple[int, dict[str, str]]] | None = None) -> Iterator[_Recorder]:
    server = _Recorder(routes or {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _fetcher(site: _Recorder, *, robots: bool = False) -> Fetcher:
    cfg = FetchConfig(
        user_agent="bridge-test",
        rate_limit=1000,
        respect_robots=robots,
        connect_timeout=2,
        read_timeout=2,
    )
    return Fetcher(cfg, base_url=f"http://127.0.0.1:{site.port}/")


@pytest.fixture
def victim() -> Iterator[_Recorder]:
    with _serving() as server:
        yield server


@pytest.fixture
def site() -> Iterator[_Recorder]:
    with _serving() as server:
        yield server


def test_a_backslash_redirect_never_reaches_the_host_urllib3_sees(victim):
    location = f"http://localhost:{victim.port}\\@127.0.0.1/x"
    with _serving({"/a.html": (302, {"Location": location})}) as site:
        fetcher = _fetcher(site)
        with pytest.raises(Skippable) as raised:
            fetcher.page(f"http://127.0.0.1:{site.port}/a.html")
    assert str(raised.value) == (
        f"{location!r} is not on an allowed host of this source: its host part holds a "
        "backslash, a user name, white space or a control character"
    )
    assert victim.connections == 0


def test_another_port_of_the_site_is_another_site(victim):
    location = f"http://127.0.0.1:{victim.port}/x"
    with (
        _serving({"/a.html": (302, {"Location": location})}) as site,
        pytest.raises(Skippable) as raised,
    ):
        _fetcher(site).page(f"http://127.0.0.1:{site.port}/a.html")
    assert str(raised.value).endswith(f"http://127.0.0.1:{victim.port} is not this source's site")
    assert victim.connections == 0


def test_a_robots_txt_redirect_off_the_site_is_no_robots_txt(victim, caplog):
    location = f"http://127.0.0.1:{victim.port}/latest/meta-data/"
    with _serving({"/robots.txt": (302, {"Location": location})}) as site:
        fetcher = _fetcher(site, robots=True)
        with caplog.at_level(logging.WARNING, logger="bridge.sources.fetch"):
            page = fetcher.page(f"http://127.0.0.1:{site.port}/a.html")
        assert site.paths == ["/robots.txt", "/a.html"]  # unavailable: everything allowed
    assert page.status == 200 and victim.connections == 0
    assert f"redirects to {location!r}" in caplog.text


def test_attachment_links_of_another_origin_are_not_files_of_the_page():
    base = "http://127.0.0.1:19100/xxgk/t1.html"
    root = parse.fragment(
        '<a href="http://localhost:19103\\@127.0.0.1/x.pdf">甲.pdf</a>'
        '<a href="http://127.0.0.1:19103/y.pdf">乙.pdf</a>'
        '<a href="http://user@127.0.0.1:19100/z.pdf">丙.pdf</a>'
        '<a href="/files/w.pdf">丁.pdf</a>',
        base,
    )
    scope = Scope("http://127.0.0.1:19100/")
    assert parse.attachment_links([root], scope.admits) == [
        ("丁.pdf", "http://127.0.0.1:19100/files/w.pdf")
    ]


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("http://www.yyedu.gov.cn/a.html", True),
        ("https://www.yyedu.gov.cn/a.html", True),  # http ⇄ https on the default ports
        ("HTTP://WWW.YYEDU.GOV.CN./a.html", True),
        ("http://www.yyedu.gov.cn:8080/a.html", False),
        ("http://files.yyedu.gov.cn/a.pdf", True),
        ("http://files.yyedu.gov.cn:8443/a.pdf", False),
        ("https://oss.example.cn:9000/a.pdf", True),  # the port its entry names
        ("https://oss.example.cn/a.pdf", False),
        ("http://www.yyedu.gov.cn\\@evil.example/", False),
        ("http://evil.example\\@www.yyedu.gov.cn/", False),
        ("http://a@www.yyedu.gov.cn/", False),
        ("http://www.yyedu.gov.cn\t/", False),
        ("ftp://www.yyedu.gov.cn/", False),
        ("//www.yyedu.gov.cn/", False),
        ("http://www.yyedu.gov.cn.evil.example/", False),
        ("http://169.254.169.254/latest/", False),
    ],
)
def test_scope_is_scheme_host_and_port(url, admitted):
    scope = Scope("http://www.yyedu.gov.cn/", ["files.yyedu.gov.cn", "oss.example.cn:9000"])
    assert scope.admits(url) is admitted


def test_allowed_hosts_entries_are_hosts_or_host_ports():
    assert entry_problem("files.yyedu.gov.cn") is None
    assert entry_problem("[::1]:8080") is None
    assert entry_problem("http://files.yyedu.gov.cn") == (
        "'http://files.yyedu.gov.cn' is not a host name or host:port (no scheme, path or user name)"
    )
    assert entry_problem("files:99999") == "'files:99999': port 99999 is out of range"


_HOSTS = ["127.0.0.1", "localhost", "127.0.0.2"]
_SEPARATORS = ["\\", "@", "/", "%40", " ", "\t", ":", "#", "?", ".", "\x1b", "user"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_the_scope_decision_is_where_the_client_connects(data, victim, site):
    """Generated URL strings from the pieces that confuse parsers: a URL the scope admits
    reaches the site and nothing else; a URL it refuses reaches nobody. The victim, on
    another port of the same address, is never reached."""
    site.connections = victim.connections = 0
    ports = [str(site.port), str(victim.port)]
    pieces = st.sampled_from(_HOSTS + _SEPARATORS + [f":{p}" for p in ports] + ports)
    scheme = data.draw(st.sampled_from(["http", "HTTP", "https"]))
    authority = "".join(data.draw(st.lists(pieces, min_size=1, max_size=6)))
    path = data.draw(st.sampled_from(["", "/", "/x", "\\x", "/@127.0.0.1/", "?a=@b"]))
    url = f"{scheme}://{authority}{path}"
    fetcher = _fetcher(site)
    admitted = fetcher.allowed(url)
    with contextlib.suppress(Exception):  # refused, unreachable, a 404, a TLS error …
        fetcher.request("GET", url, follow_redirects=False)
    fetcher.close()
    assert victim.connections == 0, url
    assert site.connections == (1 if admitted else 0), url


_ASKED = st.sampled_from(
    [
        "http://site.example/a.html",
        "HTTP://SITE.EXAMPLE:80/b.pdf",
        "https://site.example/c",
        "http://site.example:8080/d",
        "http://files.example:8080/e.pdf",
        "http://files.example/e.pdf",
        "http://site.example\\@other.example/",
        "http://[bad/x",
        "ftp://site.example/f",
        "/relative.pdf",
    ]
) | st.text(max_size=30).map(lambda t: "http://site.example/" + t)


@settings(max_examples=200)
@given(st.lists(_ASKED, max_size=12))
def test_a_remembered_scope_decision_is_the_one_made_afresh(urls):
    """The scope remembers its answers (a listing's links are asked about again when
    fetched): asked twice, or after it has forgotten, it answers as a new scope would."""
    import bridge.net.scope as scope_module

    remembering = Scope("http://site.example/", ["files.example:8080"])
    old = scope_module.REMEMBERED
    scope_module.REMEMBERED = 5  # forgets often
    try:
        for url in urls + urls[::-1]:
            fresh = Scope("http://site.example/", ["files.example:8080"])
            assert remembering.admitted(url) == fresh.admitted(url)
            assert remembering.admits(url) == (fresh.why_not(url) is None)
    finally:
        scope_module.REMEMBERED = old
