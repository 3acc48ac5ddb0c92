"""The furniture at the top of a body: the cheap check before the furniture pattern."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bridge.normalize.body_head import _CHROME_HINT, _CHROME_LINE, _is_chrome

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
