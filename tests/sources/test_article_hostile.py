"""What a hostile or careless page does to the article reader: nothing it writes as a
label inside a word, a placeholder, a script or a character no tree holds becomes a field
or a crash. (Found by a review of the real-page readers.)"""

from __future__ import annotations

from datetime import UTC, datetime

import lxml.html

from bridge.labels import line_pairs
from bridge.normalize import normalize
from bridge.normalize.record import draft
from bridge.raw import RawItem
from bridge.sources import parse
from bridge.sources.article import block_lines, metadata
from bridge.sources.container import largest_text_block
from bridge.sources.hanweb import parse_detail
from bridge.text import title_from_doc_title
from tests.normalize.test_record import PROFILE


def _raw(
    body_html: str, meta: dict[str, str] | None = None, title: str = "关于做好安全工作的通知"
) -> RawItem:
    doc = lxml.html.fragment_fromstring(body_html, create_parent="div")
    from bridge.sources.article import visible_text

    return RawItem(
        source="yyedu",
        column="tzgg",
        url="http://127.0.0.1/t1.html",
        article_id="t1",
        title=title,
        list_title=title,
        list_date="2025-03-03",
        meta={"发布时间": "2025-03-03 09:00", **(meta or {})},
        body_html=body_html,
        body_text=visible_text(doc),
        attachments=(),
        fetched_at=datetime(2025, 3, 4, tzinfo=UTC),
    )


def test_a_label_inside_a_word_is_no_label():
    assert line_pairs("发布日期：2020-01-01药品批准文号：国药准字H20000001") == [
        ("发布日期", "2020-01-01药品批准文号：国药准字H20000001")
    ]
    assert line_pairs("发布时间：2012-12-05 09:30来源：本站") == [
        ("发布时间", "2012-12-05 09:30"),
        ("来源", "本站"),
    ]


def test_a_sentence_naming_its_data_source_is_body_not_publisher():
    sentence = "据统计，全市学校数据来源：市统计局，共有100所，比上年增加5所。"
    d = draft(_raw(f"<p>{sentence}</p>"), PROFILE)
    assert (d.fields["publisher"], d.provenance["publisher"]) == ("余姚市教育局", "config")
    assert d.fields["summary"] == sentence


def test_a_placeholder_index_number_is_none():
    for placeholder in ("无索引号", "—/—", "null/null", "无/无", "暂无"):
        d = draft(_raw("<p>正文。</p>", {"索引号": placeholder}), PROFILE)
        assert d.fields["index_no"] is None and "index_no" not in d.provenance, placeholder


def test_script_and_style_in_a_body_give_no_field_and_no_summary():
    body = (
        "<p><img src='a.png'></p><script>var s='来源：黑客局'; document.write('x')</script>"
        "<style>p{color:red}</style>"
    )
    record = normalize(_raw(body), PROFILE)
    assert record.publisher == "余姚市教育局"
    assert "黑客" not in record.summary and "color" not in record.summary


def test_a_control_character_in_a_link_is_dropped_not_a_crash():
    doc = parse.document(
        '<html><body><div class="TRS_Editor"><a href="a&#1;.pdf">附件</a></div></body></html>',
        "http://127.0.0.1/c/t1.html",
    )
    assert doc.find(".//a").get("href") == "http://127.0.0.1/c/a.pdf"


def test_a_hanweb_marker_with_a_control_character_is_read():
    page = (
        "<html><head><title>t</title></head><body>"
        "<!--<$[标题名称]>begin-->关于&amp;\x01通知<!--<$[标题名称]>end-->"
        "<!--ZJEG_RSS.content.begin--><p>正文。</p><!--ZJEG_RSS.content.end-->"
        "</body></html>"
    )
    article = parse_detail(page, "http://127.0.0.1/art/2025/3/3/art_1_2.html")
    assert article.title == "关于&通知"


def test_unclosed_markup_in_a_title_is_read_in_one_pass():
    assert (
        title_from_doc_title("<a>" * 20000 + "关于做好安全工作的通知") == "关于做好安全工作的通知"
    )
    shown = "<span class=red>置顶</span>关于做好安全工作的通知_余姚市教育局"
    assert title_from_doc_title(shown) == "关于做好安全工作的通知"


def test_nested_inline_blocks_are_read_once_each():
    page = ("<div>索引号：x<span>" * 120) + "字" * 50 + ("</span></div>" * 120)
    doc = lxml.html.document_fromstring(f"<html><body>{page}</body></html>")
    assert metadata(doc) == {"索引号": "x"}
    lines = block_lines(doc.body)
    assert len(lines) == 120 and lines[-1] == "索引号：x" + "\x1f" + "字" * 50 + "\x1f"


def test_many_paragraphs_under_deep_furniture_find_no_body():
    page = "<div class='footer'>" + "<div>" * 250 + "<p>版权信息 " * 2000 + "</div>" * 251
    doc = lxml.html.document_fromstring(f"<html><body>{page}</body></html>")
    assert largest_text_block(doc) is None


def test_a_body_element_named_like_a_menu_is_still_the_page():
    text = "为进一步做好全市中小学安全工作，现将有关事项通知如下。" * 4
    doc = lxml.html.document_fromstring(
        f'<html><body class="navbar-fixed"><div class="main"><p>{text}</p><p>{text}</p></div>'
        '<div class="footer"><p>版权所有 余姚市教育局</p></div></body></html>'
    )
    block = largest_text_block(doc)
    assert block is not None and block.get("class") == "main"
