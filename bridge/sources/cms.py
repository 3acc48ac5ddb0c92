"""What the three CMS families share: the fetcher, the column URLs, list pages (a first
page answering 404 is a layout alarm, 304 means unchanged), paging guards, and the
reading of a detail page into a raw item (404 → gone, the government meta tags, the
metadata blocks, layout alarms, attachments).

A family (``trs``, ``hanweb``, ``selectors``) subclasses ``CmsSource`` and keeps only what
is its own: how its listing pages (``list_pages``) and where its template puts the
heading and the body (``read_article``).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime

import lxml.html

from bridge.config import SourceConfig
from bridge.defaults import MAX_LIST_PAGES
from bridge.errors import LayoutAlarm, Skippable
from bridge.raw import Gone, ListEntry, RawAttachment, RawItem
from bridge.sources import parse
from bridge.sources.article import Article, doc_title, page_meta, visible_text
from bridge.sources.attachments import download_attachments
from bridge.sources.base import Source
from bridge.sources.fetch import Fetcher, Missing, NotModified, Page
from bridge.sources.links import absolutize_within

log = logging.getLogger(__name__)


class CmsSource(Source):
    """One bureau site built by a CMS family; ``cfg`` is its ``[[sources]]`` table."""

    body_hint = "the body"
    """What the family looks for as the body, for a layout alarm's message."""
    reads_links = False
    """Whether ``read_article`` looks at link values (an operator's ``a[href$=".pdf"]``),
    which must then be absolute all over the page before it reads; otherwise only the
    body's and the attachment blocks' links are made absolute, after."""

    def __init__(self, cfg: SourceConfig, fetcher: Fetcher) -> None:
        super().__init__()
        self.cfg = cfg
        self.name = cfg.name
        self.fetcher = fetcher

    def columns(self) -> list[str]:
        return [c.key for c in self.cfg.columns]

    def column_url(self, column: str) -> str:
        return self.cfg.base_url + self.cfg.column(column).path

    def close(self) -> None:
        self.fetcher.close()

    # --- listing -------------------------------------------------------------------------

    def list_page(
        self, column: str, url: str, number: int, *, conditional: bool, what: str
    ) -> Page | NotModified | None:
        """Page ``number`` of a listing, conditionally when asked and validators are known;
        None when a later page is missing (the listing ends there). A first page that is
        missing is a layout alarm (``what`` names the page the family expected); a page
        cut short is skipped, never taken for a short listing."""
        etag, modified = self.validators.get(url, (None, None)) if conditional else (None, None)
        result = self.fetcher.page(url, etag=etag, last_modified=modified, listing=True)
        if isinstance(result, Missing):
            if number == 0:
                raise LayoutAlarm(
                    self.name, column, url, what, f"the listing answered {result.status}"
                )
            return None
        if isinstance(result, Page) and parse.incomplete(result.text):
            raise Skippable(f"{url} ends before </html>: the list page came incomplete")
        return result

    # --- detail pages ----------------------------------------------------------------------

    @abstractmethod
    def read_article(self, doc: lxml.html.HtmlElement, text: str, url: str) -> Article:
        """The family's reading of a parsed article page: its heading, body, metadata and
        attachment blocks (``article.metadata`` reads the metadata any template shows)."""

    def fetch_article(
        self, entry: ListEntry, *, etag: str | None = None, last_modified: str | None = None
    ) -> tuple[Page, Article] | Gone | NotModified:
        """A detail page read, without judging it: a page without body or title comes
        back as it is, for a caller that shows what such a page holds. With validators
        (revalidation), an unchanged page comes back as ``NotModified``, unparsed."""
        result = self.fetcher.page(entry.url, etag=etag, last_modified=last_modified)
        if isinstance(result, Missing):
            return Gone(entry.url, result.status)
        if isinstance(result, NotModified):
            if etag or last_modified:
                return result
            raise Skippable(f"{entry.url} answered 304 to an unconditional request")
        if parse.incomplete(result.text):
            raise Skippable(f"{entry.url} ends before </html>: the page came incomplete")
        if self.reads_links:
            doc = parse.document(result.text, result.url)
            base = None
        else:
            doc, base = parse.page_document(result.text, result.url)
        article = self.read_article(doc, result.text, result.url)
        if article.body is None and (target := parse.redirect_target(doc)):
            raise Skippable(f"{entry.url} is no article: it sends the browser on to {target}")
        if base is not None:  # the links of what is kept, and only those, made absolute
            absolutize_within(doc, [article.body, *article.attachment_scopes], base)
        article.page_meta = page_meta(doc)
        article.doc_title = doc_title(doc)
        return result, article

    def fetch_item(self, entry: ListEntry) -> RawItem | Gone:
        fetched = self.fetch_article(entry)
        item = self._item(entry, fetched)
        if isinstance(item, NotModified):  # not asked conditionally: fetch_article raised
            raise Skippable(f"{entry.url} answered 304 to an unconditional request")
        return item

    def revalidate_item(
        self, entry: ListEntry, etag: str | None, last_modified: str | None
    ) -> RawItem | Gone | NotModified:
        return self._item(entry, self.fetch_article(entry, etag=etag, last_modified=last_modified))

    def _item(
        self, entry: ListEntry, fetched: tuple[Page, Article] | Gone | NotModified
    ) -> RawItem | Gone | NotModified:
        if isinstance(fetched, Gone | NotModified):
            return fetched
        page, article = fetched
        if article.body is None:
            raise LayoutAlarm(self.name, entry.column, entry.url, self.body_hint, self.no_body)
        # A page without any title (no heading, 标题, ArticleTitle or <title>: rare, since
        # nearly every page has a <title>) is quarantined by normalization, naming the page.
        links = parse.attachment_links(article.attachment_scopes, self.fetcher.allowed)
        files = download_attachments(self.fetcher, links)
        return raw_item(self.name, entry, page, article, files)

    no_body = "the detail page has no body"


