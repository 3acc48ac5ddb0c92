"""`bridge report`: counts and working-day timeliness over a year around 春节 and 国庆."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from admin_helpers import StateBuilder, local
from conftest import config_text, make_record

from bridge.state.db import open_database
from bridge.workdays import working_days

# Worked out by hand from the State Council's 2025 holiday notice, then checked against
# chinese_calendar: 春节 1/28–2/4 off, make-up working days Sun 1/26 and Sat 2/8; 清明 4/4–4/6;
# 劳动节 5/1–5/5 off, make-up Sun 4/27; 国庆·中秋 10/1–10/8 off, make-up Sun 9/28 and Sat 10/11.
# The day of publication is not counted; the day of confirmation is (if a working day).
HAND_WORKED = [
    # published, confirmed, working days, why
    ("2025-01-24", "2025-02-05", 3, "Sun 1/26 make-up, Mon 1/27, holiday, Wed 2/5"),
    ("2025-01-27", "2025-02-08", 4, "holiday 1/28–2/4, 2/5, 2/6, 2/7, Sat 2/8 make-up"),
    ("2025-01-28", "2025-02-10", 5, "published on 除夕 (a holiday): 2/5–2/7, 2/8, Mon 2/10"),
    ("2025-09-26", "2025-10-09", 4, "Sun 9/28 make-up, 9/29, 9/30, holiday, Thu 10/9"),
    ("2025-09-30", "2025-10-11", 3, "holiday 10/1–10/8, 10/9, 10/10, Sat 10/11 make-up"),
    ("2025-09-15", "2025-10-20", 21, "4+5 to 9/26, 9/28, 9/29, 9/30, 10/9–10/11, 5, Mon 10/20"),
    ("2025-04-01", "2025-04-29", 20, "清明 Fri 4/4 off, Sun 4/27 make-up: exactly the limit"),
    ("2025-04-01", "2025-04-30", 21, "one day later: late"),
    ("2025-03-03", "2025-03-03", 0, "confirmed the same day"),
    ("2025-03-08", "2025-03-10", 1, "published on a Saturday, confirmed Monday"),
    ("2025-05-06", "2025-05-07", 1, "the first working day after 劳动节"),
]


@pytest.mark.parametrize(("published", "confirmed", "days", "why"), HAND_WORKED)
def test_working_days_match_the_hand_worked_table(published, confirmed, days, why):
    assert working_days(date.fromisoformat(published), date.fromisoformat(confirmed)) == days, why


# key, title, published, confirmed (None: not yet), other record fields
YEAR_2025 = [
    ("a", "关于做好2025年寒假期间学校安全工作的通知", local(2025, 1, 24, 10),
     local(2025, 2, 5, 9, 30), {"category": "政策文件", "doc_no": "余教〔2025〕3号"}),
    ("b", "关于开展春节期间校园安全检查的通知", local(2025, 1, 27, 16), local(2025, 2, 8, 11), {}),
    ("c", "余姚市教育局春节值班安排公告", local(2025, 1, 28, 9), local(2025, 2, 10, 8, 45),
     {"genre": "公告"}),
    ("d", "余姚市2025年秋季学期校舍维修计划", local(2025, 9, 26, 15), local(2025, 10, 9, 10),
     {"category": "规划计划", "genre": "计划"}),
    ("e", "2025年余姚市教育事业统计数据", local(2025, 9, 30, 17), local(2025, 10, 11, 9),
     {"category": "统计数据", "genre": "统计数据"}),
    ("f", "关于加强中小学作业管理的意见", local(2025, 9, 15, 9), local(2025, 10, 20, 16),
     {"category": "政策文件", "genre": "意见", "doc_no": "余教〔2025〕21号"}),
    ("g", "关于组织2025年春季教师培训的通知", local(2025, 4, 1, 9), local(2025, 4, 29, 17), {}),
    ("h", "关于开展2025年中小学体质健康监测的通知", local(2025, 4, 1, 10), local(2025, 4, 30, 8), {}),
    ("i", "余姚市教育局内设机构及职责", local(2025, 3, 3, 9), local(2025, 3, 3, 14),
     {"category": "机构职能", "genre": "其他"}),
    ("j", "关于公布2025年中考报名时间的通知", local(2025, 3, 8, 11), local(2025, 3, 10, 9),
     {"category": "其他"}),
    # published 10:00 on 6/30 in Shanghai, confirmed 17:30 UTC = 01:30 on 7/1 in Shanghai
    ("k", "余姚市教育局2025年上半年工作总结", local(2025, 6, 30, 10),
     datetime(2025, 6, 30, 17, 30, tzinfo=UTC), {"genre": "总结"}),
    ("l", "关于做好2026年元旦期间安全工作的通知", local(2025, 12, 1, 9), None, {}),
    ("p", "关于调整校车线路的通告", local(2025, 5, 6, 9), local(2025, 5, 7, 10),
     {"category": "其他", "genre": "通告"}),  # withdrawn later: still disclosed in 2025
    # left out: 2024 in Shanghai (23:30 on 12/31), 2026 in Shanghai (16:30 UTC on 12/31),
    # disclosed on request
    ("m", "关于做好2025年元旦假期安全工作的通知", local(2024, 12, 31, 23, 30),
     local(2025, 1, 2, 9), {}),
    ("n", "关于2026年寒假放假时间的通知", datetime(2025, 12, 31, 16, 30, tzinfo=UTC),
     local(2026, 1, 4, 9), {}),
    ("o", "关于某某学校学位情况的答复", local(2025, 6, 3, 9), local(2025, 6, 4, 9),
     {"disclosure": "依申请公开"}),
    # 行政规范性文件 candidates of earlier years: one repealed in 2025, one still in force
    ("r", "余姚市中小学学籍管理办法", local(2024, 6, 3, 9), local(2024, 6, 4, 9),
     {"category": "政策文件", "genre": "办法", "doc_no": "余教〔2024〕8号"}),
    ("s", "余姚市教育局行政规范性文件管理规定", local(2023, 3, 1, 9), local(2023, 3, 2, 9),
     {"category": "政策文件", "genre": "其他", "doc_no": "余教〔2023〕2号"}),
]  # fmt: skip


def build_year(url: str) -> None:
    """The items above through the state package, plus a withdrawal, a quarantined item
    and a repeal recorded in 2025."""
    db = open_database(url)
    b = StateBuilder(db)
    records = {}
    for key, title, published, confirmed, fields in YEAR_2025:
        records[key] = make_record(f"yyedu:{key}", title, published=published, **fields)
        b.add(records[key], confirmed=confirmed)
    b.withdraw("yyedu:p")
    b.quarantine("yyedu:q", "q")
    b.add(replace(records["r"], validity="废止"))
    b.version_recorded_at("yyedu:r", 2, local(2025, 7, 1, 10))
    b.first_seen(local(2023, 1, 1, 8))  # read since before all of these: no baseline
    db.dispose()


@pytest.fixture
def year_config(tmp_path: Path, state_url: str) -> Path:
    build_year(state_url)
    path = tmp_path / "bridge.toml"
    text = config_text(state_url, "http://127.0.0.1:9/", "http://127.0.0.1:9/")
    path.write_text(text, encoding="utf-8")
    return path


def test_report_counts_and_timeliness(year_config, cli):
    result = cli("--config", str(year_config), "report", "--year", "2025", "--format", "json")
    assert result.code == 0, result.both
    data = json.loads(result.out)["figures"]  # the counts beside the document
    assert data["total"] == 13
    assert data["withdrawn"] == 1
    assert data["by_category"] == {
        "机构职能": 1,
        "政策文件": 2,
        "规划计划": 1,
        "业务工作": 6,
        "统计数据": 1,
        "其他": 2,
    }
    assert data["by_genre"] == {
        "通知": 6,
        "公告": 1,
        "其他": 1,
        "总结": 1,
        "意见": 1,
        "统计数据": 1,
        "计划": 1,
        "通告": 1,
    }
    assert next(iter(data["by_genre"])) == "通知"
    assert data["by_month"] == {
        "01": 3,
        "02": 0,
        "03": 2,
        "04": 2,
        "05": 1,
        "06": 1,
        "07": 0,
        "08": 0,
        "09": 3,
        "10": 0,
        "11": 0,
        "12": 1,
    }
    collection = data["collection"]
    latency = {i["external_id"].split(":")[1]: i["working_days"] for i in collection["items"]}
    assert {k: v for k, v in latency.items() if k != "l"} == {
        "a": 3,
        "b": 4,
        "c": 5,
        "d": 4,
        "e": 3,
        "f": 21,
        "g": 20,
        "h": 21,
        "i": 0,
        "j": 1,
        "k": 1,
        "p": 1,
    }
    hours = sorted(i["hours"] for i in collection["items"] if i["end"])
    # sorted: 0 1 1 1 3 3 4 4 5 20 21 21 → median (3+4)/2, p95 the ⌈11.4⌉ = 12th value;
    # hours: k 15.5 (10:00 to 01:30 next day), i 5, j 46, p 25, …, f 847 (9/15 9:00 → 10/20
    # 16:00: 35 days and 7 hours), the 12th largest of 12
    assert hours[:4] == [5.0, 15.5, 25.0, 46.0] and hours[-1] == 847.0
    assert collection["summary"] == {
        "counted": 13,
        "on_time": 10,
        "late": 3,
        "pending": 1,
        "apart": 0,
        "median": 3.5,
        "p95": 21,
        "max": 21,
        "limit": 20,
        "hours_median": 285.2,  # (hours[5] + hours[6]) / 2 = 285.25, to one decimal
        "hours_p95": 847.0,
        "hours_max": 847.0,
    }
    late = [(x["external_id"], x["working_days"], x["end"]) for x in collection["late"]]
    assert late[1:] == [("yyedu:f", 21, "2025-10-20"), ("yyedu:h", 21, "2025-04-30")]
    assert late[0][0] == "yyedu:l" and late[0][2] is None and late[0][1] > 21  # still pending
    # the records say nothing of where their 生成日期 came from: all counted apart
    assert data["disclosure"]["summary"]["counted"] == 0
    assert data["disclosure"]["summary"]["apart"] == 13
    assert data["baseline"]["count"] == 0 and data["baseline"]["items"] == []
    assert data["baseline"]["disclosure_for_reference"]["counted"] == 0
    official = {r["name"]: r["values"] for block in data["official_table"] for r in block["rows"]}
    assert official == {
        "规章": [None, None, None],
        "行政规范性文件": [2, 1, 3],
        "行政许可": [None],
        "行政处罚": [None],
        "行政强制": [None],
        "行政事业性收费": [None],
    }


def test_report_markdown_follows_the_official_layout(year_config, cli):
    result = cli("--config", str(year_config), "report", "--year", "2025")
    assert result.code == 0, result.both
    md = result.out
    assert "## 二、主动公开政府信息情况" in md
    assert (
        "| 第二十条第（一）项 |  |  |  |\n|---|---|---|---|\n"
        "| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n"
        "| 规章 | — | — | — |\n| 行政规范性文件 | 2 | 1 | 3 |\n"
    ) in md
    assert "| 信息内容 | 本年处理决定数量 |\n| 行政处罚 | — |\n| 行政强制 | — |" in md
    assert "| 信息内容 | 本年收费金额（单位：万元） |\n| 行政事业性收费 | — |" in md
    assert "政府信息共13条（其中1条后来已撤销）" in md
    assert "| 业务工作 | 6 |" in md and "| 合计 | 13 |" in md
    assert "| 9月 | 3 |\n| 10月 | 0 |" in md
    assert (
        "| 尚未确认（按已过工作日计） | 1 |\n| 中位数（工作日） | 3.5 |\n"
        "| 第95百分位（工作日） | 21 |\n| 最大值（工作日） | 21 |\n"
    ) in md
    assert "| 生成日期页面未载明、另行列出 | 13 |" in md
    assert "存量" in md and "另有0条" not in md  # no baseline: no sentence about one
    assert "| yyedu:f | 关于加强中小学作业管理的意见 | 2025-09-15 | 2025-10-20 | 21 |" in md
    assert "尚未确认" in md
    assert "起算当日不计" in md


def test_report_csv_and_out_file(year_config, cli, tmp_path):
    out = tmp_path / "2025.csv"
    result = cli(
        "--config",
        str(year_config),
        "report",
        "--year",
        "2025",
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert result.code == 0, result.both
    assert result.out == (
        f"wrote {out} (13 items, 0 late in 公开时效, 3 in 归集时效, 0 baseline)\n"
    )
    rows = out.read_text(encoding="utf-8-sig").splitlines()
    assert "2-5,2025年主动公开信息（按组配分类）,业务工作,6" in rows
    assert "2-6,2025年主动公开信息（按月份）,9月,3" in rows
    assert "2-1,第二十条第（一）项,行政规范性文件,2,1,3" in rows
    assert "2-1,第二十条第（一）项,规章,,," in rows
    assert "附-2,归集时效（在网站发布至平台确认）,中位数（工作日）,3.5" in rows
    assert (
        "附-4,归集时效超过20个工作日或尚未确认的信息,yyedu:h,关于开展2025年中小学体质健康监测的通知,"
        "2025-04-01,2025-04-30,21"
    ) in rows
    assert "2-7,公开时效（生成日期至在网站发布）,生成日期页面未载明、另行列出,13" in rows


def test_report_counts_what_the_pages_show_and_what_they_do_not() -> None:
    from bridge.admin.report.build import build
    from bridge.admin.report.parts import build_document
    from bridge.admin.report.text import to_csv, to_markdown
    from bridge.state.report_queries import ReportItem

    published = local(2025, 3, 3, 9)
    shown = {"created": "page:成文日期", "publisher": "page:发文机关", "index_no": "page:索引号"}
    derived = {"created": "derived:published", "publisher": "config"}
    items = [
        ReportItem(
            f"yyedu:{n}",
            "yyedu",
            "active",
            published,
            None,
            {
                **make_record(
                    f"yyedu:{n}", "关于做好安全工作的通知", published=published
                ).to_state_json(),
                "provenance": how,
            },
            (),
        )
        for n, how in enumerate([shown, shown, derived])
    ]
    report = build(items, 2025, ["yyedu"], now=local(2025, 12, 31, 12))
    assert report.provenance["created"] == {
        "shown": 2,
        "not_shown": 1,
        "not_shown_by": {"derived:published": 1},
    }
    assert report.provenance["publisher"]["not_shown_by"] == {"config": 1}
    assert report.provenance["index_no"]["shown"] == 2
    assert report.provenance["index_no"]["not_shown_by"] == {"—": 1}  # none on that page
    doc = build_document(report, "余姚市教育局")
    text = to_markdown(doc)
    assert "| 生成日期（成文日期） | 2 | 1 | derived:published 1 |" in text
    assert "| 发布机构 | 2 | 1 | config 1 |" in text
    assert (
        "页面未载明目录要素，由 bridge 推定、取自配置或缺省值：生成日期（成文日期）1条、发布机构1条"
        in text
    )
    title = "目录要素的来源（页面载明的，与推定、取自配置或缺省的）"
    assert f"附-7,{title},生成日期（成文日期）,2,1,derived:published 1\r\n" in to_csv(doc)
