"""/metrics' timeliness at the cost of what changed: the same output as reading every item
and record, no record read when nothing changed, and a confirmation moving one item."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import event
from test_timeliness import hand_worked_store

from bridge import workdays
from bridge.admin.report import timeliness
from bridge.service.health import PUBLICATION_BUCKETS, WORKING_DAY_BUCKETS, TimelinessCollector
from bridge.state import outbox
from bridge.state.db import Database
from bridge.state.report_queries import report_items

FAMILIES = ("bridge_disclosure_working_days", "bridge_collection_working_days",
            "bridge_collection_seconds", "bridge_baseline_items", "bridge_disclosure_apart_items")  # fmt: skip


def scrape(registry: CollectorRegistry) -> list[str]:
    return [
        line for line in generate_latest(registry).decode().splitlines()
        if line.startswith(FAMILIES)
    ]  # fmt: skip


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


def full_reading(db: Database) -> list[str]:
    """What the collector gave before it kept its figures: every item and record read,
    both measures worked out by timeliness.of_items (the report's own code)."""
    with db.read() as s:
        found = report_items(s)
    t = timeliness.of_items(found, datetime.now(UTC))

    def hist(name: str, values: list[float], bounds: tuple[float, ...]) -> list[str]:
        out = [f'{name}_bucket{{le="{_le(b)}",source="yyedu"}} '
               f"{float(sum(1 for v in values if v <= b))!r}" for b in bounds]  # fmt: skip
        return [*out, f'{name}_bucket{{le="+Inf",source="yyedu"}} {float(len(values))!r}',
                f'{name}_count{{source="yyedu"}} {float(len(values))!r}',
                f'{name}_sum{{source="yyedu"}} {float(sum(values))!r}']  # fmt: skip

    lines = [
        *hist("bridge_disclosure_working_days",
              [float(x.working_days) for x in t.disclosure.done], WORKING_DAY_BUCKETS),
        *hist("bridge_collection_working_days",
              [float(x.working_days) for x in t.collection.done], WORKING_DAY_BUCKETS),
        *hist("bridge_collection_seconds",
              [x.hours * 3600.0 for x in t.collection.done if x.hours is not None],
              PUBLICATION_BUCKETS),
        f'bridge_baseline_items{{source="yyedu"}} {float(len(t.baseline))!r}',
        f'bridge_disclosure_apart_items{{source="yyedu"}} {float(len(t.disclosure.apart))!r}',
    ]  # fmt: skip
    return lines


def as_samples(lines: list[str]) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines}


def same_reading(scraped: list[str], reference: list[str]) -> None:
    """Every sample equal; the seconds sum to the microsecond: the collector adds exact
    microseconds, the reference adds per-item floats, whose last bits depend on the order."""
    got, want = as_samples(scraped), as_samples(reference)
    total = 'bridge_collection_seconds_sum{source="yyedu"}'
    assert got[total] == pytest.approx(want[total], abs=1e-6)
    assert {k: v for k, v in got.items() if k != total} == {
        k: v for k, v in want.items() if k != total
    }


class Statements:
    """Every SQL statement the store runs, to count those that read item versions."""

    def __init__(self, db: Database) -> None:
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self.before)

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seen.append(statement)

    def versions(self) -> list[str]:
        return [x for x in self.seen if "item_versions" in x]


