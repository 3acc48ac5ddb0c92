"""Shared parsing helpers: list dates, pinned marks, label pairs, file links, volatile parts."""

from __future__ import annotations

import re

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bridge.labels import PAGE_META_NAMES, label_key
from bridge.net.scope import Scope
from bridge.sources import links, parse, volatile
from bridge.sources.article import (
    META_PLACEHOLDERS,
    _clean_label_key,
    clean,
    doc_title,
    page_meta,
    scoped_metadata,
)
from bridge.sources.volatile import strip_volatile


def html_of(el: lxml.html.HtmlElement) -> str:
    return etree.tostring(el, encoding="unicode", method="html")


def stripped(fragment_html: str) -> str:
    root = parse.fragment(fragment_html, "http://site.example/a/b.html")
    strip_volatile(root)
    return html_of(root)


# --- list dates and pinned lines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("2012-12-03", "2012-12-03"),
        ("[2012-12-03]", "[2012-12-03]"),
        ("（2012-12-03）", "（2012-12-03）"),
        ("12-03", "12-03"),
        ("12月3日", "12月3日"),
        ("2012年12月3日", "2012年12月3日"),
        ("2012 年 12 月 3 日", "2012 年 12 月 3 日"),
        ("二〇一二年十二月三日", "二〇一二年十二月三日"),
        ("发布时间：2012/12/5 09:12", "2012/12/5 09:12"),
        ("第3-5条", None),
        ("浏览 1234 次", None),
    ],
)
def test_find_list_date_keeps_the_text_as_written(text, found):
    assert parse.find_list_date(text) == found


@pytest.mark.parametrize(
    ("line", "pinned"),
    [
        ('<li><span>[置顶]</span><a href="/a.html">标题</a></li>', True),
        ('<li class="istop"><a href="/a.html">标题</a></li>', True),
        ('<li><img src="/images/zd.gif"><a href="/a.html">标题</a></li>', True),
        ('<li><img alt="置顶"><a href="/a.html">标题</a></li>', True),
        ('<li><a href="/a.html" title="关于置顶帖管理的通知">关于置顶帖管理的通知</a></li>', False),
        ('<li class="topic"><a href="/a.html">标题</a></li>', False),
    ],
)
def test_is_pinned(line, pinned):
    item = lxml.html.fragment_fromstring(line)
    assert parse.is_pinned(item, item.find(".//a")) is pinned


# --- metadata ------------------------------------------------------------------------------


def test_scoped_metadata_lines_inside_a_layout_table_but_not_lines_of_a_table():
    doc = lxml.html.fromstring(
        "<table><tr><td><ul class='meta'><li>索 引 号：A/2012-00002</li></ul>"
        "<table class='t'><tr><td><p>地址：某路1号</p></td></tr></table></td></tr></table>"
    )
    assert scoped_metadata(doc.cssselect("ul.meta")) == {"索引号": "A/2012-00002"}
    assert scoped_metadata(doc.cssselect("table.t")) == {"地址": "某路1号"}


def test_scoped_metadata_reads_tables_dl_and_lines():
    doc = lxml.html.fromstring(
        "<div>"
        "<table><tr><td>索 引 号：</td><td>A/2012-00001</td></tr></table>"
        "<dl><dt>文　　号：</dt><dd>余教〔2012〕1号</dd><dt>主 题 词</dt><dd>教育</dd></dl>"
        "<ul><li>公开方式：主动公开</li><li>有 效 性：有效　公开范围：面向全社会</li></ul>"
        "<p>组配分类：政策文件</p>"
        "</div>"
    )
    assert scoped_metadata([doc]) == {
        "索引号": "A/2012-00001",
        "文号": "余教〔2012〕1号",
        "主题词": "教育",
        "公开方式": "主动公开",
        "有效性": "有效",
        "公开范围": "面向全社会",
        "组配分类": "政策文件",
    }


