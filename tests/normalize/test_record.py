"""normalize(): a RawItem becomes the catalog record of DESIGN.md §4, or is quarantined
with every problem named (field, rule, page URL)."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import bridge.sandbox
from bridge.catalog import Attachment, NormalizeProfile
from bridge.errors import Skippable
from bridge.normalize import FieldProblem, QuarantineError, index_no_problem, normalize
from bridge.normalize.dates import SHANGHAI
from bridge.raw import RawAttachment, RawItem

SEED_REPORT = Path(bridge.sandbox.__file__).parent / "data" / "seed_report_2012.txt"
"""The bureau's 2012 report (../shared/seeds/000_549620f865b56b29.txt), as the sandbox ships it."""

URL = "https://www.yyedu.gov.cn/zwgk/qt/201212/t20121205_1.html"
FETCHED = datetime(2013, 1, 2, 10, 0, tzinfo=SHANGHAI)
PROFILE = NormalizeProfile(
    source="yyedu",
    publisher="余姚市教育局",
    org_code="002949236",
    column_categories={"qt": "其他", "zcwj": "政策文件", "gzdt": "mixed"},
)
SHA = "ab" * 32


def raw_item(paragraphs: list[str], **changes: Any) -> RawItem:
    item = RawItem(
        source="yyedu",
        column="gzdt",
        url=URL,
        article_id="t20121205_1",
        title="关于做好寒假安全工作的通知",
        list_title="关于做好寒假安全工作的通知",
        list_date=None,
        meta={},
        body_html="".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
        body_text="\n".join(paragraphs),
        attachments=(),
        fetched_at=FETCHED,
    )
    return replace(item, **changes)


BODY = ["各中小学：", "为做好寒假安全工作，现将有关事项通知如下。", "余姚市教育局", "2012年12月3日"]


def seed_item() -> RawItem:
    with open(SEED_REPORT, encoding="utf-8") as f:
        paragraphs = [line.strip() for line in f if line.strip()]
    return raw_item(
        paragraphs,
        column="qt",
        title=paragraphs[0],
        list_title=paragraphs[0],
        list_date="2012-12-05",
    )


def test_the_seed_report_becomes_the_record_the_issue_names() -> None:
    record = normalize(seed_item(), PROFILE)
    assert record.created == date(2012, 12, 3)
    assert record.category == "其他"
    assert record.classified_by == "column:qt"
    assert record.genre == "总结"
    assert record.publisher == "余姚市教育局"
    assert record.title == "2012年度市教育局政府信息公开总结"
    assert record.published == datetime(2012, 12, 5, tzinfo=SHANGHAI)
    assert record.doc_no is None
    assert record.external_id == "yyedu:t20121205_1"
    assert record.topic == "科技、教育\\教育"
    assert (record.disclosure, record.scope, record.validity) == ("主动公开", "面向全社会", "有效")
    assert record.summary == (
        "2012年，市教育局以贯彻落实《中华人民共和国政府信息公开条例》和《余姚市政务公开暂行规定》"
        "为主线，紧紧围绕《2012年全市政务公开工作要点》，积极开展政务公开工作，进一步改善行政管理，"
        "提高行政效能，为教育事业的改革与发展创造良好的外部环境，有力地促进了全局工作的顺利开展。"
    )
    assert len(record.summary) <= 150
    assert record.body_html.startswith(
        "<p>2012年度市教育局政府信息公开总结</p><p>余姚市教育局</p><p>（二〇一二年十二月三日）</p>"
    )
    assert record.source.url == URL and record.source.column == "qt"
    assert record.index_no is None


def test_the_seed_in_a_mixed_column_falls_back_to_the_default() -> None:
    record = normalize(replace(seed_item(), column="gzdt"), PROFILE)
    assert (record.category, record.classified_by) == ("其他", "default")


# --- quarantine ---------------------------------------------------------------------------


def quarantine(item: RawItem, **kwargs: Any) -> QuarantineError:
    with pytest.raises(QuarantineError) as info:
        normalize(item, PROFILE, **kwargs)
    return info.value


