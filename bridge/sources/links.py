"""Making a page's links absolute, as lxml's ``make_links_absolute`` does, in libxml2.

A list page needs all of its links absolute (its entries are links); an article page only
those of what is kept, its body and attachment blocks (``absolutize_within``): resolving
every link of a page was a good part of reading it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from bridge.text import tree_safe

LINK_ATTRIBUTES = (
    "action", "archive", "background", "cite", "classid", "codebase", "data", "dynsrc",
    "formaction", "href", "longdesc", "lowsrc", "profile", "src", "usemap",
)  # fmt: skip
"""The link attributes of lxml.html.defs.link_attrs (xlink:href aside)."""
_LINK_NAMES = frozenset(LINK_ATTRIBUTES)
# Found by XPath in libxml2: lxml's own make_links_absolute walks every element in Python
# and checked each of them for 16 attributes and a style, a tenth of the CPU of reading a
# page. Every attribute, picked by name here: a union of one path per link attribute
# walks the subtree 15 times (15 µs for a sandbox page's body and attachment block, 6
# this way; real pages, with a style on many elements, gain less: 22 -> 20).
_ATTRIBUTES = etree.XPath("descendant-or-self::*/@*")
_SCOPE_ATTRIBUTES = etree.XPath("$scopes/descendant-or-self::*/@*")
_ATTRIBUTE_TEST = re.compile(r"\[[^\]]*\b(?:" + "|".join(LINK_ATTRIBUTES) + r")\b", re.I)


def css_reads_links(selector: str | None) -> bool:
    """Whether a CSS selector tests a link attribute's value (``a[href$=".pdf"]``), which
    it would read as the page wrote it unless the links are made absolute first."""
    return bool(selector and _ATTRIBUTE_TEST.search(selector))


_BASE_HREF = etree.XPath("//base[@href]")


def absolutize_links(root: lxml.html.HtmlElement, url: str, *, resolve_base_href: bool) -> None:
    """Make the links of ``root`` absolute against ``url``: lxml's ``make_links_absolute``
    with ``handle_failures="ignore"`` for the attributes that carry links (what it does
    for ``<object>``, ``<param>`` and CSS ``url()`` the sanitizer removes anyway).

    A ``<base href>`` is applied first and removed, as lxml does (``base_href``)."""
    absolutize(root, base_href(root, url) if resolve_base_href else url)


def base_href(root: lxml.html.HtmlElement, url: str) -> str:
    """The URL the links of ``root``'s page resolve against: ``url``, or its ``<base
    href>``, which is removed, as lxml removes it. One that cannot be resolved is ignored,
    as a browser ignores it (lxml raised for the whole page)."""
    href = None
    for tag in _BASE_HREF(root):
        href = tag.get("href")
        tag.drop_tree()
    if href and href.strip():
        try:
            return urljoin(url, href.strip())
        except ValueError:  # a base no browser could use: the page's own URL it is
            return url
    return url


def absolutize_within(
    doc: lxml.html.HtmlElement, scopes: Iterable[lxml.html.HtmlElement | None], base: str
) -> None:
    """Make absolute against ``base`` the links inside ``scopes`` (the body and the
    attachment blocks: all of a page that is kept), each link once however the scopes
    nest. A scope of another tree (a body parsed apart, ``fragment``) has its own."""
    chosen = [el for el in scopes if el is not None and el.getroottree().getroot() is doc]
    if chosen:
        # One XPath over the union of the scopes, whose attributes it lists once each in
        # page order: a call per outermost scope cost 2.9 µs (a sandbox page's body and
        # attachment block 8.8 -> 6.5).
        _absolutize(_SCOPE_ATTRIBUTES(doc, scopes=chosen), base)


def absolutize(root: lxml.html.HtmlElement, base: str) -> None:
    """Make the links of ``root`` and its descendants absolute against ``base``."""
    _absolutize(_ATTRIBUTES(root), base)


def _absolutize(attributes: list[Any], base: str) -> None:
    """Make absolute against ``base`` the links among ``attributes`` (an XPath's answer:
    a value's ``getparent()`` is its element)."""
    directory = _directory(base)
    for found in attributes:
        if found.attrname not in _LINK_NAMES:
            continue
        link = str(found).strip()
        try:
            # A link with a path of its own is resolved against the base's directory
            # alone, so pages of one folder share the answers (a site's menu repeats
            # on every page: 20 links a page, urljoin a tenth of the CPU of reading it).
            new = _joined(directory, link) if _PATH_LINK.match(link) else urljoin(base, link)
        except ValueError:  # a malformed URL (a bad IPv6 host) stays as it was
            new = link
        if new != found:  # a character no tree may hold (&#1; in a link) goes
            found.getparent().set(found.attrname, tree_safe(new))


# A link that resolves the same against the base's directory as against the base: a
# path from the root, one with a host of its own, or a relative path (a first segment
# with no colon). Not "", "?q", "#f", ";p", "//", "http:" or "http:x", which keep parts of
# the base itself (test_parse checks this against lxml on any link text).
_PATH_LINK = re.compile(
    r"(?=[^\t\n\r]*\Z)"  # urllib drops these anywhere, so "/\t/" is "//"
    r"(?:/(?!/)|(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//[^/?#]|[^:/?#;][^:/?#]*(?:[/?#]|\Z))"
)


# What urljoin leaves as it is. A plain URL: http(s), a host (and port), a path, nothing
# urllib strips or splits off (no query, fragment, control character or space); its
# directory ends at its last slash (urlsplit and urlunsplit took 2.5 µs to say so). A
# plain directory also has no empty, "." or ".." segment, which urljoin would fold, and a
# plain name no character that makes it more than the last segment of a path.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]*)?/[^?#\x00-\x20\x7f]*")
_PLAIN_DIRECTORY = re.compile(
    r"https?://[A-Za-z0-9.\-]+(?::[0-9]*)?/(?:(?!\.\.?/)[^/?#;\x00-\x20\x7f]+/)*"
)
_PLAIN_NAME = re.compile(r"(?:\./)?((?!\.\.?\Z)[^/?#;:\x00-\x20\x7f]+)")


def _directory(url: str) -> str:
    """The base URL up to its path's last slash: what a relative path resolves against."""
    if _PLAIN_URL.fullmatch(url):
        return url[: url.rfind("/") + 1]
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.netloc:
        return url
    path = parts.path[: parts.path.rfind("/") + 1]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@functools.lru_cache(maxsize=4096)
def _joined(directory: str, link: str) -> str:
    # A file of a plain directory (./P020241127….pdf, an attachment, new to the cache on
    # every page) is what urljoin makes of it, without its 4 µs.
    name = _PLAIN_NAME.fullmatch(link) if link.rfind("/") < 2 else None
    if name and _PLAIN_DIRECTORY.fullmatch(directory):
        return directory + name[1]
    return urljoin(directory, link)