# --- file links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "text", "name"),
    [
        ("http://h/a/P020121203.pdf", "附件1：招生计划.pdf", "招生计划.pdf"),
        ("http://h/a/P020121203.pdf", "", "P020121203.pdf"),
        # The label is the name when nothing but an extension follows it (issue 19).
        ("http://h/a/P020121203.pdf", "附件2.pdf", "附件2.pdf"),
        ("http://h/a/P020121203.pdf", "附件 3", "附件 3"),
        ("http://h/download.do?id=5", "附件2.pdf", "附件2.pdf"),
        (
            "http://h/module/download/downfile.jsp?classid=0&filename=1212.pdf",
            "方案.pdf",
            "方案.pdf",
        ),
        (
            "http://h/module/download/downfile.jsp?classid=0&filename=1212.doc",
            "报名表",
            "报名表.doc",
        ),
        ("http://h/module/download/downfile.jsp?filename=%E5%90%8D%E5%8D%95.xls", "", "名单.xls"),
        ("http://h/download.do?id=5", "学区一览表.xlsx", "学区一览表.xlsx"),
        ("http://h/art/2012/12/5/art_1_2.html", "见附件.pdf", None),
        ("http://h/module/download/downfile.jsp?classid=0", "下载", None),
    ],
)
def test_file_link_name(href, text, name):
    assert parse.file_link_name(href, text) == name


def test_attachment_links_skip_other_hosts_and_repeats():
    root = parse.fragment(
        '<a href="/module/download/downfile.jsp?filename=1.pdf">甲.pdf</a>'
        '<a href="/module/download/downfile.jsp?filename=1.pdf">下载</a>'
        '<a href="http://other.example/2.pdf">乙.pdf</a>'
        '<a href="/art/2012/1/1/art_1_1.html">正文</a>',
        "http://site.example/art/x.html",
    )
    site = Scope("http://site.example/")
    assert parse.attachment_links([root], site.admits) == [
        ("甲.pdf", "http://site.example/module/download/downfile.jsp?filename=1.pdf")
    ]


def test_attachment_links_ask_the_scope_only_about_file_links():
    """A link that names no file is passed over before the scope is asked (a URL parse);
    one that urlsplit cannot read is still only refused, as before."""
    root = parse.fragment(
        '<a href="/art/1.html">正文</a><a href="/2.pdf">乙.pdf</a><a href="http://[bad/3.pdf">丙</a>',
        "http://site.example/art/x.html",
    )
    site = Scope("http://site.example/")
    asked: list[str] = []

    def allowed(url: str) -> bool:
        asked.append(url)
        return site.admits(url)

    assert parse.attachment_links([root], allowed) == [("乙.pdf", "http://site.example/2.pdf")]
    assert asked == ["http://site.example/2.pdf", "http://[bad/3.pdf"]


# --- volatile parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<p>正文</p><p>浏览次数：123</p>", "<div><p>正文</p><p></p></div>"),
        ("<p>阅读次数: 45 点击数：7 访问量：9</p>", "<div><p></p></div>"),
        ("<p>【浏览次数：<span>88</span>次】</p>", "<div><p></p></div>"),
        ("<p>点击：<font>88</font></p>", "<div><p></p></div>"),
        ("<p>共<b>3</b>条</p>", "<div><p>共<b>3</b>条</p></div>"),
        ("<p>页面生成时间：2026-11-28 09:12:33</p>", "<div><p></p></div>"),
        ("<p>页面执行时间 0.012 秒</p>", "<div><p></p></div>"),
        ("<p>正文<!-- generated 2026-11-28 -->续</p>", "<div><p>正文续</p></div>"),
        ('<p>浏览：<span id="visits">1</span>次</p>', "<div><p></p></div>"),
        ('<p>x<span class="view-count">1</span>y</p>', "<div><p>xy</p></div>"),
        ('<div class="gen-time">2026-11-28 09:12:33</div><p>正文</p>', "<div><p>正文</p></div>"),
        ('<span id="ct_count">5</span>', "<div></div>"),
        ("<p>生成日期：2012-12-03</p>", "<div><p>生成日期：2012-12-03</p></div>"),
        (
            '<div class="views">正文' + "很长" * 40 + "</div>",
            '<div><div class="views">正文' + "很长" * 40 + "</div></div>",
        ),
        (
            '<div class="viewer">查看器</div><p class="account">账户</p>',
            '<div><div class="viewer">查看器</div><p class="account">账户</p></div>',
        ),
    ],
)
def test_strip_volatile(before, after):
    assert stripped(before) == after


