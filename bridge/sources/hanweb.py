"""Hanweb (大汉) JCMS sites, the CMS the Yuyao government portal itself runs.

- column pages ``/col/col<ID>/index.html`` embed the first page of the listing as XML in a
  ``<script type="text/xml">``: ``<datastore><nextgroup>…<recordset><record><![CDATA[<li>…``;
  the record count is in ``<totalrecord>`` or a ``totalRecord`` script variable;
- later pages come from ``/module/web/jpage/dataproxy.jsp``, either by GET with
  ``page=N&columnid=…&unitid=…&webid=…`` or by POST with ``startrecord/endrecord/perpage``
  in the query and the column parameters as a form; some sites answer only one of them;
- articles at ``/art/YYYY/M/D/art_<column>_<id>.html``; the article id is ``<id>``, so an
  article listed in two columns is one item;
- the body between ``<!--ZJEG_RSS.content.begin-->`` and ``<!--ZJEG_RSS.content.end-->``
  (older templates: ``<meta name="ContentStart">`` … ``<meta name="ContentEnd">``); the
  title between ``<!--<$[标题名称]>begin-->`` markers, else ``td.title`` or the metadata table;
- attachments through ``/module/download/downfile.jsp?…&filename=NAME.pdf``.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import lxml.html
from lxml.cssselect import CSSSelector

from bridge.config import HanwebSourceConfig
from bridge.errors import Retriable, Skippable
from bridge.labels import label_key
from bridge.raw import ListEntry, ListPage
from bridge.sources import parse
from bridge.sources.article import Article, attachment_blocks, metadata, visible_text
from bridge.sources.charset import decode_html
from bridge.sources.cms import CmsSource, Paging
from bridge.sources.fetch import Fetcher, NotModified
from bridge.sources.pagescan import scan
from bridge.sources.volatile import strip_volatile
from bridge.text import tree_safe

log = logging.getLogger(__name__)

PROXY_PATH = "/module/web/jpage/dataproxy.jsp"
BODY_BEGIN, BODY_END = "<!--ZJEG_RSS.content.begin-->", "<!--ZJEG_RSS.content.end-->"
_OLD_BODY = re.compile(
    r"<meta\s+name=[\"']?ContentStart[\"']?\s*/?>(.*?)<meta\s+name=[\"']?ContentEnd[\"']?\s*/?>",
    re.I | re.S,
)
_CONTENT_META = ("ContentStart", "ContentEnd")
_MARKER = re.compile(
    # A value never runs over the next begin marker: an unclosed one costs one scan.
    r"<!--<\$\[([^\]]{1,20})\]>begin-->((?:(?!<!--<\$\[).)*?)<!--<\$\[\1\]>end-->",
    re.S,
)
_ARTICLE = re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_(\d+)_(\d+)\.s?html?$")
_COLUMN_ID = re.compile(r"col(\d+)")
_SCRIPT_XML = re.compile(r"<script[^>]*type=[\"']?text/xml[\"']?[^>]*>(.*?)</script>", re.I | re.S)
_RECORD = re.compile(r"<record(?:\s[^>]*)?>\s*(.*?)\s*</record>", re.S)
_CDATA = re.compile(r"^<!\[CDATA\[(.*)\]\]>$", re.S)
_NEXTGROUP = re.compile(r"<nextgroup>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</nextgroup>", re.S)
_HREF = re.compile(r"href=[\"']([^\"']+)[\"']")
_DATE_TAGS = ("b", "span", "td", "em", "i", "font")
TITLE_SELECTOR = "td.title"
# Compiled once: translating CSS to XPath costs more than parsing a whole detail page.
_TITLE_CELL = CSSSelector(TITLE_SELECTOR)


def _number(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def script_var(name: str, text: str) -> str | None:
    """``var unitid = 7701;`` or ``unitid: '7701'`` in a page's scripts (not ``&unitid=`` of
    a link: a side box of another unit may carry one)."""
    m = re.search(rf"(?<![&?\w]){name}\s*[=:]\s*[\"']?(\d+)", text, re.I)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Datastore:
    """One ``<datastore>``: the records' HTML, the totals it states and its nextgroup link."""

    records: tuple[str, ...]
    total_records: int | None
    total_pages: int | None
    nextgroup: str | None

    @classmethod
    def parse(cls, xml: str) -> Datastore:
        records = []
        for raw in _RECORD.findall(xml):
            m = _CDATA.match(raw)
            # Without CDATA the record's HTML is escaped as XML text.
            records.append(m.group(1) if m else html.unescape(raw))
        link = _NEXTGROUP.search(xml)
        href = _HREF.search(link.group(1)) if link else None
        return cls(
            records=tuple(records),
            total_records=_number(r"<totalrecord>\s*(\d+)", xml),
            total_pages=_number(r"<totalpage>\s*(\d+)", xml),
            nextgroup=html.unescape(href.group(1)) if href else None,
        )

    def page_count(self, perpage: int, total: int | None = None) -> int | None:
        """Pages as stated, else from the record count (this one's, or ``total``)."""
        total = self.total_records or total
        return self.total_pages or (math.ceil(total / perpage) if total else None)


