"""The furniture at the top of a body: the cheap check before the furniture pattern, and
the order summary_source asks about head lines in."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.labels import is_label_line
from bridge.normalize.body_head import (
    _CHROME_HINT,
    _CHROME_LINE,
    _CLAUSE,
    _HEAD_LABEL,
    _NUMBERED,
    _is_chrome,
    summary_source,
)
from bridge.normalize.dates import line_date
from bridge.normalize.docno import find_doc_no
from bridge.text import compact

# The pattern's words and marks, and text around them.
PIECES = [
    *("发布时间", "发布日期", "来源", "信息来源", "作者", "责任编辑", "浏览次数", "阅读次数"),
    *("点击数", "字号", "打印", "关闭", "大", "中", "小", "字体", "分享到", "打印本页"),
    *("关闭窗口", "【", "】", "：", ":", " ", "\u3000", "文", "a", "1"),
]
LINES = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@given(LINES)
@example("发布时间：2012-12-05 来源：本站")
@example("【字号：大 中 小】【打印】")
@example("分享到")
def test_is_chrome_is_the_pattern(line: str) -> None:
    assert _is_chrome(line) == bool(_CHROME_LINE.search(line))


@given(LINES.map(lambda line: _CHROME_HINT.sub("", line)))
def test_a_line_without_a_hint_is_no_furniture(line: str) -> None:
    """What the cheap check relies on: every match of the pattern holds a hint."""
    assert _CHROME_LINE.search(line) is None


def _summary_source_in_order(body: str, title: str, publisher: str, doc_no: str | None) -> str:
    """summary_source as it asked about each head line before the short lines went first."""
    head = {compact(title), compact(publisher), compact(doc_no or "")} - {""}
    whole_title = compact(title)
    lines = body.splitlines()
    start, title_so_far, saluted = 0, "", False
    for line in lines[:12]:
        text = compact(line)
        if (
            text in head
            or line_date(line)
            or find_doc_no(line) is not None
            or (len(line) <= 120 and (is_label_line(line) or _is_chrome(line)))
        ):
            pass
        elif whole_title and len(text) >= 2 and whole_title.startswith(title_so_far + text):
            title_so_far += text
        elif not saluted and text.endswith(("：", ":")) and len(text) <= 120 and "。" not in text:
            saluted = True
        elif whole_title and len(text) >= 8 and text in whole_title:
            pass  # the title without its prefix
        elif _HEAD_LABEL.match(text) and len(text) <= 60 and "。" not in text:
            pass  # a label line
        elif len(text) <= 40 and not _CLAUSE.search(text) and not _NUMBERED.match(text):
            pass  # a 引题 or 副题
        else:
            break
        start += 1
    if start >= len(lines):
        start = 0
    lines = lines[start:]
    while lines and (compact(lines[-1]) in head or line_date(lines[-1])):
        lines.pop()
    return "\n".join(lines)


TITLE = "关于印发余姚市教育发展规划的通知"
HEAD_LINES = [
    TITLE, "关于印发余姚市", "教育发展规划的通知", "【湖北省中心】", "余姚市教育发展规划的通知",
    "余姚市教育局", "余教发〔2024〕6号", "2024年11月25日", "余姚市教育局 2024年11月25日",
    "索引号：11330281002949236M/2024-00018", "发布时间：2024-11-27 来源：本站", "【打印】",
    "各有关学校：", "各省、自治区、直辖市人民政府，国务院各部委：", "招标编号：HBSJ-202007TL-0270",
    "余姚市第二中学 石杰兰", "一、总体情况", "（一）主要目标", "1.工作要求",
    "2024年是全市教育改革发展的关键之年，到2026年全市学前教育入园率保持在99%以上。",
    "现将有关事项通知如下：", "附件：1.规划.pdf", "", " ", "：",
]  # fmt: skip


@settings(max_examples=500)
@given(
    st.lists(st.sampled_from(HEAD_LINES), max_size=16),
    st.sampled_from([TITLE, "", "余姚市教育局"]),
    st.sampled_from(["余姚市教育局", ""]),
    st.sampled_from(["余教发〔2024〕6号", None]),
)
def test_short_head_lines_asked_first_leave_the_same_text(lines, title, publisher, doc_no):
    body = "\n".join(lines)
    assert summary_source(body, title, publisher, doc_no) == _summary_source_in_order(
        body, title, publisher, doc_no
    )
