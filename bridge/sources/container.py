"""Where an article page's body is: the first known container that holds text, else the
largest block of paragraphs that is not the page's furniture (header, footer, menu).

A family's source asks ``find_body`` when its own template names no container; the
setup wizard (``bridge.discover``) asks it of pages it has not seen before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from bridge.sources.article import clean, visible_text

ARTICLE_CONTAINERS = (
    "div.TRS_Editor",
    "div.trs_editor_view",
    "div.TRS_UEDITOR",
    "#UCAP-CONTENT",
    "#zoom",
    "#Zoom",
    ".zoom",
    "div.article-content",
    "div.article_content",
    "div.content-text",
    "div.pages_content",
    "div.wz_content",
    "div.detail-content",
    "div.main-txt",
    "#content",
    "article",
)
"""Where templates put the body, most specific first: ``div.TRS_Editor`` is TRS's own
editor output; the rest are the usual containers of other templates (中国政府网's
``#UCAP-CONTENT``, ``#zoom`` of many provincial sites …)."""


class _Named:
    """A container named by one id (``#zoom``) or class word (``.zoom``, ``div.zoom``),
    found as ``CSSSelector`` finds it, among the page's attribute values that
    ``_Names`` lists once: a class word is one of the attribute's words split at XML
    white space (as XPath's normalize-space splits). libxml2's XPath tests such a name
    with string functions on every element: ``#zoom`` took 20 µs a sandbox page and
    ``div.TRS_Editor`` 10, where listing the page's ids takes 5, its classed divs 6, and
    each container then 1 (find_body 10.4 -> 7.6 µs a sandbox page, 55 -> 18 on the
    variant sites', 365 -> 118 on the realpages)."""

    def __init__(self, tag: str, mark: str, name: str) -> None:
        self.tag, self.mark, self.name = tag, mark, name

    def among(self, names: _Names) -> list[lxml.html.HtmlElement]:
        name = self.name
        if self.mark == "#":
            return [value.getparent() for value in names.ids() if value == name]
        if self.tag == "div":
            return [el for el, value in names.divs() if name in value and _has_word(value, name)]
        return [v.getparent() for v in names.classes() if name in v and _has_word(v, name)]


def _has_word(value: str, word: str) -> bool:
    return word in _XML_WS.split(value)


_XML_WS = re.compile("[ \t\r\n]")
_NAMED = re.compile(r"(div|)([#.])([A-Za-z_][A-Za-z0-9_-]*)")
_IDS = etree.XPath("descendant-or-self::*/@id")
_CLASSES = etree.XPath("descendant-or-self::*/@class")


class _Names:
    """The id and class values of one page, each list made when first asked for."""

    def __init__(self, doc: lxml.html.HtmlElement) -> None:
        self.doc = doc
        self._ids: list[Any] | None = None
        self._classes: list[Any] | None = None
        self._divs: list[tuple[lxml.html.HtmlElement, str]] | None = None

    def ids(self) -> list[Any]:
        """The id attributes (a value's ``getparent()`` is its element), in page order."""
        if self._ids is None:
            self._ids = _IDS(self.doc)
        return self._ids

    def classes(self) -> list[Any]:
        if self._classes is None:
            self._classes = _CLASSES(self.doc)
        return self._classes

    def divs(self) -> list[tuple[lxml.html.HtmlElement, str]]:
        """The divs with a class, and its value: asked of the page's few divs in Python,
        where an XPath for their class attributes took longer (8.7 µs, this 6.6)."""
        if self._divs is None:
            self._divs = [
                (el, v) for el in self.doc.iter("div") if (v := el.get("class")) is not None
            ]
        return self._divs


def _container(css: str) -> CSSSelector | _Named:
    m = _NAMED.fullmatch(css)
    if m is None or (m[1] and m[2] == "#"):
        return CSSSelector(css, translator="html")
    return _Named(m[1] or "*", m[2], m[3])


_CONTAINERS = tuple((css, _container(css)) for css in ARTICLE_CONTAINERS)
EDITOR_CONTAINERS = 4
"""The first ones are a CMS editor's own output: when the page has one, that is the body,
even empty (an empty ``div.TRS_Editor`` is an empty body, not a reason to read a footer)."""
_FURNITURE = re.compile(r"foot|copyright|bottom|banquan|bqxx|\bnav|menu|header", re.I)
_FURNITURE_TEXT = re.compile(r"ICP备|版权所有|网站标识码|公网安备|主办单位")
MIN_TEXT_BLOCK = 80
"""Characters of paragraph text a block needs to be taken for the body when no known
container holds one: a footer's copyright lines have fewer."""


def find_body(
    doc: lxml.html.HtmlElement,
    selectors: Sequence[tuple[str, CSSSelector | _Named]] = _CONTAINERS,
) -> tuple[lxml.html.HtmlElement | None, str]:
    """The body: the first of ``selectors`` that matches an element with text or an
    image, else the largest block of paragraphs; (None, "") when the page has neither."""
    names = _Names(doc)
    for n, (css, selector) in enumerate(selectors):
        found = selector.among(names) if isinstance(selector, _Named) else selector(doc)
        for el in found:
            if n < EDITOR_CONTAINERS or clean(visible_text(el)) or el.find(".//img") is not None:
                return el, css
    block = largest_text_block(doc)
    return (block, "largest text block") if block is not None else (None, "")


def _furniture(p: lxml.html.HtmlElement, known: dict[lxml.html.HtmlElement, bool]) -> bool:
    """A paragraph of the page's furniture: in a header, footer or menu, or the footer's
    own lines (ICP备, 版权所有, 网站标识码). ``known`` holds the answers for ancestors
    already asked about, so a page of many paragraphs walks each ancestor once."""
    if _FURNITURE_TEXT.search(p.text_content()):
        return True
    chain: list[lxml.html.HtmlElement] = []
    answer = False
    for el in p.iterancestors():
        if el.tag in ("body", "html"):  # <body class="navbar-fixed"> is the whole page
            break
        if el in known:
            answer = known[el]
            break
        chain.append(el)
        if el.tag in ("head", "footer", "nav", "header") or _FURNITURE.search(
            f"{el.get('class') or ''} {el.get('id') or ''}"
        ):
            answer = True
            break
    for el in chain:  # each ancestor up to the answer shares it
        known[el] = answer
    return answer


def largest_text_block(doc: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The element whose own paragraphs (``<p>`` children) hold the most text, if they
    hold at least ``MIN_TEXT_BLOCK`` characters: the body of a template nobody named."""
    totals: dict[lxml.html.HtmlElement, int] = {}
    known: dict[lxml.html.HtmlElement, bool] = {}
    for p in doc.iter("p"):
        parent = p.getparent()
        if parent is None or _furniture(p, known):
            continue
        totals[parent] = totals.get(parent, 0) + len(clean(visible_text(p)))
    if not totals:
        return None
    best = max(totals, key=lambda el: totals[el])
    return best if totals[best] >= MIN_TEXT_BLOCK else None
