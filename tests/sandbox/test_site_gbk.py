"""GBK sandbox sites: bytes, charset declarations and the characters a GB2312 reader loses.

Both styles are served in GBK with the charset only in a <meta> (``charset=gb2312`` on list
pages, ``charset="gbk"`` on detail pages) while titles and bodies carry characters outside
GB2312, so only a reader that decodes such labels as GB18030 gets the text right.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
from lxml import etree
from lxml import html as lxml_html

from bridge.sandbox.site import COLUMNS, Manifest, SiteServer, generate_site

END = date(2026, 11, 20)
RARE = set("喆堃玥镕")
IDS = {"jgzn": 1229, "zcwj": 1230, "ghjh": 1231, "ywgz": 1232, "tjsj": 1233, "qt": 1234}
LIST_META = b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
DETAIL_META = b'<meta charset="gbk">'


@dataclass
class Site:
    manifest: Manifest
    url: str

    def get(self, path: str) -> requests.Response:
        resp = requests.get(self.url + path.lstrip("/"), timeout=10)
        assert resp.status_code == 200, path
        return resp


@pytest.fixture(scope="module", params=["trs", "hanweb"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp(f"gbk-{request.param}") / "root"
    manifest = generate_site(
        root, 70, 6, end_date=END, style=request.param, encoding="gbk", pinned=True
    )
    with SiteServer(root) as server:
        yield Site(manifest, server.base_url)


def list_path(site: Site, key: str, path: str) -> str:
    return f"/col/col{IDS[key]}/index.html" if site.manifest.options.style == "hanweb" else path


def test_pages_are_gbk_with_the_charset_only_in_a_meta(site: Site) -> None:
    assert site.manifest.options.rare_chars  # on by default for GBK sites
    pages = [("/", LIST_META)]
    pages += [(list_path(site, k, p), LIST_META) for k, p, _ in COLUMNS]
    pages += [(i.path, DETAIL_META) for i in site.manifest.items]
    for path, meta in pages:
        resp = site.get(path)
        assert resp.headers["Content-Type"] == "text/html"
        assert resp.content.count(b"charset") == 1 and meta in resp.content
        text = resp.content.decode("gbk")  # strict: every character is a GBK one
        assert text == resp.content.decode("gb18030")
    for item in site.manifest.items:
        doc = lxml_html.fromstring(site.get(item.path).content.decode("gb18030"))
        shown = doc.xpath('string(//h1[@class="title"] | //td[@class="title"])')
        assert shown == item.title


def test_a_strict_gb2312_reader_fails_where_a_gb18030_reader_does_not(site: Site) -> None:
    rare_titles = [i for i in site.manifest.items if RARE & set(i.title)]
    assert rare_titles
    item = rare_titles[0]
    for path in (item.path, list_path(site, item.column, "/xxgk/" + item.column + "/")):
        data = site.get(path).content
        with pytest.raises(UnicodeDecodeError):
            data.decode("gb2312")
    body_names = [i for i in site.manifest.items if RARE & set(i.body_html)]
    assert body_names  # names in bodies too (公示 lists, contacts)
    text = site.get(body_names[0].path).content.decode("gb18030")
    assert RARE & set(text)


@pytest.mark.parametrize("site", ["hanweb"], indirect=True)
def test_hanweb_data_proxy_declares_gbk(site: Site) -> None:
    for key, _path, _name in COLUMNS:
        resp = site.get(f"/module/web/jpage/dataproxy.jsp?page=1&columnid={IDS[key]}")
        assert resp.headers["Content-Type"] == "text/xml"
        assert resp.content.startswith(b'<?xml version="1.0" encoding="GBK"?>\n')
        store = etree.fromstring(resp.content)  # lxml decodes by the declaration
        titles = [
            lxml_html.fragment_fromstring(r.text.strip()).xpath("string(.//a/@title)")
            for r in store.iter("record")
        ]
        live = site.manifest.live(key)
        pinned = [i.title for i in live if i.pinned and i.column == key]
        assert titles == (pinned + [i.title for i in live])[:15]


def test_utf8_sites_are_unchanged_by_the_gbk_option(tmp_path: Path) -> None:
    generate_site(tmp_path / "u", 10, 6, end_date=END)
    page = (tmp_path / "u" / "index.html").read_bytes()
    assert b'<meta charset="utf-8">' in page and page.count(b"charset") == 1
    assert re.search(rb"<title>[^<]+</title>", page)
