"""Dates in every form the bureau's pages use (issue 4 item 1), and the ones they must not."""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import bridge.sandbox
from bridge.normalize import dates
from bridge.normalize.dates import (
    SHANGHAI,
    DateError,
    find_document_date,
    format_chinese_date,
    line_date,
    parse_date,
    parse_datetime,
)

SEED_REPORT = Path(bridge.sandbox.__file__).parent / "data" / "seed_report_2012.txt"
"""The bureau's 2012 report (../shared/seeds/000_549620f865b56b29.txt), as the sandbox ships it."""

TODAY = date(2013, 1, 2)
D = date(2012, 12, 3)

GOOD = [
    ("2012-12-03", D),
    ("2012-12-3", D),
    ("2012/12/03", D),
    ("2012/12/3", D),
    ("2012.12.03", D),
    ("2012.12.3", D),
    ("2012年12月3日", D),
    ("2012年12月03日", D),
    ("2012 年 12 月 3 日", D),
    ("二〇一二年十二月三日", D),
    ("二○一二年十二月三日", D),
    ("二零一二年十二月三日", D),
    ("（二〇一二年十二月三日）", D),
    ("二〇一二年十二月三十一日", date(2012, 12, 31)),
    ("二〇一二年十月二十日", date(2012, 10, 20)),
    ("二〇〇九年一月十一日", date(2009, 1, 11)),
    ("二〇一二年二月廿九日", date(2012, 2, 29)),
    ("[2012-12-03]", D),
    ("(2012-12-03)", D),
    ("（2012-12-03）", D),
    ("【2012-12-03】", D),
    ("〔2012-12-03〕", D),
    ("［2012-12-03］", D),
    ("  2012-12-03\u3000", D),
    ("２０１２－１２－０３", D),
    ("2012-12-03 09:30", D),
    ("2012-12-03 09:30:15", D),
    ("2012-12-03T09:30:15", D),
    ("2012年12月3日 09:30", D),
    ("[2012-12-03 09:30]", D),
    ("12-03", D),
    ("12-3", D),
    ("12/03", D),
    ("12月3日", D),
    ("[12-03]", D),
    ("01-02", date(2013, 1, 2)),
    ("12-31", date(2012, 12, 31)),  # read on 2013-01-02: last year, never the future
    ("01-03", date(2012, 1, 3)),  # tomorrow this year would be the future
    ("2012-02-29", date(2012, 2, 29)),
    ("2000-02-29", date(2000, 2, 29)),
]

BAD = [
    ("2012-13-01", "no month 13"),
    ("2012-00-10", "no month 0"),
    ("2012-12-32", "no day 32 in 2012-12"),
    ("2012年2月30日", "no day 30 in 2012-02"),
    ("2011-02-29", "no day 29 in 2011-02"),
    ("1900-02-29", "no day 29 in 1900-02"),
    ("二〇一二年十三月", "unrecognized form"),
    ("二〇一二年十三月三日", "no month 13"),
    ("二〇一二年二十月三日", "no month 20"),
    ("二〇一二年十二月二廿日", "malformed Chinese numeral"),
    ("二〇一二年十二月四十日", "no day 40 in 2012-12"),
    ("yesterday", "unrecognized form"),
    ("", "empty"),
    ("   ", "empty"),
    ("[]", "empty"),
    ("2012-12", "unrecognized form"),
    ("2012年12月", "unrecognized form"),
    ("2012-12/03", "unrecognized form"),
    ("20121203", "unrecognized form"),
    ("12-12-03", "unrecognized form"),
    ("0212-12-03", "year 212 outside 1900-2099"),
    ("2112-12-03", "year 2112 outside 1900-2099"),
    ("2012-12-03 25:00", "no time 25:00:00"),
    ("2012-12-03 09:60", "no time 09:60:00"),
    ("2012-12-03 09", "unrecognized form"),
    ("13-01", "no month 13"),
    ("02-30", "no day 30 in month 2"),
    ("发布日期：2012-12-03", "unrecognized form"),
    ("2012-12-03 上午", "unrecognized form"),
    ("[2012-12-03", "unrecognized form"),
]


