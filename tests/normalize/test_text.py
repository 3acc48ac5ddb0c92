"""Canonical text: formatting never survives, content always does."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from bridge.text import (
    _DROP_CHARS,
    _NOT_IN_A_TREE,
    _NOT_IN_A_TREE_CHARS,
    LINE_BREAK_RE,
    WHITESPACE_RE,
    clean_body_text,
    clean_text,
    compact,
    fold_spaces,
    strip_invisible,
    tree_safe,
    without_markup,
)


def test_clean_text_folds_every_kind_of_white_space() -> None:
    assert clean_text(" 余姚市\u3000\u3000教育局\xa0\t通知\r\n ") == "余姚市 教育局 通知"


def test_clean_text_is_nfc_and_drops_invisible_marks() -> None:
    assert clean_text("Cafe\u0301\u200b\ufeff\x00") == "Café"
    assert clean_text("Cafe\u200b\u0301") == "Café"  # composed after the mark is gone


def test_clean_text_of_nothing() -> None:
    assert clean_text(None) == ""
    assert clean_text("\u3000 \n") == ""


def test_clean_body_text_keeps_paragraphs() -> None:
    assert clean_body_text("\u3000\u3000第一段\r\n\r\n  第二段  内容\n\n") == "第一段\n第二段 内容"


def test_compact_removes_all_white_space() -> None:
    assert compact("索 引 号：") == "索引号："
    assert compact("标\u3000\u3000题") == "标题"


WORDS = st.lists(
    st.text(alphabet="余姚教育局abcé0", min_size=1, max_size=5), min_size=1, max_size=6
)
SPACE = st.text(alphabet=" \t\u3000\xa0\r\n", min_size=1, max_size=3)


@given(WORDS, st.lists(SPACE, min_size=8, max_size=8))
def test_formatting_only_changes_give_the_same_text(words: list[str], spaces: list[str]) -> None:
    plain = " ".join(words)
    formatted = spaces[0] + "".join(w + spaces[i % 7 + 1] for i, w in enumerate(words))
    assert clean_text(unicodedata.normalize("NFD", formatted)) == clean_text(plain)


@given(st.text())
def test_clean_text_is_idempotent(text: str) -> None:
    assert clean_text(clean_text(text)) == clean_text(text)


def test_without_markup_drops_code_with_its_content_and_other_tags_alone() -> None:
    assert without_markup("公告<script>alert(1)</script>") == "公告"
    assert without_markup("公告<SCRIPT type=x>if(a<b)x()</SCRIPT>尾") == "公告尾"
    assert without_markup("<style>h1{}</style><b>加粗</b>标题<img src=x onerror=alert(2)>") == (
        "加粗标题"
    )
    assert without_markup("公告<script>alert(1)") == "公告"  # unclosed: to the end
    assert without_markup("x<5 且 y>3 的《通知》") == "x<5 且 y>3 的《通知》"  # no tag


# Text as pages hold it: words, every kind of white space and line break, combining marks
# (which compose under NFC), invisible marks and control characters.
PIECES = [
    *"ab中文 \t\n\r\x0b\x0c\x85\u2028\u2029\u3000\xa0\u200b\ufeff\xad\x01\x1c",
    *("e\u0301", "\u0301", "\u0327", "\uff21", "\u2126", "\r\n"),
]
MESSY = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"


def test_str_split_splits_on_what_the_white_space_pattern_matches() -> None:
    """clean_text folds with str.split(): the same characters as WHITESPACE_RE."""
    differ = [
        c
        for c in range(sys.maxunicode + 1)
        if bool(WHITESPACE_RE.fullmatch(chr(c))) != chr(c).isspace()
    ]
    assert differ == []


@given(MESSY)
def test_clean_text_is_the_regex_fold(text: str) -> None:
    assert clean_text(text) == WHITESPACE_RE.sub(" ", strip_invisible(text)).strip()


@given(MESSY)
@example("")
@example(" ")
@example("\u3000a\n")
def test_fold_spaces_is_the_regex_fold(text: str) -> None:
    assert fold_spaces(text) == WHITESPACE_RE.sub(" ", text)


@given(MESSY)
def test_compact_is_the_regex_removal(text: str) -> None:
    assert compact(text) == WHITESPACE_RE.sub("", strip_invisible(text))


@given(MESSY)
def test_clean_body_text_is_clean_text_line_by_line(text: str) -> None:
    """Cleaning the body whole, then splitting, gives each line cleaned on its own."""
    lines = LINE_BREAK_RE.split(unicodedata.normalize("NFC", text))
    assert clean_body_text(text) == "\n".join(c for c in map(clean_text, lines) if c)


def test_splitlines_breaks_where_the_pattern_does_or_at_a_dropped_character() -> None:
    """clean_body_text splits cleaned text with str.splitlines()."""
    splits = {chr(c) for c in range(sys.maxunicode + 1) if len(f"a{chr(c)}b".splitlines()) > 1}
    breaks = {chr(c) for c in range(sys.maxunicode + 1) if LINE_BREAK_RE.fullmatch(chr(c))}
    assert breaks <= splits
    assert {c for c in splits - breaks if strip_invisible(c)} == set()
    assert "a\r\nb".splitlines() == ["a", "b"]


def test_every_dropped_character_is_unprintable() -> None:
    """strip_invisible leaves a printable text to NFC alone."""
    assert [c for c in _DROP_CHARS if c.isprintable()] == []
    assert strip_invisible(_DROP_CHARS) == ""


def test_no_line_break_is_dropped_or_composes() -> None:
    """What cleaning the body whole relies on."""
    assert strip_invisible(BREAKS) == BREAKS
    for brk in BREAKS:
        assert unicodedata.normalize("NFC", f"e{brk}\u0301") == f"e{brk}\u0301"


def test_the_characters_no_tree_holds_are_the_pattern_s() -> None:
    """tree_safe looks for each character alone; the pattern removes them."""
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    assert [c for c in every if _NOT_IN_A_TREE.match(c)] == list(_NOT_IN_A_TREE_CHARS)


@given(
    st.text(alphabet=st.characters(max_codepoint=0x30) | st.sampled_from("\ufffe\uffff字"))
    | st.text(alphabet="字\n ", min_size=1000).map(lambda t: t + "\x01" if len(t) % 2 else t)
)
def test_tree_safe_changes_only_a_text_the_pattern_finds_something_in(text: str) -> None:
    assert (tree_safe(text) is text) == (_NOT_IN_A_TREE.search(text) is None)
    assert _NOT_IN_A_TREE.search(tree_safe(text)) is None
