"""Dates as the bureau's pages write them, read into ``date`` and aware ``datetime``.

Forms accepted (issue 4 item 1), optionally inside one pair of brackets — ``[]``, ``()``,
``（）``, ``【】``, ``〔〕``, ``［］`` — and optionally followed by a time ``HH:MM[:SS]``:

- ``2012-12-03``, ``2012-12-3``, ``2012/12/03``, ``2012.12.03`` (one separator throughout);
- ``2012年12月3日``, ``2012年12月03日`` (spaces around 年月日 allowed);
- ``二〇一二年十二月三日``, ``二○一二年十二月三日`` (〇 U+3007, ○ U+25CB, 零 or a Latin O);
- ``12-03``, ``12/03``, ``12月3日``: the year comes from ``today``, and the result is never
  after ``today`` (a listing never shows items from the future, so ``12-30`` read on
  2013-01-02 is 2012-12-30).

Full-width digits and punctuation are read as their ASCII forms (NFKC). Everything else is
a ``DateError`` that quotes the text, so a quarantine reason says what the page said.
Times without a zone are Asia/Shanghai, the zone every one of these sites writes in.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bridge.text import clean_text

SHANGHAI = ZoneInfo("Asia/Shanghai")

MIN_YEAR, MAX_YEAR = 1900, 2099
"""Years outside this range are typos (``0212``, ``2102``), not documents."""

_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0}
_CN_UNITS = "一二三四五六七八九"
_CN_YEAR = "〇○零O一二三四五六七八九"
_CN_SMALL = "一二三四五六七八九十廿卅"

_BRACKETS = {"[": "]", "(": ")", "【": "】", "〔": "〕"}  # （ and ［ are ( and [ after NFKC
_TIME_RE = re.compile(
    r"^(?P<date>.+?)(?:(?:[ T]|(?<=日))"
    r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,6})?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2}(?::?\d{2})?)?)?$"
)
_NUMERIC_RE = re.compile(r"^(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})$")
_ARABIC_CN_RE = re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$")
_NUMERAL_CN_RE = re.compile(
    rf"^(?P<y>[{_CN_YEAR}]{{4}})年(?P<m>[{_CN_SMALL}]{{1,3}})月(?P<d>[{_CN_SMALL}]{{1,3}})日$"
)
_MONTH_DAY_RE = re.compile(r"^(?P<m>\d{1,2})(?:[-/](?P<d1>\d{1,2})|月(?P<d2>\d{1,2})日)$")


class DateError(ValueError):
    """``text`` is not a date in any accepted form; the message quotes it."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"not a date: {text!r} ({reason})")


def today_in_shanghai(now: datetime | None = None) -> date:
    """The calendar day in Shanghai at ``now`` (naive means already Shanghai time)."""
    if now is None:
        return datetime.now(SHANGHAI).date()
    return now.date() if now.tzinfo is None else now.astimezone(SHANGHAI).date()


def _cn_small(text: str) -> int | None:
    """一…三十一 (and 廿, 卅) as an int, or None when it is no such numeral."""
    if len(text) == 1 and text in _CN_UNITS:
        return _CN_UNITS.index(text) + 1
    m = re.fullmatch(r"([一二三四五六七八九])?([十廿卅])([一二三四五六七八九])?", text)
    if not m:
        return None
    lead, unit, ones = m.groups()
    if unit != "十" and lead:
        return None  # 二廿 is not a numeral
    tens = {"十": _CN_UNITS.index(lead) + 1 if lead else 1, "廿": 2, "卅": 3}[unit]
    return tens * 10 + (_CN_UNITS.index(ones) + 1 if ones else 0)


def _calendar_date(text: str, y: int, m: int, d: int) -> date:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise DateError(text, f"year {y} outside {MIN_YEAR}-{MAX_YEAR}")
    if not 1 <= m <= 12:
        raise DateError(text, f"no month {m}")
    try:
        return date(y, m, d)
    except ValueError:
        raise DateError(text, f"no day {d} in {y}-{m:02d}") from None


