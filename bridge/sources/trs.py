"""TRS-style static sites (the most common CMS of Chinese government sites).

TRS templates differ from site to site; what they share:

- column listings at ``<column>/index.html``, ``index_1.html``, ``index_2.html`` …; the
  page count is stated by whichever the template uses (``page_count``): a
  ``createPageHTML(7, 0, "index", "html")`` call (or ``createPageHTML('page_div', 7, …)``,
  element id first), a ``var countPage = 56`` script that ``document.write``\\ s the pager
  (邯郸), record count and page size variables, or ``共N页`` text; failing all of them,
  the listing follows its ``下一页`` link;
- detail pages at ``<column>/YYYYMM/tYYYYMMDD_N.html``; the article id is ``tYYYYMMDD_N``;
- the body in ``div.TRS_Editor``, or in the usual containers of other templates, or the
  largest block of paragraphs (``container.find_body``); the metadata in a table, in label
  blocks (``<p><strong>索引号</strong>：…</p>``) or in ``标签：值`` lines;
- attachments linked from the body or from a separate 附件 block.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from bridge.raw import ListEntry, ListPage
from bridge.sources import parse
from bridge.sources.article import Article, attachment_blocks, metadata, scan_around, visible_text
from bridge.sources.cms import CmsSource, Paging
from bridge.sources.container import find_body
from bridge.sources.fetch import NotModified
from bridge.sources.volatile import strip_volatile

log = logging.getLogger(__name__)

_PAGE_CALL = re.compile(r"createPageHTML\s*\(([^)]*)\)")
# `var countPage = 56` (邯郸), or `recordCount:'107'` in an object literal; never `countPage>1`.
_ASSIGNED = r"[\"']?\s*[=:](?!=)\s*[\"']?(\d+)"
_COUNT_PAGE = re.compile(rf"\b(?:countPage|pageCount|totalPage|m_nPageCount){_ASSIGNED}", re.I)
_RECORDS = re.compile(
    rf"\b(?:recordCount|totalRecord|totalCount|countnum|m_nRecordCount){_ASSIGNED}", re.I
)
_PAGE_SIZE = re.compile(rf"\b(?:pageSize|prepage|perPage|m_nPageSize){_ASSIGNED}", re.I)
_PAGES_TEXT = re.compile(r"共\s*(\d+)\s*页")
_NEXT_TEXT = ("下一页", "下页", "后一页")
_DETAIL = re.compile(r"/(?:\d{6}/)?(t\d{8}_\d+)\.s?html?$")
_DATE = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\b\d{1,2}-\d{1,2}\b")
TITLE_SELECTORS = ("h1.title", ".title h1", "h1", ".article-title", "td.title")
"""Where TRS templates put the heading, most specific first (``_headings`` finds them)."""
BODY_SELECTOR = "div.TRS_Editor"
_TD_TITLE = CSSSelector("td.title", translator="html")
_ARTICLE_TITLE = etree.XPath("descendant-or-self::*/@class[contains(., 'article-title')]")
_XML_SPACE = re.compile("[ \t\n\r]+")
"""What a CSS class selector splits a class attribute at (XPath's normalize-space)."""


def _has_class(el: lxml.html.HtmlElement, name: str) -> bool:
    classes = el.get("class")
    return classes is not None and name in _XML_SPACE.split(classes)


def _headings(doc: lxml.html.HtmlElement) -> Iterator[lxml.html.HtmlElement | None]:
    """The first element each of ``TITLE_SELECTORS`` matches (None for none), in turn.

    The page's few ``<h1>`` are asked in Python, and only the class attributes for
    ``.article-title``: the selectors' XPath tested a class on every element of the page
    for ``.title h1`` and ``.article-title`` (220 µs on a real page, this 65)."""
    h1s = list(doc.iter("h1"))
    yield next((h1 for h1 in h1s if _has_class(h1, "title")), None)
    yield next((h1 for h1 in h1s if _in_title(h1, doc)), None)
    yield h1s[0] if h1s else None
    named = (c.getparent() for c in _ARTICLE_TITLE(doc) if "article-title" in _XML_SPACE.split(c))
    yield next(named, None)
    yield next(iter(_TD_TITLE(doc)), None)


def _in_title(el: lxml.html.HtmlElement, doc: lxml.html.HtmlElement) -> bool:
    """Whether an ancestor of ``el`` up to ``doc`` has the class ``title``."""
    for ancestor in el.iterancestors():
        if _has_class(ancestor, "title"):
            return True
        if ancestor is doc:
            break
    return False


def page_count(text: str) -> int | None:
    """Pages in a listing as its template states them, or None when it does not say."""
    for m in _PAGE_CALL.finditer(text):  # a page may define the function before calling it
        args = [a.strip().strip("\"'") for a in m.group(1).split(",")]
        numbers = [a for a in args if a.isdigit()]
        if numbers:
            # Form 2 starts with the element id (a non-number); either way the count comes first.
            return max(int(numbers[0]), 1)
    if stated := _COUNT_PAGE.search(text):
        return max(int(stated.group(1)), 1)
    records, size = _RECORDS.search(text), _PAGE_SIZE.search(text)
    if records and size and int(size.group(1)) > 0:
        return max(math.ceil(int(records.group(1)) / int(size.group(1))), 1)
    if shown := _PAGES_TEXT.search(text):
        return max(int(shown.group(1)), 1)
    return None


def _block(container: lxml.html.HtmlElement | None) -> lxml.html.HtmlElement | None:
    """The list block an entry's line (``<li>``, ``<tr>`` …) stands in."""
    return container.getparent() if container is not None else None


def _kind(block: lxml.html.HtmlElement | None) -> tuple[object, ...]:
    """A block's tag and class, and where it stands (its grandparent element)."""
    if block is None:
        return ()
    parent = block.getparent()
    grandparent = parent.getparent() if parent is not None else None
    return (block.tag, block.get("class") or "", grandparent)


def list_page_url(column_url: str, number: int) -> str:
    return column_url + ("index.html" if number == 0 else f"index_{number}.html")


class TrsSource(CmsSource):
    """A TRS site configured by ``[[sources]] kind = "trs"``."""

    body_hint = f"{BODY_SELECTOR}, the usual article containers, the largest text block"

    def list_pages(self, column: str, *, conditional: bool = True) -> Iterator[ListPage]:
        base = self.column_url(column)
        paging = Paging(self.name, self.cfg.fetch.max_list_pages)
        number, count = 0, None
        url: str | None = list_page_url(base, 0)
        read: set[str] = set()
        while url is not None and url not in read and (count is None or number < count):
            read.add(url)
            result = self.list_page(column, url, number, conditional=conditional, what="index.html")
            if result is None:
                return
            if isinstance(result, NotModified):
                yield ListPage(column, url, number, (), count, not_modified=True)
                if count is None:
                    return  # an unchanged first page: nothing new on this column
                number += 1
                url = list_page_url(base, number)
                continue
            self.new_validators[url] = (result.etag, result.last_modified)
            doc = parse.document(result.text, result.url)
            entries = tuple(self._entries(doc, column))
            if not paging.fresh(url, entries, number):
                return
            next_url = None
            if number == 0:
                count = page_count(result.text)
            if count is None:
                next_url = self._next_link(doc)
                count = None if next_url else number + 1
            yield ListPage(column, url, number, entries, count)
            number += 1
            url = next_url if next_url else list_page_url(base, number)

    def _next_link(self, doc: lxml.html.HtmlElement) -> str | None:
        for a in doc.iter("a"):
            if parse.clean(a.text_content()) in _NEXT_TEXT:
                href = (a.get("href") or "").split("#")[0]
                if href.startswith(("http://", "https://")) and self.fetcher.allowed(href):
                    return href
        return None

    def _entries(self, doc: lxml.html.HtmlElement, column: str) -> Iterator[ListEntry]:
        """The entries of the listing itself: of all links shaped like articles, those of
        the list blocks that hold most of the column's own articles (its folder), other
        columns' articles listed there included. Navigation, side boxes and footers link
        articles of the same shape elsewhere on the site."""
        found: list[tuple[lxml.html.HtmlElement, str, lxml.html.HtmlElement | None]] = []
        for a in doc.iter("a"):
            href = a.get("href") or ""
            m = _DETAIL.search(urlsplit(href).path)
            if not m:
                continue
            if not self.fetcher.allowed(href):
                log.debug("%s: skipping off-site link %s", self.name, href)
                continue
            container = a.getparent()
            while container is not None and container.tag not in ("li", "tr", "dd", "div", "p"):
                container = container.getparent()
            found.append((a, m.group(1), container))
        folder = urlsplit(self.column_url(column)).path.rsplit("/", 1)[0] + "/"
        own: Counter[lxml.html.HtmlElement | None] = Counter(
            _block(c) for a, _, c in found if urlsplit(a.get("href") or "").path.startswith(folder)
        )
        if not own:  # no link into the column's folder: the block with the most links
            own = Counter(_block(c) for _, _, c in found)
        most = max(own.values(), default=0)
        listing = {block for block, n in own.items() if 2 * n >= most}
        # A listing split into blocks of five (平潭) is one listing: blocks of the same kind
        # beside one of it belong to it, whatever they link (other columns' articles too).
        kinds = {_kind(block) for block in listing}
        listing |= {_block(c) for _, _, c in found if _kind(_block(c)) in kinds}
        seen: set[str] = set()
        for a, article_id, container in found:
            if article_id in seen or _block(container) not in listing:
                continue
            seen.add(article_id)
            href = a.get("href") or ""
            title = parse.clean(a.get("title")) or parse.element_text(a)
            context = parse.element_text(container) if container is not None else ""
            date = _DATE.search(context.replace(parse.element_text(a), ""))
            pinned = "置顶" in context or "top" in (
                container.get("class") or "" if container is not None else ""
            )
            yield ListEntry(
                column=column,
                url=href.split("#")[0],
                article_id=article_id,
                list_title=title,
                list_date=date.group(0) if date else None,
                pinned=pinned,
            )

    def read_article(self, doc: lxml.html.HtmlElement, text: str, url: str) -> Article:
        body, found_by = find_body(doc)
        page = scan_around(doc, body)  # one walk for the metadata and the attachment blocks
        meta = metadata(doc, body, page)
        if body is not None:
            strip_volatile(body)
        title = ""
        for found in _headings(doc):
            if found is not None and (heading := parse.clean(visible_text(found))):
                title = heading
                break
        return Article(
            title=title,
            meta=meta,
            page_meta={},
            doc_title="",
            body=body,
            body_from=found_by,
            attachment_scopes=[
                *([body] if body is not None else []),
                *attachment_blocks(doc, body, page),
            ],
        )
