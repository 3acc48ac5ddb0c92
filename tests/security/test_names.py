"""Issue 19, findings 14 and 16: what a hostile site writes into names, titles and images.

A crafted site on loopback, read by the real TRS (and Hanweb) source, normalized and
delivered by the real pipeline to the sandbox portal. Before: attachment names reached
the portal as the page wrote them (``../../../../tmp/x.pdf``, ``..\\..\\y.pdf``, a U+202E
bidi override, 400 characters, ``..``), ``附件2.pdf`` became ``pdf``, script text became
title text (a meta ArticleTitle, a list link, a Hanweb title marker), and images of any
host stayed in the body: an intranet address and a tracking pixel on the public portal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import config_text, run_cycle

from bridge.normalize import normalize
from bridge.raw import ListEntry, RawItem
from bridge.sandbox.portal import PortalServer
from bridge.sources import make_source
from tests.sources.pageserver import PageServer, source_config

LONG = "长" * 400
LINKS = [  # (link text, file): what the page shows, what the portal must get
    ("../../../../tmp/x.pdf", "a1.pdf", "x.pdf"),
    ("..\\..\\y.pdf", "a2.pdf", "y.pdf"),
    ("报告\u202efdp.exe", "a3.pdf", "报告fdp.exe"),
    (f"{LONG}.pdf", "a4.pdf", "长" * 116 + ".pdf"),
    ("附件2.pdf", "a5.pdf", "附件2.pdf"),
    ("附件3：<script>document.write('x')</script>通知\u200b.pdf", "a6.pdf", "通知.pdf"),
    ("..", "P0207.pdf", "P0207.pdf"),
]
ARTICLE = """<html><head><meta charset="utf-8"><title>关于开学工作的公告 - 余姚市教育局</title>
<meta name="ArticleTitle" content="关于开学工作的公告<script>alert(1)</script>"></head>
<body><h1>关于开学工作的公告<script>alert(2)</script></h1>
<table><tr><td>发布日期</td><td>2025-03-03</td></tr></table>
<div class="TRS_Editor">
<p>见下图：<img src="http://10.0.0.1/internal.png" alt="内网图"></p>
<p><img src="http://tracker.example/p.gif?u=1" width="1" height="1">各学校：请做好开学准备工作。</p>
<p><img src="../../pic/xc.png" alt="现场"></p>
<p><img src="http://evil.example/x.png" alt="<script>alert(3)</script>"></p>
</div>
<div class="fj"><ul>LINKS</ul></div>
</body></html>"""
SECOND = """<html><head><meta charset="utf-8"></head>
<body><h1><script>document.write('放假通知')</script><style>h1{}</style></h1>
<table><tr><td>发布日期</td><td>2025-03-04</td></tr></table>
<div class="TRS_Editor"><p>五一放假安排如下。</p></div></body></html>"""
LISTING = """<html><head><meta charset="utf-8"></head><body><ul class="list">
<li><a href="./202503/t20250303_1.html">关于开学工作的公告</a><span>2025-03-03</span></li>
<li><a href="./202503/t20250304_2.html">放假通知<script>document.write('！')</script></a>
<span>2025-03-04</span></li></ul></body></html>"""


def _site(root: Path) -> None:
    links = "".join(f'<li><a href="../../files/{f}">{text}</a></li>' for text, f, _ in LINKS)
    pages = {
        "tzgg/index.html": LISTING,
        "tzgg/202503/t20250303_1.html": ARTICLE.replace("LINKS", links),
        "tzgg/202503/t20250304_2.html": SECOND,
    }
    for path, html in pages.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(html, encoding="utf-8")
    (root / "files").mkdir()
    for _, file, _ in LINKS:
        (root / "files" / file).write_bytes(b"%PDF-1.4 " + file.encode())
    (root / "pic").mkdir()
    (root / "pic" / "xc.png").write_bytes(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    root = tmp_path_factory.mktemp("site")
    _site(root)
    server = PageServer(root)
    try:
        yield server
    finally:
        server.stop()


def _synced(tmp_path: Path, site: PageServer, extra_source: str = "") -> dict[str, Any]:
    """One `sync` cycle of the crafted site into a fresh sandbox portal: its records."""
    portal = PortalServer(tmp_path / "portal.db")
    portal_url = portal.start()
    try:
        config = tmp_path / "bridge.toml"
        columns = (
            '\n  [[sources.columns]]\n  key = "tzgg"\n  path = "tzgg/"\n  category = "业务工作"\n'
        )
        text = config_text(
            tmp_path / "state.db", site.url, portal_url, columns=columns, extra_source=extra_source
        )
        config.write_text(text, encoding="utf-8")
        run_cycle(config)
        return {r["source"]["url"].rsplit("/", 1)[-1]: r for r in portal.store.items()}
    finally:
        portal.stop()


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory, site: PageServer) -> dict[str, Any]:
    """The portal's records after one sync of the crafted site (default config)."""
    records = _synced(tmp_path_factory.mktemp("sync"), site)
    assert set(records) == {"t20250303_1.html", "t20250304_2.html"}
    return records


