"""Body HTML the portal can show as is: nothing executable, links absolute, one spelling.

Three passes, each for a reason:

1. ``nh3`` (ammonia, an HTML5 parser) drops every element and attribute not on the
   allow-lists below and every URL whose scheme is not allowed; script, style, iframe,
   object, embed, svg and math go together with their content.
2. The cleaned fragment is read into an ``lxml`` tree exactly as nh3 wrote it (as XML,
   or with Python's non-restructuring HTML tokenizer when XML would read it otherwise;
   libxml2's HTML parser would move a ``<p>`` out of a ``<b>`` that HTML5 allows, and
   the tree would differ from what a browser builds). Then relative ``href``/``src``
   are resolved against the page URL, each URL's scheme is checked once more the way a
   browser reads it (control characters and white space removed), an image from
   outside the source's scope becomes its alt text (a tracking pixel, an intranet
   address: ``images``; ``data:`` images nh3 has dropped already), and the fragment is
   written one way only: attributes sorted, white space folded the way a browser
   renders it, empty formatting elements (``<p>&nbsp;</p>``) dropped. So a page that
   changes only its formatting keeps its content hash. Reading the tree is
   :mod:`bridge.normalize.fragment`; the walk that folds white space also collects the
   text dates, 文号 and summary are read from, and libxml2 writes the fragment in one call.
3. ``nh3`` again on the result: whatever the second pass wrote, what leaves this module
   is the sanitizer's own output.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit

import nh3
from lxml import etree

from bridge.net.scope import Scope
from bridge.normalize.fragment import Element, drop_tag, drop_tree, read_fragment
from bridge.text import (
    clean_body_text,
    clean_text,
    fold_spaces,
    strip_invisible,
    tree_safe,
)

TABLE_TAGS = frozenset({"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"})
BLOCK_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr", "br"}
    | TABLE_TAGS
)
"""Elements a browser starts on a new line: white space next to them is not rendered."""
INLINE_TAGS = frozenset({"a", "span", "strong", "em", "b", "i", "u", "sub", "sup", "img"})
ALLOWED_TAGS = BLOCK_TAGS | INLINE_TAGS

DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "noframes", "object", "embed",
        "applet", "noembed", "noscript", "template", "svg", "math", "title", "xmp",
        "textarea", "select", "button", "head",
    }
)  # fmt: skip
"""Elements whose content is code, or a form control's value, not document text."""

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_ATTRIBUTES = ("href", "src")
URL_SCHEMES = frozenset({"http", "https", "mailto", "ftp"})
LINK_REL = "noopener noreferrer"

REMOVABLE_WHEN_EMPTY = frozenset(
    {"p", "div", "span", "strong", "em", "b", "i", "u", "sub", "sup", "a", "blockquote"}
    | {"h1", "h2", "h3", "h4", "h5", "h6"}
)
"""Elements that show nothing without content; tables, cells and list items keep their
shape even when empty."""

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_EDGE = "".join(chr(c) for c in range(0x21)) + "\x7f"
_URL_INNER_RE = re.compile(r"[\t\n\r]")

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    strip_comments=True,
)


def browser_url(value: str) -> str:
    """The URL a browser would follow from a parsed attribute value: edge control
    characters and spaces stripped, tabs and line breaks removed (WHATWG URL parsing)."""
    return _URL_INNER_RE.sub("", value.strip(_URL_EDGE))


def url_scheme(value: str) -> str | None:
    """The lowercase scheme a browser would see in ``value``, or None if relative.

    Entities are decoded once more on purpose: a value decoded twice somewhere must not
    turn into ``javascript:`` either.
    """
    m = _SCHEME_RE.match(browser_url(html_lib.unescape(value)))
    return m[1].lower() if m else None


def absolute_url(value: str, base_url: str) -> str | None:
    """``value`` resolved against ``base_url``; None when empty or not a safe scheme."""
    url = browser_url(value)
    if not url:
        return None
    try:
        joined = urljoin(base_url, url)
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    if scheme not in URL_SCHEMES or url_scheme(joined) != scheme:
        return None
    return joined


_text_content = etree.XPath("string()")
"""The text of an element and its descendants (``HtmlElement.text_content``)."""


