"""The TRS preset against saved GBK pages, through a real Fetcher and a local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pageserver import PAGES, PageServer, serving, source_config

from bridge.raw import ListEntry, RawItem
from bridge.sources import make_source
from bridge.sources.trs import TrsSource, list_page_url, page_count

TITLE = "余姚市教育局关于印发2013年全市教育工作要点的通知（陈喆执笔）"


@pytest.mark.parametrize(
    ("script", "count"),
    [
        ('createPageHTML(7, 0, "index", "html");', 7),
        ("createPageHTML('page_div', 7, 1, 'index', 'html', 136);", 7),
        ("createPageHTML(0, 0, 'index', 'html');", 1),
        ("var nothing = 1;", None),
    ],
)
def test_page_count_in_both_argument_forms(script, count):
    assert page_count(f"<script>{script}</script>") == count


def test_list_page_urls():
    assert list_page_url("http://h/xxgk/zcwj/", 0) == "http://h/xxgk/zcwj/index.html"
    assert list_page_url("http://h/xxgk/zcwj/", 2) == "http://h/xxgk/zcwj/index_2.html"


@pytest.fixture
def site() -> Iterator[PageServer]:
    with serving("trs") as server:
        yield server


def trs(server: PageServer) -> TrsSource:
    source = make_source(source_config(server.url, "trs", [("zcwj", "xxgk/zcwj/")]))
    assert isinstance(source, TrsSource)
    return source


def test_listing_of_gbk_pages(site):
    pages = list(trs(site).list_pages("zcwj"))
    assert [(p.number, p.page_count) for p in pages] == [(0, 2), (1, 2)]
    entries = [e for p in pages for e in p.entries]
    assert [(e.article_id, e.list_title, e.list_date, e.pinned) for e in entries] == [
        ("t20120105_100001", "余姚市教育局政府信息公开指南", "2012-01-05", True),
        ("t20121203_123456", TITLE, "2012-12-03", False),
        ("t20121120_123400", "关于开展教师培训的通知", "2012-11-20", False),
    ]  # the zjedu.gov.cn link is another site's
    assert site.requests() == ["/xxgk/zcwj/index.html", "/xxgk/zcwj/index_1.html"]


def test_detail_page_decoded_and_counter_stripped(site):
    versions = iter(
        [
            (PAGES / "trs/xxgk/zcwj/201212/t20121203_123456.html").read_bytes(),
            (PAGES / "trs/variants/t20121203_123456.later.html").read_bytes(),
        ]
    )
    site.routes["/xxgk/zcwj/201212/t20121203_123456.html"] = lambda req: (
        200,
        "text/html",
        next(versions),
    )
    source = trs(site)
    entry = ListEntry(
        "zcwj", site.url + "xxgk/zcwj/201212/t20121203_123456.html", "t20121203_123456", TITLE
    )
    first, second = source.fetch_item(entry), source.fetch_item(entry)
    assert isinstance(first, RawItem) and isinstance(second, RawItem)
    assert (first.charset, first.charset_how, first.replacement_chars) == ("gb18030", "meta", 0)
    assert first.title == TITLE
    assert first.meta["文号"] == "余教〔2012〕123号"
    assert first.body_html == second.body_html
    assert "浏览次数" not in first.body_html and "<!--" not in first.body_html
    assert [(a.name, a.media_type) for a in first.attachments] == [
        ("2013年全市教育工作要点.pdf", "application/pdf")
    ]