def _month_day(text: str, m: int, d: int, today: date) -> date:
    """The latest ``m``-``d`` on or before ``today`` (searching back over leap years)."""
    if not 1 <= m <= 12:
        raise DateError(text, f"no month {m}")
    for year in range(today.year, today.year - 9, -1):
        try:
            candidate = date(year, m, d)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise DateError(text, f"no day {d} in month {m}")


def _date_part(text: str, part: str, today: date | None) -> date:
    part = "".join(part.split())  # str.split(): the white space \s matches
    if m := _NUMERIC_RE.match(part) or _ARABIC_CN_RE.match(part):
        return _calendar_date(text, int(m["y"]), int(m["m"]), int(m["d"]))
    if m := _NUMERAL_CN_RE.match(part):
        month, day = _cn_small(m["m"]), _cn_small(m["d"])
        if month is None or day is None:
            raise DateError(text, "malformed Chinese numeral")
        year = int("".join(str(_CN_DIGIT[c]) for c in m["y"]))
        return _calendar_date(text, year, month, day)
    if m := _MONTH_DAY_RE.match(part):
        ref = today if today is not None else today_in_shanghai()
        return _month_day(text, int(m["m"]), int(m["d1"] or m["d2"]), ref)
    raise DateError(text, "unrecognized form")


def _parse(text: str, today: date | None) -> tuple[date, time | None]:
    if not isinstance(text, str):
        raise DateError(repr(text), "not text")
    s = clean_text(unicodedata.normalize("NFKC", text))
    if len(s) >= 2 and _BRACKETS.get(s[0]) == s[-1]:
        s = s[1:-1].strip()
    if not s:
        raise DateError(text, "empty")
    m = _TIME_RE.match(s)
    if m is None:  # pragma: no cover - the pattern matches any non-empty string
        raise DateError(text, "unrecognized form")
    day = _date_part(text, m["date"], today)
    if m["h"] is None:
        return day, None
    hour, minute, second = int(m["h"]), int(m["mi"]), int(m["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(text, f"no time {hour:02d}:{minute:02d}:{second:02d}")
    tz: timezone | ZoneInfo = SHANGHAI
    if m["tz"]:
        try:
            tz = _offset(m["tz"])
        except ValueError:  # more than a day off
            raise DateError(text, f"no zone offset {m['tz']}") from None
    return day, time(hour, minute, second, tzinfo=tz)


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4]), int(digits[4:] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_date(text: str, *, today: date | None = None) -> date:
    """The calendar date ``text`` names in Shanghai (a time matters only with a zone)."""
    day, at = _parse(text, today)
    if at is not None and at.tzinfo is not SHANGHAI:
        return datetime.combine(day, at).astimezone(SHANGHAI).date()
    return day


def parse_datetime(text: str, *, today: date | None = None) -> datetime:
    """An aware datetime in Asia/Shanghai; a date without a time is midnight."""
    day, at = _parse(text, today)
    if at is None:
        return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)
    return datetime.combine(day, at).astimezone(SHANGHAI)


def format_chinese_date(day: date, *, zero: str = "〇") -> str:
    """``二〇一二年十二月三日``: how 落款 and the seed report write a date."""

    def small(n: int) -> str:
        tens, ones = divmod(n, 10)
        head = "" if tens == 0 else ("十" if tens == 1 else _CN_UNITS[tens - 1] + "十")
        return head + (_CN_UNITS[ones - 1] if ones else "")

    digits = zero + _CN_UNITS
    return f"{''.join(digits[int(c)] for c in f'{day.year:04d}')}年{small(day.month)}月{small(day.day)}日"


# --- dates written inside a body -------------------------------------------------------

_DATE_IN_TEXT = (
    rf"(?:[{_CN_YEAR}]{{4}}\s*年\s*[{_CN_SMALL}]{{1,3}}\s*月\s*[{_CN_SMALL}]{{1,3}}\s*日"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|\d{4}(?P<sep>[-/.])\d{1,2}(?P=sep)\d{1,2})"
)
_DATE_LINE_RE = re.compile(
    # An optional short signature (余姚市教育局) without sentence punctuation, then the date,
    # bracketed or not, ending the line. "发布时间：2012-12-05" has a colon: not a 落款.
    rf"^[^，。；：,;:！？!?]{{0,30}}?[(【〔\[]?\s*(?P<date>{_DATE_IN_TEXT})\s*[)】〕\]]?[。.]?$"
)
_BRACKETED_DATE_RE = re.compile(rf"[(【〔\[]\s*(?P<date>{_DATE_IN_TEXT})\s*[)】〕\]]")
_ENDING_DATE_RE = re.compile(rf"(?P<date>{_DATE_IN_TEXT})\s*[)】〕\]]?[。.]?$")

