"""The one walk over a page finds what the separate XPath scans it replaced found."""

from __future__ import annotations

import re

import lxml.html
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bridge.labels import ALL_LABELS
from bridge.sources import parse
from bridge.sources.article import attachment_blocks, metadata, scan_around, visible_text
from bridge.sources.pagescan import (
    ANY_LABEL,
    ATTACHMENT_LABEL,
    HIDDEN,
    PageScan,
    is_attachment_block,
    scan,
)

# What article.py asked libxml2 for before the walk, with the exact tests it applied.
_LEAF_CELLS = etree.XPath(".//td[not(.//table)] | .//th[not(.//table)]")
_TEXTS = etree.XPath(".//text()")
_NAMED = etree.XPath(
    "//*[@class][contains(@class, 'fj') or contains(@class, 'ttach') or contains(@class, 'fujian')"
    " or contains(@class, 'appendix')] | //*[@id][@id = 'fujian' or starts-with(@id, 'file_')]"
)
_LABELLED = etree.XPath("//*[text()[contains(., '附')]]")


def label_owners(root: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    owners = []
    for text in _TEXTS(root):
        el = text.getparent()
        if not ANY_LABEL.search(text) or (not text.is_tail and el.tag in HIDDEN):
            continue
        owners.append(el.getparent() if text.is_tail else el)
    return owners


TAGS = ["div", "p", "span", "td", "th", "table", "tr", "script", "title", "li", "a", "strong"]
TEXTS = ["", " ", "索 引 号：1", "附件：", "相关附件", "来源", "x附件", "发布\u3000时间", "正文"]
NAMES = ["", "fj", "xgfj list", "attachment", "article_attachment", "fujian", "fjx", "appendix"]
IDS = ["", "fujian", "file_1", "files"]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    name, ident = draw(st.sampled_from(NAMES)), draw(st.sampled_from(IDS))
    attrs = (f' class="{name}"' if name else "") + (f' id="{ident}"' if ident else "")
    children = draw(st.lists(trees(depth + 1), max_size=3)) if depth < 4 else []
    comment = "<!--附件：-->" if draw(st.booleans()) else ""
    tails = [draw(st.sampled_from(TEXTS)) for _ in children]
    inner = "".join(c + comment + t for c, t in zip(children, tails, strict=True))
    return f"<{tag}{attrs}>{draw(st.sampled_from(TEXTS))}{inner}</{tag}>"


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=4))
def test_the_walk_finds_what_the_xpath_scans_found(blocks):
    doc = parse.document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a.html")
    for root in (doc, *doc.iter("table", "div")):
        found = scan(root)
        assert found.cells == _LEAF_CELLS(root)
        assert found.label_owners == label_owners(root)
    found = scan(doc)
    assert found.named_blocks == [el for el in _NAMED(doc) if is_attachment_block(el)]
    assert found.attachment_labels == [
        el for el in _LABELLED(doc) if ATTACHMENT_LABEL.match(el.text or "")
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=4), st.integers(0, 50))
def test_leaving_the_body_unwalked_reads_the_same_around_it(blocks, pick):
    doc = parse.document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a.html")
    elements = list(doc.find("body").iterdescendants())
    body = elements[pick % len(elements)] if elements else None
    around, whole = scan_around(doc, body), scan(doc)
    assert metadata(doc, body, around) == metadata(doc, body, whole)
    assert attachment_blocks(doc, body, around) == attachment_blocks(doc, body, whole)


def test_a_stray_cell_in_the_body_is_a_cell_of_the_table_around_it():
    page = (
        "<html><body><table><tr><td><div id='body'><td>索引号</td><td>1</td></div>"
        "</td></tr></table></body></html>"
    )
    doc = parse.document(page, "http://h/a.html")  # libxml2 keeps the stray <td>s
    body = doc.get_element_by_id("body")
    assert metadata(doc, body, scan_around(doc, body)) == {"索引号": "1"}


def _visible_text_walked(el: lxml.html.HtmlElement) -> str:
    """What visible_text read before it asked libxml2 for whole subtrees."""
    if el.tag in HIDDEN:
        return ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            parts.append(_visible_text_walked(child))
        parts.append(child.tail or "")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=4))
def test_visible_text_reads_subtrees_without_hidden_elements_whole(blocks):
    # A script or title anywhere in a subtree, comments between children: the text read
    # in C where nothing is hidden is the text the walk read.
    doc = parse.document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a.html")
    for el in doc.iter(etree.Element):
        assert visible_text(el) == _visible_text_walked(el)


def _walked(root: lxml.html.HtmlElement, skip: lxml.html.HtmlElement | None) -> PageScan:
    """What the recursive walk that the flat loop replaced found (layout cells kept)."""
    found = PageScan()

    def walk(el: lxml.html.HtmlElement) -> None:
        if is_attachment_block(el):
            found.named_blocks.append(el)
        text = el.text
        if text and not text.isspace():
            if "附" in text and ATTACHMENT_LABEL.match(text):
                found.attachment_labels.append(el)
            if el.tag not in HIDDEN and ANY_LABEL.search(text):
                found.label_owners.append(el)
        for child in el:
            if child is not skip and isinstance(child.tag, str):
                if child.tag in ("td", "th"):
                    found.cells.append(child)
                walk(child)
            tail = child.tail
            if tail and not tail.isspace() and ANY_LABEL.search(tail):
                found.label_owners.append(el)

    walk(root)
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=4), st.integers(0, 50), st.integers(0, 50))
def test_the_flat_loop_reads_what_the_recursive_walk_read(blocks, at, pick):
    # Any root, and any element left unwalked: inside the root, the root itself, or
    # outside it; the text after it (and after comments) in its place among the others.
    doc = parse.document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a.html")
    elements = list(doc.iter(etree.Element))
    root, skip = elements[at % len(elements)], elements[pick % len(elements)]
    for left in (None, skip):
        found, walked = scan(root, left), _walked(root, left)
        assert found.cells == [cell for cell in walked.cells if not cell.findall(".//table")]
        assert found.label_owners == walked.label_owners
        assert found.named_blocks == walked.named_blocks
        assert found.attachment_labels == walked.attachment_labels


# The alternation of the labels that ANY_LABEL's tree stands for.
_ALTERNATION = re.compile(
    "|".join("[\\s\u3000\xa0]*".join(re.escape(c) for c in label) for label in ALL_LABELS)
)
_LABEL_CHARS = sorted({c for label in ALL_LABELS for c in label})


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from([*ALL_LABELS, *_LABEL_CHARS, " ", "\u3000", "\xa0", "\n", "：", "x"]),
        max_size=10,
    ).map("".join)
)
def test_any_label_finds_a_label_where_their_alternation_does(text):
    assert bool(ANY_LABEL.search(text)) == bool(_ALTERNATION.search(text))