def column_datastore(text: str, columnid: str | None) -> Datastore:
    """The column's own datastore on a column page.

    A page may carry several (a side box of the newest items is one too): prefer the one
    whose nextgroup link names this column, then the one with the most records.
    """
    stores = [Datastore.parse(m.group(1)) for m in _SCRIPT_XML.finditer(text)]
    if not stores:
        return Datastore((), None, None, None)

    def rank(store: Datastore) -> tuple[bool, int]:
        ours = bool(columnid and store.nextgroup and f"columnid={columnid}" in store.nextgroup)
        return ours, len(store.records)

    return max(stores, key=rank)


def article_id(url: str) -> str | None:
    m = _ARTICLE.search(urlsplit(url).path)
    return m.group(2) if m else None


def record_entries(
    records: tuple[str, ...], column: str, page_url: str, allowed: Callable[[str], bool]
) -> list[ListEntry]:
    """List entries of the records of one page; off-site and non-article links skipped."""
    out = []
    seen: set[str] = set()
    for record in records:
        root = parse.fragment(_table_safe(record), page_url)
        for a in root.iter("a"):
            href = (a.get("href") or "").split("#")[0]
            ident = article_id(href)
            if ident is None:
                continue
            if not allowed(href):
                log.debug("skipping off-site link %s", href)
                break
            if ident in seen:
                break
            seen.add(ident)
            out.append(
                ListEntry(
                    column=column,
                    url=href,
                    article_id=ident,
                    list_title=parse.clean(a.get("title")) or parse.element_text(a),
                    list_date=_record_date(root, a),
                    pinned=parse.is_pinned(root, a),
                )
            )
            break
    return out


def _table_safe(record: str) -> str:
    """Table rows parsed outside a table lose their cells; give them one."""
    head = record.lstrip()[:4].lower()
    if head.startswith("<tr"):
        return f"<table>{record}</table>"
    if head.startswith(("<td", "<th")):
        return f"<table><tr>{record}</tr></table>"
    return record


def _record_date(root: lxml.html.HtmlElement, link: lxml.html.HtmlElement) -> str | None:
    """The date in a ``<b>``, ``<span>`` or ``<td>`` of the record, else anywhere beside the link."""
    for el in root.iter(*_DATE_TAGS):
        if el is link or any(p is link for p in el.iterancestors()) or el.find(".//a") is not None:
            continue
        found = parse.find_list_date(el.text_content())
        if found:
            return found
    rest = root.text_content().replace(link.text_content(), " ")
    return parse.find_list_date(rest)