_PIECES = [
    "浏览次数：", "点击：", "阅读：", "访问量: ", "查看次数：", '<span class="x">3</span>', "12",
    "<b>88</b>", "次", "页面生成时间：", "2026-11-28 09:12:33", "执行时间 0.01 秒",
    "generated at 2026-11-28", "<p>正文</p>", "执行", "浏览", "<b>", "</b>",
    '<div class="gen-time">', "</div>", "<!-- c -->", '<span id="visits">7</span>',
]  # fmt: skip


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_PIECES), max_size=8))
def test_a_body_without_counter_words_is_stripped_as_by_the_full_walk(pieces):
    """strip_volatile skips the text walk when the body names no counter or stamp: the
    result is what the walk over every element and text gives."""
    fragment = "<div>" + "".join(pieces) + "</div>"
    quick = stripped(fragment)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(volatile, "_COUNTER_WORD", re.compile(""))  # every body is "wordy"
        assert stripped(fragment) == quick


_NAMING = [
    '<div id="a" class="b">', '<div class="">', '<span id="">', "<p>", "<b>", "</b>", "</p>",
    "</span>", "</div>", "<!-- c -->", "x", '<i class="count">1</i>', "<br>", '<a id="z"/>',
]  # fmt: skip


@given(st.lists(st.sampled_from(_NAMING), max_size=12))
def test_named_elements_and_comments_are_found_in_page_order(pieces):
    """``_named_or_comments`` reads the id and class attributes, not an element predicate:
    it finds what the predicate does, in the same order."""
    root = lxml.html.fragment_fromstring("".join(pieces), create_parent="div")
    by_predicate = root.xpath("descendant::*[@id or @class] | descendant::comment()")
    assert volatile._named_or_comments(root) == by_predicate


def test_counters_in_long_paragraphs_are_content():
    text = (
        "2012年，本局门户网站共发布信息1234条，" + "全年访问量：98765次，" + "较上年增长12%。" * 12
    )
    assert stripped(f"<p>{text}</p>") == f"<div><p>{text}</p></div>"


@given(
    visits=st.lists(st.integers(min_value=0, max_value=10**9), min_size=2, max_size=2),
    times=st.lists(st.times(), min_size=2, max_size=2),
)
def test_any_counter_value_and_stamp_give_the_same_body(visits, times):
    def page(n: int, at: object) -> str:
        return (
            "<p>各中小学校：</p><p>现将有关事项通知如下。</p>"
            f'<div class="info">浏览次数：<span id="visits">{n}</span></div>'
            f"<p>阅读次数：<b>{n}</b>次　页面生成时间：2026-11-28 {at:%H:%M:%S}</p>"
            f"<!-- cache {n} {at} -->"
        )

    first, second = (stripped(page(n, at)) for n, at in zip(visits, times, strict=True))
    assert first == second
    assert (
        first
        == '<div><p>各中小学校：</p><p>现将有关事项通知如下。</p><div class="info"></div><p></p></div>'
    )


# --- links made absolute ------------------------------------------------------------------

_TRICKY_LINKS = """<html><head><base href="/site/"><link href="style.css"></head><body>
<a href="  ../a/b.html  ">padded</a> <a href="javascript:void(0)">script</a>
<a href="#top">anchor</a> <a href="">empty</a> <a href="mailto:office@yyedu.gov.cn">mail</a>
<a href="HTTP://Other.example/./x/../y">upper</a> <img src="img/p.png" longdesc="d.html">
<form action="?q=1"><button formaction="go">g</button></form>
<blockquote cite="//cdn.example/q"></blockquote> <td background="bg.gif"></td>
<a href="/附件/通知.pdf">附件</a> <a href="a%20b.doc?x=1&amp;y=2">query</a></body></html>"""
URL = "http://www.yyedu.gov.cn/col/col1532/index.html"


