"""What real bureau sites do to a scraper, as the sandbox site does it, checked over HTTP.

Pinned items, a cross-listed item, off-site links, list date forms, Chinese-numeral dates,
Chinese attachment names, volatile detail pages, robots.txt, a slow server. Each option is
fetched through a real server on a free port and asserted exactly.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import requests
from lxml import html as lxml_html

from bridge.sandbox.site import COLUMNS, Manifest, SiteServer, edit, generate_site, load_manifest

END = date(2026, 11, 20)
SIZE = 8
PAGER = re.compile(r'createPageHTML\((\d+), (\d+), "index", "html"\);')
DATE_FORMS = {  # list_dates="mixed": the form of each column, in COLUMNS order
    "jgzn": r"\d{4}-\d{2}-\d{2}",
    "zcwj": r"\d{2}-\d{2}",
    "ghjh": r"\[\d{4}-\d{2}-\d{2}\]",
    "ywgz": r"\d{4}年\d{1,2}月\d{1,2}日",
    "tjsj": r"\d{4}-\d{2}-\d{2}",
    "qt": r"\d{2}-\d{2}",
}
NUMERAL_DATE = re.compile(
    r"[〇一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日"
)


@dataclass
class Site:
    root: Path
    manifest: Manifest
    server: SiteServer
    url: str

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(urljoin(self.url, path.lstrip("/")), headers=headers, timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A TRS site with every quirk on."""
    root = tmp_path_factory.mktemp("quirks") / "root"
    manifest = generate_site(
        root,
        90,
        4,
        page_size=SIZE,
        end_date=END,
        pinned=True,
        cross_listed=True,
        offsite_links=True,
        volatile=True,
        list_dates="mixed",
        cn_dates=True,
        cn_filenames=True,
        robots_disallow=["/xxgk/tjsj/", "/xxgk/qt/"],
    )
    with SiteServer(root) as server:
        yield Site(root, manifest, server, server.base_url)


@dataclass(frozen=True)
class Line:
    url: str  # absolute
    title: str
    date: str
    pinned: bool


def pages(site: Site, path: str) -> list[list[Line]]:
    out: list[list[Line]] = []
    count, number = 1, 0
    while number < count:
        page_url = urljoin(
            site.url, path.lstrip("/") + ("index.html" if number == 0 else f"index_{number}.html")
        )
        resp = requests.get(page_url, timeout=10)
        assert resp.status_code == 200
        doc = lxml_html.fromstring(resp.content)
        lines = []
        for li in doc.xpath('//ul[@class="list"]/li'):
            a = li.xpath("a")[0]
            pinned = li.get("class") == "top"
            assert li.xpath('string(span[@class="zd"])') == ("[置顶]" if pinned else "")
            day = li.xpath('string(span[@class="date"])')
            lines.append(Line(urljoin(page_url, a.get("href")), a.get("title"), day, pinned))
        out.append(lines)
        found = PAGER.search(resp.text)
        assert found
        count = int(found[1])
        number += 1
    return out


def local(site: Site, url: str) -> str:
    return urlsplit(url).path if url.startswith(site.url) else url


