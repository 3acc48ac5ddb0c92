"""Any other site, read by the CSS selectors and patterns of ``[sources.selectors]``.

A listing is the page ``first_page`` of the column, then either the pages its
``next_page`` link leads to, or the pages of the ``page_url`` template (``{n}`` = 1, 2 …;
a site whose template also names its first page, ``list_1.html``, starts at 2), up to
the count ``page_count_pattern`` reads from the first page. Paging stops at a page with
no entries, a missing next link, the page count, a 404, or a URL or page seen before:
sites whose "next" link on the last page points at itself must not loop.

Only the first page is fetched conditionally: a 304 there says the newest entries are
the ones we have, while later pages must be parsed anyway to find the way on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml.cssselect import CSSSelector

from bridge.config import SelectorsConfig, SelectorsSourceConfig
from bridge.raw import ListEntry, ListPage
from bridge.sources import parse
from bridge.sources.article import (
    Article,
    attachment_blocks,
    metadata,
    scan_around,
    scoped_metadata,
    visible_text,
)
from bridge.sources.cms import CmsSource, Paging
from bridge.sources.fetch import Fetcher, NotModified
from bridge.sources.links import css_reads_links
from bridge.sources.volatile import strip_volatile

log = logging.getLogger(__name__)


def _css(selector: str | None) -> CSSSelector | None:
    """Compiled once per source: translating CSS to XPath costs more than parsing a page."""
    return CSSSelector(selector) if selector else None


class SelectorsSource(CmsSource):
    """A site configured by ``[[sources]] kind = "selectors"`` and its selectors table."""

    def __init__(self, cfg: SelectorsSourceConfig, fetcher: Fetcher) -> None:
        super().__init__(cfg, fetcher)
        self.sel: SelectorsConfig = cfg.selectors
        sel = self.sel
        self.body_hint = sel.detail_body
        self._list_item_css = CSSSelector(sel.list_item)
        self._link_css = CSSSelector(sel.link)
        self._date_css = _css(sel.date)
        self._pinned_css = _css(sel.pinned)
        self._next_css = _css(sel.next_page)
        self._body_css = CSSSelector(sel.detail_body)
        self._title_css = CSSSelector(sel.detail_title)
        self._meta_css = _css(sel.detail_meta)
        self._attachments_css = _css(sel.attachments)
        self.reads_links = any(
            css_reads_links(css)
            for css in (sel.detail_body, sel.detail_title, sel.detail_meta, sel.attachments)
        )
        self._article_id = re.compile(self.sel.article_id_pattern)
        self._page_count = (
            re.compile(self.sel.page_count_pattern) if self.sel.page_count_pattern else None
        )

    def first_page_url(self, column: str) -> str:
        url = self.column_url(column)
        return urljoin(url, self.sel.first_page) if url.endswith("/") else url

    def template_url(self, column: str, n: int) -> str:
        return urljoin(self.column_url(column), (self.sel.page_url or "").replace("{n}", str(n)))

    # --- listing ---------------------------------------------------------------------------

    def list_pages(self, column: str, *, conditional: bool = True) -> Iterator[ListPage]:
        first = self.first_page_url(column)
        # A template that also names the first page (list_1.html) continues at n = 2.
        offset = int(bool(self.sel.page_url) and self.template_url(column, 1) == first)
        url: str | None = first
        number = 0
        count: int | None = None
        seen_urls: set[str] = set()
        paging = Paging(self.name, self.cfg.fetch.max_list_pages)
        while url is not None:
            if url in seen_urls:
                log.warning("%s: %s was listed before; the listing ends here", self.name, url)
                return
            seen_urls.add(url)
            result = self.list_page(
                column,
                url,
                number,
                conditional=conditional and number == 0,
                what=self.sel.first_page,
            )
            if result is None:
                return
            if isinstance(result, NotModified):
                yield ListPage(column, url, number, (), count, not_modified=True)
                return
            doc = parse.document(result.text, result.url)
            entries = tuple(self._entries(doc, column))
            if not paging.fresh(url, entries, number):
                return  # past the end, or a site that answers every page number alike
            if number == 0:
                self.new_validators[url] = (result.etag, result.last_modified)
                count = self._count(result.text)
            yield ListPage(column, url, number, entries, count)
            if not entries:
                return
            number += 1
            url = self._next_url(doc, column, number, count, offset)

    def _count(self, text: str) -> int | None:
        if self._page_count is None:
            return None
        m = self._page_count.search(text)
        if m is None or not m.group(1).isdigit():
            log.info("%s: no page count on the first page; paging until a page is empty", self.name)
            return None
        return max(int(m.group(1)), 1)

    def _next_url(
        self, doc: lxml.html.HtmlElement, column: str, number: int, count: int | None, offset: int
    ) -> str | None:
        if self._next_css is not None:
            for el in self._next_css(doc):
                link = el if el.tag == "a" else el.find(".//a[@href]")
                href = (link.get("href") or "").split("#")[0] if link is not None else ""
                if href.startswith(("http://", "https://")) and self.fetcher.allowed(href):
                    return href
            return None
        if self.sel.page_url:
            if count is not None and number >= count:
                return None
            return self.template_url(column, number + offset)
        return None

    def _entries(self, doc: lxml.html.HtmlElement, column: str) -> Iterator[ListEntry]:
        seen: set[str] = set()
        for item in self._list_item_css(doc):
            link = self._link(item)
            if link is None:
                continue
            href = (link.get("href") or "").split("#")[0]
            if not href.startswith(("http://", "https://")):
                continue  # javascript: and mailto: links are no articles
            if not self.fetcher.allowed(href):
                log.debug("%s: skipping off-site link %s", self.name, href)
                continue
            ident = self.article_id(href)
            if ident in seen:
                continue
            seen.add(ident)
            title = parse.clean(link.get(self.sel.title_attr)) if self.sel.title_attr else ""
            yield ListEntry(
                column=column,
                url=href,
                article_id=ident,
                list_title=title or parse.element_text(link),
                list_date=self._date(item, link),
                pinned=(
                    bool(self._pinned_css(item))
                    if self._pinned_css is not None
                    else parse.is_pinned(item, link)
                ),
            )

    def _link(self, item: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
        for el in self._link_css(item):
            link = el if el.tag == "a" else el.find(".//a[@href]")
            if link is not None and link.get("href"):
                return link
        return item if item.tag == "a" and item.get("href") else None

    def article_id(self, url: str) -> str:
        """Group 1 of ``article_id_pattern`` on the URL path (else path and query), or
        the path and query themselves: an id must not depend on the host name."""
        parts = urlsplit(url)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        m = self._article_id.search(parts.path) or self._article_id.search(local)
        return m.group(1) if m else local

    def _date(self, item: lxml.html.HtmlElement, link: lxml.html.HtmlElement) -> str | None:
        if self._date_css is not None:
            found = self._date_css(item)
            text = parse.element_text(found[0]) if found else ""
            return parse.find_list_date(text) or text or None
        return parse.find_list_date(item.text_content().replace(link.text_content(), " "))

    # --- detail pages ----------------------------------------------------------------------

    def read_article(self, doc: lxml.html.HtmlElement, text: str, url: str) -> Article:
        bodies = self._body_css(doc)
        body = bodies[0] if bodies else None
        # The operator's metadata block first, then what any template shows.
        meta = scoped_metadata(self._meta_css(doc)) if self._meta_css is not None else {}
        page = scan_around(doc, body)  # one walk for the metadata and the attachment blocks
        for key, value in metadata(doc, body, page).items():
            meta.setdefault(key, value)
        if body is not None:
            strip_volatile(body)
        title = next((t for t in (parse.clean(_shown(el)) for el in self._title_css(doc)) if t), "")
        scopes = (
            self._attachments_css(doc)
            if self._attachments_css is not None
            else [*([body] if body is not None else []), *attachment_blocks(doc, body, page)]
        )
        return Article(
            title, meta, {}, "", body, self.sel.detail_body if body is not None else "", scopes
        )


def _shown(el: lxml.html.HtmlElement) -> str:
    """What an operator's title selector points at: visible text, or ``<title>``'s own."""
    return el.text_content() if el.tag == "title" else visible_text(el)
