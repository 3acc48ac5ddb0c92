"""Canonical text: the one place that decides which characters count as formatting.

A record's hash must not move when a page only changes how it is typed: NFD instead of
NFC, a full-width space (U+3000) or a no-break space instead of a plain one, CRLF instead
of LF, two spaces instead of one. Every text field of a record goes through
``clean_text``; body text that keeps its paragraphs goes through ``clean_body_text``.
"""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = "\u200b\u2060\ufeff\u00ad"
"""Zero-width space, word joiner, BOM and soft hyphen: editors leave them behind, readers
never see them, so they are dropped rather than folded into a space."""

_DROP_CHARS = (
    INVISIBLE
    # C0/C1 control characters other than the white space ones: noise from old CMSes.
    + "".join(chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F))
    + "".join(chr(c) for c in range(0x80, 0xA0) if chr(c) != "\x85")
)

WHITESPACE_RE = re.compile(r"\s+")
"""``\\s`` on ``str`` covers ASCII white space, U+00A0, U+3000, U+2000–U+200A, U+2028/9 …"""

LINE_BREAK_RE = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")


_DROP_RE = re.compile("[" + "".join(re.escape(c) for c in _DROP_CHARS) + "]")
"""The same characters as one class: ``re.sub`` scans a page in C, where ``str.translate``
with a mapping looked up every character in Python (measured: 10x slower on a body)."""


def strip_invisible(text: str) -> str:
    """NFC, without control characters and invisible marks; white space untouched."""
    if not text.isprintable():  # every dropped character is unprintable; most text is not
        text = _DROP_RE.sub("", text)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def clean_text(text: str | None) -> str:
    """One line of canonical text: NFC, every run of white space one space, stripped."""
    if not text:
        return ""
    # str.split() splits on exactly what WHITESPACE_RE matches (both ask str.isspace) and
    # drops the ends: the same text as sub(" ").strip(), without a regex pass per call.
    return " ".join(strip_invisible(text).split())


def clean_body_text(text: str | None) -> str:
    """Canonical body text that keeps its paragraphs: each line cleaned like
    ``clean_text``, empty lines dropped, lines joined with a single ``\\n``."""
    if not text:
        return ""
    # Cleaned whole, then split: a line break is never dropped and never composes with a
    # neighbour, so this is each line through clean_text, without a call per line.
    # str.splitlines() breaks where LINE_BREAK_RE does, and at \x1c-\x1e, which cleaning
    # has dropped; the empty line it leaves out at the end would be dropped here anyway.
    lines = strip_invisible(unicodedata.normalize("NFC", text)).splitlines()
    return "\n".join([" ".join(words) for words in map(str.split, lines) if words])


def compact(text: str) -> str:
    """``text`` with all white space removed: how labels and 文号 are compared."""
    return "".join(strip_invisible(text).split())  # str.split(): WHITESPACE_RE's characters


def fold_spaces(text: str) -> str:
    """``WHITESPACE_RE.sub(" ", text)``: each run of white space one space, the ends kept.

    ``str.split`` splits on exactly those characters; a text of white space alone (half
    of the texts between a body's tags) is answered without splitting."""
    if text.isspace():
        return " "
    folded = " ".join(text.split())
    if folded and text[0].isspace():
        folded = " " + folded
    if folded and text[-1].isspace():
        folded += " "
    return folded


_NOT_IN_A_TREE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters lxml parses but then refuses in any text it is given (NUL, C0 controls other
than tab and line breaks, U+FFFE/U+FFFF): a tree holding one breaks the first code that
sets a text. A browser ignores NUL and treats form feed as white space."""


_NOT_IN_A_TREE_CHARS = tuple(
    chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)
)
"""The characters of ``_NOT_IN_A_TREE`` one by one. In a page, a search for each (in C)
takes half the time of one search of the class, which tests every character against it
(6 µs where that took 11 on a sandbox page, 45 where it took 120 on a real one); in a
shorter text, the 31 calls cost more than the one (a link: 1 µs where it takes 0.3, a
body's HTML of 600 characters: 2.5 where it takes 2.2): below ``_SHORT`` characters,
where the two meet, the pattern is asked."""
_SHORT = 1000


def tree_safe(text: str) -> str:
    """``text`` without characters an lxml tree cannot hold (vertical tab and form feed
    become spaces, the others go)."""
    if len(text) < _SHORT:
        if _NOT_IN_A_TREE.search(text) is None:
            return text
    elif not any(c in text for c in _NOT_IN_A_TREE_CHARS):
        return text
    return _NOT_IN_A_TREE.sub(lambda m: " " if m[0] in "\x0b\x0c" else "", text)


_TITLE_SEPARATORS = re.compile(r"\s+[-—–|｜]\s+|\s*(?:_|\||｜|-{2,}|—{2,})\s*")
"""Between a title and the site's name in a ``<title>``: `` - `` with spaces, ``_``, ``|``,
``--``. A hyphen without spaces belongs to the title (``2021-2025年规划``)."""


_MARKUP = re.compile(r"<[a-zA-Z][^<>]*>(?:[^<]*</[a-zA-Z]+>)?|<[^<>]+>")
"""Markup a template wrote into a ``<title>``, shown there as text (a status tag)."""


_CODE_ELEMENT = re.compile(
    r"<(script|style|noscript|template)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<![^<>]*>")


def without_markup(text: str) -> str:
    """``text`` without markup written into it as text (a meta tag's ``content``, an
    escaped heading): script, style, noscript and template elements go with their
    content (an unclosed one to the end), other tags alone."""
    if "<" not in text:
        return text
    return _TAG.sub("", _CODE_ELEMENT.sub("", text))


def title_from_doc_title(text: str, site_name: str = "") -> str:
    """The article's title in a ``<title>``: without markup written into it, without the
    site's name (``SiteName``), and of the parts around a separator the longest."""
    text = without_site(_MARKUP.sub(" ", text), site_name)
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(text) if p and p.strip()]
    return max(parts, key=len) if parts else ""


def without_site(text: str, site_name: str) -> str:
    """``text`` without the site's name around it (``保定市人民政府网——标题``)."""
    text = clean_text(text)
    if site_name and site_name in text and text != site_name:
        text = clean_text(text.replace(site_name, " ")).strip("-—–|｜_ ")
    return text