def test_links_are_made_absolute_as_lxml_makes_them():
    """absolutize_links does in libxml2 what lxml's make_links_absolute does in Python."""
    ours = lxml.html.document_fromstring(_TRICKY_LINKS)
    lxmls = lxml.html.document_fromstring(_TRICKY_LINKS)
    parse.absolutize_links(ours, URL, resolve_base_href=True)
    lxmls.make_links_absolute(URL, resolve_base_href=True, handle_failures="ignore")
    assert html_of(ours) == html_of(lxmls)
    assert next(ours.iter("a")).get("href") == "http://www.yyedu.gov.cn/a/b.html"


def test_a_link_urljoin_refuses_stays_as_it_was_and_base_is_left_when_asked():
    page = _TRICKY_LINKS.replace("<body>", '<body><a href="http://[::1/x">bad IPv6</a>')
    doc = lxml.html.document_fromstring(page)
    parse.absolutize_links(doc, URL, resolve_base_href=False)  # lxml raised here
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert hrefs[:2] == ["http://[::1/x", "http://www.yyedu.gov.cn/col/a/b.html"]
    assert len(doc.findall(".//base")) == 1


@given(
    st.lists(st.text(alphabet="./?#:;%@ab字 \t", max_size=12), min_size=1, max_size=6),
    st.sampled_from(
        [
            "http://site.example/a/b/c.html",
            "http://site.example/a/b/",
            "http://site.example",
            "https://site.example/a;p/b.jsp;jsessionid=1?x=1&y=2#top",
            "http://site.example/a/b/c.html?page=2",
            "http://[::1]:8080/col/index.html",
        ]
    ),
)
def test_any_link_text_is_made_absolute_as_lxml_does(links, url):
    page = "<html><body>" + "".join(f'<a href="{link}">x</a>' for link in links) + "</body></html>"
    ours, lxmls = lxml.html.document_fromstring(page), lxml.html.document_fromstring(page)
    parse.absolutize_links(ours, url, resolve_base_href=True)
    lxmls.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    assert html_of(ours) == html_of(lxmls)


_ATTRIBUTE_NAMES = [*links.LINK_ATTRIBUTES, "style", "class", "data-src", "hrefs", "title"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "img", "div", "td", "form", "blockquote"]),
            st.lists(st.sampled_from(_ATTRIBUTE_NAMES), max_size=4, unique=True),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_link_attribute_is_made_absolute_as_lxml_does(elements):
    """Each attribute is picked by its name; the others stay as they were."""
    tags = []
    for tag, names in elements:
        attributes = " ".join(f'{name}="x/{name}.html"' for name in names)
        tags.append(f"<{tag} {attributes}></{tag}>")
    page = f"<html><body>{''.join(tags)}</body></html>"
    ours, lxmls = lxml.html.document_fromstring(page), lxml.html.document_fromstring(page)
    parse.absolutize_links(ours, URL, resolve_base_href=True)
    lxmls.make_links_absolute(URL, resolve_base_href=True, handle_failures="ignore")
    assert html_of(ours) == html_of(lxmls)


def test_a_base_href_no_browser_could_use_is_ignored_and_one_with_spaces_is_trimmed():
    page = '<html><head><base href="{}"></head><body><a href="a.html">a</a></body></html>'
    broken = lxml.html.document_fromstring(page.format("http://[::1/x/"))
    parse.absolutize_links(broken, URL, resolve_base_href=True)
    assert next(broken.iter("a")).get("href") == "http://www.yyedu.gov.cn/col/col1532/a.html"
    spaced = lxml.html.document_fromstring(page.format("\u3000 /site/ \n"))
    parse.absolutize_links(spaced, URL, resolve_base_href=True)
    assert next(spaced.iter("a")).get("href") == "http://www.yyedu.gov.cn/site/a.html"
    assert spaced.find(".//base") is None


@pytest.mark.parametrize(
    "tag",
    ['<base href="/site/">', '<BASE HREF="/site/">', '<Base\n  target="_blank" href="/site/">'],
)
def test_a_base_href_is_applied_however_its_tag_is_written(tag):
    """The page's text is searched for a base tag before the tree is: in any case."""
    page = f'<html><head>{tag}</head><body><a href="a.html">a</a></body></html>'
    doc, base = parse.page_document(page, URL)
    assert base == "http://www.yyedu.gov.cn/site/" and doc.find(".//base") is None
    assert parse.page_document(page.replace(tag, ""), URL)[1] == URL