def test_missing_created_is_quarantined() -> None:
    error = quarantine(raw_item(["各中小学：", "现将有关事项通知如下。"]))
    assert error.problems == [
        FieldProblem("created", "created.required", "no 生成日期 found"),
    ]
    assert error.url == URL
    assert str(error) == (f"quarantined {URL}: created: no 生成日期 found (rule created.required)")
    assert isinstance(error, Skippable)


def test_an_unreadable_meta_date_is_named() -> None:
    error = quarantine(raw_item(["正文。"], meta={"生成日期": "2012-13-01"}))
    assert error.problems == [
        FieldProblem(
            "created",
            "created.required",
            "no 生成日期 found; meta 生成日期 '2012-13-01' is not a date (no month 13)",
        )
    ]


def test_malformed_meta_doc_no_is_quarantined() -> None:
    error = quarantine(raw_item(BODY, meta={"文号": "余教2012-12"}))
    assert error.problems == [
        FieldProblem(
            "doc_no", "doc_no.form", "meta 文号 '余教2012-12' is out of form: does not end with 号"
        ),
    ]
    assert str(error) == (
        f"quarantined {URL}: doc_no: meta 文号 '余教2012-12' is out of form: does not end with 号 "
        "(rule doc_no.form)"
    )


def test_a_truncated_list_title_is_never_a_title() -> None:
    error = quarantine(raw_item(BODY, title="", list_title="关于做好2012年寒假安全..."))
    assert error.problems == [
        FieldProblem(
            "title",
            "title.required",
            "no title on the detail page, and the list title '关于做好2012年寒假安全...' is truncated",
        )
    ]


def test_every_problem_is_reported_at_once() -> None:
    profile = replace(PROFILE, publisher="", default_category="新闻")
    item = raw_item(
        [],
        title="",
        list_title="关于……的通…",
        meta={"文号": "余教〔2012〕0号"},
        body_html="<script>alert(1)</script>",
        body_text="",
        replacement_chars=3,
        attachments=(RawAttachment("a.doc", "a.doc", "application/msword", 3, "xyz"),),
    )
    with pytest.raises(QuarantineError) as info:
        normalize(item, profile)
    assert [(p.field, p.rule) for p in info.value.problems] == [
        ("title", "title.required"),
        ("created", "created.required"),
        ("doc_no", "doc_no.form"),
        ("publisher", "publisher.required"),
        ("category", "category.form"),
        ("body", "body.required"),
        ("body", "body.charset"),
        ("attachments", "attachments.sha256"),
    ]
    assert info.value.problems[4].message == (
        "'新闻' (by rule default) is not one of 机构职能, 政策文件, 规划计划, 业务工作, 统计数据, 其他"
    )
    assert info.value.problems[6].message == "3 undecodable characters: the charset was misread"


def test_a_body_with_nothing_to_show_is_quarantined() -> None:
    error = quarantine(raw_item(["2012年12月3日"], body_html="<p>&nbsp;</p><style>p{}</style>"))
    assert error.problems == [FieldProblem("body", "body.required", "no text or image in the body")]


def test_a_document_made_after_the_page_was_read_is_quarantined() -> None:
    error = quarantine(raw_item(BODY, meta={"生成日期": "2013-01-03"}))
    assert error.problems == [
        FieldProblem("created", "created.future", "生成日期 2013-01-03 is after 2013-01-02")
    ]


# --- the fields, rule by rule -----------------------------------------------------------------


