"""Reading an article page the way every CMS family shares: metadata, meta tags, title, body.

Real government sites differ in their templates, not in what a page shows: a disclosure
metadata block (a table, ``<p><strong>索引号</strong>：…</p>`` blocks, ``<li>`` lines,
``<dl>`` pairs, an info line under the title), the meta tags of 《政府网站发展指引》
(``ArticleTitle``, ``PubDate``, ``ContentSource`` …) in the ``<head>``, a ``<title>``, and
a body in some container. A family's source finds its own body and heading; this module
reads the rest the same way for all of them (pure: a parsed tree in, data out).

Only what a reader sees counts: text inside HTML comments (邯郸 comments 成文日期 out) and
inside scripts or styles is never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

from bridge.labels import ALL_LABELS, PAGE_META_NAMES, SEPARATOR, line_pairs
from bridge.sources.pagescan import ANY_LABEL, HIDDEN, PageScan, scan

BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "br", "center", "dd", "div", "dl", "dt", "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]
)  # fmt: skip
_KNOWN = frozenset(ALL_LABELS)


@dataclass
class Article:
    """What one article page shows, before it becomes a raw item."""

    title: str
    """The title the family's heading or marker shows ("" when none)."""
    meta: dict[str, str]
    """Metadata labels (white space and colons removed) → values, outside the body."""
    page_meta: dict[str, str]
    """The government meta tags of the ``<head>`` (``ArticleTitle`` …)."""
    doc_title: str
    """The ``<title>`` text."""
    body: lxml.html.HtmlElement | None
    body_from: str = ""
    """Which selector found the body ("" when none did)."""
    attachment_scopes: list[lxml.html.HtmlElement] = field(default_factory=list)


def visible_text(el: lxml.html.HtmlElement) -> str:
    """The text a reader sees in ``el``: no script, style or comment."""
    if el.tag in HIDDEN:
        return ""
    if not len(el):  # most elements asked about (cells, links): a call into C costs more
        return el.text or ""
    hidden = list(el.iter(*HIDDEN))  # matched in C
    if not hidden:  # a block of the page, a body
        return _string(el)
    holders: set[lxml.html.HtmlElement] = set()
    for h in hidden:
        for a in h.iterancestors():
            if a in holders:
                break
            holders.add(a)
            if a is el:
                break
    return _visible(el, holders)


def _visible(el: lxml.html.HtmlElement, holders: set[lxml.html.HtmlElement]) -> str:
    """``visible_text`` of ``el``, which holds a hidden element: ``holders`` are the
    elements that do; the text of any other subtree is read whole, in C."""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or tag in HIDDEN:
            pass
        elif child in holders:
            parts.append(_visible(child, holders))
        else:
            parts.append(_string(child) if len(child) else child.text or "")
        parts.append(child.tail or "")
    return "".join(parts)


_string = etree.XPath("string()", smart_strings=False)
"""The string value of an element: the text of its descendants in document order, without
comments and processing instructions (which are no text nodes)."""


def clean(text: str | None) -> str:
    return " ".join((text or "").split())


def page_meta(doc: lxml.html.HtmlElement) -> dict[str, str]:
    """The meta tags of 《政府网站发展指引》 a page carries, by their canonical names."""
    out: dict[str, str] = {}
    for meta in doc.iter("meta"):
        name = _META_NAMES.get((meta.get("name") or "").strip().lower())
        if name is None or name in out:  # charset, viewport, keywords … of every page
            continue
        content = clean(meta.get("content"))
        if content and content not in META_PLACEHOLDERS:
            out[name] = content
    return out


_META_NAMES = {name.lower(): name for name in PAGE_META_NAMES}


META_PLACEHOLDERS = frozenset(
    {"网站名称", "网站域名", "政府网站标识码", "栏目名称", "栏目类型", "文章标题", "标题",
     "发布时间", "发布日期", "来源", "信息来源", "关键词", "关键字", "描述"}
)  # fmt: skip
"""What a template leaves in a meta tag nobody filled in (SiteName 网站名称 …)."""


def doc_title(doc: lxml.html.HtmlElement) -> str:
    found = next(doc.iterdescendants("title"), None)
    if found is None:
        return ""
    # A title holds its text alone, read without an XPath string() (with the path search
    # it replaces, 5.5 µs a sandbox page where this takes 3.6).
    return clean(found.text if not len(found) else found.text_content())


# --- metadata -----------------------------------------------------------------------------