def _elements(root: Element) -> Iterator[Element]:
    """``root`` and its descendant elements, in document order (no comments)."""
    return root.iter(etree.Element)


def _rel_last(attribute: tuple[str, str]) -> tuple[bool, str]:
    return attribute[0] == "rel", attribute[0]


def _canonical_attributes(el: Element, attributes: list[tuple[str, str]], base_url: str) -> None:
    """Attributes in one order: by name, but the ``rel`` nh3 adds to links last, where
    nh3 writes it; so the last nh3 pass leaves the fragment as written (and the walk
    that wrote it can stand for reading it) on pages whose links have a title.
    ``attributes``: ``el.items()``, which are none on most elements."""
    el.attrib.clear()
    for name, value in sorted(attributes, key=_rel_last):
        if name in URL_ATTRIBUTES:
            resolved = absolute_url(value, base_url)
            if resolved is None:
                continue
            value = resolved
        else:
            value = clean_text(value)
        el.set(name, value)


def _drop_empty(root: Element) -> None:
    """Remove formatting elements with nothing to show, innermost first; a space they
    held stays a space, so ``a<span> </span>b`` reads as ``a b``."""
    for el in reversed(list(root.iter(*REMOVABLE_WHEN_EMPTY))):  # tags matched in C
        if el is root or len(el):
            continue
        if (el.text or "").strip():
            continue
        if el.text and el.tag in INLINE_TAGS:
            el.tail = " " + (el.tail or "")
        drop_tree(el)


class _Folder:
    """Folds white space across a fragment as a browser renders it: one space between
    words, none at the start or end of a block, none twice across an inline boundary.

    The same walk collects what ``read_body`` reads: the text, with a line break where a
    block starts and ends (``lines``), and whether an image shows (``image``). Line
    breaks fall where folding trims, so the lines cleaned are those of the folded tree.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.image = False

    def visit(self, root: Element) -> None:
        """One pass over ``root``'s start and end events (``iterwalk``, in C), its state in
        locals, and a text with nothing to fold (half are white space between blocks, most
        others one run of words) answered without a call: a recursive walk calling a
        method per text and per boundary took 32.2 us a sandbox page, this 28.8."""
        lines = self.lines
        at_boundary = True
        last: Element | None = None  # the element whose text (or tail) was written last
        last_is_tail = False
        for event, el in etree.iterwalk(root, events=("start", "end")):
            tag = el.tag
            start = event == "start"
            if tag in BLOCK_TAGS:
                # The text before the boundary loses its end space; most have none, and
                # are left unwritten (a write per block was 4 of 33 us a sandbox body).
                if last is not None:
                    if last_is_tail:
                        if last.tail[-1] == " ":
                            last.tail = last.tail.rstrip(" ") or None
                    elif last.text[-1] == " ":
                        last.text = last.text.rstrip(" ") or None
                    last = None
                at_boundary = True
                if not start or tag != "br":
                    lines.append("\n")
            elif start and tag == "img":
                at_boundary, last = False, None
                self.image = self.image or bool(el.get("src"))
            elif start and not isinstance(tag, str):
                continue  # a comment's text is not shown; its tail is, at its end
            value = el.text if start else el.tail
            if not value:
                continue
            if value.isspace():
                folded = "" if at_boundary else " "
            elif "  " not in value and value.isprintable():  # no white space but single spaces
                folded = value.lstrip(" ") if at_boundary else value
            else:
                folded = fold_spaces(value)
                if at_boundary:
                    folded = folded.lstrip(" ")
            if folded != value:
                if start:
                    el.text = folded or None
                else:
                    el.tail = folded or None
            if folded:
                at_boundary = folded[-1] == " "
                lines.append(folded)
                last, last_is_tail = el, not start

    def text(self) -> str:
        """The folded fragment's text, one line per block (``visible_text``)."""
        return clean_body_text("".join(self.lines))


def _serialize(root: Element) -> str:
    """The children of the ``<div>`` wrapper as HTML: one call into libxml2, the wrapper's
    tags cut off (it has no attributes)."""
    return etree.tostring(root, method="html", encoding="unicode")[len("<div>") : -len("</div>")]


ImageFilter = Callable[[str], bool]
"""Whether an image at this absolute URL may stay in a body (the source's scope)."""


