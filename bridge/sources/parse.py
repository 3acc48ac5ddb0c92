"""Page-parsing helpers shared by the source presets (pure: text in, data out).

Parsing uses lxml.html directly: it costs a small fraction of what BeautifulSoup does
on the same page (bench/README.md, "Figures behind choices in the code"), and a crawler
on a fast network is bound by parsing CPU.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

from bridge.errors import Skippable
from bridge.filename import attachment_name
from bridge.labels import ALL_LABELS
from bridge.sources.article import visible_text
from bridge.sources.links import absolutize, absolutize_links, base_href
from bridge.text import tree_safe

_WS = re.compile(r"[\s\u3000\xa0]+")
ATTACHMENT_EXTENSIONS = (
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".wps",
    ".et",
    ".zip",
    ".rar",
    ".7z",
    ".txt",
    ".csv",
    ".ofd",
    ".ceb",
    ".jpg",
    ".jpeg",
    ".png",
)
META_LABELS = ALL_LABELS
"""Every label a metadata block may carry (``bridge.labels``)."""


def document(text: str, url: str) -> lxml.html.HtmlElement:
    """Parse HTML with every link made absolute; an empty or hopeless page becomes an
    empty document, not an exception (``page_document``)."""
    doc, base = page_document(text, url)
    absolutize(doc, base)
    return doc


# lxml.html's own parser asks a Python method which class each element's proxy gets (a
# form, an input …): that call on every element the bridge touches cost more than the
# rest of reading a page. Every element is a plain HtmlElement here, chosen in C; nothing
# in the bridge uses the form classes.
_HTML_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def html_parser() -> etree.HTMLParser:
    """A parser for one page (its error log is that page's) that makes HtmlElements."""
    parser = etree.HTMLParser()
    parser.set_element_class_lookup(_HTML_CLASSES)
    return parser


def page_document(text: str, url: str) -> tuple[lxml.html.HtmlElement, str]:
    """The page parsed with its links as written, and the base URL they resolve against
    (its ``<base href>`` applied and removed): an article page makes absolute only the
    links of what it keeps (``absolutize_within``). An empty or hopeless page becomes an
    empty document, not an exception.

    libxml2 stops at the first fatal error (markup nested more than 256 deep) and keeps
    what it read so far: that page is refused rather than read in part.
    """
    text = tree_safe(text)
    parser = html_parser()
    # ValueError: a str with an XML encoding declaration; retry without it. ParserError:
    # nothing to parse (white space, a lone comment).
    for attempt in (text, re.sub(r"^\s*<\?xml[^>]*>", "", text), "<html></html>"):
        try:
            doc = lxml.html.document_fromstring(attempt, parser=parser)
            break
        except (etree.ParserError, ValueError):
            continue
    fatal = next((e for e in parser.error_log if e.level_name == "FATAL"), None)
    if fatal is not None:
        reason = fatal.message.split(", use XML_PARSE_HUGE")[0].strip()  # libxml2's advice
        raise Skippable(f"{url}: the HTML parser gave up ({reason}); the page cannot be read whole")
    # A <base> element is only ever made from a "<base" in the text: a search of the text
    # costs a fraction of the XPath over the tree that finds none on nearly every page.
    return doc, base_href(doc, url) if _BASE_TAG.search(text) else url


_BASE_TAG = re.compile(r"<base", re.I)
_END_TAG = re.compile(r"</(?:html|body)\s*>", re.I)


def incomplete(text: str) -> bool:
    """True when a page never closes its ``<body>`` or ``<html>``: it was cut short (a
    file half written, a connection closed early), and what is there is not the page."""
    # Where a page closes them, at its end, first: the search from the start stops at
    # every "</" of the page (3.8 µs a sandbox page, 0.9 this way).
    if _END_TAG.search(text, max(len(text) - _END_SPAN, 0)) is not None:
        return False
    return _END_TAG.search(text) is None


_END_SPAN = 512


_LOCATION = re.compile(
    r"""location(?:\.href)?\s*=\s*["']([^"']+)["']|location\.(?:replace|assign)\(\s*["']([^"']+)["']"""
)
_REFRESH = re.compile(r"""\d*\s*;?\s*url\s*=\s*["']?([^"'\s]+)""", re.I)


def redirect_target(doc: lxml.html.HtmlElement) -> str | None:
    """Where a page with no text of its own sends the browser on to, by a ``<meta
    http-equiv="refresh">`` or a script setting ``location``; None for any other page.

    CMSes publish an item that links elsewhere (外链) as such a stub, not as an article.
    """
    shown = doc.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]")
    if clean("".join(shown)):
        return None
    for meta in doc.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "refresh":
            m = _REFRESH.search(meta.get("content") or "")
            if m:
                return m[1]
    for script in doc.iter("script"):
        m = _LOCATION.search(script.text or "")
        if m:
            return m[1] or m[2]
    return None


def clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def element_text(el: lxml.html.HtmlElement) -> str:
    return clean(visible_text(el))


def inner_html(el: lxml.html.HtmlElement) -> str:
    """The text of ``el`` as it is (unescaped) and its children's HTML with their tails.

    Serialized whole and cut out of that: a serialization per child cost 14 µs a sandbox
    body, this 8.5. What ``el``'s own tags and text serialize to is learnt from an empty
    element with its tag, attributes and text; one lxml cannot make (a tag such as
    ``o:p`` the parser took), or one the whole does not start with, is serialized child
    by child."""
    whole = etree.tostring(el, encoding="unicode", method="html", with_tail=False)
    # The bodies of a site share their container's tags and text (a <div
    # class="TRS_Editor"> and a line break): learnt once (inner_html 8.9 -> 7.2 µs).
    text = el.text
    key = (el.tag, tuple(el.items()), text)
    head = _SHELLS.get(key)
    if head is None:
        try:
            shell = el.makeelement(el.tag, el.attrib)
            shell.text = text
        except ValueError:
            return _inner_html_by_child(el)
        head = etree.tostring(shell, encoding="unicode", method="html")
        if text is None or len(text) <= _SHELL_TEXT:  # a text of its own is not kept
            if len(_SHELLS) >= _SHELLS_KEPT:
                _SHELLS.clear()
            _SHELLS[key] = head
    end = head.rfind("</")
    if end < 0 or not (whole.startswith(head[:end]) and whole.endswith(head[end:])):
        return _inner_html_by_child(el)
    return (text or "") + whole[end : len(whole) - (len(head) - end)]


_SHELLS: dict[tuple[str, tuple[tuple[str, str], ...], str | None], str] = {}
"""What an empty element with a tag, attributes and text serializes to."""
_SHELLS_KEPT = 256
_SHELL_TEXT = 64


def _inner_html_by_child(el: lxml.html.HtmlElement) -> str:
    parts = [el.text or ""]
    parts.extend(etree.tostring(child, encoding="unicode", method="html") for child in el)
    return "".join(parts)