def test_attachment_names_reach_the_portal_as_safe_base_names(held: dict[str, Any]):
    names = [a["name"] for a in held["t20250303_1.html"]["attachments"]]
    assert names == [name for _, _, name in LINKS]


def test_script_text_is_in_no_title(held: dict[str, Any]):
    assert held["t20250303_1.html"]["title"] == "关于开学工作的公告"  # meta ArticleTitle
    assert held["t20250304_2.html"]["title"] == "放假通知"  # the list link


def test_offsite_images_are_their_alt_text(held: dict[str, Any], site: PageServer):
    assert held["t20250303_1.html"]["body_html"] == (
        "<p>见下图：内网图</p><p>各学校：请做好开学准备工作。</p>"
        f'<p><img alt="现场" src="{site.url}pic/xc.png"></p>'
        "<p>&lt;script&gt;alert(3)&lt;/script&gt;</p>"
    )
    # The bridge never fetched an image, on-site or not: bodies link them, nothing more.
    assert [p for p in site.requests() if "pic" in p] == []


def test_keep_offsite_images_keeps_them(tmp_path: Path, site: PageServer):
    held = _synced(tmp_path, site, extra_source="keep_offsite_images = true")
    assert held["t20250303_1.html"]["body_html"] == (
        '<p>见下图：<img alt="内网图" src="http://10.0.0.1/internal.png"></p>'
        '<p><img height="1" src="http://tracker.example/p.gif?u=1" width="1">'
        "各学校：请做好开学准备工作。</p>"
        f'<p><img alt="现场" src="{site.url}pic/xc.png"></p>'
        '<p><img alt="&lt;script&gt;alert(3)&lt;/script&gt;" src="http://evil.example/x.png"></p>'
    )


HANWEB = """<html><head><meta charset="utf-8"></head><body>
<table><tr><td class="title"><!--<$[标题名称]>begin-->招生公告<script>alert(1)</script>\
<!--<$[标题名称]>end--></td></tr>
<tr><td>发布日期：2025-03-03</td></tr></table>
<!--ZJEG_RSS.content.begin--><p>招生工作安排如下。<img src="http://10.0.0.1/a.png" alt="图">\
<a href="/module/download/downfile.jsp?filename=1212031234.pdf">附件2.pdf</a></p>\
<!--ZJEG_RSS.content.end-->
</body></html>"""


def test_a_hanweb_title_marker_with_script_is_its_text(tmp_path: Path):
    root = tmp_path / "site"
    (root / "art" / "2025" / "3").mkdir(parents=True)
    (root / "art" / "2025" / "3" / "3" / "art_1_1.html").parent.mkdir(parents=True)
    (root / "art" / "2025" / "3" / "3" / "art_1_1.html").write_text(HANWEB, encoding="utf-8")
    server = PageServer(root)
    pdf = b"%PDF-1.4 hanweb"
    server.routes["/module/download/downfile.jsp"] = lambda request: (200, "application/pdf", pdf)
    cfg = source_config(server.url, "hanweb", [("tzgg", "col/col1/")])
    source = make_source(cfg)
    try:
        url = f"{server.url}art/2025/3/3/art_1_1.html"
        raw = source.fetch_item(ListEntry("tzgg", url, "art_1_1", "招生公告"))
    finally:
        source.close()
        server.stop()
    assert isinstance(raw, RawItem)
    record = normalize(raw, cfg.profile())
    assert record.title == "招生公告"
    assert [a.name for a in record.attachments] == ["附件2.pdf"]
    link = f"{server.url}module/download/downfile.jsp?filename=1212031234.pdf"
    assert record.body_html == (
        f'<p>招生工作安排如下。图<a href="{link}" rel="noopener noreferrer">附件2.pdf</a></p>'
    )
