"""One walk over a page for everything the article reader looks for by name or label:
the cells of its tables, the texts that hold a metadata label (the info line under the
title, ``<p><strong>索引号</strong>：…</p>`` blocks), and the blocks that hold its
attachments (by class or id, or after a 附件 line).

Separate XPath scans for each (tables, label texts, attachment classes, 附件 lines) cost
more than reading the rest of the page; one loop in Python sees each node once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html

from bridge.labels import ALL_LABELS

HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title"})
"""Elements whose own text a reader never sees."""
_SPACED = "[\\s\u3000\xa0]*"


def _tree(words: list[str] | tuple[str, ...]) -> str:
    """A pattern that finds where any of ``words`` (however spaced) is, as their
    alternation does, with the words that share a start sharing its test: 发布机构,
    发布日期 and 发文字号 are tried as 发 once, not three times. A word that another
    starts with ends its branch (whatever follows, a match is there): a search finds a
    place, not which word (0.26 -> 0.18 µs a text of a page)."""
    first: dict[str, list[str]] = {}
    for word in words:
        first.setdefault(word[0], []).append(word[1:])
    branches = []
    for char, rests in first.items():
        rest = "" if "" in rests else _tree(rests)
        branches.append(re.escape(char) + (_SPACED + rest if rest else ""))
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


ANY_LABEL = re.compile(_tree(ALL_LABELS))
"""Where a metadata label is, however spaced (``索 引 号``): asked whether a text holds
one, never which."""

ATTACHMENT_CLASSES = frozenset(
    ["attachments", "attachment", "fj", "fjlb", "fjxz", "fjxx", "fujian", "xgfj", "appendix"]
)
"""Classes of the blocks that templates keep the attachments in, apart from the body (and
``#fujian``, ``id="file_…"``, a class containing ``article_attachment``)."""
ATTACHMENT_LABEL = re.compile(r"^[\s\u3000\xa0]*(?:相关)?附\s*件")
"""A line that heads the attachments (``附件：``, ``相关附件``)."""


@dataclass
class PageScan:
    """What one walk found, each list in page order."""

    cells: list[lxml.html.HtmlElement] = field(default_factory=list)
    """Table cells (``td``, ``th``) with no table inside."""
    label_owners: list[lxml.html.HtmlElement] = field(default_factory=list)
    """For each text that holds a label (not a script's or a style's own), the element it
    is text of: its parent's, for text after an element (a tail); once per such text."""
    named_blocks: list[lxml.html.HtmlElement] = field(default_factory=list)
    """Elements named like an attachment block (``ATTACHMENT_CLASSES`` …)."""
    attachment_labels: list[lxml.html.HtmlElement] = field(default_factory=list)
    """Elements whose own text starts with a 附件 label."""


def scan(root: lxml.html.HtmlElement, skip: lxml.html.HtmlElement | None = None) -> PageScan:
    """Walk ``root`` once: its descendants' cells and label texts, and with ``root``
    itself the attachment blocks and 附件 lines; not inside ``skip`` (a descendant whose
    subtree the caller does not read: the body), though the text after it is read."""
    found = PageScan()
    # The nodes in page order, listed in C, and read in one flat loop: a recursive walk
    # cost a Python call and a child loop per element (scan 82 -> 69 µs a sandbox page,
    # 334 -> 279 on the realpages). A node's text is read where it stands, the text after
    # it (its tail) where its subtree ends: _after puts those few in their place.
    nodes = list(root.iter())
    spans = [(0, len(nodes))]
    skipped, end = None, 0
    if skip is not None and skip is not root and (at := _index(nodes, skip)) > 0:
        skipped, end = skip, at + sum(1 for _ in skip.iter())
        spans = [(0, at), (end, len(nodes))]
    cells, named, labelled = found.cells, found.named_blocks, found.attachment_labels
    owners: list[tuple[int, int, lxml.html.HtmlElement]] = []
    for start, stop in spans:
        for i, node in enumerate(nodes[start:stop], start):
            tag = node.tag
            if isinstance(tag, str):
                if (tag == "td" or tag == "th") and i:  # the root is no cell of its own
                    cells.append(node)
                ident, classes = node.get("id"), node.get("class")
                # Most classes name no attachment block (nav, title, wrap …): told here, a
                # call saved (scan 68.9 -> 66.7 µs a sandbox page, 279 -> 270 real).
                maybe = ident or (classes and _NAME_PARTS.search(classes))
                if maybe and _named_attachment_block(ident or "", classes or ""):
                    named.append(node)
                text = node.text
                # Most texts are the line breaks between tags: no label there, no need to ask.
                if text and not text.isspace():
                    if "附" in text and ATTACHMENT_LABEL.match(text):
                        labelled.append(node)
                    if tag not in HIDDEN and ANY_LABEL.search(text):
                        owners.append((i, 0, node))
            if not i:  # the text after the root is no part of it
                continue
            tail = node.tail
            if tail and not tail.isspace() and ANY_LABEL.search(tail):
                owners.append((*_after(node, i), node.getparent()))
    if skipped is not None:
        tail = skipped.tail
        if tail and not tail.isspace() and ANY_LABEL.search(tail):
            owners.append((end, -_depth(skipped), skipped.getparent()))
    owners.sort(key=_position)
    found.label_owners = [owner for _, _, owner in owners]
    if found.cells:
        # A layout cell (one with a table inside, in the body or not) is no cell: its own
        # cells are the leaves. Asked of the page's few tables in C after the walk, where
        # each element telling its parent whether it held a table cost 5 µs a page.
        layout = {cell for table in root.iter("table") for cell in table.iterancestors("td", "th")}
        if layout:
            found.cells = [cell for cell in found.cells if cell not in layout]
    return found


def _index(nodes: list[lxml.html.HtmlElement], el: lxml.html.HtmlElement) -> int:
    """Where ``el`` stands among ``nodes`` (-1: not among them)."""
    try:
        return nodes.index(el)  # elements compare by identity: in C
    except ValueError:
        return -1


def _after(node: lxml.html.HtmlElement, i: int) -> tuple[int, int]:
    """Where the tail of ``node``, the ``i``-th node, stands in page order: before the
    node after its subtree, and after the tails of deeper nodes whose subtree ends there
    (no two nodes share both)."""
    return i + sum(1 for _ in node.iter()), -_depth(node)


def _depth(node: lxml.html.HtmlElement) -> int:
    return sum(1 for _ in node.iterancestors())


def _position(owner: tuple[int, int, lxml.html.HtmlElement]) -> tuple[int, int]:
    return owner[0], owner[1]


def is_attachment_block(el: lxml.html.HtmlElement) -> bool:
    """Whether ``el`` is named like a block of attachments."""
    return _named_attachment_block(el.get("id") or "", el.get("class") or "")


def _named_attachment_block(ident: str, classes: str) -> bool:
    if ident == "fujian" or ident.startswith("file_"):
        return True
    if _NAME_PARTS.search(classes) is None:  # most classes: nav, title, wrap …
        return False
    return "article_attachment" in classes or not ATTACHMENT_CLASSES.isdisjoint(classes.split())


_NAME_PARTS = re.compile("attachment|fj|fujian|appendix")
"""What each of ``ATTACHMENT_CLASSES`` and ``article_attachment`` holds."""