def test_scrapes_equal_the_full_reading_and_read_only_what_changed(state_url):
    db = hand_worked_store(state_url)
    registry = CollectorRegistry()
    registry.register(TimelinessCollector(db))
    sql = Statements(db)

    first = scrape(registry)
    assert len(sql.versions()) == 1  # the nine newest records, in one chunk
    same_reading(first, full_reading(db))
    assert 'bridge_collection_working_days_count{source="yyedu"} 6.0' in first  # G pending

    sql.seen.clear()
    assert scrape(registry) == first  # nothing changed: the same, and no record read
    assert sql.versions() == []

    # the portal confirms G (pending until now) through the outbox, as the sender does
    with db.write() as s:
        claimed = outbox.claim(s, target="portal", owner="t", lease_seconds=60, limit=100)
        (g,) = [c for c in claimed if c.external_id == "yyedu:G"]
        assert outbox.complete(s, g, owner="t", actor="test", answer={"version": 1})
    sql.seen.clear()
    after = scrape(registry)
    assert sql.versions() == []  # the version did not change: its record is not read again
    same_reading(after, full_reading(db))
    moved = {k: (as_samples(first)[k], v) for k, v in as_samples(after).items()
             if as_samples(first)[k] != v}  # fmt: skip
    # exactly one more finished item in 归集时效 (days and seconds), nothing else moved
    assert moved['bridge_collection_working_days_count{source="yyedu"}'] == (6.0, 7.0)
    assert moved['bridge_collection_seconds_count{source="yyedu"}'] == (6.0, 7.0)
    assert not [k for k in moved if "disclosure" in k or "baseline" in k]
    db.dispose()


def test_working_days_by_year_tables_agree_with_the_calendar_day_by_day():
    import random
    from datetime import date, timedelta

    import chinese_calendar

    rng = random.Random(3)
    for _ in range(2000):
        start = date(2004, 1, 1) + timedelta(rng.randrange(0, 8000))
        end = min(start + timedelta(rng.randrange(-5, 900)), date(2026, 12, 31))
        expected = (
            len(chinese_calendar.get_workdays(start + timedelta(1), end)) if end > start else 0
        )
        assert workdays.working_days(start, end) == expected, (start, end)


def test_the_charts_page_has_both_measures_with_their_exact_bars(state_url, tmp_path):
    from datetime import date

    from admin_helpers import AdminSite
    from bs4 import BeautifulSoup
    from conftest import config_text

    hand_worked_store(state_url).dispose()
    config = tmp_path / "bridge.toml"
    config.write_text(config_text(state_url, "http://127.0.0.1:9/", "http://127.0.0.1:9/"),
                      encoding="utf-8")  # fmt: skip
    admin = AdminSite(config)
    try:
        response = admin.get("/charts")
        metrics = admin.get("/metrics").text  # the same live figures
    finally:
        admin.close()
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert [svg["id"] for svg in page.select("svg.chart")][3:] == [
        "chart-disclosure", "chart-collection"
    ]  # fmt: skip
    today = datetime.now(UTC).astimezone(workdays.SHANGHAI).date()
    g_late = int(workdays.working_days(date(2026, 12, 1), today) > 20)  # G: pending
    expected = {
        # 公开时效 0 1 3 3 20 21 (E apart); 归集时效 0 0 1 1 7 23 finished, G pending
        "disclosure": ("公开时效（生成日期→网站发布）", [1, 1, 2, 0, 1, 1],
                       {"计入": 6, "超期": 1, "另计（页面未载明生成日期）": 1, "存量": 2}),
        "collection": ("归集时效（网站发布→平台确认）", [2, 2, 0, 1, 0, 1],
                       {"计入": 7, "超期": 1 + g_late, "等待平台确认": 1, "存量": 2}),
    }  # fmt: skip
    for name, (title, bars, figures) in expected.items():
        svg = page.select_one(f"svg#chart-{name}")
        assert svg is not None, name
        assert svg.find("title").get_text() == title
        rects = svg.select("rect.bar")
        assert [r.find("title").get_text() for r in rects] == [
            f"{label}：{n}"
            for label, n in zip(("0", "1", "2–5", "6–10", "11–20", ">20"), bars, strict=True)
        ]
        assert [float(r["height"]) for r in rects] == [200 * n / 4 for n in bars]  # top 4
        assert [r["class"] for r in rects if "over" in r["class"]] == [["bar", "over"]]
        assert rects[-1]["class"] == ["bar", "over"] and rects[-1]["fill"] == "#cf222e"
        shown = {
            tr.th.get_text(): int(tr.td.get_text())
            for tr in page.select(f"table#figures-{name} tr")
        }
        assert shown == figures, name
    assert 'bridge_collection_working_days_count{source="yyedu"} 6.0' in metrics
