"""The label vocabulary: which labels name which field, in which order, and how a line of
``label：value`` pairs is taken apart (pure: ``bridge/labels.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.labels import (
    _KNOWN_LABEL,
    _PAIR,
    _PAIRS,
    ALL_LABELS,
    FIELD_LABELS,
    is_label_line,
    line_pairs,
    precedence_table,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_vocabulary_the_issue_names_in_its_order() -> None:
    assert FIELD_LABELS["publisher"][:1] == ("发布机构",)
    for label in (
        "发文机关",
        "发文单位",
        "制发机关",
        "来源",
        "信息来源",
        "发布者",
        "报送单位",
        "责任部门",
    ):
        assert label in FIELD_LABELS["publisher"]
    assert FIELD_LABELS["created"] == ("成文日期", "生成日期", "发文日期", "印发日期")
    assert {"分类", "主题分类"} <= set(FIELD_LABELS["topic"])
    assert {"时效", "有效性", "有效期"} <= set(FIELD_LABELS["validity"])
    assert {"名称", "标题"} <= set(FIELD_LABELS["title"])


def test_the_readme_quotes_the_precedence_table() -> None:
    assert precedence_table() in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("line", "pairs"),
    [
        (
            "索 引 号：002949236/2012-00001　发布机构：余姚市教育局 生成日期：2012-12-05 09:12:33",
            [
                ("索引号", "002949236/2012-00001"),
                ("发布机构", "余姚市教育局"),
                ("生成日期", "2012-12-05 09:12:33"),
            ],
        ),
        ("标　　题：关于做好招生工作的通知", [("标题", "关于做好招生工作的通知")]),
        ("没有标签的一句话", []),
        ("资金来源于财政拨款", []),
        ("标题：关于2012年来源地的通知", [("标题", "关于2012年来源地的通知")]),
        # a text capture of a metadata table: spaced labels without colons (连云区教育局)
        (
            "索 引 号 0142581323/2026-00001 分 类 科技、教育/教育 / 报告",
            [("索引号", "0142581323/2026-00001"), ("分类", "科技、教育/教育 / 报告")],
        ),
        ("文 号 无〔〕号 主 题 词", [("文号", "无〔〕号"), ("主题词", "")]),
        # labels split from their values by elements (<strong>索引号</strong>：…)
        ("\x1f索引号\x1f：000014348/2020-35147", [("索引号", "000014348/2020-35147")]),
        ("索\u2002引\u2002号：X 发文机关：国务院", [("索引号", "X"), ("发文机关", "国务院")]),
        # the info line: another label ends the value, a widget's bracket is no part of it
        (
            "发布时间：2012-12-05 09:30来源：本站 【字体：大 中 小】",
            [("发布时间", "2012-12-05 09:30"), ("来源", "本站"), ("字体", "大 中 小】")],
        ),
        ("来源：\x1f\x1f 【\x1f打印\x1f】", [("来源", "【打印】")]),
        # an info line that starts with its date unlabelled (中国政府网)
        ("2021-08-01 06:59 来源： 新华社", [("发布时间", "2021-08-01 06:59"), ("来源", "新华社")]),
        ("各省、自治区、直辖市人民政府，国务院各部委、各直属机构：", []),
    ],
)
def test_line_pairs(line: str, pairs: list[tuple[str, str]]) -> None:
    assert line_pairs(line) == pairs


def test_a_label_line_starts_with_a_known_label() -> None:
    assert is_label_line("标 题 连云区教育局政府信息公开工作2025年度报告")
    assert is_label_line("  发布时间：2026-01-07 09:43 来源：青山区教育局")
    assert not is_label_line("浏览次数：12")
    assert not is_label_line("一、总体情况")


_OTHER = ["浏览次数", "一、", "各学校", "2012", "x", "：", ":", " ", "\u3000", "\x1f", "\n", ""]
_PIECES = [*ALL_LABELS, *(label[0] for label in ALL_LABELS), *_OTHER]


@given(st.lists(st.sampled_from(_PIECES), max_size=5))
def test_a_line_is_matched_only_when_it_starts_like_a_label(pieces: list[str]) -> None:
    # is_label_line asks the pattern only about a line starting with a label's first
    # character: every other line answers as the pattern would have.
    line = "".join(pieces)
    m = _PAIR.match(line.lstrip(" \t\u3000\xa0\x1f"))
    assert is_label_line(line) == (m is not None and m.group("other") is None)


_SPACED = [*(" ".join(label) for label in ALL_LABELS[:8]), *(label[1:] for label in ALL_LABELS)]


@given(st.lists(st.sampled_from([*_PIECES, *_SPACED]), max_size=6))
def test_a_line_without_a_colon_or_a_known_label_holds_no_pair(pieces: list[str]) -> None:
    # line_pairs answers such a line without asking _PAIR: _PAIR finds nothing there.
    line = "".join(pieces)
    if ":" not in line and "：" not in line and not _KNOWN_LABEL.search(line):
        assert not list(_PAIR.finditer(line))


def test_every_known_label_starts_with_a_chinese_character() -> None:
    # _PAIR looks for a pair only where one starts.
    assert all("\u4e00" <= label[0] <= "\u9fff" for label in ALL_LABELS)


@given(st.lists(st.sampled_from([*_PIECES, *_SPACED, "2021-08-01 06:59", "|", "【", "x:"])))
def test_a_pair_is_found_where_the_alternatives_alone_find_it(pieces: list[str]) -> None:
    line = "".join(pieces)
    alone = re.compile(_PAIRS)
    assert [m.groupdict() | {"at": m.span()} for m in _PAIR.finditer(line)] == [
        m.groupdict() | {"at": m.span()} for m in alone.finditer(line)
    ]