def attachment_links(
    scopes: list[lxml.html.HtmlElement], allowed: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """(name, absolute url) of file links in the given elements, each URL once; only
    links ``allowed`` admits (the source's scope)."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for scope in scopes:
        for a in scope.iter("a"):
            href = (a.get("href") or "").strip()
            if href in seen:  # a link of nested scopes (a 附件 block and its list) again
                continue
            # Most links name no file: asking the scope (a URL parse) only about file links
            # skips the others cheaply. Neither question changes anything, and a link the
            # scope refuses never raised here, whatever urlsplit makes of it.
            try:
                name = file_link_name(href, visible_text(a))
            except ValueError:
                if not allowed(href):
                    continue
                raise
            if name is None or not allowed(href):
                continue
            seen.add(href)
            out.append((attachment_name(name, href, len(out) + 1), href))
    return out


_ATTACHMENT_LABEL = re.compile(r"^附件\s*\d*\s*[:：.、]?\s*")


def _without_label(text: str) -> str:
    """A link text without its 附件 label (``附件1：通知.pdf`` names 通知.pdf), unless the
    label is the name: ``附件2.pdf`` is 附件2.pdf, not "pdf"."""
    rest = _ATTACHMENT_LABEL.sub("", text)
    if not rest or (_names_file(text) and not _names_file(rest)):
        return text
    return rest


def _names_file(text: str) -> bool:
    """Whether ``text`` is a file name: a stem and an attachment extension."""
    lower = text.lower()
    return any(lower.endswith(ext) and len(lower) > len(ext) for ext in ATTACHMENT_EXTENSIONS)


_FILE_PARAMS = ("filename", "fileName", "file_name", "fname", "name", "file")
_PAGE_SUFFIXES = (".html", ".htm", ".shtml")


def file_link_name(href: str, text: str) -> str | None:
    """The attachment name of a link, or None when it is no file link.

    A file link is one whose path ends with a file extension (``/P0201212.pdf``); or a
    download script (Hanweb's ``downfile.jsp?...&filename=1212031234.pdf``) whose query
    or link text names a file. Such scripts store files under generated names, so the
    link text is the name people know; the extension comes from whichever has one.
    """
    parts = urlsplit(href)
    shown = _without_label(clean(text))
    path = unquote(parts.path)
    if path.lower().endswith(ATTACHMENT_EXTENSIONS):
        return shown or path.rsplit("/", 1)[-1]
    query = parse_qs(parts.query)
    param = next(
        (
            value
            for key in _FILE_PARAMS
            for value in query.get(key, [])
            if value.lower().endswith(ATTACHMENT_EXTENSIONS)
        ),
        None,
    )
    if param is not None:
        param = param.replace("\\", "/").rsplit("/", 1)[-1]
        if not shown:
            return param
        if shown.lower().endswith(ATTACHMENT_EXTENSIONS):
            return shown
        return shown + param[param.rfind(".") :]
    if shown.lower().endswith(ATTACHMENT_EXTENSIONS) and not path.lower().endswith(_PAGE_SUFFIXES):
        return shown
    return None


def absolute(base: str, href: str) -> str:
    return urljoin(base, href)


# --- list pages --------------------------------------------------------------------------

_CN_YEAR_DIGITS = "〇○零O一二三四五六七八九"
_CN_SMALL_NUMS = "一二三四五六七八九十廿卅"
_LIST_DATE = re.compile(
    r"(?P<open>[\[【〔(（［])?\s*"
    r"(?P<date>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
    rf"|[{_CN_YEAR_DIGITS}]{{4}}年[{_CN_SMALL_NUMS}]{{1,3}}月[{_CN_SMALL_NUMS}]{{1,3}}日"
    r"|\d{4}([-/.])\d{1,2}\3\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|(?<![\d第-])\d{1,2}[-/]\d{1,2}(?![\d-])"
    r"|(?<!\d)\d{1,2}月\d{1,2}日)"
    r"\s*(?(open)[\]】〕)）］])"
)
_PIN_NAMES = {"top", "istop", "zd", "zhiding", "stick", "sticky", "pinned", "pin"}


def find_list_date(text: str) -> str | None:
    """The first date a list line shows, as written (``12-03``, ``[2012-12-03]``, 年月日).

    Kept as text: only normalization knows "today", which a ``MM-DD`` date needs.
    """
    m = _LIST_DATE.search(text or "")
    return clean(m.group(0)) if m else None


def is_pinned(item: lxml.html.HtmlElement, link: lxml.html.HtmlElement | None = None) -> bool:
    """Whether a list line is marked 置顶 (by text, a class or id, or a marker image).

    The link's own text and title are left out: a title may well mention 置顶.
    """
    for el in item.iter():
        if not isinstance(el.tag, str):
            continue
        if link is not None and el is not link and _inside(el, link):
            continue
        names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
        if _PIN_NAMES & set(re.split(r"[\s_-]+", names)):
            return True
        if el.tag == "img":
            marker = f"{el.get('alt') or ''} {el.get('src') or ''}".lower()
            if "置顶" in marker or re.search(r"(?:^|[/_-])(?:top|zd|zhiding)\.\w+$", marker):
                return True
        own = (el.text or "") if el is not link else ""
        if "置顶" in own or "置顶" in (el.tail or ""):
            return True
    return False


def _inside(el: lxml.html.HtmlElement, ancestor: lxml.html.HtmlElement) -> bool:
    return any(p is ancestor for p in el.iterancestors())


# --- detail pages ------------------------------------------------------------------------


def between(text: str, begin: str, end: str) -> str | None:
    """The text between the first ``begin`` marker and the next ``end`` marker, if both exist."""
    start = text.find(begin)
    if start < 0:
        return None
    start += len(begin)
    stop = text.find(end, start)
    return text[start:stop] if stop >= 0 else None


def fragment(html: str, url: str) -> lxml.html.HtmlElement:
    """A slice of a page parsed on its own, inside a ``<div>``, with absolute links.

    Slices cut between comment markers may open or close tags they do not own; the HTML
    parser balances them, which is what a browser would show.
    """
    root = lxml.html.fragment_fromstring(tree_safe(html or ""), create_parent="div")
    absolutize_links(root, url, resolve_base_href=False)
    return root
