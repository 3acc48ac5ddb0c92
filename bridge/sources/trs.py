"""TRS-style static sites (the most common CMS of Chinese government sites).

- column listings at ``<column>/index.html``, ``index_1.html``, ``index_2.html`` …; the
  page count exists only inside a script call, in one of two forms:
  ``createPageHTML(7, 0, "index", "html")`` (count, current, prefix, suffix) or
  ``createPageHTML('page_div', 7, 1, 'index', 'html', 136)`` (element id first);
- detail pages at ``<column>/YYYYMM/tYYYYMMDD_N.html``; the article id is ``tYYYYMMDD_N``;
- the body in ``div.TRS_Editor``; the disclosure metadata table above it;
- attachments linked from the body or an attachment block, usually ``P0…`` files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import lxml.html
from lxml.cssselect import CSSSelector

from bridge.config import SourceConfig
from bridge.errors import LayoutAlarm, Skippable
from bridge.sources import parse
from bridge.sources.base import Gone, ListEntry, ListPage, RawItem, Source
from bridge.sources.fetch import Fetcher, Missing, NotModified, download_attachment
from bridge.sources.volatile import strip_volatile

log = logging.getLogger(__name__)

_PAGE_CALL = re.compile(r"createPageHTML\s*\(([^)]*)\)")
_DETAIL = re.compile(r"/(?:\d{6}/)?(t\d{8}_\d+)\.s?html?$")
_DATE = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\b\d{1,2}-\d{1,2}\b")
TITLE_SELECTORS = ("h1.title", ".title h1", "h1", ".article-title", "td.title")
BODY_SELECTOR = "div.TRS_Editor"
INFO_SELECTOR = ".info, .article-info, .xxgk-info, .property"
# Compiled once: `el.cssselect(text)` translates the selector to XPath on every call,
# which cost more than the rest of reading a detail page.
_BODY = CSSSelector(BODY_SELECTOR, translator="html")
_INFO = CSSSelector(INFO_SELECTOR, translator="html")
_TITLES = tuple(CSSSelector(selector, translator="html") for selector in TITLE_SELECTORS)
_ATTACHMENT_BLOCKS = CSSSelector(".attachments, .fj, .appendix", translator="html")


def page_count(text: str) -> int | None:
    """Pages in a listing from its createPageHTML call, in either argument form."""
    m = _PAGE_CALL.search(text)
    if not m:
        return None
    args = [a.strip().strip("\"'") for a in m.group(1).split(",")]
    numbers = [a for a in args if a.isdigit()]
    if not numbers:
        return None
    # Form 2 starts with the element id (a non-number); either way the count comes first.
    return max(int(numbers[0]), 1)


def list_page_url(column_url: str, number: int) -> str:
    return column_url + ("index.html" if number == 0 else f"index_{number}.html")


class TrsSource(Source):
    """A TRS site configured by ``[[sources]] kind = "trs"``."""

    def __init__(self, cfg: SourceConfig, fetcher: Fetcher) -> None:
        super().__init__()
        self.cfg = cfg
        self.name = cfg.name
        self.fetcher = fetcher

    def columns(self) -> list[str]:
        return [c.key for c in self.cfg.columns]

    def column_url(self, column: str) -> str:
        return self.cfg.base_url + self.cfg.column(column).path

    def list_pages(self, column: str, *, conditional: bool = True) -> Iterator[ListPage]:
        base = self.column_url(column)
        number = 0
        count: int | None = None
        while count is None or number < count:
            url = list_page_url(base, number)
            etag, modified = self.validators.get(url, (None, None)) if conditional else (None, None)
            result = self.fetcher.page(url, etag=etag, last_modified=modified, listing=True)
            if isinstance(result, NotModified):
                yield ListPage(column, url, number, (), count, not_modified=True)
                if count is None:
                    return  # an unchanged first page: nothing new on this column
                number += 1
                continue
            if isinstance(result, Missing):
                if number == 0:
                    raise LayoutAlarm(
                        self.name,
                        column,
                        url,
                        "index.html",
                        f"the listing answered {result.status}",
                    )
                return
            if parse.incomplete(result.text):
                raise Skippable(f"{url} ends before </html>: the list page came incomplete")
            self.new_validators[url] = (result.etag, result.last_modified)
            doc = parse.document(result.text, result.url)
            found = page_count(result.text)
            if count is None:
                count = found if found is not None else 1
            yield ListPage(column, url, number, tuple(self._entries(doc, column)), count)
            number += 1

    def _entries(self, doc: lxml.html.HtmlElement, column: str) -> Iterator[ListEntry]:
        seen: set[str] = set()
        for a in doc.iter("a"):
            href = a.get("href") or ""
            m = _DETAIL.search(urlsplit(href).path)
            if not m:
                continue
            if not self.fetcher.allowed(href):
                log.debug("%s: skipping off-site link %s", self.name, href)
                continue
            article_id = m.group(1)
            if article_id in seen:
                continue
            seen.add(article_id)
            title = parse.clean(a.get("title")) or parse.element_text(a)
            container = a.getparent()
            while container is not None and container.tag not in ("li", "tr", "dd", "div", "p"):
                container = container.getparent()
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

    def fetch_item(self, entry: ListEntry) -> RawItem | Gone:
        result = self.fetcher.page(entry.url)
        if isinstance(result, Missing):
            return Gone(entry.url, result.status)
        if isinstance(result, NotModified):  # never asked conditionally, but be exact
            raise Skippable(f"{entry.url} answered 304 to an unconditional request")
        if parse.incomplete(result.text):
            raise Skippable(f"{entry.url} ends before </html>: the page came incomplete")
        doc = parse.document(result.text, result.url)
        bodies = _BODY(doc)
        if not bodies and (target := parse.redirect_target(doc)):
            raise Skippable(f"{entry.url} is no article: it sends the browser on to {target}")
        if not bodies:
            raise LayoutAlarm(
                self.name, entry.column, entry.url, BODY_SELECTOR, "the detail page has no body"
            )
        body = bodies[0]
        strip_volatile(body)
        meta = parse.meta_table(doc)
        # The line under the title (发布时间：2012-12-05 09:30　来源：…) dates the item more
        # precisely than a list that may show only MM-DD.
        for info in _INFO(doc):
            for key, value in parse.label_pairs(parse.element_text(info)):
                meta.setdefault(key, value)
        title = ""
        for selector in _TITLES:
            found = selector(doc)
            if found and parse.element_text(found[0]):
                title = parse.element_text(found[0])
                break
        if not title:
            title = meta.get("标题") or meta.get("名称") or ""
        if not title:
            raise LayoutAlarm(
                self.name,
                entry.column,
                entry.url,
                ", ".join(TITLE_SELECTORS),
                "the detail page has no title",
            )
        scopes = [body, *_ATTACHMENT_BLOCKS(doc)]
        attachments = tuple(
            download_attachment(self.fetcher, name, url)
            for name, url in parse.attachment_links(scopes, self.fetcher.allowed_hosts)
        )
        return RawItem(
            source=self.name,
            column=entry.column,
            url=result.url,
            article_id=entry.article_id,
            title=title,
            list_title=entry.list_title,
            list_date=entry.list_date,
            meta=meta,
            body_html=parse.inner_html(body),
            body_text=body.text_content(),
            attachments=attachments,
            fetched_at=datetime.now(UTC),
            replacement_chars=result.replacement_chars,
            charset=result.charset,
            charset_how=result.charset_how,
        )

    def close(self) -> None:
        self.fetcher.close()
