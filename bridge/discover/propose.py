"""Selectors proposed from a list page's structure, for a site of no known family.

A listing is a block of repeated elements each holding a link and a date: the parent with
the most such children of one tag is the list, ``parent > child`` its ``list_item``, the
element holding the date its ``date``. The body of an article is the first of the usual
containers (``bridge.sources.article.ARTICLE_CONTAINERS``); a page of none of them needs
``detail_body`` written by hand (``bridge probe`` shows what was read).
"""

from __future__ import annotations

import re
from collections import Counter

import lxml.html

from bridge.config.sources import SelectorsConfig
from bridge.sources.article import ARTICLE_CONTAINERS

_DATE = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\b\d{2}-\d{2}\b")
_MIN_ITEMS = 3  # fewer dated links are a side box, not a listing
_CLASS = re.compile(r"^[A-Za-z_][\w-]*$")


def _css(el: lxml.html.HtmlElement) -> str:
    """``tag#id`` or ``tag.class`` (the first usable class), else the tag."""
    ident = (el.get("id") or "").strip()
    if ident and _CLASS.match(ident):
        return f"{el.tag}#{ident}"
    for cls in (el.get("class") or "").split():
        if _CLASS.match(cls):
            return f"{el.tag}.{cls}"
    return str(el.tag)


def _dated_link(el: lxml.html.HtmlElement) -> bool:
    return el.find(".//a[@href]") is not None and bool(_DATE.search(el.text_content() or ""))


def _date_css(item: lxml.html.HtmlElement) -> str | None:
    """The smallest element of an entry whose own text is the date."""
    for el in item.iter():
        if el is item or el.tag == "a" or not isinstance(el.tag, str):
            continue
        if _DATE.fullmatch((el.text_content() or "").strip().strip("[]()（）")):
            return _css(el)
    return None


def propose_selectors(doc: lxml.html.HtmlElement, url: str = "") -> SelectorsConfig | None:
    """Selectors for the listing on ``doc`` and the usual article containers, or None
    when no block of at least three dated links is there."""
    best: tuple[int, lxml.html.HtmlElement, str] | None = None
    for parent in doc.iter():
        if not isinstance(parent.tag, str):
            continue
        counts = Counter(
            child.tag for child in parent if isinstance(child.tag, str) and _dated_link(child)
        )
        if not counts:
            continue
        tag, n = counts.most_common(1)[0]
        if n >= _MIN_ITEMS and (best is None or n > best[0]):
            best = (n, parent, str(tag))
    if best is None:
        return None
    _, parent, tag = best
    first = next(child for child in parent if child.tag == tag and _dated_link(child))
    link = first.find(".//a[@href]")
    return SelectorsConfig(
        list_item=f"{_css(parent)} > {tag}",
        detail_body=", ".join(ARTICLE_CONTAINERS),
        link="a",
        title_attr="title" if link is not None and link.get("title") else None,
        date=_date_css(first),
        next_page=None,
        detail_title="h1",
        detail_meta="table",
    )