def test_the_table_is_as_large_as_the_issue_asks() -> None:
    assert len(GOOD) + len(BAD) >= 40
    assert len(GOOD) >= 20 and len(BAD) >= 20


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_accepted_forms(text: str, expected: date) -> None:
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(("text", "reason"), BAD)
def test_rejected_forms_name_the_text(text: str, reason: str) -> None:
    with pytest.raises(DateError) as info:
        parse_date(text, today=TODAY)
    assert info.value.text == text
    assert info.value.reason == reason
    assert str(info.value) == f"not a date: {text!r} ({reason})"


def test_date_error_is_a_value_error() -> None:
    assert issubclass(DateError, ValueError)


def test_month_day_uses_the_latest_leap_year() -> None:
    assert parse_date("02-29", today=date(2026, 3, 1)) == date(2024, 2, 29)
    assert parse_date("02-29", today=date(2024, 2, 29)) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2012-12-03", datetime(2012, 12, 3, 0, 0, tzinfo=SHANGHAI)),
        ("2012-12-03 09:30", datetime(2012, 12, 3, 9, 30, tzinfo=SHANGHAI)),
        ("2012-12-03 09:30:15", datetime(2012, 12, 3, 9, 30, 15, tzinfo=SHANGHAI)),
        ("2012-12-03 9:05", datetime(2012, 12, 3, 9, 5, tzinfo=SHANGHAI)),
        ("2012-12-03T09:30:15.0", datetime(2012, 12, 3, 9, 30, 15, tzinfo=SHANGHAI)),
        ("2012年12月3日09:30", datetime(2012, 12, 3, 9, 30, tzinfo=SHANGHAI)),
        ("2012-12-03T01:30:00Z", datetime(2012, 12, 3, 9, 30, tzinfo=SHANGHAI)),
        ("2012-12-03T09:30:00+08:00", datetime(2012, 12, 3, 9, 30, tzinfo=SHANGHAI)),
        ("12-03 10:00", datetime(2012, 12, 3, 10, 0, tzinfo=SHANGHAI)),
    ],
)
def test_parse_datetime_is_aware_shanghai(text: str, expected: datetime) -> None:
    got = parse_datetime(text, today=TODAY)
    assert got == expected
    assert got.tzinfo is SHANGHAI
    assert got.utcoffset() == timedelta(hours=8)


def test_parse_date_of_a_zoned_time_is_the_shanghai_day() -> None:
    assert parse_date("2012-12-03T20:00:00Z") == date(2012, 12, 4)


# --- round trips ----------------------------------------------------------------------

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
FORMS = [
    lambda d: d.isoformat(),
    lambda d: f"{d.year}-{d.month}-{d.day}",
    lambda d: d.strftime("%Y/%m/%d"),
    lambda d: d.strftime("%Y.%m.%d"),
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: d.strftime("%Y年%m月%d日"),
    lambda d: format_chinese_date(d),
    lambda d: format_chinese_date(d, zero="○"),
    lambda d: f"[{d.isoformat()}]",
    lambda d: f"({d.isoformat()})",
    lambda d: f"（{format_chinese_date(d)}）",
    lambda d: f"{d.isoformat()} 09:30",
    lambda d: f"{d.isoformat()} 23:59:59",
]


@given(DATES, st.sampled_from(range(len(FORMS))))
def test_every_form_round_trips(day: date, form: int) -> None:
    assert parse_date(FORMS[form](day)) == day


@given(DATES, st.integers(min_value=0, max_value=364))
def test_month_day_round_trips_within_a_year(day: date, days_later: int) -> None:
    today = day + timedelta(days=days_later)
    assert parse_date(f"{day.month:02d}-{day.day:02d}", today=today) == day
    assert parse_date(f"{day.month}月{day.day}日", today=today) == day


