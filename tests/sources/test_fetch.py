"""The fetcher's HTTP behaviour as a browser-like client: cookies, kept-alive connections,
redirects of a form, and the environment's proxy."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import FetchConfig, load
from bridge.errors import Skippable
from bridge.sources import fetch
from bridge.sources.fetch import Fetcher, FileBody, Page, RobotsDisallowed


class Site(BaseHTTPRequestHandler):
    """A site that hands out a session cookie on its first page and wants it back on the
    others, as some CMS back ends do; it records every request line and connection."""

    protocol_version = "HTTP/1.1"  # keep-alive
    seen: ClassVar[list[tuple[str, str, str | None]]] = []
    agents: ClassVar[list[str | None]] = []
    connections: ClassVar[int] = 0
    robots: ClassVar[bytes | None] = None  # None: 404
    robots_hops: ClassVar[int] = 0  # redirects before robots.txt

    def setup(self) -> None:
        super().setup()
        Site.connections += 1

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.lstrip("/")  # the URL is absolute through a proxy
        if path == "echo":  # where forms are redirected: what came with the GET
            Site.seen.append(("GET", self.path, self.headers.get("Content-Length")))
            self._send(200, b"got")
            return
        Site.seen.append(("GET", self.path, self.headers.get("Cookie")))
        Site.agents.append(self.headers.get("User-Agent"))
        if path.startswith("robots"):
            hop = int(path.removeprefix("robots").removesuffix(".txt") or 0)
            if hop < Site.robots_hops:
                self._send(302, headers={"Location": f"/robots{hop + 1}.txt"})
            elif Site.robots is None:
                self._send(404)
            else:
                self._send(200, Site.robots)
        elif path == "download":  # a file name sent as raw UTF-8, as Chinese CMSes do
            self.wfile.write(
                b"HTTP/1.1 302 Found\r\nLocation: /uploads/\xe9\x99\x84\xe4\xbb\xb6.pdf\r\n"
                b"Content-Length: 0\r\n\r\n"
            )
        elif path.startswith("uploads/"):
            self._send(200, b"%PDF-1.4 " + unquote(path).encode())
        elif path == "index.html":
            self._send(200, "<p>首页</p>".encode(), {"Set-Cookie": "JSESSIONID=abc123; Path=/"})
        elif path.startswith("page"):
            if self.headers.get("Cookie") != "JSESSIONID=abc123":
                self._send(403)
            else:
                self._send(200, f"<p>{path}</p>".encode())
        elif path == "moved.html":
            self._send(302, headers={"Location": "/index.html"})
        elif path == "login":  # the session cookie comes with a redirect, not with a page
            self._send(302, headers={"Location": "/page-after-login.html",
                                     "Set-Cookie": "JSESSIONID=abc123; Path=/"})  # fmt: skip
        else:
            self._send(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Site.seen.append(("POST", self.path, self.rfile.read(length).decode()))
        path = urlsplit(self.path).path
        if path == "/echo":
            self._send(200, b"posted")
        elif path.startswith("/search3"):  # /search301, /search302, /search307, /search308
            self._send(int(path[-3:]), headers={"Location": "/echo"})
        else:
            self._send(303, headers={"Location": "/index.html?from=form"})


@pytest.fixture
def site() -> Iterator[str]:
    Site.seen, Site.connections, Site.robots, Site.robots_hops = [], 0, None, 0
    Site.agents = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def fetcher(base_url: str, *, robots: bool = False) -> Fetcher:
    cfg = FetchConfig(user_agent="bridge-test", respect_robots=robots, rate_limit=1000.0)
    return Fetcher(cfg, base_url=base_url)


def test_a_cookie_the_site_sets_is_sent_back_and_one_connection_serves_every_page(site):
    with closing(fetcher(site)) as f:
        with pytest.raises(Skippable, match="answered 403"):
            f.page(site + "page1.html")  # no cookie yet
        assert isinstance(f.page(site + "index.html"), Page)
        got = [f.page(site + f"page{n}.html") for n in range(20)]
    assert [p.text for p in got if isinstance(p, Page)] == [
        f"<p>page{n}.html</p>" for n in range(20)
    ]
    assert Site.seen[2:] == [("GET", f"/page{n}.html", "JSESSIONID=abc123") for n in range(20)]
    # The 403's body was read to its end, so even its connection was kept.
    assert Site.connections == 1


def test_a_redirect_is_followed_within_the_site_and_a_form_redirected_by_303_becomes_a_get(site):
    with closing(fetcher(site)) as f:
        page = f.page(site + "moved.html")
        answer = f.request("POST", site + "search", data={"q": "通知", "page": "2"})
    assert isinstance(page, Page) and page.url == site + "index.html"
    assert answer.url == site + "index.html?from=form"
    assert answer.status_code == 200
    assert [(m, p, extra) for m, p, extra in Site.seen if m == "POST"] == [
        ("POST", "/search", "q=%E9%80%9A%E7%9F%A5&page=2")
    ]
    assert Site.seen[-1][:2] == ("GET", "/index.html?from=form")


@pytest.mark.parametrize(
    ("status", "then"), [(301, "GET"), (302, "GET"), (307, "POST"), (308, "POST")]
)
def test_a_form_redirected_by_301_or_302_becomes_a_get_and_by_307_or_308_is_posted_again(
    site, status, then
):
    """As browsers (and requests) do: 301 and 302 turn a POST into a GET without its form
    (no body: no Content-Length); 307 and 308 repeat the POST with it."""
    with closing(fetcher(site)) as f:
        answer = f.request("POST", site + f"search{status}", data={"q": "通知"})
    assert answer.url == site + "echo"
    assert answer.status_code == 200
    assert answer.body == (b"posted" if then == "POST" else b"got")
    form = "q=%E9%80%9A%E7%9F%A5"
    assert Site.seen == [
        ("POST", f"/search{status}", form),
        ("POST", "/echo", form) if then == "POST" else ("GET", "/echo", None),
    ]


def test_a_cookie_set_by_a_redirect_is_sent_on_the_hop_it_leads_to(site):
    with closing(fetcher(site)) as f:
        page = f.page(site + "login")
    assert isinstance(page, Page) and page.text == "<p>page-after-login.html</p>"
    assert Site.seen == [
        ("GET", "/login", None),
        ("GET", "/page-after-login.html", "JSESSIONID=abc123"),
    ]


def test_the_site_is_reached_through_the_environment_s_proxy(site, monkeypatch):
    monkeypatch.setenv("http_proxy", site.rstrip("/"))  # the test site answers as a proxy
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with closing(fetcher("http://www.yyedu.gov.cn/")) as f:
        page = f.page("http://www.yyedu.gov.cn/index.html")
    assert isinstance(page, Page) and page.text == "<p>首页</p>"
    assert Site.seen == [("GET", "http://www.yyedu.gov.cn/index.html", None)]


def test_a_redirect_to_a_chinese_file_name_sent_as_utf_8_is_followed_to_that_file(site):
    with closing(fetcher(site)) as f:
        got = f.file(site + "download")
        assert isinstance(got, FileBody)
        assert got.url == site + "uploads/附件.pdf"
        with open(got.path, "rb") as file:
            assert file.read() == "%PDF-1.4 uploads/附件.pdf".encode()
        assert got.sha256 == hashlib.sha256("%PDF-1.4 uploads/附件.pdf".encode()).hexdigest()
    assert not os.path.exists(got.path)  # closing the fetcher removes what it downloaded


def test_robots_txt_is_read_up_to_512_kib_and_behind_too_many_redirects_is_unavailable(site):
    rule = b"User-agent: *\nDisallow: /page\n"
    cases = [
        (rule, 5, True),  # five redirects are followed: the rule holds
        (rule, 6, False),  # six: unavailable, as if it were missing (RFC 9309)
        (b"# " + b"x" * (600 * 1024) + b"\n" + rule, 0, False),  # past 512 KiB: ignored
        (rule + b"# " + b"x" * (600 * 1024) + b"\n", 0, True),  # the rule comes first
    ]
    for robots, hops, disallowed in cases:
        Site.robots, Site.robots_hops = robots, hops
        with closing(fetcher(site, robots=True)) as f:
            if disallowed:
                with pytest.raises(RobotsDisallowed):
                    f.page(site + "page1.html")
            else:
                with pytest.raises(Skippable, match="answered 403"):  # fetched: no cookie
                    f.page(site + "page1.html")


def test_robots_txt_is_read_once_for_every_spelling_of_the_site_and_holds_for_each(site):
    Site.robots = b"User-agent: *\nDisallow: /page\n"
    spellings = [site, site.replace("http:", "HTTP:"), site.replace("http:", "Http:"), site]
    with closing(fetcher(site, robots=True)) as f:
        for base in spellings:
            with pytest.raises(RobotsDisallowed):
                f.page(base + "page1.html")
            assert f.crawl_delay(base + "index.html") is None
            assert f.robots_file(base + "x")[0] == 200
    assert [path for _, path, _ in Site.seen] == ["/robots.txt"]


_SCHEME = st.text(st.sampled_from("hH tTpPsS+.-1:\t"), min_size=1, max_size=6)
_AUTHORITY = st.text(st.sampled_from("aB1.:[]@\\%\t\n\r \xe9\uff0e\u2100"), max_size=8)
_TAIL = st.text(st.sampled_from("/?#:aB\t[]"), max_size=6)


@given(_SCHEME, _AUTHORITY, _TAIL, _TAIL)
def test_urls_beginning_alike_have_the_origin_urlsplit_gives_either(scheme, authority, one, two):
    """The fetcher keeps robots.txt rules by a URL's scheme and authority (``_SITE``):
    two URLs that begin alike must have the same origin as ``urlsplit`` reads it."""

    def origin(url: str) -> tuple[str, str] | str:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            return str(exc)
        return parts.scheme, parts.netloc

    first, second = f"{scheme}://{authority}{one}", f"{scheme}://{authority}{two}"
    m, n = fetch._SITE.match(first), fetch._SITE.match(second)
    if m is not None and n is not None and m.group() == n.group():
        assert origin(first) == origin(second)


def test_an_operator_named_in_chinese_reaches_the_site_percent_encoded_in_the_user_agent(
    site, tmp_path
):
    """http.client sends header values as Latin-1: the example config's operator
    (余姚市教育局信息中心) used to fail every request with UnicodeEncodeError."""
    example = Path(__file__).resolve().parents[2] / "config" / "bridge.example.toml"
    config = tmp_path / "bridge.toml"
    config.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load(config, environ={"BRIDGE_TARGET_SECRET": "s" * 32})
    cfg = replace(settings.sources[0].fetch, respect_robots=False, rate_limit=1000.0)
    with closing(Fetcher(cfg, base_url=site)) as f:
        assert isinstance(f.page(site + "index.html"), Page)
    operator = quote("余姚市教育局信息中心", safe="")
    assert Site.agents == [cfg.user_agent]
    assert f"operator: {operator} <xxzx@example.gov.cn>" in cfg.user_agent
    assert unquote(cfg.user_agent).endswith("operator: 余姚市教育局信息中心 <xxzx@example.gov.cn>)")