def test_pinned_item_tops_page_one_and_keeps_its_place(site: Site) -> None:
    for key, path, _name in COLUMNS:
        listing = pages(site, path)
        own = [i for i in site.manifest.live(key) if i.column == key]
        dated = [line for page in listing for line in page if not line.pinned]
        assert [local(site, line.url) for line in dated if line.url.startswith(site.url)] == [
            i.path for i in site.manifest.live(key)
        ]
        if len(own) < 5:
            assert not any(line.pinned for page in listing for line in page)
            continue
        first = listing[0][0]
        (item,) = [i for i in own if i.pinned]
        assert first.pinned and local(site, first.url) == item.path
        assert sum(line.pinned for page in listing for line in page) == 1
        assert first.title == item.title
        rest_of_page_one = [local(site, line.url) for line in listing[0][1:]]
        later = [local(site, line.url) for page in listing[1:] for line in page]
        assert (rest_of_page_one + later).count(item.path) == 1  # and at its own place
        if len(own) > SIZE:  # an older item: out of date order on page 1
            assert item.path in later
            by_path = {i.path: i for i in site.manifest.items}
            newer = [by_path[p] for p in rest_of_page_one if p in by_path]
            assert newer and all(item.published < i.published for i in newer)
        # page_size dated entries per page; the pinned copy and the off-site link are extra
        live = site.manifest.live(key)
        on_site = [[x for x in p if x.url.startswith(site.url) and not x.pinned] for p in listing]
        assert [len(p) for p in on_site] == [
            len(live[i : i + SIZE]) for i in range(0, len(live), SIZE)
        ]


def test_cross_listed_item_is_in_two_columns_with_one_url(site: Site) -> None:
    (item,) = [i for i in site.manifest.items if i.also]
    found = {}
    for key, path, _name in COLUMNS:
        urls = [line.url for page in pages(site, path) for line in page]
        if site.url + item.path.lstrip("/") in urls:
            found[key] = urls.count(site.url + item.path.lstrip("/"))
    assert found == {item.column: 1, item.also[0]: 1}
    assert site.get(item.path).status_code == 200


def test_each_column_links_one_off_site_page(site: Site) -> None:
    for index, (key, path, _name) in enumerate(COLUMNS):
        first = pages(site, path)[0]
        off = [line for line in first if not line.url.startswith(site.url)]
        assert len(off) == 1, key
        assert re.fullmatch(
            rf"http://www\.nbedu\.gov\.cn/xxgk/\d{{6}}/t\d{{8}}_{990001 + index}\.html", off[0].url
        )
        assert off[0].title.startswith("宁波市教育局")
        dated = [line for line in first if not line.pinned]
        assert dated.index(off[0]) == min(2, len(dated) - 1)


def test_list_dates_take_each_form_by_column(site: Site) -> None:
    for key, path, _name in COLUMNS:
        items = {i.path: i for i in site.manifest.items}
        for line in (line for page in pages(site, path) for line in page):
            assert re.fullmatch(DATE_FORMS[key], line.date), (key, line.date)
            item = items.get(local(site, line.url))
            if item is not None:
                day = item.published
                assert line.date in (
                    f"{day:%Y-%m-%d}",
                    f"{day:%m-%d}",
                    f"[{day:%Y-%m-%d}]",
                    f"{day.year}年{day.month}月{day.day}日",
                )


def test_some_bodies_sign_with_chinese_numeral_dates(site: Site) -> None:
    signed = []
    for item in site.manifest.items:
        doc = lxml_html.fromstring(site.get(item.path).content)
        paras = [p.text_content() for p in doc.xpath('//div[@class="TRS_Editor"]/p')]
        if item.title == "2012年度市教育局政府信息公开总结":
            assert paras[1] == "（二〇一二年十二月三日）"  # the seed report keeps its own
            continue
        if any(NUMERAL_DATE.fullmatch(p) for p in paras):
            signed.append(item)
            d = item.created
            numeral = "".join("〇一二三四五六七八九"[int(c)] for c in str(d.year))
            assert any(p.startswith(numeral + "年") for p in paras)
    assert 0.2 * len(site.manifest.items) < len(signed) < 0.7 * len(site.manifest.items)


def test_chinese_attachment_names_round_trip(site: Site) -> None:
    with_files = [i for i in site.manifest.items if i.attachments]
    assert len(with_files) >= 10
    for item in with_files:
        doc = lxml_html.fromstring(site.get(item.path).content)
        links = doc.xpath('//div[@class="attachments"]//a')
        for a, att in zip(links, item.attachments, strict=True):
            href = a.get("href")
            assert href.startswith(f"./{item.id}/")
            assert "%" in href and not re.search(r"[^\x21-\x7e]", href)  # percent-encoded
            assert unquote(href.rsplit("/", 1)[1]) == att["name"] == a.text_content()
            resp = requests.get(urljoin(site.url + item.path.lstrip("/"), href), timeout=10)
            assert resp.status_code == 200 and resp.headers["Content-Type"] == att["media_type"]
            assert hashlib.sha256(resp.content).hexdigest() == att["sha256"]