@given(DATES, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
@example(date(1949, 5, 1), 0, 0, 0)  # a wall time the zone's summer time skipped
def test_datetimes_round_trip(day: date, h: int, m: int, s: int) -> None:
    moment = datetime(day.year, day.month, day.day, h, m, s, tzinfo=SHANGHAI)
    assert parse_datetime(moment.strftime("%Y-%m-%d %H:%M:%S")) == moment
    # An ISO time with an offset names an instant: compared as one, since aware datetimes
    # of one zone compare by wall time, and a wall time in a gap of the zone's old summer
    # time (1949-05-01 00:00 +08:00 is 01:00 +09:00) reads back as the other wall time.
    back = parse_datetime(moment.isoformat())
    assert back is not None and back.astimezone(UTC) == moment.astimezone(UTC)
    assert back.tzinfo == SHANGHAI


@given(st.text(max_size=20))
def test_anything_else_is_a_date_error_or_a_date(text: str) -> None:
    try:
        parse_date(text, today=TODAY)
    except DateError as exc:
        assert exc.text == text


def test_format_chinese_date() -> None:
    assert format_chinese_date(date(2012, 12, 3)) == "二〇一二年十二月三日"
    assert format_chinese_date(date(2020, 10, 31), zero="○") == "二○二○年十月三十一日"
    assert format_chinese_date(date(2001, 1, 20)) == "二〇〇一年一月二十日"


# --- the 成文 date inside a body ----------------------------------------------------------

SEED_HEAD = "2012年度市教育局政府信息公开总结\n余姚市教育局\n（二〇一二年十二月三日）\n"
SENTENCE = "2012年，市教育局以贯彻落实《条例》为主线，积极开展政务公开工作。\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (SEED_HEAD + SENTENCE * 5, D),
        (SEED_HEAD + SENTENCE + "余姚市教育局\n2013年1月5日\n", D),  # head beats 落款
        ("关于做好寒假工作的通知\n" + SENTENCE * 3 + "余姚市教育局\n2012年12月3日\n", D),
        ("通知\n" + SENTENCE * 3 + "余姚市教育局 二〇一二年十二月三日\n", D),
        ("通知\n" + SENTENCE * 3 + "余姚市教育局2012年12月3日\n附件：名单\n", D),
        ("通知\n" + SENTENCE * 3 + "2012-12-03\n", D),
        ("题目（二〇一二年十二月三日） 2012年，我局开展了工作。", D),  # one line: bracketed head
        ("特此通知。余姚市教育局 2012年12月3日", D),  # one line: the date closes it
        ("通知\n本办法自2013年1月1日起施行。\n" + SENTENCE * 3, None),  # in a sentence
        ("通知\n发布时间：2012-12-05\n" + SENTENCE * 3, None),  # an info line, not 成文
        ("通知\n（二〇一二年二月三十日）\n" + SENTENCE * 3, None),  # impossible date
        (SENTENCE * 10, None),
        ("", None),
    ],
)
def test_find_document_date(body: str, expected: date | None) -> None:
    assert find_document_date(body) == expected


def test_the_seed_report_states_its_date() -> None:
    with open(SEED_REPORT, encoding="utf-8") as f:
        assert find_document_date(f.read()) == D


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("（二〇一二年十二月三日）", D),
        ("余姚市教育局 2012年12月3日", D),
        ("2012年12月3日。", D),
        ("发布时间：2012年12月3日", None),
        ("2012年12月3日召开会议", None),
    ],
)
def test_line_date(line: str, expected: date | None) -> None:
    assert line_date(line) == expected


def _makes_a_date_char(c: str) -> bool:
    return any(d.isdecimal() or d == "年" for d in unicodedata.normalize("NFKD", c))


def test_no_dateless_character_becomes_a_digit_or_nian() -> None:
    """line_date skips lines of these characters unread: each date form holds a digit
    (``\\d``, which is ``str.isdecimal``) or 年, and no such character comes out of one of
    them under NFKD, nor out of composing (neither has a canonical decomposition)."""
    dateless = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if dates._MAY_HOLD_A_DATE.fullmatch(chr(c)) is None
    ]
    assert len(dateless) > 20000
    assert [c for c in dateless if _makes_a_date_char(c)] == []
    targets = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdecimal()] + ["年"]
    composed = [c for c in targets if unicodedata.decomposition(c)[:1] not in ("", "<")]
    assert composed == []
    digit = re.compile(r"\d")
    assert [
        c for c in range(sys.maxunicode + 1) if bool(digit.fullmatch(chr(c))) != chr(c).isdecimal()
    ] == []


def _composites() -> list[str]:
    """Every character canonical composition can make (it composes back from its NFD)."""
    return [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.decomposition(chr(c))[:1] not in ("", "<")
        and unicodedata.normalize("NFC", unicodedata.normalize("NFD", chr(c))) == chr(c)
    ]


