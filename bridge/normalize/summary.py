"""内容概述: at most 150 characters of the body, cut where a reader expects a pause.

The portal shows the summary under the title, so a cut in the middle of a word reads
badly. The cut goes after the last sentence end (。！？) that fits; failing that, at the
last clause boundary (；, then ，、) with an ellipsis; only a text without any boundary in
reach is cut hard, with an ellipsis. A boundary that would keep less than a third of the
limit is not used: a summary of "一、" says nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from bridge.text import LINE_BREAK_RE, clean_text

SUMMARY_LIMIT = 150
"""DESIGN.md §4: 内容概述 ≤ 150 characters."""

ELLIPSIS = "…"
SENTENCE_ENDS = "。！？!?"
CLAUSE_ENDS = ("；;", "，,、")
"""Clause boundaries by preference: a semicolon before a comma."""
CLOSERS = "”’」』）)】》"
"""Characters that belong to the sentence they close: 。” ends after the quote."""


_WIDE_RE = re.compile(r"[\u2018-\u201d\u2026\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
"""CJK characters and full-width punctuation: Chinese puts no space between them."""


def join_lines(text: str, *, stop: int | None = None) -> str:
    """The paragraphs of ``text`` on one line: no space where Chinese meets Chinese (as
    a reader would write it), one space where Latin words would otherwise run together.
    With ``stop``, lines are joined until the result is longer than that (a summary reads
    the head of a body, not all of it)."""
    out = ""
    for raw in _lines(text):
        line = clean_text(unicodedata.normalize("NFC", raw))  # as clean_body_text does
        if not line:
            continue
        if out and not (_WIDE_RE.match(out[-1]) or _WIDE_RE.match(line[0])):
            out += " "
        out += line
        if stop is not None and len(out) > stop:
            break
    return out


def _lines(text: str) -> Iterator[str]:
    """``LINE_BREAK_RE.split(text)``, one line at a time: a summary reads the first few
    lines of a body, and splitting all of it cost more than joining those."""
    start = 0
    for m in LINE_BREAK_RE.finditer(text):
        yield text[start : m.start()]
        start = m.end()
    yield text[start:]


def _last_boundary(window: str, marks: str, floor: int) -> int | None:
    """Index of the last ``marks`` character in ``window`` at or after ``floor``."""
    best = max(window.rfind(mark) for mark in marks)
    return best if best >= floor else None


def make_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` on one line (``join_lines``), cut to at most ``limit`` characters at a
    boundary."""
    if limit < 2:
        raise ValueError(f"summary limit {limit} leaves no room for text")
    flat = join_lines(text, stop=limit)
    if len(flat) <= limit:
        return flat
    floor = limit // 3
    window = flat[:limit]
    end = _last_boundary(window, SENTENCE_ENDS, floor)
    if end is not None:
        end += 1
        while end < limit and flat[end] in CLOSERS:
            end += 1
        return flat[:end]
    room = flat[: limit - len(ELLIPSIS)]
    for marks in CLAUSE_ENDS:
        cut = _last_boundary(room, marks, floor)
        if cut is not None:
            return room[:cut].rstrip() + ELLIPSIS
    return room.rstrip() + ELLIPSIS