@functools.lru_cache(maxsize=64)
def scope_filter(site: str, allowed_hosts: tuple[str, ...]) -> ImageFilter | None:
    """The scope test of one source, built once: every page of a source asks for it."""
    try:
        return Scope(site, allowed_hosts).admits
    except ValueError:  # no http(s) origin to compare with (a fake source's page)
        return None


def sanitize_html(html: str, base_url: str, *, images: ImageFilter | None = None) -> str:
    """Safe, canonical body HTML: see the module docstring for what that means.

    An ``<img>`` whose resolved ``src`` ``images`` refuses (one from another site: a
    tracking pixel, an intranet address) becomes its alt text; None keeps every image."""
    return _sanitized(html, base_url, images)[0]


def sanitize_and_read(
    html: str, base_url: str, *, images: ImageFilter | None = None
) -> tuple[str, str, bool]:
    """``sanitize_html(html)`` and ``read_body`` of the result, from one parse when the
    last nh3 pass leaves the canonical fragment as it was (the usual case): reading the
    body again cost as much as sanitizing it."""
    out, folded = _sanitized(html, base_url, images)
    if folded is None:
        return (out, *read_body(out))
    body_text = folded.text()
    return out, body_text, bool(body_text) or folded.image


def _as_alt_text(img: Element) -> None:
    """Replace ``img`` by its alt text, as text (escaped when written): what a browser
    shows of an image it does not load."""
    img.tail = (img.get("alt") or "") + (img.tail or "")
    drop_tree(img)


def _sanitized(
    html: str, base_url: str, images: ImageFilter | None = None
) -> tuple[str, _Folder | None]:
    """The sanitized fragment, and the walk that wrote it when that is exactly what the
    text spells (its lines are then the fragment's text)."""
    # Vertical tab and form feed are white space to a reader, and no lxml tree holds them.
    text = strip_invisible(html or "").replace("\r\n", "\n")
    if "\x0b" in text or "\x0c" in text:
        text = text.replace("\x0b", " ").replace("\x0c", " ")
    # nh3 decodes character references: "&#1;" is a control character only now.
    first = tree_safe(_CLEANER.clean(text))
    if not first.strip():
        return "", None
    root = read_fragment(first)
    if root is None:
        return "", None
    # Each element's tag read once, and a call made for its attributes only when it has
    # any (most have none): this pass 4.4 -> 3.2 us a sandbox body (19.4 -> 16.8 real).
    for el in list(root.iterdescendants(etree.Element)):
        if attributes := el.items():
            _canonical_attributes(el, attributes, base_url)
        tag = el.tag
        if tag == "a" and "href" not in el.attrib:
            drop_tag(el)  # a link to nowhere is just its text
        elif tag == "img":
            src = el.get("src")
            if src is None:
                drop_tree(el)  # an image of nothing shows nothing (its tail stays)
            elif images is not None and not images(src):
                _as_alt_text(el)
    _drop_empty(root)
    folded = _Folder()
    folded.visit(root)  # the wrapper is a <div>: white space at its edges goes
    written = _serialize(root)
    out = _CLEANER.clean(written).strip()
    return out, folded if out == written else None


def read_body(html: str) -> tuple[str, bool]:
    """``(visible_text(html), has_content(html))`` from one parse of the fragment."""
    root = read_fragment(html)
    if root is None:
        return "", False
    return _read(root)


def _read(root: Element) -> tuple[str, bool]:
    shows = bool(clean_text(_text_content(root))) or any(
        el.tag == "img" and el.get("src") for el in _elements(root)
    )
    return _lines(root), shows


def _lines(root: Element) -> str:
    for el in _elements(root):
        if el.tag in BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            if el.tag != "br":
                el.text = "\n" + (el.text or "")
    return clean_body_text(_text_content(root))


def visible_text(html: str) -> str:
    """The text a reader sees in sanitized ``html``: one line per block, white space
    folded."""
    root = read_fragment(html)
    return "" if root is None else _lines(root)


def has_content(html: str) -> bool:
    """True when sanitized ``html`` shows something: text, or an image (scanned pages)."""
    root = read_fragment(html)
    if root is None:
        return False
    return bool(clean_text(_text_content(root))) or any(
        el.tag == "img" and el.get("src") for el in _elements(root)
    )
