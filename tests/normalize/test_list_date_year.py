"""An MM-DD list date takes its year from the document's own date, never from today alone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bridge.catalog import NormalizeProfile
from bridge.normalize import normalize
from bridge.raw import RawItem

PROFILE = NormalizeProfile(
    source="yyedu", publisher="余姚市教育局", org_code="002949236", column_categories={"qt": "其他"}
)


def raw(
    list_date: str, meta: dict[str, str], body: str = "<p>余姚市教育局</p><p>正文内容。</p>"
) -> RawItem:
    return RawItem(
        source="yyedu", column="qt", url="http://127.0.0.1/xxgk/qt/201212/t20121205_1.html",
        article_id="t20121205_1", title="2012年度市教育局政府信息公开总结", list_title="2012年度…",
        list_date=list_date, meta=meta, body_html=body, body_text="", attachments=(),
        fetched_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
    )  # fmt: skip


def test_month_day_takes_the_year_of_the_document_date():
    record = normalize(
        raw("12-05", {"生成日期": "2012-12-03"}), PROFILE, now=datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert record.created == date(2012, 12, 3)
    assert record.published is not None and record.published.date() == date(2012, 12, 5)


def test_month_day_before_the_document_date_is_the_next_year():
    record = normalize(
        raw("[01-04]", {"生成日期": "2012-12-28"}), PROFILE, now=datetime(2026, 11, 28, tzinfo=UTC)
    )
    assert record.published is not None and record.published.date() == date(2013, 1, 4)


def test_without_a_document_date_it_is_the_latest_not_after_today():
    body = "<p>正文内容没有日期。</p>"
    record = normalize(raw("12-05", {}, body), PROFILE, now=datetime(2026, 11, 28, tzinfo=UTC))
    assert record.published is not None and record.published.date() == date(2025, 12, 5)


def test_a_full_date_on_the_detail_page_wins_over_the_list():
    record = normalize(
        raw("12-05", {"生成日期": "2012-12-03", "发布时间": "2012-12-06 09:30"}), PROFILE,
        now=datetime(2026, 11, 28, tzinfo=UTC),
    )  # fmt: skip
    assert record.published == datetime(2012, 12, 6, 9, 30, tzinfo=record.published.tzinfo)
