"""The sandbox site in Hanweb style, checked over HTTP against docs/sandbox-hanweb.md.

Column pages' embedded XML, both data-proxy forms, article markup and downfile.jsp are
parsed the way a Hanweb reader sees them (lxml for the XML and for each record's HTML).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
from lxml import etree
from lxml import html as lxml_html

from bridge.sandbox.site import COLUMNS, Manifest, SiteServer, generate_site, publish

END = date(2026, 11, 20)
IDS = {"jgzn": 1229, "zcwj": 1230, "ghjh": 1231, "ywgz": 1232, "tjsj": 1233, "qt": 1234}
PROXY = "module/web/jpage/dataproxy.jsp"
TAGS = {"jgzn": "b", "zcwj": "span", "ghjh": "td", "ywgz": "b", "tjsj": "span", "qt": "td"}


@dataclass
class Site:
    root: Path
    manifest: Manifest
    url: str

    def get(self, path: str, **kw: object) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=10, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hanweb") / "root"
    manifest = generate_site(
        root,
        120,
        5,
        end_date=END,
        style="hanweb",
        pinned=True,
        cross_listed=True,
        offsite_links=True,
        cn_filenames=False,
    )
    with SiteServer(root) as server:
        yield Site(root, manifest, server.base_url)


@dataclass(frozen=True)
class Record:
    href: str
    title: str
    text: str
    date: str
    pinned: bool


def parse_record(fragment: str, key: str) -> Record:
    doc = lxml_html.fragment_fromstring(fragment.strip())
    a = doc.xpath(".//a")[0]
    tag = TAGS[key]
    if tag == "td":
        assert doc.tag == "table"
        day = doc.xpath('string(.//td[@class="bt_time"])')
        pinned = doc.xpath('boolean(.//tr[@class="top"])')
    else:
        assert doc.tag == "li"
        day = doc.xpath("string(b)" if tag == "b" else 'string(span[@class="bt_time"])')
        pinned = doc.get("class") == "top"
    if pinned:
        assert doc.xpath('string(.//span[@class="zd"])') == "[置顶]"
    return Record(a.get("href"), a.get("title"), a.text_content(), day, pinned)


def expected(manifest: Manifest, key: str) -> list[tuple[str, str, bool]]:
    """(href, date, pinned) of a column's whole record list, per the contract."""
    live = manifest.live(key)
    rows = [(i.path, f"{i.published:%Y-%m-%d}", True) for i in live if i.pinned and i.column == key]
    dated = [(i.path, f"{i.published:%Y-%m-%d}", False) for i in live]
    if dated:
        day = dated[min(2, len(dated)) - 1][1]
        y, m, d = (int(x) for x in day.split("-"))
        index = [k for k, _, _ in COLUMNS].index(key)
        off = f"http://www.zjedu.gov.cn/art/{y}/{m}/{d}/art_1532_{990001 + index}.html"
        dated.insert(min(2, len(dated)), (off, day, False))
    return rows + dated


def datastore(xml: bytes | str) -> etree._Element:
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)


def column_page(site: Site, key: str) -> tuple[list[Record], dict[str, int], str]:
    resp = site.get(f"/col/col{IDS[key]}/index.html")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/html"
    text = resp.content.decode("utf-8")
    doc = lxml_html.fromstring(resp.content)
    scripts = doc.xpath('//div[@id="4497"]/script[@type="text/xml"]')
    assert len(scripts) == 1
    store = datastore(scripts[0].text)
    records = [parse_record(r.text, key) for r in store.findall("recordset/record")]
    found = re.search(
        r"var totalRecord = (\d+); var perPage = (\d+); var columnid = (\d+); var unitid = (\d+);",
        text,
    )
    assert found, key
    names = ("totalRecord", "perPage", "columnid", "unitid")
    return (
        records,
        dict(zip(names, map(int, found.groups()), strict=True)),
        store.findtext("nextgroup"),
    )


def test_column_pages_embed_the_first_records_as_xml(site: Site) -> None:
    for key, _path, _name in COLUMNS:
        records, var, nextgroup = column_page(site, key)
        rows = expected(site.manifest, key)
        assert var == {
            "totalRecord": len(rows),
            "perPage": 15,
            "columnid": IDS[key],
            "unitid": 7701,
        }
        assert [(r.href, r.date, r.pinned) for r in records] == rows[:15]
        assert nextgroup == (
            f'<a href="/module/web/jpage/dataproxy.jsp?page=1&webid=1&path=/&columnid={IDS[key]}'
            '&unitid=7701&webname=%E4%BD%99%E5%A7%9A%E6%95%99%E8%82%B2%E7%BD%91&permissiontype=0"></a>'
        )
        for record in records:
            title = record.title
            assert record.text == (title if len(title) <= 24 else title[:24] + "...")