def test_a_clause_mark_stays_one_under_nfkc() -> None:
    """line_date skips a line with one of these marks: the date line pattern allows none."""
    marks = ",;:!?，；：！？"
    assert all(dates._CLAUSE_MARKS.fullmatch(c) for c in marks)
    assert all(unicodedata.normalize("NFKC", c) in marks for c in marks)
    assert dates.clean_text(marks) == marks
    assert [
        c for c in _composites() if any(m in unicodedata.normalize("NFD", c) for m in marks)
    ] == []
    assert all(dates._DATE_LINE_RE.match(f"2012年12月3日{m}") is None for m in marks)
    assert all(dates._DATE_LINE_RE.match(f"{m}2012年12月3日") is None for m in marks)


def _line_date_unfiltered(line: str) -> date | None:
    m = dates._DATE_LINE_RE.match(dates.clean_text(unicodedata.normalize("NFKC", line)))
    return dates._valid(m["date"]) if m else None


@given(
    st.text(alphabet="二〇一二年十二月三日2012-12-03（）【】 ：，,。.余姚市教育局①１㏠\u3000\xa0")
)
@example("余姚市教育局　二〇一二年十二月三日")
@example("２０１２．１２．３")
def test_line_date_reads_what_it_skips_as_no_date(line: str) -> None:
    assert line_date(line) == _line_date_unfiltered(line)


# The line breaks str.splitlines() splits at.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def test_nfkc_makes_no_line_break_no_blank_line_and_composes_nothing_across_one() -> None:
    """find_document_date splits a body into lines, drops the blank ones, then normalizes
    only the lines it reads: the same lines as those of the body's NFKC, unless NFKC made
    or composed away a line break, or made a blank line of one that was not, or back."""
    assert all(unicodedata.normalize("NFKC", b) == b for b in _LINE_BREAKS)
    assert all(unicodedata.combining(b) == 0 for b in _LINE_BREAKS)
    made, blanked = [], []
    for c in map(chr, range(sys.maxunicode + 1)):
        nfkc = unicodedata.normalize("NFKC", c)
        if c not in _LINE_BREAKS and any(b in nfkc for b in _LINE_BREAKS):
            made.append(c)
        if bool(dates.clean_text(c)) != bool(dates.clean_text(nfkc)):
            blanked.append(c)
    assert (made, blanked) == ([], [])
    assert [
        c for c in _composites() if any(b in unicodedata.normalize("NFD", c) for b in _LINE_BREAKS)
    ] == []


def _document_date_as_before(text: str) -> date | None:
    """find_document_date as it was: the NFKC of the whole body, then its lines."""
    norm = unicodedata.normalize("NFKC", text or "")
    lines = [c for c in (dates.clean_text(line) for line in norm.splitlines()) if c]
    for line in lines[: dates.HEAD_LINES]:
        if found := line_date(line):
            return found
    if len(lines) < 3:
        for m in dates._BRACKETED_DATE_RE.finditer(dates.clean_text(norm)[: dates.HEAD_CHARS]):
            if found := dates._valid(m["date"]):
                return found
    for line in reversed(lines[-dates.TAIL_LINES :]):
        if found := line_date(line):
            return found
    ending = dates._ENDING_DATE_RE.search(dates.clean_text(norm)) if len(lines) < 3 else None
    return dates._valid(ending["date"]) if ending else None


_BODY_PARTS = st.sampled_from(
    ["二〇一二年十二月三日", "2012年12月3日", "２０１２．１２．３", "2012-12-03", "（", "）", "【",
     "】", "余姚市教育局", "通知", "，", "。", "：", " ", "\u3000", "\xa0", "\u200b", "\n",
     "\r\n", "\u2028", "\x85", "e\u0301", "\u0301", "①", "㏠", "自2013年1月1日起施行"]
)  # fmt: skip


@given(st.lists(_BODY_PARTS, max_size=40).map("".join))
@example("通知\n\n（二〇一二年十二月三日）\n正文")
@example("正文\n\u3000\n余姚市教育局\n2012年12月3日")
@example("（2012年12月3日）正文")
def test_document_date_reads_only_the_lines_it_needs_as_before(body: str) -> None:
    assert find_document_date(body) == _document_date_as_before(body)