def test_links_are_made_absolute_within_the_scopes_each_once():
    page = (
        '<html><head><base href="/site/"></head><body><a href="nav.html">nav</a>'
        '<div id="outer"><a href="a.pdf">a</a><p id="inner"><img src="i.png"></p></div>'
        '<div id="fj"><a href="?f=b.doc">b</a></div></body></html>'
    )
    doc, base = parse.page_document(page, URL)
    assert base == "http://www.yyedu.gov.cn/site/" and doc.find(".//base") is None
    elsewhere = parse.fragment('<a href="x.html">x</a>', "http://other.example/d/")
    scopes = [doc.get_element_by_id("inner"), doc.get_element_by_id("outer"), None]
    links.absolutize_within(doc, [*scopes, doc.get_element_by_id("fj"), elsewhere], base)
    assert [(el.tag, el.get("href") or el.get("src")) for el in doc.iter("a", "img")] == [
        ("a", "nav.html"),  # not kept: left as the page wrote it
        ("a", "http://www.yyedu.gov.cn/site/a.pdf"),
        ("img", "http://www.yyedu.gov.cn/site/i.png"),
        ("a", "http://www.yyedu.gov.cn/site/?f=b.doc"),
    ]
    assert elsewhere[0].get("href") == "http://other.example/d/x.html"  # its own base


def test_a_page_document_with_links_made_absolute_is_the_document():
    scoped, base = parse.page_document(_TRICKY_LINKS, URL)
    links.absolutize_within(scoped, [scoped], base)
    assert html_of(scoped) == html_of(parse.document(_TRICKY_LINKS, URL))


@pytest.mark.parametrize(
    ("css", "reads"),
    [
        ('a[href$=".pdf"]', True),
        ("img[ src ]", True),
        ("div.fj a", False),
        ('div[class="fj"]', False),
        (None, False),
    ],
)
def test_a_selector_that_tests_a_link_value_is_known(css, reads):
    assert links.css_reads_links(css) is reads


@given(
    st.text(
        alphabet="页面生成执行运行加载时间耗于：: 0123456789-.秒msGENERATEDgeneratedonat年月日",
        max_size=40,
    )
)
def test_every_stamp_text_holds_a_stamp_word(text):
    """strip_volatile asks _STAMP_TEXT only about a body that _may_stamp."""
    if volatile._STAMP_TEXT.search(text):
        assert volatile._may_stamp(text)


@given(st.from_regex(volatile._STAMP_TEXT))
def test_every_stamp_holds_a_stamp_word(text):
    """Any text _STAMP_TEXT finds a stamp in (any case, anything around it)."""
    assert volatile._may_stamp(text)


# --- the <title> and the meta tags ---------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        "<title> 关于 \u3000 通知 - 某市 </title>",
        "<title></title>",
        "",
        "<title>a<!-- c -->b</title>",
        "<title>a<b>粗</b>c</title>",
        "<title>一</title><title>二</title>",
        '<meta name="ArticleTitle" content="标题"><meta name="articletitle " content="二">'
        '<meta name="PubDate" content=" 2024-01-01 "><meta name="SiteName" content="网站名称">'
        '<meta name="ContentSource" content=""><meta name="ContentSource" content="来源单位">'
        '<meta charset="utf-8"><meta name="keywords" content="k">',
    ],
)
def test_the_title_and_meta_tags_are_read_as_a_path_search_reads_them(head):
    doc, _ = parse.page_document(f"<html><head>{head}</head><body><p>x</p></body></html>", URL)
    title = doc.find(".//title")
    assert doc_title(doc) == (clean(title.text_content()) if title is not None else "")
    wanted = {name.lower(): name for name in PAGE_META_NAMES}
    expected: dict[str, str] = {}
    for meta in doc.iter("meta"):
        name = wanted.get((meta.get("name") or "").strip().lower())
        content = clean(meta.get("content"))
        if name and content and content not in META_PLACEHOLDERS and name not in expected:
            expected[name] = content
    assert page_meta(doc) == expected


