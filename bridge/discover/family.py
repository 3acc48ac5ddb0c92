"""Which CMS built a page, and whether it is a list or an article: pure functions over a
page's text, its parsed tree and its URL, each answer with the evidence that gave it.

Chinese government sites share a few CMS families, and each leaves marks of its own:

- TRS (拓尔思) WCM: ``div.TRS_Editor`` editor output, the ``createPageHTML(…)`` pager,
  articles at ``…/YYYYMM/tYYYYMMDD_N.html``, list pages ``index_N.html``;
- Hanweb (大汉) JCMS: the first list page as XML in ``<script type="text/xml">``
  (``<datastore>``), later ones from ``dataproxy.jsp``, articles at
  ``/art/YYYY/M/D/art_<col>_<id>.html``, the body between ``ZJEG_RSS.content`` markers;
- 开普云 UCAP (中国政府网 and many ministries): the body in ``#UCAP-CONTENT``.

Anything else is read by CSS selectors (``kind = "selectors"``). ``bridge probe`` and
``bridge init`` both decide by these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html

from bridge.sources.container import find_body

TRS, HANWEB, UCAP, OTHER = "TRS", "Hanweb", "UCAP", "other"
KINDS = {TRS: "trs", HANWEB: "hanweb", UCAP: "selectors", OTHER: "selectors"}
"""The ``[[sources]] kind`` that reads each family."""

TRS_ARTICLE = re.compile(r"/t\d{8}_\d+\.s?html?$")
HANWEB_ARTICLE = re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.s?html?$")
HANWEB_COLUMN = re.compile(r"/col/col\d+/(?:index\.s?html?)?$")
_TRS_EDITOR = re.compile(r"class=[\"']?[^\"'>]*\b(?:TRS_Editor|TRS_UEDITOR|trs_editor_view)\b")
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(")
_TRS_PAGING_LINK = re.compile(r"href=[\"'](?:\./)?index_\d+\.s?html?[\"']")
_DATASTORE = re.compile(r"<script[^>]*type=[\"']?text/xml[\"']?[^>]*>\s*<datastore>", re.I)
_ZJEG = re.compile(r"ZJEG_RSS\.content\.begin")
_HANWEB_MARKER = re.compile(r"<!--<\$\[[^\]]{1,20}\]>begin-->")
_UCAP = re.compile(r"id=[\"']?UCAP-CONTENT\b")
_UCAP_SCRIPT = re.compile(r"/ucap/|ucapCms|UCAP_", re.I)
_ARTICLE_LINK_MIN = 3
"""Article-shaped links a page needs before they count as a family's mark (one may be a
side box's)."""


@dataclass(frozen=True)
class Verdict:
    """An answer (a family, or "list"/"article") and the evidence for it, in words."""

    answer: str
    reasons: tuple[str, ...]


def _paths(doc: lxml.html.HtmlElement) -> list[str]:
    return [urlsplit(a.get("href") or "").path for a in doc.iter("a")]


def family(text: str, doc: lxml.html.HtmlElement, url: str) -> Verdict:
    """The CMS family of a page: the one with the most marks; ``other`` when none has any."""
    path = urlsplit(url).path
    links = _paths(doc)
    marks: dict[str, list[str]] = {TRS: [], HANWEB: [], UCAP: []}
    if _TRS_EDITOR.search(text):
        marks[TRS].append("a TRS_Editor body (TRS's editor output)")
    if _CREATE_PAGE.search(text):
        marks[TRS].append("the createPageHTML(…) pager script")
    if TRS_ARTICLE.search(path):
        marks[TRS].append("the URL is shaped like a TRS article (tYYYYMMDD_N.html)")
    if (n := sum(bool(TRS_ARTICLE.search(p)) for p in links)) >= _ARTICLE_LINK_MIN:
        marks[TRS].append(f"{n} links shaped like TRS articles (tYYYYMMDD_N.html)")
    if _TRS_PAGING_LINK.search(text):
        marks[TRS].append("index_N.html paging links")
    if doc.find(".//meta[@name='ChnlId']") is not None:
        marks[TRS].append("a ChnlId meta tag (TRS WCM's channel id)")
    if _DATASTORE.search(text):
        marks[HANWEB].append('a <script type="text/xml"> datastore (Hanweb\'s first list page)')
    if "dataproxy.jsp" in text:
        marks[HANWEB].append("the dataproxy.jsp list proxy")
    if _ZJEG.search(text):
        marks[HANWEB].append("ZJEG_RSS.content body markers")
    if _HANWEB_MARKER.search(text):
        marks[HANWEB].append("<!--<$[…]>begin--> field markers")
    if HANWEB_ARTICLE.search(path):
        marks[HANWEB].append("the URL is shaped like a Hanweb article (/art/Y/M/D/art_C_N.html)")
    if HANWEB_COLUMN.search(path):
        marks[HANWEB].append("the URL is shaped like a Hanweb column (/col/colN/)")
    if (n := sum(bool(HANWEB_ARTICLE.search(p)) for p in links)) >= _ARTICLE_LINK_MIN:
        marks[HANWEB].append(f"{n} links shaped like Hanweb articles (art_C_N.html)")
    if _UCAP.search(text):
        marks[UCAP].append("a #UCAP-CONTENT body (开普云 UCAP's article container)")
    if _UCAP_SCRIPT.search(text):
        marks[UCAP].append("UCAP scripts")
    # Most marks wins; on a tie the family of the page's own URL shape, then this order.
    best = max(marks, key=lambda f: (len(marks[f]), any("URL" in r for r in marks[f])))
    if not marks[best]:
        return Verdict(OTHER, ("no mark of TRS, Hanweb or UCAP: read by CSS selectors",))
    return Verdict(best, tuple(marks[best]))


