"""The Hanweb preset against saved pages written to docs/sandbox-hanweb.md.

Pure parsing first (column page XML, data proxy XML, detail pages, GBK), then the real
thing: ``HanwebSource`` with a real ``Fetcher`` against a local HTTP server of those pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from pageserver import PAGES, PageServer, Request, serving, source_config

from bridge.config.sources import HanwebConfig
from bridge.errors import LayoutAlarm, Skippable
from bridge.raw import ListEntry, RawItem
from bridge.sources import make_source
from bridge.sources.charset import decode_html
from bridge.sources.hanweb import (
    Datastore,
    HanwebSource,
    article_id,
    column_datastore,
    parse_detail,
    record_entries,
    script_var,
)

ROOT = PAGES / "hanweb"
FULL_TITLE = "余姚市教育局关于印发《余姚市中小学校布局调整规划（2013—2020年）》的通知"
SHOWN_TITLE = "余姚市教育局关于印发《余姚市中小学校布局调整规划（2013—..."
COLUMNS = [("zcwj", "col/col1230/"), ("jgzn", "col/col1229/"), ("ghjh", "col/col1231/")]


def text(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def on_site(url: str) -> bool:
    return url.startswith("http://site.example/")


# --- pure parsing ----------------------------------------------------------------------


def test_column_page_picks_the_columns_datastore_not_the_side_box():
    page = text("col/col1230/index.html")
    store = column_datastore(page, "1230")
    assert len(store.records) == 3
    assert store.nextgroup is not None and "columnid=1230&unitid=7701" in store.nextgroup
    assert store.total_records is None  # this page states the total in a script variable
    assert script_var("totalRecord", page) == "7"
    assert script_var("perPage", page) == "3"
    assert script_var("unitid", page) == "7701"


def test_records_become_entries_full_title_pinned_and_off_site_skipped():
    store = column_datastore(text("col/col1230/index.html"), "1230")
    entries = record_entries(
        store.records, "zcwj", "http://site.example/col/col1230/index.html", on_site
    )
    assert entries == [
        ListEntry(
            column="zcwj",
            url="http://site.example/art/2012/3/1/art_1230_100001.html",
            article_id="100001",
            list_title="余姚市教育局政府信息公开指南",
            list_date="2012-03-01",
            pinned=True,
        ),
        ListEntry(
            column="zcwj",
            url="http://site.example/art/2012/12/5/art_1230_100015.html",
            article_id="100015",
            list_title=FULL_TITLE,
            list_date="2012-12-05",
            pinned=False,
        ),
    ]


def test_dataproxy_xml_states_records_and_totals():
    store = Datastore.parse(text("dataproxy/col1230-page2.xml"))
    assert (len(store.records), store.total_records, store.total_pages) == (3, 7, 3)
    assert store.records[0].startswith('<li><a href="/art/2012/12/4/art_1230_100014.html"')
    empty = Datastore.parse(text("dataproxy/col1230-empty.xml"))
    assert (empty.records, empty.total_records) == ((), 7)


def test_escaped_records_without_cdata_are_read_too():
    store = Datastore.parse(
        "<datastore><recordset><record>&lt;li&gt;&lt;a href=&quot;/art/2012/1/2/art_9_5.html&quot;"
        "&gt;标题&lt;/a&gt;&lt;/li&gt;</record></recordset></datastore>"
    )
    assert store.records == ('<li><a href="/art/2012/1/2/art_9_5.html">标题</a></li>',)


def test_list_dates_in_table_cells_are_kept_as_written():
    store = column_datastore(text("col/col1231/index.html"), "1231")
    entries = record_entries(store.records, "ghjh", "http://site.example/col/col1231/", on_site)
    assert [(e.article_id, e.list_date) for e in entries] == [
        ("100010", "12-03"),
        ("100001", "[2012-11-30]"),
        ("100000", "2012年11月29日"),
        ("100009", "二〇一二年十一月二十日"),
    ]


def test_article_id_ignores_the_column_so_cross_listed_items_are_one():
    assert article_id("http://h/art/2012/12/1/art_1229_100003.html") == "100003"
    assert article_id("http://h/art/2012/12/1/art_1230_100003.html") == "100003"
    assert article_id("http://h/col/col1230/index.html") is None


def test_gbk_column_page_with_charset_only_in_meta():
    decoded = decode_html((ROOT / "col/col1229/index.html").read_bytes(), "text/html", default=None)
    assert (decoded.charset, decoded.how, decoded.replacement_chars) == ("gb18030", "meta", 0)
    store = column_datastore(decoded.text, "1229")
    entries = record_entries(store.records, "jgzn", "http://site.example/", on_site)
    assert [(e.list_title, e.list_date) for e in entries] == [
        ("余姚市教育局主要职责内设机构和人员编制规定", "2012-12-01"),
        ("余姚市教育局领导班子成员及分工（陈喆同志任副局长）", "2012-06-18"),
    ]


def test_detail_title_meta_and_body_between_the_markers():
    page = parse_detail(text("art/2012/12/5/art_1230_100015.html"), "http://site.example/a.html")
    assert page.title == FULL_TITLE
    assert page.meta["索引号"] == "002949236/2012-00015"
    assert page.meta["文号"] == "余教〔2012〕215号"
    assert page.meta["标题"] == FULL_TITLE
    assert page.meta["发布日期"] == "2012-12-05"  # from the <!--<$[发布日期]>begin--> markers
    assert page.body is not None
    body = page.body.text_content()
    assert "各乡镇（街道）中心学校" in body and "2012年12月3日" in body
    for volatile in ("阅读次数", ">45<", "页面生成时间", "cached", "ContentStart"):
        assert volatile not in _html(page.body)


def _html(el: object) -> str:
    from lxml import etree

    return etree.tostring(el, encoding="unicode")


def test_a_moving_counter_leaves_the_body_unchanged():
    first = parse_detail(text("art/2012/12/5/art_1230_100015.html"), "http://site.example/a.html")
    later = parse_detail(text("variants/art_1230_100015.later.html"), "http://site.example/a.html")
    assert first.body is not None and later.body is not None
    assert _html(first.body) == _html(later.body)


def test_old_templates_mark_the_body_with_content_meta_tags():
    page = parse_detail(text("art/2012/11/30/art_1231_100001.html"), "http://site.example/a.html")
    assert page.title == "2013年余姚市教育工作要点"  # from td.title
    assert page.body is not None
    assert page.body.text_content().split() == [
        "2013年全市教育工作的总体要求是：坚持育人为本，深化教育改革。",
        "一、推进学前教育优质普惠发展。",
    ]
    assert page.body.find(".//meta") is None


# --- through a real HTTP server ---------------------------------------------------------


def proxy_route(mode: str = "get"):
    """Hanweb's dataproxy.jsp: ``get`` answers both forms, ``post-only`` answers GET with
    405, ``get-empty`` answers GET with an empty recordset (an old proxy ignoring it)."""

    def handle(req: Request) -> tuple[int, str, bytes]:
        if req.method == "GET":
            if mode == "post-only":
                return 405, "text/html", b"Method Not Allowed"
            name = f"col{req.query['columnid']}-page{req.query['page']}.xml"
            if mode == "get-empty":
                name = "col1230-empty.xml"
        else:
            q = req.query
            name = f"col{req.form['columnid']}-records{q['startrecord']}-{q['endrecord']}.xml"
        file = ROOT / "dataproxy" / name
        if not file.exists():
            file = ROOT / "dataproxy" / "col1230-empty.xml"  # a page past the end
        return 200, "text/xml", file.read_bytes()

    return handle


def downfile(req: Request) -> tuple[int, str, bytes]:
    name = req.query["filename"]
    media = "application/pdf" if name.endswith(".pdf") else "application/msword"
    return 200, media, f"file {name}".encode()


@pytest.fixture
def site() -> Iterator[PageServer]:
    with serving("hanweb") as server:
        server.routes["/module/web/jpage/dataproxy.jsp"] = proxy_route()
        server.routes["/module/download/downfile.jsp"] = downfile
        yield server


def hanweb(server: PageServer, **options: str) -> HanwebSource:
    cfg = source_config(server.url, "hanweb", COLUMNS, hanweb=HanwebConfig(**options))  # type: ignore[arg-type]
    source = make_source(cfg)
    assert isinstance(source, HanwebSource)
    return source


def ids(source: HanwebSource, column: str) -> list[tuple[int, int | None, list[str]]]:
    return [
        (p.number, p.page_count, [e.article_id for e in p.entries])
        for p in source.list_pages(column)
    ]


PROXY = "/module/web/jpage/dataproxy.jsp"
GET_PARAMS = (
    "webid=1&path=%2F&columnid=1230&unitid=7701"
    "&webname=%E4%BD%99%E5%A7%9A%E6%95%99%E8%82%B2%E7%BD%91&permissiontype=0"
)


def test_listing_pages_through_the_get_form(site):
    source = hanweb(site)
    assert ids(source, "zcwj") == [
        (0, 3, ["100001", "100015"]),
        (1, 3, ["100014", "100003", "100012"]),
        (2, 3, ["100011"]),
    ]
    assert site.requests() == [
        "/col/col1230/index.html",
        f"{PROXY}?page=2&{GET_PARAMS}",
        f"{PROXY}?page=3&{GET_PARAMS}",
    ]


@pytest.mark.parametrize("mode", ["post-only", "get-empty"])
def test_listing_falls_back_to_the_post_form(site, mode):
    site.routes[PROXY] = proxy_route(mode)
    source = hanweb(site)
    assert ids(source, "zcwj") == [
        (0, 3, ["100001", "100015"]),
        (1, 3, ["100014", "100003", "100012"]),
        (2, 3, ["100011"]),
    ]
    assert site.requests("GET") == ["/col/col1230/index.html", f"{PROXY}?page=2&{GET_PARAMS}"]
    assert site.requests("POST") == [
        f"{PROXY}?startrecord=4&endrecord=6&perpage=3",
        f"{PROXY}?startrecord=7&endrecord=9&perpage=3",
    ]


def test_a_proxy_refusing_both_forms_fails_the_column_not_ends_it(site):
    site.routes[PROXY] = lambda req: (404, "text/html", b"")
    pages = hanweb(site).list_pages("zcwj")
    assert next(pages).number == 0
    with pytest.raises(Skippable, match="answers neither form; listing incomplete"):
        next(pages)


def test_unitid_from_script_variables_and_webid_from_config(site):
    source = hanweb(site, webid="1")
    assert ids(source, "ghjh") == [
        (0, 2, ["100010", "100001", "100000", "100009"]),
        (1, 2, ["100008"]),
    ]
    assert site.requests() == [
        "/col/col1231/index.html",
        f"{PROXY}?page=2&columnid=1231&unitid=7701&webid=1&permissiontype=0",
    ]


def test_an_unchanged_column_page_costs_one_304(site):
    source = hanweb(site)
    list(source.list_pages("zcwj"))
    again = hanweb(site)
    again.validators = dict(source.new_validators)
    pages = list(again.list_pages("zcwj"))
    assert [(p.number, p.not_modified, p.entries) for p in pages] == [(0, True, ())]
    assert site.hits[("GET", "/col/col1230/index.html", 304)] == 1


def entry(path: str, column: str = "zcwj", list_title: str = "", date: str | None = None):
    return ListEntry(column, path, article_id(path) or "", list_title, date)


def test_fetch_item_full_title_meta_and_downfile_attachments(site):
    source = hanweb(site)
    raw = source.fetch_item(
        entry(site.url + "art/2012/12/5/art_1230_100015.html", list_title=SHOWN_TITLE)
    )
    assert isinstance(raw, RawItem)
    assert (raw.article_id, raw.title, raw.list_title) == ("100015", FULL_TITLE, SHOWN_TITLE)
    assert raw.meta["生成日期"] == "2012-12-03"
    assert raw.replacement_chars == 0
    assert [(a.name, a.media_type, a.size) for a in raw.attachments] == [
        ("报名表.doc", "application/msword", len("file 1212051530456.doc")),
        ("余姚市中小学校布局调整规划（2013—2020年）.pdf", "application/pdf", 22),
    ]
    assert raw.attachments[1].sha256 == hashlib.sha256(b"file 1212051530123.pdf").hexdigest()
    assert not any("zj.gov.cn" in a.url for a in raw.attachments)  # another host's file
    assert "省厅通知.pdf" in raw.body_text  # the link stays in the body, only not downloaded


def test_two_fetches_with_different_counters_give_the_same_body(site):
    versions = iter(
        [
            (ROOT / "art/2012/12/5/art_1230_100015.html").read_bytes(),
            (ROOT / "variants/art_1230_100015.later.html").read_bytes(),
        ]
    )
    site.routes["/art/2012/12/5/art_1230_100015.html"] = lambda req: (
        200,
        "text/html",
        next(versions),
    )
    source = hanweb(site)
    url = site.url + "art/2012/12/5/art_1230_100015.html"
    first, second = source.fetch_item(entry(url)), source.fetch_item(entry(url))
    assert isinstance(first, RawItem) and isinstance(second, RawItem)
    assert first.body_html == second.body_html
    assert first.body_text == second.body_text
    assert "阅读次数" not in first.body_html and "<!--" not in first.body_html


def test_gbk_article_decoded_exactly(site):
    source = hanweb(site)
    pages = list(source.list_pages("jgzn"))
    assert [e.list_title for e in pages[0].entries][
        1
    ] == "余姚市教育局领导班子成员及分工（陈喆同志任副局长）"
    raw = source.fetch_item(pages[0].entries[0])
    assert isinstance(raw, RawItem)
    assert (raw.charset, raw.charset_how, raw.replacement_chars) == ("gb18030", "meta", 0)
    assert raw.title == "余姚市教育局主要职责内设机构和人员编制规定"
    assert raw.meta["文号"] == "余政办发〔2012〕88号"
    assert "局长：王建国；副局长：陈喆、李娟。" in raw.body_text
    assert "\ufffd" not in raw.body_html


@pytest.mark.parametrize("mode", ["get", "post-only"])
def test_gbk_data_proxy_xml_decoded_by_its_declaration(site, mode):
    site.routes[PROXY] = proxy_route(mode)
    pages = list(hanweb(site).list_pages("jgzn"))
    assert [(p.number, p.page_count) for p in pages] == [(0, 2), (1, 2)]
    assert [e.list_title for e in pages[1].entries] == [
        "余姚市教育局内设科室职能（喆、堃、镕等生僻字测试）"
    ]


def test_cross_listed_article_is_one_item(site):
    source = hanweb(site)
    zcwj = [e for p in source.list_pages("zcwj") for e in p.entries if "100003" in e.url]
    jgzn = [e for p in source.list_pages("jgzn") for e in p.entries if "100003" in e.url]
    assert [e.url.rsplit("/", 1)[1] for e in zcwj + jgzn] == [
        "art_1229_100003.html",
        "art_1229_100003.html",
    ]
    assert {e.article_id for e in zcwj + jgzn} == {"100003"}


def test_a_redesigned_article_is_a_layout_alarm(site):
    source = hanweb(site)
    with pytest.raises(LayoutAlarm) as caught:
        source.fetch_item(entry(site.url + "art/2012/11/29/art_1231_100000.html", "ghjh"))
    assert caught.value.column == "ghjh"
    assert "the article has no body" in str(caught.value)


def test_a_missing_article_is_gone(site):
    source = hanweb(site)
    gone = source.fetch_item(entry(site.url + "art/2012/1/1/art_1230_1.html"))
    assert (type(gone).__name__, getattr(gone, "status", None)) == ("Gone", 404)