def metadata(
    doc: lxml.html.HtmlElement,
    outside: lxml.html.HtmlElement | set[lxml.html.HtmlElement] | None = None,
    found: PageScan | None = None,
) -> dict[str, str]:
    """Label/value pairs of the page's metadata blocks, first occurrence of a label wins:
    tables (label cell, value cell; or ``label：value`` in one cell), then ``<dt>``/``<dd>``
    pairs and label lines in any element (``<p><strong>索引号</strong>：…</p>``, ``<li>``,
    the info line ``发布时间：… 来源：…``). Nothing inside ``outside`` (the body, or the set
    of its elements) is read: a table in a document is no metadata of the page. ``found``:
    the page's ``scan``, when the caller made it for ``attachment_blocks`` too.
    """
    found = found if found is not None else scan(doc)
    out: dict[str, str] = {}
    inside = _Inside(outside)
    _tables(found.cells, out, inside)
    for line in _label_lines(found.label_owners, inside):
        for key, value in line_pairs(line):
            if value and key not in out:
                out[key] = value
    return out


def scoped_metadata(elements: Iterable[lxml.html.HtmlElement]) -> dict[str, str]:
    """Metadata from the elements an operator pointed at (``detail_meta``): as
    ``metadata`` reads a page, plus any ``label：value`` line of their text."""
    out: dict[str, str] = {}
    for el in elements:
        for key, value in metadata(el).items():
            out.setdefault(key, value)
        for line in block_lines(el):
            for key, value in line_pairs(line):
                if value and key not in out:
                    out[key] = value
    return out


class _Inside:
    """Membership in one subtree (the body), or in a set of elements. An element's
    ancestors are walked: that costs the depth of the few elements asked about, where a
    set of the subtree would cost a Python object for every element of the body."""

    def __init__(self, root: lxml.html.HtmlElement | set[lxml.html.HtmlElement] | None) -> None:
        self.root = root

    def __contains__(self, el: lxml.html.HtmlElement) -> bool:
        root = self.root
        if root is None:
            return False
        if isinstance(root, set):
            return el in root
        # lxml hands out one proxy per node while a reference lives, and elements compare
        # by identity: `in` asks for the same node, in C.
        return el is root or root in el.iterancestors()


def _tables(cells: list[lxml.html.HtmlElement], out: dict[str, str], inside: _Inside) -> None:
    """Cells of the innermost tables: a label cell takes the next cell of its table."""
    by_table: dict[lxml.html.HtmlElement, list[lxml.html.HtmlElement]] = {}
    row_tables: dict[lxml.html.HtmlElement | None, lxml.html.HtmlElement | None] = {}
    for cell in cells:
        row = cell.getparent()  # the cells of a row share a table: asked once a row
        if row not in row_tables:
            row_tables[row] = next(cell.iterancestors("table"), None)
        table = row_tables[row]
        if table is not None:
            by_table.setdefault(table, []).append(cell)
    for table, table_cells in by_table.items():
        if table in inside:
            continue
        texts = [clean(visible_text(c)) for c in table_cells]
        for i, text in enumerate(texts):
            key = _clean_label_key(text)
            if key in _KNOWN:
                # The value cell is the next one of the same row: a header row (名称 |
                # 索引号 | 发布日期) over a list of documents pairs its last label with none.
                same_row = i + 1 < len(texts) and (
                    table_cells[i + 1].getparent() is table_cells[i].getparent()
                )
                value = texts[i + 1] if same_row else ""
                if value and _clean_label_key(value) not in _KNOWN and key not in out:
                    out[key] = value
                continue
            for key, value in line_pairs(text):
                if value and key in _KNOWN and key not in out:
                    out[key] = value


def _clean_label_key(text: str) -> str:
    """``label_key`` of a ``clean`` text, whose only white space is single spaces: three
    replacements in place of a regex (1.5 µs a sandbox page where that took 4.3)."""
    return text.replace(" ", "").replace(":", "").replace("：", "")


