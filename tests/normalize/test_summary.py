"""内容概述: at most 150 characters, cut where a reader pauses."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.normalize import summary
from bridge.normalize.summary import _WIDE_RE, _lines, join_lines, make_summary
from bridge.text import LINE_BREAK_RE, clean_text

SENTENCE = "市教育局积极开展政务公开工作，进一步改善行政管理，提高行政效能。"  # 32 characters


def test_short_text_is_kept_whole_on_one_line() -> None:
    assert make_summary("  第一段。\n\n第二段\u3000内容。 ") == "第一段。第二段 内容。"


def test_latin_lines_keep_a_space_between_them() -> None:
    assert make_summary("Section one\nSection two\n第三段") == "Section one Section two第三段"


def test_cut_after_the_last_sentence_that_fits() -> None:
    text = SENTENCE * 6  # 192 characters
    assert make_summary(text) == SENTENCE * 4
    assert len(make_summary(text)) == 128


def test_a_closing_quote_stays_with_its_sentence() -> None:
    text = "甲" * 100 + "“乙。”" + "丙" * 100
    assert make_summary(text) == "甲" * 100 + "“乙。”"


def test_semicolon_before_comma() -> None:
    text = "甲" * 60 + "；" + "乙" * 30 + "，" + "丙" * 100
    assert make_summary(text) == "甲" * 60 + "…"


def test_comma_when_no_sentence_or_semicolon_fits() -> None:
    text = "甲" * 60 + "，" + "乙" * 30 + "、" + "丙" * 100
    assert make_summary(text) == "甲" * 60 + "，" + "乙" * 30 + "…"


def test_hard_cut_when_no_boundary_is_in_reach() -> None:
    text = "甲" * 20 + "。" + "乙" * 200  # the only boundary keeps less than a third
    assert make_summary(text) == "甲" * 20 + "。" + "乙" * 128 + "…"
    assert len(make_summary(text)) == 150


def test_limit_is_configurable() -> None:
    assert make_summary("一二三。四五六。七八九。", limit=9) == "一二三。四五六。"


def test_limit_must_leave_room() -> None:
    with pytest.raises(ValueError, match="summary limit 1"):
        make_summary("text", limit=1)


@given(st.text(alphabet="甲乙丙 。，、；！？\n\u3000", max_size=400), st.integers(10, 200))
def test_never_over_the_limit(text: str, limit: int) -> None:
    summary = make_summary(text, limit=limit)
    assert len(summary) <= limit
    assert summary == summary.strip()


_LINE_PIECES = [
    "第一段。",
    "second line",
    " ",
    "\u3000",
    "\r\n",
    "\r",
    "\n",
    "\u2028",
    "\x85",
    "\x0b",
    "\x0c",
    "",
]


@given(st.lists(st.sampled_from(_LINE_PIECES), max_size=12), st.none() | st.integers(0, 30))
def test_lines_are_split_one_at_a_time_where_the_pattern_splits(pieces, stop) -> None:
    # join_lines reads lines as it goes (a summary needs the first few): the lines and
    # the result are those of splitting the whole text at once.
    text = "".join(pieces)
    assert list(_lines(text)) == LINE_BREAK_RE.split(text)
    assert join_lines(text, stop=stop) == _joined_whole(text, stop)


def _joined_whole(text: str, stop: int | None) -> str:
    out = ""
    for raw in LINE_BREAK_RE.split(text):
        line = clean_text(unicodedata.normalize("NFC", raw))
        if not line:
            continue
        if out and not (_WIDE_RE.match(out[-1]) or _WIDE_RE.match(line[0])):
            out += " "
        out += line
        if stop is not None and len(out) > stop:
            break
    return out


@given(
    st.lists(st.sampled_from([*_LINE_PIECES, "\x1c", "\x1e", "甲乙"]), max_size=30),
    st.integers(1, 8),
)
def test_lines_split_in_chunks_are_the_lines_the_pattern_splits(pieces, chunk) -> None:
    # A long text is split a chunk at a time (str.splitlines, the pattern where the two
    # differ): chunks of a few characters put every kind of break at a chunk's edge.
    text = "".join(pieces)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(summary, "_CHUNK", chunk)
        assert list(_lines(text)) == LINE_BREAK_RE.split(text)


def test_the_breaks_splitlines_is_checked_against_are_the_patterns() -> None:
    breaks = {chr(c) for c in range(0x10000) if LINE_BREAK_RE.fullmatch(chr(c))}
    assert breaks == set(summary._BREAKS)