HEAD_LINES = 6
"""The 成文 date under a title sits within the first few lines (title, issuer, date)."""
TAIL_LINES = 6
"""The 落款 (issuer and date) closes the document within its last few lines."""
HEAD_CHARS = 200
"""Without line breaks, a bracketed date this close to the start is the 成文 date."""


def _valid(text: str) -> date | None:
    try:
        return parse_date(text)
    except DateError:
        return None


_DATELESS_CHARS = (
    "\x00-\x2f\x3a-\x7f\xa0\u2000-\u206f\u3000-\u303f\u4e00-\u5e73\u5e75-\u9fff"
    "\uff01-\uff0f\uff1a-\uff5e"
)
"""ASCII but its digits, general and CJK punctuation, CJK ideographs but 年, full-width
forms but their digits: no character here becomes a digit or 年 under NFKC, and a date
holds one of them (tests/normalize/test_dates.py checks every code point)."""
_MAY_HOLD_A_DATE = re.compile(f"[^{_DATELESS_CHARS}]")
_CLAUSE_MARKS = re.compile("[,;:!?，；：！？]")
"""Punctuation no part of a date line holds (its signature, its date, its end); NFKC
keeps each one such a mark, and none composes with anything."""


def line_date(line: str) -> date | None:
    """The date of a line that is only a date (perhaps signed: ``余姚市教育局 2012年12月3日``)."""
    # Most lines of a body are prose: skip their NFKC, the costly part.
    if _MAY_HOLD_A_DATE.search(line) is None or _CLAUSE_MARKS.search(line):
        return None
    m = _DATE_LINE_RE.match(clean_text(unicodedata.normalize("NFKC", line)))
    return _valid(m["date"]) if m else None


def find_document_date(text: str) -> date | None:
    """The 成文 date a body states: a date line at the head (``（二〇一二年十二月三日）``
    under the title) wins; else the last date line of the 落款 at the end; else None.

    A date inside a sentence ("自2013年1月1日起施行") is never taken: it is about something
    else. Impossible dates (2012年2月30日) are skipped.
    """
    # The lines of the body's NFKC, blank ones dropped, are the NFKC of its lines that are
    # not blank: NFKC makes no line break and no blank line, and composes nothing across
    # one (tests/normalize/test_dates.py checks every code point). So only a line that
    # is read is normalized, and few are: 52 -> 13 us a sandbox body (114 -> 22 a real one).
    lines = [line for line in (text or "").splitlines() if clean_text(line)]
    for line in lines[:HEAD_LINES]:
        if found := _date_line(line):
            return found
    if len(lines) >= 3:
        for line in reversed(lines[-TAIL_LINES:]):
            if found := _date_line(line):
                return found
        return None
    # No line structure to go by (and each line read above): a bracketed date up front,
    # else a date that ends the text.
    norm = clean_text(unicodedata.normalize("NFKC", text or ""))
    for m in _BRACKETED_DATE_RE.finditer(norm[:HEAD_CHARS]):
        if found := _valid(m["date"]):
            return found
    ending = _ENDING_DATE_RE.search(norm)
    return _valid(ending["date"]) if ending else None


def _date_line(line: str) -> date | None:
    """``line_date`` of a body line in NFKC, cleaned. A line that ``line_date`` would skip
    after NFKC is skipped before it: one without a character that could become a digit
    or 年, or one with a clause mark (NFKC keeps it one)."""
    if _MAY_HOLD_A_DATE.search(line) is None or _CLAUSE_MARKS.search(line):
        return None
    return line_date(clean_text(unicodedata.normalize("NFKC", line)))