@given(st.text(alphabet=" \t\n\u3000\xa0\x1f\x0b:：索引号x字", max_size=20))
def test_a_clean_text_s_label_key_is_read_without_a_regex(text):
    """The metadata table's cells are clean: their label key needs no regex."""
    assert _clean_label_key(clean(text)) == label_key(clean(text))


# --- a body's HTML --------------------------------------------------------------------------

_BODY_PIECES = [
    "a & b", "x < y", "<p>段</p>", "<br>", "<img src='a.png' alt='\"'>", "\r\n", "&nbsp;",
    "<!-- c -->", "<o:p>w</o:p>", "<script>if (a < b) {}</script>", "&#1;", "\xa0字",
    '<span class="a" id="b" data-x="1 > 0">s</span>', "</td>", "<td>c</td>", "<table>",
]  # fmt: skip
_BODY_TAGS = ["div", "p", "td", "span", "o:p", "script", "img", "table"]


@given(
    st.sampled_from(_BODY_TAGS),
    st.sampled_from(["", ' class="TRS_Editor"', ' id="zoom" class="a&amp;b"', " hidden", ' a"b=1']),
    st.lists(st.sampled_from(_BODY_PIECES), max_size=6),
)
def test_a_body_s_html_is_cut_out_of_its_whole_serialization_as_it_was_joined(tag, attrs, pieces):
    """inner_html cuts the children's HTML out of the element's serialization: the same
    text as the serialization of each child, after the element's own text as it is."""
    doc, _ = parse.page_document(
        f"<html><body><{tag}{attrs}>{''.join(pieces)}</{tag}>tail</body></html>", URL
    )
    for el in doc.find("body").iter():
        if isinstance(el.tag, str):
            assert parse.inner_html(el) == parse._inner_html_by_child(el)


@given(st.lists(st.sampled_from(["<p>x</p>", "</BODY >", "</html>", "</htm", "\n", "字" * 300])))
def test_a_page_is_incomplete_when_no_end_tag_is_anywhere(pieces):
    text = "".join(pieces)
    assert parse.incomplete(text) == (parse._END_TAG.search(text) is None)


_SEGMENTS = ["a", "..", ".", "", "字", ";p", "b c", "%20", "x.html"]


@settings(max_examples=300)
@given(
    st.sampled_from(["http://site.example", "https://site.example:8080", "HTTP://Site.example"]),
    st.lists(st.sampled_from(_SEGMENTS), max_size=4),
    st.sampled_from(["", "?q=1", "?q=a/b", "#f/g"]),
    st.sampled_from(["", "./", "././"]),
    st.sampled_from(["a", ".", "..", "字.pdf", "P020.pdf", "a:b", "a;b", "a?x", "", "x y", "/a"]),
)
def test_a_link_of_the_page_s_folder_is_joined_as_urljoin_joins_it(
    origin, segments, rest, dot, name
):
    """A plain base and a plain name are joined without urljoin: as urljoin joins them."""
    base, href = origin + "/" + "/".join(segments) + rest, dot + name
    page = f'<html><body><a href="{href}">x</a></body></html>'
    ours, lxmls = lxml.html.document_fromstring(page), lxml.html.document_fromstring(page)
    parse.absolutize_links(ours, base, resolve_base_href=True)
    lxmls.make_links_absolute(base, resolve_base_href=True, handle_failures="ignore")
    assert html_of(ours) == html_of(lxmls)


def test_a_file_link_of_nested_scopes_is_read_and_asked_about_once():
    doc = lxml.html.fromstring(
        '<div><div class="attachments"><p>附件：</p><ul><li><a href="http://h/P1.pdf">通知.pdf</a>'
        '</li></ul></div><a href="http://h/P1.pdf">again</a><a href="http://h/x.html">x</a></div>'
    )
    block = doc.find_class("attachments")[0]
    asked: list[str] = []

    def allowed(href: str) -> bool:
        asked.append(href)
        return True

    found = parse.attachment_links([doc, block, block.find("ul")], allowed)
    assert found == [("通知.pdf", "http://h/P1.pdf")]
    assert asked == ["http://h/P1.pdf"]