_DATE_NEAR_LINK = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}")
_LIST_TEXT = re.compile(r"共\s*\d+\s*页|下一页|尾页|末页")
_FOLDER = re.compile(r"/(?:index(?:_\d+)?\.s?html?)?$")
_FILE = re.compile(r"/[^/]+\.(?:s?html?|jsp|aspx?|php)$")
_METADATA_LABELS = ("索引号", "发文字号", "文号", "发布日期", "成文日期", "发布机构")


def page_kind(text: str, doc: lxml.html.HtmlElement, url: str) -> Verdict:
    """``list`` or ``article``: the URL's shape when a family's decides it, else what the
    page holds (a body, metadata labels, ``ArticleTitle`` against many dated links and a
    pager)."""
    path = urlsplit(url).path
    if TRS_ARTICLE.search(path) or HANWEB_ARTICLE.search(path):
        return Verdict("article", ("the URL is shaped like an article of its CMS",))
    if HANWEB_COLUMN.search(path):
        return Verdict("list", ("the URL is shaped like a Hanweb column page",))
    article: list[str] = []
    listing: list[str] = []
    body, found_by = find_body(doc)
    if body is not None and found_by != "largest text block":
        article.append(f"a body in {found_by}")
    if doc.find(".//meta[@name='ArticleTitle']") is not None:
        article.append('a <meta name="ArticleTitle">')
    shown = doc.text_content()
    labels = [label for label in _METADATA_LABELS if label in shown]
    if len(labels) >= 2:
        article.append("metadata labels (" + "、".join(labels) + ")")
    if _DATASTORE.search(text):
        listing.append("a datastore of list records")
    dated = sum(
        1
        for li in doc.iter("li", "tr")
        if li.find(".//a[@href]") is not None and _DATE_NEAR_LINK.search(li.text_content())
    )
    if dated >= 5:
        listing.append(f"{dated} dated lines with a link")
    if _CREATE_PAGE.search(text) or _LIST_TEXT.search(shown):
        listing.append("a pager (createPageHTML, 共N页, 下一页)")
    folder = bool(_FOLDER.search(path))
    if folder:
        listing.append("the URL is a folder's index page")
    if not article and not listing:
        if body is not None:
            article.append("the largest text block reads as a body")
        elif _FILE.search(path):
            article.append("the URL names a page of its own, and nothing on it is a listing")
    # A tie goes to what the URL's shape says.
    if len(listing) > len(article) or (folder and len(listing) == len(article)):
        return Verdict("list", tuple(listing))
    if article:
        return Verdict("article", tuple(article))
    return Verdict("list", ("no body and no listing found: taken for a list",))


_TRS_COUNT = (
    (re.compile(r"createPageHTML\s*\("), "createPageHTML(…) states the page count"),
    (re.compile(r"\b(?:countPage|pageCount|totalPage|m_nPageCount)\s*[=:]"), "countPage script"),
    (re.compile(r"\b(?:recordCount|totalRecord|m_nRecordCount)\s*[=:]"), "record count / size"),
    (re.compile(r"共\s*\d+\s*页"), "共N页 text"),
)


def paging(text: str, fam: str, kind: str) -> str:
    """How a listing of ``kind`` goes on after its first page, in words."""
    if kind == "hanweb":
        if "dataproxy.jsp" in text or _DATASTORE.search(text):
            return "datastore on the column page, later pages from dataproxy.jsp"
        return "datastore on the column page (no dataproxy.jsp link seen)"
    if kind == "trs":
        for pattern, how in _TRS_COUNT:
            if pattern.search(text):
                return f"index_N.html; {how}"
        return "follows the 下一页 link (no page count stated)"
    if fam == UCAP or kind == "selectors":
        return "by [sources.selectors] next_page or page_url"
    return "unknown"
