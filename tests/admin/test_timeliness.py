"""公开时效, 归集时效 and the baseline (存量), worked out by hand around 2026 春节, and a
fresh backfill of years-old items reported as baseline, none late."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import chinese_calendar
from admin_helpers import StateBuilder, local
from conftest import make_record
from prometheus_client import CollectorRegistry, generate_latest

from bridge.admin.report.build import build
from bridge.service.health import TimelinessCollector
from bridge.state.db import Database, open_database
from bridge.state.report_queries import report_items

# 2026 春节 (checked with chinese_calendar below): 2/15–2/23 off, make-up working days
# Sat 2/14 and Sun 2/28; 清明 Mon 4/6 off. The start day is not counted.
# The bridge first read the column on Mon 2026-02-02 (10:00): X and Y, published before
# that day, are the baseline; C, published that very day, is counted.
#
# key 生成日期(how)  发布日期 time     confirmed          公开时效 wd          归集时效 wd   hours
# A   2/10 page     Fri 2/13 09:00  Sat 2/14 10:00     3 (2/11,2/12,2/13)    1 (Sat 2/14)  25
# B   2/12 page     Tue 2/24 10:00  Tue 2/24 14:30     3 (2/13, Sat 2/14,    0             4.5
#                                                         holiday, 2/24)
# C   1/05 page     Mon 2/02 09:00  Mon 2/02 09:30     20 (1/6–2/2: 4+5+5+5+1) 0           0.5
# D   1/26 page     Mon 3/02 10:00  Tue 3/03 10:00     21 late (4+5+6 with   1             24
#                                                         2/14, 4, Sun 2/28, 3/2)
# E   3/04 derived  Wed 3/04 08:00  Fri 3/13 08:00     apart                 7 (3/5–3/13)  216
# F   3/09 page     Mon 3/09 09:00  Fri 4/10 09:00     0                     23 late       768
#                                                       (4+5+5+5, 4/6 off, 4/7–4/10: 4)
# G   11/30 page    Tue 12/01 09:00 pending (now Fri 12/04 12:00)  1         3 so far      75
# X   1/19 page     Tue 1/20 09:00  Mon 2/02 10:00     baseline
# Y   1/30 page     Sun 2/01 09:00  Mon 2/02 10:00     baseline
#
# 公开时效, counted A B C D F G: 0 1 3 3 20 21 → median 3, p95 the ⌈5.7⌉ = 6th: 21, max 21;
#   on time 5, late 1 (D), apart 1 (E), pending 0.
# 归集时效, counted A–G (7), finished A–F: 0 0 1 1 7 23 → median 1, p95 23, max 23; on time 5,
#   late 1 (F), pending 1 (G); hours 0.5 4.5 24 25 216 768 → median 24.5, p95 768, max 768.
HAND = [
    # key, 生成日期, provenance of 生成日期, published, confirmed
    ("A", date(2026, 2, 10), "page:成文日期", local(2026, 2, 13, 9), local(2026, 2, 14, 10)),
    ("B", date(2026, 2, 12), "page:成文日期", local(2026, 2, 24, 10), local(2026, 2, 24, 14, 30)),
    ("C", date(2026, 1, 5), "page:成文日期", local(2026, 2, 2, 9), local(2026, 2, 2, 9, 30)),
    ("D", date(2026, 1, 26), "body", local(2026, 3, 2, 10), local(2026, 3, 3, 10)),
    ("E", date(2026, 3, 4), "derived:published", local(2026, 3, 4, 8), local(2026, 3, 13, 8)),
    ("F", date(2026, 3, 9), "meta:PubDate", local(2026, 3, 9, 9), local(2026, 4, 10, 9)),
    ("G", date(2026, 11, 30), "page:成文日期", local(2026, 12, 1, 9), None),
    ("X", date(2026, 1, 19), "page:成文日期", local(2026, 1, 20, 9), local(2026, 2, 2, 10)),
    ("Y", date(2026, 1, 30), "page:成文日期", local(2026, 2, 1, 9), local(2026, 2, 2, 10)),
]  # fmt: skip
FIRST_READ = local(2026, 2, 2, 10)
NOW = local(2026, 12, 4, 12)


def test_the_calendar_has_the_2026_spring_festival_as_worked_out():
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Saturday, make-up
    assert chinese_calendar.is_workday(date(2026, 2, 28))  # Saturday, make-up
    assert not any(chinese_calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert not chinese_calendar.is_workday(date(2026, 4, 6))  # 清明 (Monday)


def hand_worked_store(state_url: str) -> Database:
    db = open_database(state_url)
    b = StateBuilder(db)
    for key, created, how, published, confirmed in HAND:
        record = make_record(f"yyedu:{key}", f"关于{key}的通知", published=published)
        b.add(replace(record, created=created, provenance={"created": how}), confirmed=confirmed)
    b.first_seen(FIRST_READ)
    return db


def test_metrics_read_both_measures_from_the_store(state_url):
    db = hand_worked_store(state_url)
    registry = CollectorRegistry()
    registry.register(TimelinessCollector(db))
    text = generate_latest(registry).decode()
    db.dispose()
    lines = set(text.splitlines())
    # finished only: 公开时效 0 1 3 3 20 21; 归集时效 0 0 1 1 7 23 (G pending)
    for le, n in (("0", 1), ("1", 2), ("5", 4), ("10", 4), ("20", 5), ("+Inf", 6)):
        assert f'bridge_disclosure_working_days_bucket{{le="{le}",source="yyedu"}} {n}.0' in lines
    for le, n in (("0", 2), ("1", 4), ("5", 4), ("10", 5), ("20", 5), ("+Inf", 6)):
        assert f'bridge_collection_working_days_bucket{{le="{le}",source="yyedu"}} {n}.0' in lines
    assert 'bridge_disclosure_working_days_sum{source="yyedu"} 48.0' in lines
    assert 'bridge_collection_working_days_sum{source="yyedu"} 32.0' in lines
    # hours 0.5 4.5 24 25 216 768: one within 1 h, two within 6 h, four within 2 days
    assert 'bridge_collection_seconds_bucket{le="3600",source="yyedu"} 1.0' in lines
    assert 'bridge_collection_seconds_bucket{le="21600",source="yyedu"} 2.0' in lines
    assert 'bridge_collection_seconds_bucket{le="172800",source="yyedu"} 4.0' in lines
    assert 'bridge_collection_seconds_sum{source="yyedu"} 3.7368e+06' in lines  # 1038 h
    assert 'bridge_baseline_items{source="yyedu"} 2.0' in lines
    assert 'bridge_disclosure_apart_items{source="yyedu"} 1.0' in lines


def test_both_measures_and_the_baseline_match_the_hand_worked_table(state_url):
    db = hand_worked_store(state_url)
    with db.read() as s:
        found = report_items(s)
    db.dispose()
    assert {x.column_first_read for x in found} == {FIRST_READ}

    report = build(found, 2026, ["yyedu"], now=NOW)

    def by_key(latencies):
        return {x.external_id[6:]: x.working_days for x in latencies}

    assert by_key(report.disclosure.latencies) == {"A": 3, "B": 3, "C": 20, "D": 21, "F": 0, "G": 1}
    assert by_key(report.disclosure.apart) == {"E": 0}
    assert report.disclosure.summary() == {
        "counted": 6, "on_time": 5, "late": 1, "pending": 0, "apart": 1,
        "median": 3, "p95": 21, "max": 21, "limit": 20,
    }  # fmt: skip
    assert [x.external_id for x in report.disclosure.late] == ["yyedu:D"]
    assert report.disclosure.buckets() == [
        ("0", 1), ("1", 1), ("2–5", 2), ("6–10", 0), ("11–20", 1), (">20", 1),
    ]  # fmt: skip

    got = {x.external_id[6:]: (x.working_days, x.hours) for x in report.collection.latencies}
    assert got == {
        "A": (1, 25.0), "B": (0, 4.5), "C": (0, 0.5), "D": (1, 24.0), "E": (7, 216.0),
        "F": (23, 768.0), "G": (3, 75.0),
    }  # fmt: skip
    assert report.collection.apart == []
    assert report.collection.summary() == {
        "counted": 7, "on_time": 5, "late": 1, "pending": 1, "apart": 0,
        "median": 1, "p95": 23, "max": 23, "limit": 20,
        "hours_median": 24.5, "hours_p95": 768.0, "hours_max": 768.0,
    }  # fmt: skip
    assert [(x.external_id, x.end) for x in report.collection.pending] == [("yyedu:G", None)]
    assert [(x.external_id, x.start, x.end) for x in report.collection.late] == [
        ("yyedu:F", date(2026, 3, 9), date(2026, 4, 10))
    ]
    assert report.collection.buckets() == [
        ("0", 2), ("1", 2), ("2–5", 0), ("6–10", 1), ("11–20", 0), (">20", 1),
    ]  # fmt: skip

    assert [(x.external_id, x.start, x.end, x.working_days) for x in report.baseline] == [
        ("yyedu:X", date(2026, 1, 20), date(2026, 2, 2), 9),  # 3 + 5 + 1, not measured
        ("yyedu:Y", date(2026, 2, 1), date(2026, 2, 2), 1),
    ]
    # their 公开时效 by the pages' dates, for reference only (never counted or late):
    # X 1/19 → Tue 1/20 is 1 working day; Y Fri 1/30 → Sun 2/01 is 0 (a plain weekend)
    reference = report.baseline_disclosure
    assert [(x.external_id, x.working_days) for x in reference.latencies] == [
        ("yyedu:X", 1), ("yyedu:Y", 0),
    ]  # fmt: skip
    assert reference.summary()["median"] == 0.5 and reference.summary()["late"] == 0
    assert report.total == 9


def test_a_fresh_backfill_is_all_baseline_none_late(sandbox, write_config, cli):
    box = sandbox(items=30, seed=5, end_date=date(2025, 12, 20))
    config = write_config(box)
    before = datetime.now().astimezone()
    assert cli("--config", str(config), "sync", "--once").code == 0
    result = cli("--config", str(config), "report", "--year", "2025", "--format", "json")
    assert result.code == 0, result.both
    data = json.loads(result.out)["figures"]  # beside the document (report_text.to_json)
    assert data["total"] > 0
    assert data["baseline"]["count"] == data["total"]
    assert all(date.fromisoformat(x["start"]) < before.date() for x in data["baseline"]["items"])
    for measure in ("disclosure", "collection"):
        summary = data[measure]["summary"]
        assert (summary["counted"], summary["late"], summary["apart"]) == (0, 0, 0), measure
        assert data[measure]["late"] == []
