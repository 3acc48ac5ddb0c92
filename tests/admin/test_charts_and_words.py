"""The admin pages' pure parts: the SVG charts (exact bars and heights) and the Chinese
words of reconcile notes and summaries."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from test_reconcile_rules import CASES

from bridge.admin import charts
from bridge.admin import text as admin_text

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own SVG; well-formed, or this raises


def test_bar_heights_scale_to_a_round_axis_maximum():
    assert charts.PLOT_H == 200
    svg = parse(
        charts.bar_chart(
            [("一", 0), ("二", 1), ("三", 2), ("四", 4)],
            chart_id="c", title="标题", desc="说明", y_label="条", x_label="日期",
        )
    )  # fmt: skip
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    assert [b.get("height") for b in bars] == ["0", "50", "100", "200"]
    assert [float(b.get("y")) + float(b.get("height")) for b in bars] == [216.0] * 4  # on zero
    assert [b.find(f"{SVG}title").text for b in bars] == ["一：0", "二：1", "三：2", "四：4"]
    assert svg.find(f"{SVG}title").text == "标题" and svg.find(f"{SVG}desc").text == "说明"
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title c-desc"
    assert [t.text for t in svg.findall(f".//{SVG}g[@class='y-ticks']/{SVG}text")] == [
        "0", "1", "2", "3", "4"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 4), (3, 4), (5, 8), (10, 20), (21, 40), (41, 80), (399, 400)]
)
def test_axis_maximum(largest, top):
    assert charts.nice_top(largest) == top


def test_thirty_bars_label_every_third_day_and_escape_labels():
    days = [(f"<{d}>&", d) for d in range(30)]
    text = charts.bar_chart(days, chart_id="d", title="a<b", desc="&", y_label="次", x_label="x")
    assert "<0>" not in text and "&lt;0&gt;&amp;" in text and "a&lt;b" in text
    svg = parse(text)
    assert len(svg.findall(f".//{SVG}rect[@class='bar']")) == 30
    assert len(svg.findall(f".//{SVG}g[@class='x-ticks']/{SVG}text")) == 10
    heights = [float(b.get("height")) for b in svg.findall(f".//{SVG}rect[@class='bar']")]
    assert heights[29] == pytest.approx(200 * 29 / 40) and heights[0] == 0


def test_line_chart_has_one_point_per_value():
    points = [(f"{h}时", n) for h, n in zip(range(0, 30, 6), (0, 2, 4, 4, 1), strict=True)]
    svg = parse(
        charts.line_chart(points, chart_id="b", title="积压", desc="d", y_label="条", x_label="t")
    )
    circles = svg.findall(f".//{SVG}circle[@class='point']")
    assert [c.get("cy") for c in circles] == ["216", "116", "16", "16", "166"]
    line = svg.find(f".//{SVG}polyline").get("points").split()
    assert len(line) == 5 and line[0] == "48,216" and line[-1] == "684,166"
    assert svg.find(f".//{SVG}script") is None


NOTES = [case[5] for case in CASES if case[5]]


@pytest.mark.parametrize("text", NOTES)
def test_every_reconcile_note_reads_in_chinese(text):
    said, raw = admin_text.note(text)
    assert raw == [] and said
    assert not any(w in said for w in ("portal", "state store", "version", "delivery"))


def test_note_keeps_what_it_cannot_translate_apart():
    said, raw = admin_text.note(
        "gone from the site's complete listing, still active on the portal; "
        "held: 3 of 6 items of column 'zcwj' are gone (50%, more than max_withdraw_share 20%); "
        "--force sends them; HTTP 502 from http://portal/"
    )
    assert said == (
        "已从网站的完整列表中消失，平台上仍在网；暂缓：栏目 zcwj 的 6 条中有 3 条消失"
        "（50%，超过 max_withdraw_share 20%）；加 --force 才会撤销"
    )
    assert raw == ["HTTP 502 from http://portal/"]
    assert admin_text.note("delivery dead #9: 422 bad will send it")[0] == (
        "发送任务 死信 #9：422 bad 将发送它"
    )


def test_reconcile_summary_in_chinese():
    result = {
        "counts": {"=": 12, "+": 1, "-": 2, "*": 0, "!": 1},
        "lines": [{"note": "foreign: no configured source makes this id; x"}],
    }
    assert admin_text.reconcile_summary(result) == (
        "共 4 处差异：仅网站有 1（+），仅平台有 2（-），内容不同 0（*），无法判断 1（!）；"
        "一致 12（=）；1 条外来条目不处理"
    )
    assert admin_text.word(admin_text.CIRCUIT, "half-open") == "半开（试探发送）"
    assert admin_text.word(admin_text.RUN_RESULTS, "weird") == "其他"