def test_volatile_detail_pages_change_per_request_and_lists_stay_put(site: Site) -> None:
    item = next(i for i in site.manifest.items if i.has_meta_table)
    first, second = site.get(item.path), site.get(item.path)
    assert first.headers["ETag"] != second.headers["ETag"]
    assert "Last-Modified" not in first.headers
    views = []
    for resp in (first, second):
        doc = lxml_html.fromstring(resp.content)
        (body,) = doc.xpath('//div[@class="TRS_Editor"]')
        last = body.xpath("p")[-1]
        assert last.get("class") == "visits"
        views.append(int(last.xpath('string(span[@id="visits"])')))
        stamp = body.xpath('string(p[@class="gen-time"])')
        assert re.fullmatch(r"页面生成时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", stamp)
        assert re.search(
            rb"<!-- generated \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6} -->", resp.content
        )
        assert b"{{sandbox." not in resp.content
    assert views[1] == views[0] + 1
    listing = site.get("/xxgk/zcwj/index.html")
    again = site.get("/xxgk/zcwj/index.html", **{"If-None-Match": listing.headers["ETag"]})
    assert again.status_code == 304
    assert site.get("/xxgk/zcwj/index.html").content == listing.content
    stale = site.get(item.path, **{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert stale.status_code == 200  # no Last-Modified, so no 304 by date


def test_robots_txt_lists_the_disallowed_paths(site: Site, tmp_path: Path) -> None:
    resp = site.get("/robots.txt")
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.text == "User-agent: *\nDisallow: /xxgk/tjsj/\nDisallow: /xxgk/qt/\n"
    plain = tmp_path / "plain"
    generate_site(plain, 5, 1, end_date=END)
    with SiteServer(plain) as server:
        text = requests.get(server.base_url + "robots.txt", timeout=10).text
        assert text == "User-agent: *\nDisallow:\n"
        (plain / "robots.txt").unlink()  # a root from before robots.txt: still served
        assert requests.get(server.base_url + "robots.txt", timeout=10).text == text
    with pytest.raises(ValueError, match="must start with /"):
        generate_site(tmp_path / "bad", 5, 1, robots_disallow=["xxgk/"])


def test_delay_slows_every_response(site: Site) -> None:
    with SiteServer(site.root, delay=0.15) as slow:
        started = time.perf_counter()
        for _ in range(2):
            assert requests.get(slow.base_url + "robots.txt", timeout=10).status_code == 200
        took = time.perf_counter() - started
    assert took >= 0.3  # each request's 10 s timeout is the hang guard, not a speed bound
    with pytest.raises(ValueError, match="negative"):
        SiteServer(site.root, delay=-1)


def test_options_are_kept_by_later_cms_actions(site: Site, tmp_path: Path) -> None:
    assert load_manifest(site.root).options == site.manifest.options
    root = tmp_path / "kept"
    generate_site(root, 12, 2, end_date=END, volatile=True, list_dates="chinese")
    item = load_manifest(root).items[-1]
    edited = edit(root, item.id, body_append="特此补充。")
    assert edited.body_html.endswith("<p>特此补充。</p>")
    page = (root / item.path.lstrip("/")).read_text(encoding="utf-8")
    assert "{{sandbox.visits}}" in page and "<p>特此补充。</p>\n<!-- generated" in page
    listing = (root / "xxgk" / item.column / "index.html").read_text(encoding="utf-8")
    assert f"{item.published.year}年{item.published.month}月{item.published.day}日" in listing
