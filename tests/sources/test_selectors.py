"""The selectors source: every pagination mode, the loop guard, detail pages, charsets.

All through a real ``Fetcher`` against a local HTTP server of tests/data/pages/selectors.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from pageserver import PAGES, PageServer, serving, source_config

from bridge.config.sources import SelectorsConfig
from bridge.errors import LayoutAlarm
from bridge.normalize import QuarantineError, normalize
from bridge.raw import ListEntry, RawItem
from bridge.sources import make_source
from bridge.sources.selectors import SelectorsSource

ROOT = PAGES / "selectors"
LONG = "某某市教育局关于做好2013年义务教育阶段学校招生入学工作的实施意见"
BASE = SelectorsConfig(
    list_item="ul.newslist li",
    link="a",
    title_attr="title",
    date="em.date",
    pinned=".stick",
    detail_title="h2.art-title",
    detail_body="div.art-content",
    detail_meta="dl.meta, ul.meta",
    attachments=".fj",
)
COLUMNS = [
    ("next", "next/"),
    ("loop", "loop/"),
    ("count", "count/"),
    ("empty", "empty/"),
    ("same", "same/"),
]


@pytest.fixture
def site() -> Iterator[PageServer]:
    with serving("selectors") as server:
        yield server


def selectors(server: PageServer, **changes: Any) -> SelectorsSource:
    cfg = source_config(
        server.url, "selectors", COLUMNS, selectors=dataclasses.replace(BASE, **changes)
    )
    source = make_source(cfg)
    assert isinstance(source, SelectorsSource)
    return source


def pages(source: SelectorsSource, column: str) -> list[tuple[int, int | None, list[str]]]:
    return [
        (p.number, p.page_count, [e.article_id for e in p.entries])
        for p in source.list_pages(column)
    ]


# --- pagination -------------------------------------------------------------------------


def test_next_link_until_there_is_none(site):
    source = selectors(site, next_page="a.next")
    assert pages(source, "next") == [
        (0, None, ["100", "101", "102"]),
        (1, None, ["103", "104"]),
        (2, None, ["105"]),
    ]
    assert site.requests() == [
        "/next/index.html",
        "/next/list_2.html",
        "/next/list_3.html",
    ]


def test_next_link_back_to_a_seen_page_stops_the_loop(site):
    source = selectors(site, next_page="a.next")
    assert pages(source, "loop") == [(0, None, ["110"]), (1, None, ["111"])]
    assert site.requests() == ["/loop/index.html", "/loop/p2.html"]


def test_template_with_page_count_reads_exactly_that_many_pages(site):
    source = selectors(site, page_url="index_{n}.html", page_count_pattern=r"共(\d+)页")
    assert pages(source, "count") == [
        (0, 3, ["120", "121"]),
        (1, 3, ["122", "123"]),
        (2, 3, ["124"]),
    ]
    assert site.requests() == ["/count/index.html", "/count/index_1.html", "/count/index_2.html"]


def test_template_until_an_empty_page(site):
    source = selectors(site, first_page="list_1.html", page_url="list_{n}.html")
    assert pages(source, "empty") == [(0, None, ["130"]), (1, None, ["131"])]
    # list_1.html is both the first page and template page 1: it is read once
    assert site.requests() == ["/empty/list_1.html", "/empty/list_2.html", "/empty/list_3.html"]


def test_template_until_a_missing_page(site):
    source = selectors(site, page_url="index_{n}.html")
    assert [p.number for p in source.list_pages("count")] == [0, 1, 2, 3]
    assert site.hits[("GET", "/count/index_4.html", 404)] == 1


def test_template_stops_when_a_page_repeats_earlier_entries(site):
    source = selectors(site, page_url="index_{n}.html")
    assert pages(source, "same") == [(0, None, ["140"])]
    assert site.requests() == ["/same/index.html", "/same/index_1.html"]


def test_no_pagination_reads_one_page(site):
    source = selectors(site)
    assert pages(source, "next") == [(0, None, ["100", "101", "102"])]
    assert site.requests() == ["/next/index.html"]


def test_an_unchanged_first_page_costs_one_304(site):
    source = selectors(site, next_page="a.next")
    list(source.list_pages("next"))
    again = selectors(site, next_page="a.next")
    again.validators = dict(source.new_validators)
    assert [(p.number, p.not_modified) for p in again.list_pages("next")] == [(0, True)]
    assert site.hits[("GET", "/next/index.html", 304)] == 1


# --- entries ----------------------------------------------------------------------------


def test_entries_full_title_dates_pinned_and_skipped_links(site):
    source = selectors(site, next_page="a.next")
    entries = [e for p in source.list_pages("next") for e in p.entries]
    assert [(e.article_id, e.list_title, e.list_date, e.pinned) for e in entries] == [
        ("100", "某某市教育局政府信息公开指南", "2012-01-05", True),
        ("101", LONG, "[2012-12-03]", False),  # the list text is cut with "..."
        ("102", "关于公布2012年度优秀教师名单的通知", "2012年12月1日", False),
        ("103", "某某市教育局2012年工作总结", "二〇一二年十一月二十日", False),
        ("104", "关于开展教师资格认定工作的通知", "11-18", False),
        ("105", "关于调整中小学作息时间的通知", "2012-10-08", False),
    ]  # the off-site link (zjedu.gov.cn) and the javascript: link are no entries
    assert entries[1].url == site.url + "content/101.html"


def test_without_date_and_title_selectors_the_line_text_is_used(site):
    source = selectors(site, date=None, title_attr=None, pinned=None)
    entries = next(iter(source.list_pages("next"))).entries
    assert (
        [(e.list_title, e.list_date, e.pinned) for e in entries]
        == [
            ("某某市教育局政府信息公开指南", "2012-01-05", True),  # class="stick"
            (LONG[:20] + "...", "[2012-12-03]", False),
            ("关于公布2012年度优秀教师名单的通知", "2012年12月1日", False),
        ]
    )


def test_article_id_pattern_and_its_fallback(site):
    source = selectors(site, article_id_pattern=r"/content/(\d+)\.html$")
    assert source.article_id("http://h/content/101.html") == "101"
    assert source.article_id("http://h/show.jsp?id=7") == "/show.jsp?id=7"
    query = selectors(site, article_id_pattern=r"id=(\d+)")
    assert query.article_id("http://h/show.jsp?id=7&c=2") == "7"


# --- detail pages -----------------------------------------------------------------------


def entry(server: PageServer, n: int) -> ListEntry:
    return ListEntry("next", f"{server.url}content/{n}.html", str(n), f"标题{n}")


def test_fetch_item_reads_dl_metadata_body_and_attachments(site):
    raw = selectors(site).fetch_item(entry(site, 101))
    assert isinstance(raw, RawItem)
    assert raw.title == LONG
    assert raw.meta == {
        "索引号": "113302810029492360/2012-00101",
        "发布机构": "某某市教育局",
        "成文日期": "2012-12-03",
        "文号": "某教〔2012〕101号",
        "有效性": "有效",
        # Outside the operator's block, the info line under the title: any template's.
        "来源": "某某市教育局",
        "点击数": "318",
    }
    assert raw.doc_title == LONG
    assert raw.body_text.split() == [
        "各中小学校：",
        "为做好2013年义务教育阶段学校招生入学工作，现提出如下实施意见。",
        "一、坚持免试就近入学。",
    ]
    pdf = (ROOT / "upload/2012/12/P020121203.pdf").read_bytes()
    assert [(a.name, a.media_type, a.sha256) for a in raw.attachments] == [
        ("2013年招生计划表.pdf", "application/pdf", hashlib.sha256(pdf).hexdigest()),
        (
            "学区划分一览表",
            "application/vnd.ms-excel",
            hashlib.sha256((ROOT / "upload/2012/12/P020121203_2.xls").read_bytes()).hexdigest(),
        ),
    ]


def test_counter_and_stamp_never_change_the_body(site):
    versions = iter(
        [(ROOT / "content/101.html").read_bytes(), (ROOT / "variants/101.later.html").read_bytes()]
    )
    site.routes["/content/101.html"] = lambda req: (200, "text/html", next(versions))
    source = selectors(site)
    first, second = source.fetch_item(entry(site, 101)), source.fetch_item(entry(site, 101))
    assert isinstance(first, RawItem) and isinstance(second, RawItem)
    assert first.body_html == second.body_html
    assert "1024" not in first.body_html and "生成时间" not in first.body_html


def test_gbk_detail_with_label_value_lines(site):
    raw = selectors(site).fetch_item(entry(site, 102))
    assert isinstance(raw, RawItem)
    assert (raw.charset, raw.charset_how, raw.replacement_chars) == ("gb18030", "meta", 0)
    assert raw.meta == {
        "索引号": "113302810029492360/2012-00102",
        "文号": "某教〔2012〕102号",
        "发布机构": "某某市教育局",
        "生成日期": "2012年12月1日",
    }
    assert raw.body_text == "经学校推荐、评审委员会评审，陈喆等50位同志被评为2012年度优秀教师。"


def test_a_body_selector_matching_nothing_is_a_layout_alarm(site):
    with pytest.raises(LayoutAlarm) as caught:
        selectors(site).fetch_item(entry(site, 103))
    assert caught.value.selector == "div.art-content"


def test_a_title_selector_matching_nothing_leaves_the_title_to_the_page_title(site):
    raw = selectors(site, detail_title="h1.nothing", detail_meta=None).fetch_item(entry(site, 101))
    assert isinstance(raw, RawItem)
    assert (raw.title, raw.doc_title) == ("", LONG)  # normalization falls back on <title>


def test_a_page_without_any_title_is_read_and_then_quarantined(site):
    """No heading, no 标题 field, no ArticleTitle, no <title> (a script's is none): the page
    is no layout alarm (it has its body) but a record without a title, held back."""
    listed = dataclasses.replace(entry(site, 104), list_title="关于做好招生工作...")  # cut
    raw = selectors(site).fetch_item(listed)
    assert isinstance(raw, RawItem)
    assert (raw.title, raw.doc_title, raw.page_meta) == ("", "", {})
    with pytest.raises(QuarantineError) as caught:
        normalize(raw, source_config(site.url, "selectors", COLUMNS).profile())
    assert ("title", "title.required") in [(p.field, p.rule) for p in caught.value.problems]


def test_only_the_links_of_the_body_and_attachment_blocks_are_made_absolute(site):
    fetched = selectors(site).fetch_article(entry(site, 101))
    assert isinstance(fetched, tuple)
    article = fetched[1]
    assert article.body is not None
    page = article.body.getroottree().getroot()
    assert page.find(".//div[@class='header']/a").get("href") == "/"  # not kept: as written
    assert [a.get("href") for scope in article.attachment_scopes for a in scope.iter("a")] == [
        f"{site.url}upload/2012/12/P020121203.pdf",
        f"{site.url}upload/2012/12/P020121203_2.xls",
    ]


def test_a_selector_testing_link_values_sees_them_absolute(site):
    raw = selectors(site, attachments='.fj a[href^="http://"]').fetch_item(entry(site, 101))
    assert isinstance(raw, RawItem)
    assert [a.name for a in raw.attachments] == ["2013年招生计划表.pdf", "学区划分一览表"]