def test_meta_table_fields_win() -> None:
    meta = {
        "索 引 号：": "002949236/2012-00012",
        "发布机构": "余姚市教育局办公室",
        "生成日期": "2012年11月30日",
        "文号": "余教发[2012]12号",
        "主题分类": "科技、教育/教育",
        "公开方式": "依申请公开",
        "有效性": "废止",
        "主题词": "寒假，安全  通知",
        "内容概述": "关于寒假安全工作的通知。",
        "发布日期": "2012-12-05 09:30",
    }
    record = normalize(raw_item(BODY, meta=meta, list_date="2012-12-06"), PROFILE)
    assert record.publisher == "余姚市教育局办公室"
    assert record.created == date(2012, 11, 30)
    assert record.doc_no == "余教发〔2012〕12号"
    assert record.topic == "科技、教育\\教育"
    assert record.disclosure == "依申请公开"
    assert record.validity == "废止"
    assert record.keywords == ("寒假", "安全", "通知")
    assert record.summary == "关于寒假安全工作的通知。"
    assert record.published == datetime(2012, 12, 5, 9, 30, tzinfo=SHANGHAI)
    assert (record.category, record.classified_by) == ("政策文件", "doc_no")
    assert record.index_no == "002949236/2012-00012"  # the page's own, kept as written
    assert record.remarks == ()
    assert record.provenance == {
        "title": "page:heading",
        "published": "page:发布日期",
        "created": "page:生成日期",
        "doc_no": "page:文号",
        "index_no": "page:索引号",
        "publisher": "page:发布机构",
        "category": "derived:rules",
        "genre": "derived:title",
        "summary": "page:内容概述",
        "topic": "page:主题分类",
        "keywords": "page:主题词",
        "disclosure": "page:公开方式",
        "validity": "page:有效性",
        "scope": "default",
    }


def test_meta_values_out_of_range_fall_back_to_defaults() -> None:
    meta = {"主题分类": "<script>", "公开方式": "公开", "有效性": "有效期五年", "发布机构": "  "}
    record = normalize(raw_item(BODY, meta=meta), PROFILE)
    assert record.topic == "科技、教育\\教育"
    assert record.disclosure == "主动公开"
    assert record.validity == "有效"
    assert record.publisher == "余姚市教育局"


@pytest.mark.parametrize(
    ("meta", "paragraphs", "list_date", "created"),
    [
        ({"成文日期": "坏", "发文日期": "2012-11-29"}, BODY, None, date(2012, 11, 29)),
        ({}, BODY, "2012-12-05", date(2012, 12, 3)),  # the 落款 beats the list date
        ({}, ["正文。"], "2012-12-05", date(2012, 12, 5)),  # else the publication day
        ({}, ["正文。"], "12-31", date(2012, 12, 31)),  # MM-DD read on 2013-01-02
        ({"发布时间": "2012-12-04 23:59"}, ["正文。"], None, date(2012, 12, 4)),
    ],
)
def test_where_created_comes_from(
    meta: dict[str, str], paragraphs: list[str], list_date: str | None, created: date
) -> None:
    record = normalize(raw_item(paragraphs, meta=meta, list_date=list_date), PROFILE)
    assert record.created == created


def test_a_bad_list_date_leaves_published_empty() -> None:
    record = normalize(raw_item(BODY, list_date="昨天"), PROFILE)
    assert record.published is None
    assert record.created == date(2012, 12, 3)


def test_now_anchors_month_day_dates() -> None:
    item = raw_item(["正文。"], list_date="12-31")
    record = normalize(item, PROFILE, now=datetime(2014, 6, 1, tzinfo=SHANGHAI))
    assert record.created == date(2013, 12, 31)


@pytest.mark.parametrize(
    ("meta", "paragraphs", "title", "doc_no"),
    [
        ({"发文字号": "余教〔2012〕12号"}, BODY, "通知", "余教〔2012〕12号"),
        ({"文号": "无"}, ["余教〔2012〕12号", *BODY], "通知", None),  # the table says none
        ({}, ["余教〔2012〕12号", *BODY], "通知", "余教〔2012〕12号"),
        ({}, BODY, "关于印发《办法》的通知（余教[2012]12号）", "余教〔2012〕12号"),
        ({}, BODY, "关于转发甬教办〔2012〕3号文件的通知", None),
        ({}, ["各中小学：" + "甲" * 200, "余教〔2012〕12号"], "通知", None),  # not at the head
    ],
)
def test_where_doc_no_comes_from(
    meta: dict[str, str], paragraphs: list[str], title: str, doc_no: str | None
) -> None:
    body = [*paragraphs, "2012年12月3日"]
    record = normalize(raw_item(body, meta=meta, title=title), PROFILE)
    assert record.doc_no == doc_no


