"""Attachment names (issue 19, finding 14): one safe base name, whatever the page wrote."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bridge.filename import _DROPPED_CATEGORIES, MAX_NAME_CHARS, attachment_name


@pytest.mark.parametrize(
    ("given_name", "url", "expected"),
    [
        ("../../../../tmp/x.pdf", "", "x.pdf"),
        ("..\\..\\x.pdf", "", "x.pdf"),
        ("C:\\Windows\\system32\\x.pdf", "", "x.pdf"),
        ("报告\u202efdp.exe", "", "报告fdp.exe"),
        ("\ufeff通\u200b知\u2066.pdf\u2069", "", "通知.pdf"),
        ("附件\x00\x1b[31m1.pdf", "", "附件[31m1.pdf"),
        ("通知\n 第二行.pdf", "", "通知 第二行.pdf"),
        ("<script>alert(1)</script>通知.pdf", "", "通知.pdf"),
        ("..", "http://127.0.0.1/files/P020.pdf", "P020.pdf"),
        (" . . ", "http://127.0.0.1/files/%E9%80%9A%E7%9F%A5.pdf", "通知.pdf"),
        ("..", "http://127.0.0.1/", "附件3"),
        ("", "http://[::1/x.pdf", "附件3"),
        (".hidden.pdf", "", "hidden.pdf"),
        ("e\u0301.pdf", "", "\u00e9.pdf"),
    ],
)
def test_names_a_hostile_page_writes(given_name: str, url: str, expected: str) -> None:
    assert attachment_name(given_name, url, 3) == expected


def test_a_long_name_loses_the_end_of_its_stem_not_its_extension() -> None:
    name = attachment_name("关" * 400 + ".pdf")
    assert name == "关" * (MAX_NAME_CHARS - 4) + ".pdf"
    assert attachment_name("a" * 200 + ".tar.gz") == "a" * (MAX_NAME_CHARS - 3) + ".gz"
    # No short extension: the name is cut where the limit falls.
    assert attachment_name("关于" * 100 + ".关于印发") == ("关于" * 100)[:MAX_NAME_CHARS]


_FORBIDDEN = "/\\"


def _bad(c: str) -> bool:
    return c in _FORBIDDEN or unicodedata.category(c) in ("Cc", "Cf", "Cs")


@given(st.text(), st.text(), st.integers(min_value=1, max_value=999))
@example("../" * 50 + "\u202e" * 100 + "x.pdf", "", 1)
@example("\u0958" * 119 + ".pdf", "", 1)  # NFC makes it longer: 2 characters each
def test_any_name_is_a_short_safe_base_name(name: str, url: str, number: int) -> None:
    out = attachment_name(name, url, number)
    assert out and len(out) <= MAX_NAME_CHARS
    assert not any(_bad(c) for c in out), ascii(out)
    assert out.strip(" .") == out and set(out) != {"."}
    assert unicodedata.is_normalized("NFC", out)
    assert attachment_name(out) == out  # idempotent: sources and normalize both call it


_STEM_CHAR = st.characters(
    blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"),
    blacklist_characters="/\\.<>",
)


@given(
    st.text(_STEM_CHAR, min_size=1, max_size=400),
    st.sampled_from([".pdf", ".docx", ".xlsx", ".zip", ".ofd"]),
)
def test_a_short_extension_is_kept(stem: str, extension: str) -> None:
    out = attachment_name(stem + extension)
    assert out.endswith(extension) and len(out) <= MAX_NAME_CHARS


def test_every_dropped_character_is_unprintable() -> None:
    """_safe skips its per-character pass over a printable name: nothing in it is dropped."""
    dropped = (chr(c) for c in range(sys.maxunicode + 1))
    printable = [
        c for c in dropped if unicodedata.category(c) in _DROPPED_CATEGORIES and c.isprintable()
    ]
    assert printable == []