def test_quirks_in_the_records_pinned_cross_listed_and_off_site(site: Site) -> None:
    pinned = [i for i in site.manifest.items if i.pinned]
    crossed = [i for i in site.manifest.items if i.also]
    assert len(crossed) == 1 and crossed[0].also[0] != crossed[0].column
    for key, _path, _name in COLUMNS:
        records, _var, _next = column_page(site, key)
        own = [i for i in site.manifest.live(key) if i.column == key]
        if len(own) >= 5:
            (item,) = [i for i in pinned if i.column == key]
            assert records[0].pinned and records[0].href == item.path
            dated = [r for r in records[1:] if not r.href.startswith("http")]
            assert all(r.date >= records[0].date for r in dated)  # out of date order
        else:
            assert not any(r.pinned for r in records)
        offsite = [r for r in records if r.href.startswith("http://")]
        assert len(offsite) == 1 and offsite[0].title.startswith("浙江省教育厅")
    item = crossed[0]
    for key in (item.column, item.also[0]):
        assert item.path in [href for href, _d, _p in expected(site.manifest, key)]


def proxy_get(site: Site, key: str, page: int) -> etree._Element:
    resp = site.get(
        f"/{PROXY}?page={page}&webid=1&path=/&columnid={IDS[key]}&unitid=7701&permissiontype=0"
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/xml"
    assert resp.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return datastore(resp.content)


def test_data_proxy_get_pages_cover_the_whole_list(site: Site) -> None:
    for key, _path, _name in COLUMNS:
        rows = expected(site.manifest, key)
        pages = math.ceil(len(rows) / 15)
        listed = []
        for page in range(1, pages + 2):
            store = proxy_get(site, key, page)
            assert store.findtext("totalrecord") == str(len(rows))
            assert store.findtext("totalpage") == str(pages)
            listed += [parse_record(r.text, key) for r in store.findall("recordset/record")]
        assert [(r.href, r.date, r.pinned) for r in listed] == rows
        column_records, _var, _next = column_page(site, key)
        assert [parse_record(r.text, key) for r in proxy_get(site, key, 1).iter("record")] == (
            column_records
        )
    past = site.get(f"/{PROXY}?page=99&columnid=1232")
    assert past.content.endswith(b"<recordset/></datastore>")


def test_data_proxy_post_form_returns_the_record_range(site: Site) -> None:
    rows = expected(site.manifest, "ywgz")
    assert len(rows) > 40
    form = "col=1&appid=1&webid=1&path=/&columnid=1232&unitid=7701&permissiontype=0"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = requests.post(
        site.url + PROXY + "?startrecord=16&endrecord=60&perpage=15",
        data=form,
        headers=headers,
        timeout=10,
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/xml"
    store = datastore(resp.content)
    got = [parse_record(r.text, "ywgz") for r in store.findall("recordset/record")]
    assert [(r.href, r.date, r.pinned) for r in got] == rows[15:60]
    assert store.findtext("totalrecord") == str(len(rows))
    assert store.findtext("totalpage") == str(math.ceil(len(rows) / 15))
    by_query = requests.post(
        site.url + PROXY + "?startrecord=1&endrecord=3&perpage=15&columnid=1232", timeout=10
    )
    assert [
        parse_record(r.text, "ywgz").href for r in datastore(by_query.content).iter("record")
    ] == [r[0] for r in rows[:3]]


def test_data_proxy_refuses_bad_requests(site: Site) -> None:
    assert site.get(f"/{PROXY}?page=1").status_code == 400
    assert site.get(f"/{PROXY}?page=0&columnid=1232").status_code == 400
    assert site.get(f"/{PROXY}?page=x&columnid=1232").status_code == 400
    assert site.get(f"/{PROXY}?page=1&columnid=9999").status_code == 404
    bad = requests.post(
        site.url + PROXY + "?startrecord=9&endrecord=3", data="columnid=1232", timeout=10
    )
    assert bad.status_code == 400
    first = site.get(f"/{PROXY}?page=2&columnid=1230")
    again = site.get(
        f"/{PROXY}?page=2&columnid=1230", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_articles_follow_the_contract(site: Site) -> None:
    for item in site.manifest.items:
        day = item.published
        assert item.id == f"{item.serial:06d}"
        assert (
            item.path
            == f"/art/{day.year}/{day.month}/{day.day}/art_{IDS[item.column]}_{item.id}.html"
        )
        resp = site.get(item.path)
        text = resp.content.decode("utf-8")
        assert f"<!--<$[标题名称]>begin-->{html.escape(item.title)}<!--<$[标题名称]>end-->" in text
        doc = lxml_html.fromstring(resp.content)
        assert doc.xpath('string(//td[@class="title"])') == item.title
        info = doc.xpath('string(//div[@class="info"])')
        assert re.fullmatch(
            rf"发布日期：{day:%Y-%m-%d}　信息来源：余姚市教育局　浏览次数：\d+", info
        )
        body = text.split('<!--ZJEG_RSS.content.begin--><meta name="ContentStart">\n', 1)[1]
        body = body.split('\n<meta name="ContentEnd"><!--ZJEG_RSS.content.end-->', 1)[0]
        assert body == item.body_html
        cells = [td.text_content() for td in doc.xpath('//table[@class="xxgk_table"]//td')]
        assert bool(cells) == item.has_meta_table
        if cells:
            assert cells[:2] == ["索 引 号：", item.index_no]


def test_attachments_download_through_downfile_with_their_names(site: Site) -> None:
    with_files = [i for i in site.manifest.items if i.attachments]
    assert len(with_files) >= 10
    for item in with_files:
        doc = lxml_html.fromstring(site.get(item.path).content)
        links = doc.xpath('//div[@class="attachments"]/a')
        assert [(a.get("href"), a.text_content()) for a in links] == [
            (att["href"], att["name"]) for att in item.attachments
        ]
        for att in item.attachments:
            assert re.fullmatch(
                r"/module/download/downfile\.jsp\?classid=0&filename=\d{20}\.(pdf|docx?|xls)",
                att["href"],
            )
            resp = site.get(att["href"])
            assert resp.status_code == 200 and resp.headers["Content-Type"] == att["media_type"]
            assert hashlib.sha256(resp.content).hexdigest() == att["sha256"]
            disposition = resp.headers["Content-Disposition"]
            assert disposition == f"attachment; filename*=UTF-8''{quote(att['name'], safe='')}"
            assert unquote(disposition.split("''", 1)[1]) == att["name"]
    assert site.get("/module/download/downfile.jsp?classid=0&filename=nope.pdf").status_code == 404
    assert site.get("/module/download/downfile.jsp?filename=../../site.json").status_code == 404


def test_same_seed_same_items_in_both_styles(tmp_path: Path) -> None:
    trs = generate_site(tmp_path / "trs", 40, 9, end_date=END)
    hanweb = generate_site(tmp_path / "hw", 40, 9, end_date=END, style="hanweb")
    fields = ("title", "doc_no", "created", "published", "index_no", "column", "serial")
    assert [[getattr(i, f) for f in fields] for i in trs.items] == [
        [getattr(i, f) for f in fields] for i in hanweb.items
    ]
    assert [i.body_html for i in trs.items] == [i.body_html for i in hanweb.items]
    assert [[a["sha256"] for a in i.attachments] for i in trs.items] == [
        [a["sha256"] for a in i.attachments] for i in hanweb.items
    ]
    assert (trs.page_size, hanweb.page_size) == (20, 15)


def test_publish_keeps_the_hanweb_style(tmp_path: Path) -> None:
    root = tmp_path / "hw"
    generate_site(root, 20, 2, end_date=END, style="hanweb")
    (item,) = publish(root, 1, when=END)
    assert re.fullmatch(r"/art/2026/11/20/art_\d{4}_\d{6}\.html", item.path)
    with SiteServer(root) as server:
        resp = requests.get(server.base_url + item.path.lstrip("/"), timeout=10)
        assert "<!--ZJEG_RSS.content.begin-->" in resp.text
        column = requests.get(
            server.base_url + f"col/col{IDS[item.column]}/index.html", timeout=10
        ).text
        assert f'<a href="{item.path}"' in column


def test_chinese_file_names_go_through_downfile(tmp_path: Path) -> None:
    root = tmp_path / "cn"
    manifest = generate_site(root, 30, 4, end_date=END, style="hanweb", cn_filenames=True)
    with_files = [i for i in manifest.items if i.attachments]
    assert with_files
    with SiteServer(root) as server:
        for item in with_files:
            for att in item.attachments:
                stored = unquote(att["href"].split("&filename=", 1)[1])
                assert stored == f"{item.id}/{att['name']}"
                assert "%E" in att["href"]
                resp = requests.get(server.base_url + att["href"].lstrip("/"), timeout=10)
                assert resp.status_code == 200
                assert hashlib.sha256(resp.content).hexdigest() == att["sha256"]
                assert resp.headers["Content-Disposition"] == (
                    f"attachment; filename*=UTF-8''{quote(att['name'], safe='')}"
                )