@pytest.mark.parametrize(
    ("title", "meta", "list_title", "expected"),
    [
        ("  关于\u3000做好寒假安全工作的通知 ", {}, "x", "关于 做好寒假安全工作的通知"),
        ("", {"标  题": "标题来自元数据"}, "x", "标题来自元数据"),
        ("", {}, "列表中的完整标题", "列表中的完整标题"),
    ],
)
def test_where_the_title_comes_from(
    title: str, meta: dict[str, str], list_title: str, expected: str
) -> None:
    item = raw_item(BODY, title=title, meta=meta, list_title=list_title)
    assert normalize(item, PROFILE).title == expected


def test_mixed_column_uses_the_rules_and_keeps_the_rule() -> None:
    record = normalize(raw_item(BODY, title="2013年全市教育工作要点"), PROFILE)
    assert (record.category, record.classified_by, record.genre) == (
        "规划计划",
        "title:要点",
        "要点",
    )


def test_attachments() -> None:
    attachments = (
        RawAttachment(
            " 名单\u3000.xls ", "files/P1.xls", "Application/Vnd.MS-Excel", 10, SHA.upper()
        ),
        RawAttachment(
            "", "https://www.yyedu.gov.cn/f/%E5%90%8D%E5%8D%95.pdf", "application/pdf", 5, SHA
        ),
    )
    record = normalize(raw_item(BODY, attachments=attachments), PROFILE)
    assert record.attachments == (
        Attachment(
            "名单 .xls",
            "https://www.yyedu.gov.cn/zwgk/qt/201212/files/P1.xls",
            "application/vnd.ms-excel",
            10,
            SHA,
        ),
        Attachment(
            "名单.pdf",
            "https://www.yyedu.gov.cn/f/%E5%90%8D%E5%8D%95.pdf",
            "application/pdf",
            5,
            SHA,
        ),
    )


def test_summary_skips_the_head_matter() -> None:
    body = ["关于做好寒假安全工作的通知", "余教〔2012〕12号", "各中小学：", "寒假将至。"]
    record = normalize(raw_item([*body, "2012年12月3日"]), PROFILE)
    assert record.summary == "寒假将至。"


def test_dates_and_summary_are_read_from_the_sanitized_body() -> None:
    item = raw_item([], body_html="<p>正文\n续。</p><div>2012年12月3日</div>", body_text="x")
    record = normalize(item, PROFILE)
    assert record.created == date(2012, 12, 3)
    assert record.summary == "正文 续。"


def test_the_source_text_stands_in_for_a_body_without_text() -> None:
    item = raw_item([], body_html='<p><img src="scan.png"></p>', body_text="扫描件\n2012年12月3日")
    record = normalize(item, PROFILE)
    assert record.body_html == '<p><img src="https://www.yyedu.gov.cn/zwgk/qt/201212/scan.png"></p>'
    assert record.created == date(2012, 12, 3)
    assert record.summary == "扫描件"


def test_profile_keywords_and_topic_are_the_defaults() -> None:
    profile = replace(PROFILE, topic="教育", keywords=("教育", "教育", "寒假"))
    record = normalize(raw_item(BODY), profile)
    assert (record.topic, record.keywords) == ("教育", ("教育", "寒假"))


def test_index_no_problem() -> None:
    made = date(2012, 12, 3)
    assert index_no_problem("002949236/2012-00012", org_code="002949236", created=made) is None
    assert index_no_problem("002949236/2013-00012", org_code="002949236", created=made) == (
        "索引号 '002949236/2013-00012' has year 2013, but the document was made in 2012"
    )
    assert index_no_problem("00294923X/2012-00012", org_code="002949236", created=made) == (
        "索引号 '00294923X/2012-00012' has org code '00294923X', expected '002949236'"
    )
    assert index_no_problem("2012-12", org_code="002949236", created=made) == (
        "索引号 '2012-12' is not <9-char org code>/<YYYY>-<5-digit serial>"
    )