def _label_lines(owners: list[lxml.html.HtmlElement], inside: _Inside) -> list[str]:
    """The lines (outside tables and the body) that hold a known label, in page order;
    a ``<dt>`` label is joined with its ``<dd>``. ``owners``: the elements whose texts
    hold a label (``PageScan.label_owners``)."""
    blocks: list[lxml.html.HtmlElement] = []
    seen: set[lxml.html.HtmlElement] = set()
    for el in owners:
        block = el
        while block is not None and block.tag not in BLOCK_TAGS:
            block = block.getparent()
        # A cell (most owners: a table's label cells) is told by its tag, before a walk
        # up its ancestors asks whether the body holds it (metadata 29.7 -> 23.9 µs).
        if block is None or block.tag in ("td", "th") or block in seen or block in inside:
            continue
        seen.add(block)
        blocks.append(block)
    lines: list[str] = []
    for block in blocks:
        if block.tag == "dt":
            dd = block.getnext()
            value = clean(visible_text(dd)) if dd is not None and dd.tag == "dd" else ""
            lines.append(f"{clean(visible_text(block))}{SEPARATOR}{value}")
            continue
        lines.extend(line for line in _own_lines(block) if ANY_LABEL.search(line))
    return lines


_LINE_BREAK = "\x1e"


def _own_lines(block: lxml.html.HtmlElement) -> list[str]:
    """The text lines of ``block`` itself: inline children joined with a ``SEPARATOR``
    at each element boundary, a new line at each block child (whose text is its own).
    Line breaks in the source are white space, as a browser shows them."""
    parts = [block.text or ""]
    for child in block:
        if not isinstance(child.tag, str) or child.tag in HIDDEN:
            parts.append(child.tail or "")
            continue
        if child.tag in BLOCK_TAGS:
            parts.append(_LINE_BREAK)
        else:
            parts.extend((SEPARATOR, _inline_text(child), SEPARATOR))
        parts.append(child.tail or "")
    lines = "".join(parts).replace("\r", " ").replace("\n", " ").split(_LINE_BREAK)
    return [line for line in lines if line.strip(" \t\u3000\xa0" + SEPARATOR)]


def _inline_text(el: lxml.html.HtmlElement) -> str:
    """The visible text of an inline element, a line break at each block inside it (whose
    text is that block's own line: read once, however deep the nesting)."""
    if el.tag in HIDDEN:
        return ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            parts.append(_LINE_BREAK if child.tag in BLOCK_TAGS else _inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def block_lines(root: lxml.html.HtmlElement) -> list[str]:
    """Every text line under ``root``, one per block, in page order (nothing of a script,
    a style or the ``<head>``)."""
    if root.tag in HIDDEN or any(a.tag in HIDDEN for a in root.iterancestors()):
        return []
    lines: list[str] = []
    stack = [root]
    while stack:
        el = stack.pop()
        if el is root or el.tag in BLOCK_TAGS:
            lines.extend(_own_lines(el))
        stack.extend(c for c in reversed(el) if isinstance(c.tag, str) and c.tag not in HIDDEN)
    return lines


def scan_around(doc: lxml.html.HtmlElement, body: lxml.html.HtmlElement | None) -> PageScan:
    """The page's ``scan`` for reading its metadata and attachment blocks around
    ``body``, whose subtree is not walked when nothing in it could count: a block
    (whose texts all belong to a block of the body) but no part of a table (a body
    ``<td>`` is a cell of a table outside it), whose cells are all in its own tables."""
    skippable = (
        body is not None
        and body.tag in BLOCK_TAGS
        and body.tag not in _TABLE_PARTS
        and _cells_in_own_tables(body)
    )
    return scan(doc, body if skippable else None)


_TABLE_PARTS = frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"})


def _cells_in_own_tables(body: lxml.html.HtmlElement) -> bool:
    """Whether every cell inside ``body`` is in a table inside it: libxml2 keeps a stray
    ``<td>`` where a page has one, and that is a cell of the table around the body."""
    for cell in body.iter("td", "th"):
        for a in cell.iterancestors():
            if a.tag == "table":
                break
            if a is body:
                return False
    return True


def attachment_blocks(
    doc: lxml.html.HtmlElement, body: lxml.html.HtmlElement | None, page: PageScan | None = None
) -> list[lxml.html.HtmlElement]:
    """The attachment blocks outside the body: by their usual class names, and a line
    starting with 附件 (``<p>附件：<a …>``) with the two blocks after it (a ``<p>附件：</p>``
    heading its ``<ul>``). ``page``: the page's ``scan``, when the caller made it."""
    page = page if page is not None else scan(doc)
    inside = _Inside(body)
    found = [el for el in page.named_blocks if el not in inside]
    for el in page.attachment_labels:
        if el in inside:
            continue
        block = el
        while block.tag not in BLOCK_TAGS and block.getparent() is not None:
            block = block.getparent()
        following = [s for s in block.itersiblings() if isinstance(s.tag, str)][:2]
        found.extend(x for x in (block, *following) if x not in inside and x not in found)
    return found
