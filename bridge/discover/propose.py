"""Selectors proposed from a list page's structure, for a site of no known family.

A listing is a block of repeated elements each holding a link and a date: the parent with
the most such children of one tag is the list, ``parent > child`` its ``list_item``, the
element holding the date its ``date``. The body of an article is the first of the usual
containers (``bridge.sources.container.ARTICLE_CONTAINERS``); a page of none of them needs
``detail_body`` written by hand (``bridge probe`` shows what was read).
"""

from __future__ import annotations

import re

import lxml.html
from cssselect import ExpressionError, SelectorError
from lxml.cssselect import CSSSelector

from bridge.config.sources import SelectorsConfig
from bridge.sources.article import clean, visible_text
from bridge.sources.container import ARTICLE_CONTAINERS, MIN_TEXT_BLOCK, find_body

_DATE = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\b\d{2}-\d{2}\b")
_BODY_NAME = re.compile(
    r"content|zoom|article|detail|zhengwen|\bzw\b|\bnr\b|txt|text|\bcon\b|main", re.I
)
"""Ids and classes government templates give the body's container."""
_FURNITURE = re.compile(r"foot|copyright|bottom|banquan|nav|menu|header|side|crumb|share", re.I)
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


def _matches(doc: lxml.html.HtmlElement, css: str) -> list[lxml.html.HtmlElement]:
    try:
        return list(CSSSelector(css, translator="html")(doc))
    except (SelectorError, ExpressionError):
        return []


def _first(doc: lxml.html.HtmlElement, css: str) -> lxml.html.HtmlElement | None:
    found = _matches(doc, css)
    return found[0] if found else None


def locate(
    el: lxml.html.HtmlElement, doc: lxml.html.HtmlElement, *, only: bool = False
) -> str | None:
    """A CSS selector whose first match on ``doc`` is ``el`` (as ``detail_body`` is read):
    its ``tag#id`` or ``tag.class`` if that is enough, else a ``>`` path from the nearest
    ancestor that is, steps among same-tag siblings told apart by ``:nth-of-type``.
    ``only``: a selector that matches ``el`` and nothing else."""
    steps: list[str] = []
    cur: lxml.html.HtmlElement | None = el
    while cur is not None and isinstance(cur.tag, str):
        css = " > ".join([_css(cur), *steps])
        found = _matches(doc, css)
        if (found == [el]) if only else (found[:1] == [el]):
            return css
        own = _css(cur)
        parent = cur.getparent()
        if parent is None:
            return None
        same = [c for c in parent if c.tag == cur.tag]
        steps.insert(0, own if len(same) == 1 else f"{cur.tag}:nth-of-type({same.index(cur) + 1})")
        cur = parent
    return None


def propose_body(doc: lxml.html.HtmlElement) -> str | None:
    """``detail_body`` for an article page: the element the generic reader takes for the
    body (the usual containers of government templates, then the largest block of
    paragraphs), as a selector that finds exactly it; None when the page has neither."""
    body, how = find_body(doc)
    if how in ("", "largest text block"):  # no usual container: a named one, if bigger
        named = _named_block(doc)
        if named is not None and (
            body is None or len(clean(visible_text(named))) >= len(clean(visible_text(body)))
        ):
            body = named
    return locate(body, doc) if body is not None else None


def _named_block(doc: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The element named like a body (``#infoContentM``, ``div.news-article``,
    ``td.zw`` …) that holds the most text, narrowed to a named descendant holding most of
    it (a page wrapper ``div.content`` holds the article ``div.article-txt``)."""
    named = [
        el
        for el in doc.iter()
        if isinstance(el.tag, str)
        and _BODY_NAME.search(f"{el.get('id') or ''} {el.get('class') or ''}")
        and not _FURNITURE.search(f"{el.get('id') or ''} {el.get('class') or ''}")
    ]
    size = {el: len(clean(visible_text(el))) for el in named}
    best = max(named, key=lambda el: size[el], default=None)
    while best is not None:
        inner = [el for el in named if el is not best and best in el.iterancestors()]
        deeper = max(inner, key=lambda el: size[el], default=None)
        if deeper is None or size[deeper] < 0.7 * size[best]:
            break
        best = deeper
    return best if best is not None and size[best] >= MIN_TEXT_BLOCK else None


def _links(el: lxml.html.HtmlElement) -> set[str]:
    return {
        href
        for a in el.iter("a")
        if (href := (a.get("href") or "").strip()) and not href.startswith(("#", "javascript:"))
    }


def _entry_like(el: lxml.html.HtmlElement) -> bool:
    """One link and a date outside it: a listing entry (a block of many links is not)."""
    if len(_links(el)) != 1:
        return False
    link = el.find(".//a[@href]")
    rest = (el.text_content() or "").replace(link.text_content() if link is not None else "", " ")
    return bool(_DATE.search(rest))


def _anchor(el: lxml.html.HtmlElement) -> tuple[str, int]:
    """The path of ``el`` from its nearest ancestor with an id or class (that ancestor's
    ``tag#id``/``tag.class`` first), else from ``<body>``, and its number of steps."""
    steps = [str(el.tag)]
    cur = el.getparent()
    while cur is not None and isinstance(cur.tag, str):
        own = _css(cur)
        steps.insert(0, own)
        if own != cur.tag or cur.tag == "body":  # a path from <body> is one depth only
            break
        cur = cur.getparent()
    return " > ".join(steps), len(steps)


def _date_css(item: lxml.html.HtmlElement) -> str | None:
    """The smallest element of an entry whose own text is the date, as a selector whose
    first match in the entry is that element (None: the date is read from the entry's
    text outside the link)."""
    for el in item.iter():
        if el is item or el.tag == "a" or not isinstance(el.tag, str):
            continue
        if _DATE.fullmatch((el.text_content() or "").strip().strip("[]()（）")):
            own = _css(el)
            if _first(item, own) is el:
                return own
    return None


def propose_selectors(doc: lxml.html.HtmlElement, url: str = "") -> SelectorsConfig | None:
    """Selectors for the listing on ``doc`` and the usual article containers, or None
    when no block of at least three dated links is there.

    Every element holding one link and a date is an entry candidate; candidates are
    grouped by their path from the nearest ancestor with an id or class; the group with
    the most entries is the listing (on a tie, the one whose entries are siblings: the
    rows, not the cells or tables inside them)."""
    groups: dict[str, list[lxml.html.HtmlElement]] = {}
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag not in ("a", "body", "html") and _entry_like(el):
            groups.setdefault(_anchor(el)[0], []).append(el)

    def rank(item: tuple[str, list[lxml.html.HtmlElement]]) -> tuple[int, int]:
        _css_path, found = item
        parents = {id(e.getparent()) for e in found}
        return (len(found), -len(parents))

    if not groups:
        return None
    list_item, items = max(groups.items(), key=rank)
    if len(items) < _MIN_ITEMS:
        return None
    parents = {e.getparent() for e in items}
    if len(_matches(doc, list_item)) != len(items) and len(parents) == 1:
        # The path matches more than the listing elsewhere: pin its one parent down.
        pinned = locate(items[0].getparent(), doc, only=True)
        if pinned is not None:
            list_item = f"{pinned} > {items[0].tag}"
    first = items[0]
    link = first.find(".//a[@href]")
    return SelectorsConfig(
        list_item=list_item,
        detail_body=", ".join(ARTICLE_CONTAINERS),
        link="a",
        title_attr="title" if link is not None and link.get("title") else None,
        date=_date_css(first),
        next_page=None,
        detail_title="h1",
        detail_meta="table",
    )
