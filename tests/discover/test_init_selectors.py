"""``bridge init`` on a site of no known family, through the real CLI: a loopback site
built from the corpus's 中国政府网 articles (UCAP: kind ``selectors``), with a home page
and a column list page in that site's shape around them. The written
``[sources.selectors]`` (list selectors from the list page, ``detail_body`` from the first
article) passes ``config check``, and ``sync --once`` files every article."""

from __future__ import annotations

import html
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sources"))
import realpages

pytestmark = pytest.mark.slow

INIT = ("--publisher", "国务院办公厅", "--org-code", "002949236", "--name", "s1")
TARGET = '\n[target]\nkind = "http"\nurl = "{url}"\nkey = "{key}"\nsecret = "{secret}"\n'

PAGES, _SITES = realpages.load()
ARTICLES = sorted(
    (e["published"], n)
    for n, e in PAGES.items()
    if e["site"] == "govcn" and "/zhengce/content/" in e["url"]
)
ARTICLES.reverse()  # newest first, as a list page shows them


def _home() -> bytes:
    newest = "".join(
        f'<li><a href="{urlsplit(PAGES[n]["url"]).path}">{html.escape(PAGES[n]["title"])}</a></li>'
        for _, n in ARTICLES[:3]
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>中国政府网</title></head>
<body><div class="header"><div class="nav"><ul>
<li><a href="/index.htm">首页</a></li><li><a href="/zhengce/content/index.htm">国务院文件</a></li>
<li><a href="/hudong/index.htm">互动</a></li><li><a href="http://english.www.gov.cn/">English</a></li>
</ul></div></div><div class="focus"><h2>要闻</h2><ul>{newest}</ul></div>
<div class="footer">版权所有：中国政府网 京ICP备05070218号</div></body></html>""".encode()


def _list() -> bytes:
    rows = "".join(
        f'<li><h4><a href="{urlsplit(PAGES[n]["url"]).path}" target="_blank">'
        f'{html.escape(PAGES[n]["title"])}</a><span class="date">{day}</span></h4></li>\n'
        for day, n in ARTICLES
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>国务院文件_中国政府网</title>
</head><body><div class="nav"><a href="/index.htm">首页</a></div>
<div class="side"><h3>最新</h3><ul><li><a href="/zhengce/zhengceku/index.htm">政策文件库</a></li></ul></div>
<div class="list list_1 list_2"><ul>
{rows}</ul></div><div class="footer">版权所有：中国政府网</div></body></html>""".encode()


@pytest.fixture
def govcn_site() -> Iterator[str]:
    pages = {"/": _home(), "/index.htm": _home(), "/zhengce/content/index.htm": _list()}
    for _, name in ARTICLES:
        pages[urlsplit(PAGES[name]["url"]).path] = realpages.page_body(name)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = pages.get(urlsplit(self.path).path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            data = body if body is not None else b"<html><body>404</body></html>"
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_init_proposes_selectors_that_check_and_sync(govcn_site: str, cli, tmp_path: Path) -> None:
    assert len(ARTICLES) == 8
    out = tmp_path / "bridge.toml"
    done = cli("init", govcn_site, *INIT, "--out", str(out), cwd=tmp_path)
    assert done.code == 0, done.both
    written = tomllib.loads(out.read_text(encoding="utf-8"))
    (source,) = written["sources"]
    assert (source["kind"], source["base_url"]) == ("selectors", govcn_site)
    assert source["selectors"] == {
        "list_item": "div.list > ul > li",
        "link": "a",
        "date": "span.date",
        "first_page": "index.htm",  # the site's own name of its list page
        "detail_title": "h1",
        "detail_body": "td#UCAP-CONTENT",
        "detail_meta": "table",
    }
    assert [(c["path"], c["name"], c["category"]) for c in source["columns"]] == [
        ("zhengce/content/", "国务院文件", "政策文件")
    ]
    assert "columns: 1 kept of 2 looked at" in done.err

    portal = PortalServer(tmp_path / "portal.db")
    portal_url = portal.start()
    try:
        with out.open("a", encoding="utf-8") as f:
            f.write(TARGET.format(url=portal_url, key=SANDBOX_KEY, secret=SANDBOX_SECRET))
        check = cli("--config", str(out), "config", "check", cwd=tmp_path)
        assert check.code == 0, check.both
        synced = cli("--config", str(out), "sync", "--once", cwd=tmp_path, timeout=600)
        assert synced.code == 0, synced.both
        held = {r["external_id"]: r for r in portal.store.items()}
    finally:
        portal.stop()
    want = {
        "s1:" + urlsplit(PAGES[n]["url"]).path.rsplit("/", 1)[1].split(".")[0]: PAGES[n]["title"]
        for _, n in ARTICLES
    }
    assert {k: r["title"] for k, r in held.items()} == want
