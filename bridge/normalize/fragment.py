"""nh3's output read back into an ``lxml`` tree exactly as nh3 wrote it, and the two tree
edits the sanitizer makes on it.

libxml2's HTML parser would move a ``<p>`` out of a ``<b>`` that HTML5 allows, and the
tree would differ from what a browser builds; so the fragment is read as XML, or with
Python's non-restructuring HTML tokenizer when XML would read it otherwise.

The trees are plain ``etree`` elements, not ``lxml.html`` ones: an ``HtmlElement`` asks a
Python class lookup for every element proxy the sanitizer's walks touch, and they touch
every element several times.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from lxml import etree
from lxml.etree import _Element as Element

VOID_TAGS = frozenset({"br", "hr", "img"})


class _TreeBuilder(HTMLParser):
    """Builds the tree the tags spell, nothing implied: right for nh3's output, in which
    every element is closed explicitly and every attribute quoted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: Element = etree.Element("div")
        self.stack: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = etree.SubElement(self.stack[-1], tag)
        for name, value in attrs:
            try:
                el.set(name, value or "")
            except ValueError:  # a name lxml cannot hold cannot be one we allow
                continue
        if tag not in VOID_TAGS:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


# nh3 writes well-formed markup: every element closed but the void ones, every
# attribute value double-quoted, text escaped with &amp; &lt; &gt; &nbsp; only. With the
# void elements closed and &nbsp; spelled out it is XML, which libxml2 reads into the
# same tree as _TreeBuilder, an order of magnitude faster (a large share of the CPU of
# reading an item; figures in bench/README.md). What XML would read differently goes to
# _TreeBuilder: a "<" in an attribute value (XML refuses it), white space inside an
# attribute value (XML turns it into spaces), a character XML does not allow, nesting
# past libxml2's depth.
_VOID_ELEMENT = re.compile(r'<(br|hr|img)((?:\s+[^\s"=/>]+(?:="[^"]*")?)*)\s*>')
_WS_IN_ATTRIBUTE = re.compile(r'="[^"]*[\t\n\r]')
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def read_fragment(html: str) -> Element | None:
    """``html`` (sanitizer output) as the children of a ``<div>``; None when blank."""
    if not html.strip():
        return None
    root = read_as_xml(html)
    return built(html) if root is None else root


def read_as_xml(html: str) -> Element | None:
    """The fragment read by libxml2 as XML; None where that could differ from ``built``."""
    if "\r" in html or _WS_IN_ATTRIBUTE.search(html):
        return None
    xml = _VOID_ELEMENT.sub(r"<\1\2/>", html).replace("&nbsp;", "\xa0")
    try:
        return etree.fromstring(f"<div>{xml}</div>", _XML_PARSER)
    except etree.XMLSyntaxError:
        return None


def built(html: str) -> Element:
    """The fragment as Python's HTML tokenizer reads it, inside a ``<div>``."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _append_to_previous(el: Element, parent: Element, text: str) -> None:
    previous = el.getprevious()
    if previous is None:
        parent.text = (parent.text or "") + text
    else:
        previous.tail = (previous.tail or "") + text


def drop_tree(el: Element) -> None:
    """Remove ``el`` and its content; its tail stays (``HtmlElement.drop_tree``)."""
    parent = el.getparent()
    assert parent is not None
    if el.tail:
        _append_to_previous(el, parent, el.tail)
    parent.remove(el)


def drop_tag(el: Element) -> None:
    """Remove ``el``'s tags, keeping its text and children (``HtmlElement.drop_tag``)."""
    parent = el.getparent()
    assert parent is not None
    if el.text:
        _append_to_previous(el, parent, el.text)
    if el.tail:
        if len(el):
            last = el[-1]
            last.tail = (last.tail or "") + el.tail
        else:
            _append_to_previous(el, parent, el.tail)
    index = parent.index(el)
    parent[index : index + 1] = el[:]
