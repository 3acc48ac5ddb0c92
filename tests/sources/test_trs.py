"""The TRS preset against saved GBK pages, through a real Fetcher and a local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml.cssselect import CSSSelector
from pageserver import PAGES, PageServer, serving, source_config

from bridge.raw import ListEntry, RawItem
from bridge.sources import make_source, parse
from bridge.sources.trs import TITLE_SELECTORS, TrsSource, _headings, list_page_url, page_count

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


_CLASSES = [
    "",
    "title",
    "x title",
    "x\ttitle",
    "x\xa0title",
    "titles",
    "article-title",
    "a article-title\n",
]


@st.composite
def _heading_trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(["div", "h1", "td", "span", "table", "tr"]))
    classes = draw(st.sampled_from(_CLASSES))
    attribute = f' class="{classes}"' if classes else ""
    children = draw(st.lists(_heading_trees(depth + 1), max_size=3)) if depth < 3 else []
    text = draw(st.sampled_from(["", "标题", " "]))
    return f"<{tag}{attribute}>{text}{''.join(children)}</{tag}>"


@settings(max_examples=300, deadline=None)
@given(st.lists(_heading_trees(), min_size=1, max_size=4))
def test_the_headings_are_what_the_title_selectors_find_first(blocks):
    doc, _ = parse.page_document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a")
    selectors = [CSSSelector(css, translator="html") for css in TITLE_SELECTORS]
    first = [next(iter(selector(doc)), None) for selector in selectors]
    assert list(_headings(doc)) == first