def parse_detail(text: str, url: str, doc: lxml.html.HtmlElement | None = None) -> Article:
    """Title (its marker, else ``td.title``), metadata, body (volatile parts left for the
    removed) and attachment blocks of an article (``doc``: the page already parsed)."""
    if doc is None:
        doc = parse.document(text, url)
    title = ""
    marked: dict[str, str] = {}
    for m in _MARKER.finditer(text):
        label, value = label_key(m.group(1)), parse.clean(_text_of(m.group(2)))
        if label in ("标题名称", "标题") and value and not title:
            title = value
        elif label in parse.META_LABELS and value:
            marked.setdefault(label, value)
    if not title:
        found = _TITLE_CELL(doc)
        title = parse.clean(visible_text(found[0])) if found else ""
    inner = parse.between(text, BODY_BEGIN, BODY_END)
    if inner is None:
        old = _OLD_BODY.search(text)
        inner = old.group(1) if old else None
    body = None
    if inner is not None:
        body = parse.fragment(inner, url)
        for meta_el in body.iter("meta"):
            if meta_el.get("name") in _CONTENT_META:
                meta_el.drop_tree()
        strip_volatile(body)
    # The body was parsed on its own; in the page's tree it lies between the markers, and
    # nothing there (a table in the document) is metadata of the page.
    page = scan(doc)  # one walk for the metadata and the attachment blocks
    meta = metadata(doc, between_markers(doc), page)
    for key, value in marked.items():
        meta.setdefault(key, value)
    scopes = ([body] if body is not None else []) + attachment_blocks(doc, None, page)
    return Article(title, meta, {}, "", body, BODY_BEGIN if body is not None else "", scopes)


_BEGIN_MARKS = (BODY_BEGIN[4:-3], "ContentStart")
_END_MARKS = (BODY_END[4:-3], "ContentEnd")


def between_markers(doc: lxml.html.HtmlElement) -> set[lxml.html.HtmlElement]:
    """The elements of the page between its body markers (comments, or the old template's
    ``<meta name="ContentStart">``), in page order."""
    inside: set[lxml.html.HtmlElement] = set()
    within = False
    for el in doc.iter():
        if isinstance(el, lxml.html.HtmlComment) or el.tag == "meta":
            mark = (el.text or "") if el.tag != "meta" else (el.get("name") or "")
            if any(m in mark for m in _BEGIN_MARKS):
                within = True
            elif any(m in mark for m in _END_MARKS):
                within = False
            continue
        if within:
            inside.add(el)
    return inside


def _text_of(fragment_html: str) -> str:
    if "<" not in fragment_html and "&" not in fragment_html:
        return fragment_html
    tree = lxml.html.fragment_fromstring(tree_safe(fragment_html), create_parent="div")
    return visible_text(tree)


class HanwebSource(CmsSource):
    """A Hanweb JCMS site configured by ``[[sources]] kind = "hanweb"``."""

    cfg: HanwebSourceConfig  # make_source gives each kind its own config
    body_hint = f"{BODY_BEGIN}…{BODY_END}"
    no_body = "the article has no body"

    def column_url(self, column: str) -> str:
        path = self.cfg.column(column).path
        return self.cfg.base_url + path + ("index.html" if path.endswith("/") or not path else "")

    def column_id(self, column: str) -> str | None:
        col = self.cfg.column(column)
        if col.id:
            return col.id
        m = _COLUMN_ID.search(col.path)
        return m.group(1) if m else None

    def list_pages(self, column: str, *, conditional: bool = True) -> Iterator[ListPage]:
        url = self.column_url(column)
        result = self.list_page(
            column, url, 0, conditional=conditional, what="col/colNNN/index.html"
        )
        if isinstance(result, NotModified):
            # An unchanged column page: its newest records are the ones we have.
            yield ListPage(column, url, 0, (), None, not_modified=True)
            return
        assert result is not None  # a missing first page is a layout alarm
        self.new_validators[url] = (result.etag, result.last_modified)
        columnid = self.column_id(column) or script_var("columnid", result.text)
        store = column_datastore(result.text, columnid)
        # The page's own perPage first: the proxy numbers its pages by it.
        perpage = int(script_var("perPage", result.text) or self.cfg.hanweb.perpage)
        total = script_var("totalRecord", result.text)
        count = store.page_count(perpage, int(total) if total else None)
        entries = record_entries(store.records, column, result.url, self.fetcher.allowed)
        yield ListPage(column, url, 0, tuple(entries), count)
        if not store.records or (count is not None and count <= 1):
            return
        proxy = _Proxy(self, column, result.url, columnid, store.nextgroup, result.text, perpage)
        paging = Paging(self.name, self.cfg.fetch.max_list_pages)
        paging.fresh(url, entries, 0)
        position, number = len(store.records), 1
        while count is None or number < count:
            page_url, records, stated = proxy.page(number, position, expected=count is not None)
            if not records:
                return
            entries = record_entries(records, column, page_url, self.fetcher.allowed)
            if entries and not paging.fresh(page_url, entries, number):
                return
            count = count or stated
            yield ListPage(column, page_url, number, tuple(entries), count)
            position += len(records)
            number += 1

    def read_article(self, doc: lxml.html.HtmlElement, text: str, url: str) -> Article:
        return parse_detail(text, url, doc)