def raw_item(
    source: str, entry: ListEntry, page: Page, article: Article, files: Iterable[RawAttachment]
) -> RawItem:
    """The raw item of a read article (a missing body becomes an empty one)."""
    body = article.body
    return RawItem(
        source=source,
        column=entry.column,
        url=page.url,
        article_id=entry.article_id,
        title=article.title,
        list_title=entry.list_title,
        list_date=entry.list_date,
        meta=article.meta,
        body_html=parse.inner_html(body) if body is not None else "",
        body_text=visible_text(body) if body is not None else "",
        attachments=tuple(files),
        fetched_at=datetime.now(UTC),
        replacement_chars=page.replacement_chars,
        charset=page.charset,
        charset_how=page.charset_how,
        page_meta=article.page_meta,
        doc_title=article.doc_title,
        etag=page.etag,
        last_modified=page.last_modified,
    )


class Paging:
    """A listing's guard against pages that bring nothing new: a site that answers every
    page number with the same page (or a stated count of a million) must not be read a
    million times. The first page that repeats only known entries ends the listing."""

    def __init__(self, source: str, max_pages: int = MAX_LIST_PAGES) -> None:
        self.source = source
        self.max_pages = max_pages
        self.seen: set[str] = set()

    def fresh(self, url: str, entries: Iterable[ListEntry], number: int) -> bool:
        """False (and a warning) when page ``number`` > 0 lists nothing, or only entries
        seen before, or is past ``max_pages``."""
        if number >= self.max_pages:
            log.warning(
                "%s: %s is list page %d: the listing stops at max_list_pages = %d (raise it "
                "in [fetch] if the column really has more)",
                self.source,
                url,
                number + 1,
                self.max_pages,
            )
            return False
        ids = [e.article_id for e in entries]
        if number > 0 and not ids:
            log.warning("%s: %s lists nothing; the listing ends here", self.source, url)
            return False
        repeats = number > 0 and all(i in self.seen for i in ids)
        self.seen.update(ids)
        if repeats:
            log.warning("%s: %s repeats earlier entries; the listing ends here", self.source, url)
        return not repeats
