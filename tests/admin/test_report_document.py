"""The whole annual report: six parts of 国办公开办函〔2021〕30号 in order, the official tables
三 and 四 as the format lays them out, part 二 and both timeliness measures from a state
store worked out by hand (with 调休 days and a baseline), and md / csv / json that hold up."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from admin_helpers import StateBuilder, local
from conftest import config_text, make_record

from bridge.admin.report.document import grid
from bridge.admin.report.parts import appeals_table, requests_table
from bridge.admin.report.text import document_from_json, to_json
from bridge.sandbox.site import load_manifest
from bridge.state.db import open_database

HEADINGS = [
    "## 一、总体情况",
    "## 二、主动公开政府信息情况",
    "## 三、收到和处理政府信息公开申请情况",
    "## 四、政府信息公开行政复议、行政诉讼情况",
    "## 五、存在的主要问题及改进情况",
    "## 六、其他需要报告的事项",
]
NASTY = "关于<b>加强</b>|作业管理\n的意见"  # a scraped title: markup, a pipe, a line break

# The bridge first read the column on Sat 2025-03-01: items published before are baseline.
# 2025: 清明 Fri 4/4 off, make-up Sun 4/27; 劳动节 5/1–5/5 off; 国庆·中秋 10/1–10/8 off,
# make-up Sun 9/28 and Sat 10/11. The start day is not counted.
#
# key cat.  生成日期(how)  published          confirmed        公开时效         归集时效 (hours)
# a   政策  1/20 page      Fri 1/24 10:00     2/5 09:30        baseline
# g   业务  4/1 page       Tue 4/29 09:00     4/29 17:00       20 (清明, 4/27)  0 (8)
# h   业务  4/1 page       Wed 4/30 10:00     Tue 5/6 10:00    21 late          1 (144)
# d   规划  Fri 9/12 page  Sat 10/11 09:00    Mon 10/13 09:00  16: 5+5, Sun 9/28, 9/29,
#                                                             9/30, 10/9, 10/10, Sat 10/11
#                                                                              1 (48)
# f   政策  derived        Mon 9/15 09:00     Mon 10/20 16:00  apart            21 late (847)
# l   业务  12/1 page      Mon 12/1 09:00     pending          0                pending, late
# o   依申请公开 and m (published in 2024) are not counted.
#
# 公开时效 g h d l: 0 16 20 21 → median 18, p95 21, max 21; on time 3, late 1, apart 1.
# 归集时效 g h d f l, finished 0 1 1 21 → median 1, p95 21, max 21; on time 3, late 2 (f, l
#   pending for more than 20 working days), pending 1; hours 8 48 144 847 → median 96.
YEAR = [
    ("a", "关于做好2025年寒假期间学校安全工作的通知", "政策文件", date(2025, 1, 20), "page:成文日期",
     local(2025, 1, 24, 10), local(2025, 2, 5, 9, 30), "余教〔2025〕3号"),
    ("g", "关于组织2025年春季教师培训的通知", "业务工作", date(2025, 4, 1), "page:成文日期",
     local(2025, 4, 29, 9), local(2025, 4, 29, 17), None),
    ("h", NASTY, "业务工作", date(2025, 4, 1), "page:成文日期",
     local(2025, 4, 30, 10), local(2025, 5, 6, 10), None),
    ("d", "余姚市2025年秋季学期校舍维修计划", "规划计划", date(2025, 9, 12), "page:成文日期",
     local(2025, 10, 11, 9), local(2025, 10, 13, 9), None),
    ("f", "关于加强中小学作业管理的意见", "政策文件", date(2025, 9, 15), "derived:published",
     local(2025, 9, 15, 9), local(2025, 10, 20, 16), "余教〔2025〕21号"),
    ("l", "关于做好2026年元旦期间安全工作的通知", "业务工作", date(2025, 12, 1), "page:成文日期",
     local(2025, 12, 1, 9), None, None),
    ("m", "关于做好2025年元旦假期安全工作的通知", "业务工作", date(2024, 12, 30), "page:成文日期",
     local(2024, 12, 31, 9), local(2025, 1, 2, 9), None),
]  # fmt: skip


@pytest.fixture
def year_config(tmp_path: Path, state_url: str) -> Path:
    db = open_database(state_url)
    b = StateBuilder(db)
    for key, title, category, created, how, published, confirmed, doc_no in YEAR:
        record = make_record(
            f"yyedu:{key}", title, category=category, published=published, doc_no=doc_no
        )
        record = replace(record, created=created, provenance={"created": how})
        b.add(record, confirmed=confirmed)
    on_request = make_record(
        "yyedu:o", "关于某某学校学位情况的答复", published=local(2025, 6, 3, 9),
        disclosure="依申请公开",
    )  # fmt: skip
    b.add(on_request, confirmed=local(2025, 6, 4, 9))
    b.first_seen(local(2025, 3, 1, 10))
    db.dispose()
    path = tmp_path / "bridge.toml"
    path.write_text(config_text(state_url, "http://127.0.0.1:9/", "http://127.0.0.1:9/"), "utf-8")
    return path


def report(cli, config: Path, *args: str):
    result = cli("--config", str(config), "report", "--year", "2025", *args)
    assert result.code == 0, result.both
    return result


def test_the_six_parts_in_order_with_part_two_and_timeliness_worked_by_hand(year_config, cli):
    md = report(cli, year_config).out
    assert md.startswith("# 余姚市教育局2025年政府信息公开工作年度报告\n")
    at = [md.index(h + "\n") for h in HEADINGS]
    assert at == sorted(at)
    assert md.index("## 附录：统计口径与明细") > at[-1]
    part_two = md[at[1] : at[2]]
    assert (
        "| 第二十条第（一）项 |  |  |  |\n|---|---|---|---|\n"
        "| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n"
        "| 规章 | — | — | — |\n| 行政规范性文件 | 2 | 0 | 2 |\n"
    ) in part_two
    assert (
        "| 第二十条第（五）项 |  |\n|---|---|\n| 信息内容 | 本年处理决定数量 |\n| 行政许可 | — |\n"
        in part_two
    )
    assert "| 信息内容 | 本年处理决定数量 |\n| 行政处罚 | — |\n| 行政强制 | — |\n" in part_two
    assert "| 信息内容 | 本年收费金额（单位：万元） |\n| 行政事业性收费 | — |\n" in part_two
    assert (
        "| 组配分类 | 条数 |\n|---|---|\n| 机构职能 | 0 |\n| 政策文件 | 2 |\n| 规划计划 | 1 |\n"
        "| 业务工作 | 3 |\n| 统计数据 | 0 |\n| 其他 | 0 |\n| 合计 | 6 |\n"
    ) in part_two
    months = "".join(
        f"| {m}月 | {n} |\n" for m, n in enumerate([1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 0, 1], 1)
    )
    assert "| 月份 | 条数 |\n|---|---|\n" + months + "| 合计 | 6 |\n" in part_two
    assert (
        "| 计入统计的条数 | 4 |\n| 20个工作日以内（含） | 3 |\n| 超过20个工作日 | 1 |\n"
        "| 生成日期页面未载明、另行列出 | 1 |\n| 中位数（工作日） | 18 |\n"
        "| 第95百分位（工作日） | 21 |\n| 最大值（工作日） | 21 |\n\n"
        "《条例》第二十六条：属于主动公开范围的政府信息，应当自该政府信息形成或者变更之日起"
        "20个工作日内及时公开。\n"
    ) in part_two
    assert "| 0 | 1 | ██████████ |\n| 1 | 0 |  |\n" in part_two
    assert "| 11–20 | 2 | " + "█" * 20 + " |\n" in part_two
    assert "| &gt;20 | 1 | ▓▓▓▓▓▓▓▓▓▓（超过法定期限） |" in part_two
    part_one = md[at[0] : at[1]]
    assert "政府信息共6条，按组配分类：政策文件2条、规划计划1条、业务工作3条。" in part_one
    assert (
        "生成日期页面载明的4条中，3条在20个工作日以内公开，1条超过，中位数18个工作日；" in part_one
    )
    assert (
        "计入5条，中位数1个工作日（96小时），第95百分位21个工作日，超过20个工作日的2条，尚未确认1条。"
        in part_one
    )
    assert "另有1条信息在 bridge 首次读取其栏目之前已在网站上（存量）" in part_one
    # a's own 公开时效, Mon 1/20 → Fri 1/24: 4 working days, for reference only
    assert (
        "存量中生成日期页面载明的1条，按页面所载日期计算公开时效：1条在20个工作日以内，0条超过，"
        "中位数4个工作日；bridge 未见其发布过程，仅供参考。"
    ) in part_one
    assert "【待填写：本机关贯彻落实《条例》的总体情况" in part_one
    part_five = md[at[4] : at[5]]
    assert "有1条主动公开信息自生成日期至在网站发布超过20个工作日（逐条见附录）。" in part_five
    assert "【待填写：" in part_five and "【待填写：" in md[at[5] :]
    appendix = md[md.index("## 附录") :]
    assert (
        "| 计入统计的条数 | 5 |\n| 20个工作日以内（含） | 3 |\n| 超过20个工作日 | 2 |\n"
        "| 尚未确认（按已过工作日计） | 1 |\n| 中位数（工作日） | 1 |\n"
        "| 第95百分位（工作日） | 21 |\n| 最大值（工作日） | 21 |\n| 中位数（小时） | 96 |\n"
        "| 第95百分位（小时） | 847 |\n| 最大值（小时） | 847 |\n"
    ) in appendix
    # the scraped title stays in its cell: escaped markup and pipe, one line
    assert (
        "| yyedu:h | 关于&lt;b&gt;加强&lt;/b&gt;\\|作业管理 的意见 | 2025-04-01 | 2025-04-30 | 21 |\n"
    ) in appendix
    assert "| yyedu:f | 关于加强中小学作业管理的意见 | 2025-09-15 | 2025-10-20 | 21 |" in appendix
    assert "| yyedu:l | 关于做好2026年元旦期间安全工作的通知 | 2025-12-01 | 尚未确认 |" in appendix
    assert "| yyedu:f | 关于加强中小学作业管理的意见 | 2025-09-15 | 2025-09-15 |" in appendix
    assert (
        "| yyedu:a | 关于做好2025年寒假期间学校安全工作的通知 | 政策文件 | 2025-01-24 |" in appendix
    )
    assert "| 生成日期（成文日期） | 5 | 1 | derived:published 1 |" in appendix
    assert "<b>" not in md and "\n的意见" not in md


def test_table_three_and_four_are_the_official_layouts():
    three = grid(requests_table())
    assert (len(three), len(three[0])) == (28, 10)

    def shown(row):
        return [cell.value if top else "" for cell, top in row]

    assert shown(three[0])[:4] == [
        "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", "", "", "申请人情况",
    ]  # fmt: skip
    assert shown(three[1])[3:] == ["自然人", "法人或其他组织", "", "", "", "", "总计"]
    assert shown(three[2])[3:] == [
        "",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
        "",
    ]
    labels = [tuple(cell.value for cell, _ in row[:3]) for row in three[3:]]
    assert labels[0] == ("一、本年新收政府信息公开申请数量",) * 3
    assert labels[1] == ("二、上年结转政府信息公开申请数量",) * 3
    assert {x[0] for x in labels[2:24]} == {"三、本年度办理结果"}
    assert labels[2][1:] == ("（一）予以公开",) * 2
    assert labels[3][1] == "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"
    assert [x[2] for x in labels[4:12]] == [
        "1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
        "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项",
    ]  # fmt: skip
    assert {x[1] for x in labels[4:12]} == {"（三）不予公开"}
    assert [x[1:] for x in labels[12:15]] == [
        ("（四）无法提供", "1.本机关不掌握相关政府信息"),
        ("（四）无法提供", "2.没有现成信息需要另行制作"),
        ("（四）无法提供", "3.补正后申请内容仍不明确"),
    ]
    assert [x[2] for x in labels[15:20]] == [
        "1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物", "4.无正当理由大量反复申请",
        "5.要求行政机关确认或重新出具已获取信息",
    ]  # fmt: skip
    assert [x[1:] for x in labels[20:23]] == [
        ("（六）其他处理", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
        (
            "（六）其他处理",
            "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        ),
        ("（六）其他处理", "3.其他"),
    ]
    assert labels[23][1:] == ("（七）总计",) * 2
    assert labels[24] == ("四、结转下年度继续办理",) * 3
    assert all(cell.value is None for row in three[3:] for cell, _ in row[3:])

    four = grid(appeals_table())
    assert (len(four), len(four[0])) == (4, 15)
    outcomes = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    assert shown(four[0]) == ["行政复议", "", "", "", "", "行政诉讼"] + [""] * 9
    assert (
        shown(four[1]) == outcomes + ["未经复议直接起诉", "", "", "", "", "复议后起诉"] + [""] * 4
    )
    assert shown(four[2]) == [""] * 5 + outcomes * 2
    assert [cell.value for cell, _ in four[2][:5]] == outcomes  # covered by the 2-row cells
    assert shown(four[3]) == [None] * 15


def test_csv_has_a_bom_crlf_and_one_row_per_table_row(year_config, cli, tmp_path):
    out = tmp_path / "2025.csv"
    result = report(cli, year_config, "--format", "csv", "--out", str(out))
    assert result.out == (f"wrote {out} (6 items, 1 late in 公开时效, 2 in 归集时效, 1 baseline)\n")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert raw.count(b"\r\n") == len(rows)  # every row ends CRLF (the title's own \n stays)
    per_table: dict[str, int] = {}
    for row in rows:
        per_table[row[0]] = per_table.get(row[0], 0) + 1
    assert per_table == {
        "2-1": 4, "2-2": 3, "2-3": 4, "2-4": 3, "2-5": 8, "2-6": 14, "2-7": 8, "2-7图": 7,
        "3": 28, "4": 4,
        "附-1": 3, "附-2": 11, "附-2图": 7, "附-3": 2, "附-4": 3, "附-5": 2, "附-6": 2, "附-7": 7,
    }  # fmt: skip
    assert ["2-1", "第二十条第（一）项", "行政规范性文件", "2", "0", "2"] in rows
    assert ["2-1", "第二十条第（一）项", "规章", "", "", ""] in rows
    title = "收到和处理政府信息公开申请情况"
    assert ["3", title, "一、本年新收政府信息公开申请数量", "", ""] + [""] * 7 in rows
    assert ["3", title, "", "（三）不予公开", "1.属于国家秘密"] + [""] * 7 in rows
    assert ["2-7图", "公开时效分布（工作日）", ">20", "1"] in rows
    assert [
        "附-3",
        "公开时效超过20个工作日的信息",
        "yyedu:h",
        NASTY,
        "2025-04-01",
        "2025-04-30",
        "21",
    ] in rows


def test_json_holds_the_document_and_the_figures_and_round_trips(year_config, cli):
    text = report(cli, year_config, "--format", "json").out
    data = json.loads(text)
    assert [p["title"] for p in data["parts"]] == [h[3:] for h in HEADINGS]
    assert [b["type"] for b in data["parts"][2]["blocks"]] == ["table"]
    table = data["parts"][2]["blocks"][0]
    assert (table["key"], table["fill_in"]) == ("3", True)
    assert table["header"][0][0] == {
        "value": "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
        "colspan": 3,
        "rowspan": 3,
    }
    assert data["parts"][4]["blocks"][-1]["fill_in"] is True
    assert data["figures"]["total"] == 6
    assert data["figures"]["baseline"]["count"] == 1
    assert data["figures"]["disclosure"]["summary"]["late"] == 1
    doc = document_from_json(data)
    assert to_json(doc, data["figures"]) == text


def test_office_formats_need_out_and_never_print_binary(year_config, cli):
    for fmt in ("xlsx", "docx"):
        result = cli("--config", str(year_config), "report", "--year", "2025", "--format", fmt)
        assert result.code == 2
        assert result.out == ""
        assert f"--format {fmt} writes a file: give --out FILE.{fmt}" in result.err


def test_a_fresh_backfill_is_all_baseline_and_part_two_counts_the_site(sandbox, write_config, cli):
    box = sandbox(items=40, seed=5, end_date=date(2025, 12, 20))
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    live = [x for x in load_manifest(box.root).live() if x.published.year == 2025]
    policies = [x for x in live if x.category == "政策文件" and x.doc_no]
    assert live and policies  # the seed gives both
    data = json.loads(report(cli, config, "--format", "json").out)
    part_two = {b["key"]: b for b in data["parts"][1]["blocks"] if b["type"] == "table"}
    made = part_two["2-1"]["rows"][1]
    assert [c["value"] for c in made[:2]] == ["行政规范性文件", len(policies)]
    by_category = {r[0]["value"]: r[1]["value"] for r in part_two["2-5"]["rows"]}
    assert by_category["合计"] == len(live)
    for name in {x.category for x in live}:
        assert by_category[name] == sum(1 for x in live if x.category == name)
    # everything was on the site before the bridge first read it: baseline, none late
    figures = data["figures"]
    assert figures["baseline"]["count"] == len(live)
    assert figures["disclosure"]["summary"]["counted"] == 0
    assert figures["collection"]["summary"]["counted"] == 0
    assert figures["collection"]["summary"]["late"] == 0
    md = report(cli, config).out
    assert [line for line in md.splitlines() if line.startswith("## ")][:6] == HEADINGS
    assert f"另有{len(live)}条信息在 bridge 首次读取其栏目之前已在网站上（存量）" in md