class _Proxy:
    """Pages 2, 3 … of one column from ``dataproxy.jsp``: GET form first, POST as fallback.

    The column parameters come from the column page's nextgroup link, overridden by what
    the config sets, with the column page's script variables for anything still missing.
    Once a site has answered the POST form only, the rest of the column uses it.
    """

    def __init__(
        self,
        source: HanwebSource,
        column: str,
        page_url: str,
        columnid: str | None,
        nextgroup: str | None,
        page_text: str,
        perpage: int,
    ) -> None:
        self.source, self.column, self.perpage = source, column, perpage
        parts = urlsplit(urljoin(page_url, nextgroup or PROXY_PATH))
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.pop("page", None)
        hanweb = source.cfg.hanweb
        given = (("columnid", columnid), ("unitid", hanweb.unitid), ("webid", hanweb.webid))
        for key, configured in given:
            value = configured or params.get(key) or script_var(key, page_text)
            if value:
                params[key] = value
        params.setdefault("permissiontype", "0")
        missing = [k for k in ("columnid", "unitid") if not params.get(k)]
        if missing:
            raise Skippable(
                f"{source.name}: column {column}: cannot page the listing: no {' or '.join(missing)} "
                "on the column page; set [[sources.columns]] id or [sources.hanweb] unitid"
            )
        self.params = params
        self.use_post = False

    def page(
        self, number: int, position: int, *, expected: bool
    ) -> tuple[str, tuple[str, ...], int | None]:
        """(url, records, stated page count) of page ``number`` (0 is the column page),
        whose first record is record ``position + 1``. An ``expected`` page (within the
        stated count) that neither form answers fails the column instead of ending it, so
        a half-read listing is never taken for a complete one."""
        fetcher = self.source.fetcher
        if not self.use_post:
            url = f"{self.url}?{urlencode({'page': number + 1, **self.params})}"
            store = Datastore.parse(proxy_request(fetcher, "GET", url) or "")
            if store.records:
                return url, store.records, store.page_count(self.perpage)
            self.use_post = True
            log.info("%s: column %s pages through the POST form", self.source.name, self.column)
        query = {
            "startrecord": position + 1,
            "endrecord": position + self.perpage,
            "perpage": self.perpage,
        }
        url = f"{self.url}?{urlencode(query)}"
        text = proxy_request(
            fetcher, "POST", url, {"col": "1", "appid": "1", "path": "/", **self.params}
        )
        if text is None and expected:
            raise Skippable(f"{url}: the data proxy answers neither form; listing incomplete")
        store = Datastore.parse(text or "")
        return url, store.records, store.page_count(self.perpage)


def proxy_request(
    fetcher: Fetcher, method: str, url: str, form: dict[str, str] | None = None
) -> str | None:
    """One data proxy request under the fetcher's politeness rules (allowed hosts,
    robots.txt, rate limit, size cap); None when the proxy refuses it (4xx, a redirect).

    Not ``Fetcher.page``: that offers GET only, and a redirect here means the form is
    refused rather than moved. Both forms only read, so they are safe to repeat; the
    XML's own ``<?xml encoding?>`` declaration names its charset (GBK on GBK sites).
    """
    r = fetcher.request(method, url, data=form, follow_redirects=False, listing=True)
    if r.status_code in (408, 429) or r.status_code >= 500:
        raise Retriable(f"{url} answered {r.status_code}")
    if r.status_code != 200:
        log.info("%s %s answered %d", method, url, r.status_code)
        return None
    return decode_html(r.body, r.headers.get("Content-Type"), fetcher.default_charset).text
