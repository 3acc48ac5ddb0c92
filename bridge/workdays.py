"""Working days as the law counts them, in the official calendar of Asia/Shanghai: the
vocabulary of every timeliness figure (the annual report, the live /metrics figures, the
admin charts), so the state store and the report count the same way.

Counting convention (like a statutory period, 民法典 §201): the start day is not counted;
the latency is the number of working days d with start < d ≤ end, both dates in
Asia/Shanghai. Same day: 0; the next working day: 1. 20 is on time, 21 is late. Statutory
holidays are not working days; make-up working days (调休) on a weekend are
(``chinese_calendar``).

The 20-day limit (``LEGAL_LIMIT``) is 政府信息公开条例 (2019) §26; an item published before
the bridge first read its column is baseline (存量, ``is_baseline``), never measured. What
the measures are is in :mod:`bridge.admin.report.timeliness`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from bridge.errors import Fatal

SHANGHAI = ZoneInfo("Asia/Shanghai")
LEGAL_LIMIT = 20  # working days, 政府信息公开条例 (2019) §26
BUCKETS: tuple[tuple[str, int], ...] = (
    ("0", 0), ("1", 1), ("2–5", 5), ("6–10", 10), ("11–20", 20), (">20", -1),
)  # fmt: skip
"""Chart bars: label and the largest working-day count it holds (-1: the rest)."""


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def working_days(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if not later)."""
    if end <= start:
        return 0
    try:
        years = sum(_year_workdays(y)[-1] for y in range(start.year, end.year))
        return years + _workdays_to(end) - _workdays_to(start)
    except NotImplementedError as exc:
        raise Fatal(
            f"the holiday calendar has no data for this period ({exc}); "
            "upgrade the chinesecalendar package"
        ) from None


@lru_cache(maxsize=64)
def _year_workdays(year: int) -> tuple[int, ...]:
    """Working days of ``year`` up to and including each of its days (index: day - 1)."""
    out, n, day = [], 0, date(year, 1, 1)
    while day.year == year:
        n += chinese_calendar.is_workday(day)
        out.append(n)
        day += timedelta(days=1)
    return tuple(out)


def _workdays_to(day: date) -> int:
    return _year_workdays(day.year)[day.timetuple().tm_yday - 1]


def bucket_of(days: int) -> str:
    return next(label for label, top in BUCKETS if top < 0 or days <= top)


def is_baseline(published: date, column_first_read: datetime | None) -> bool:
    """On the site before the bridge first read the column (unknown first read: no)."""
    return column_first_read is not None and published < local_date(column_first_read)


def created_of(record: dict[str, Any]) -> date | None:
    """The record's 生成日期 (None: none, or not a date)."""
    try:
        return date.fromisoformat(str(record.get("created") or ""))
    except ValueError:
        return None
