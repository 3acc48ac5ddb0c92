"""Links made absolute within scopes by one XPath over their union: each link once, as
making each outermost scope absolute on its own did."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bridge.sources import links, parse

BASE = "http://www.yyedu.gov.cn/xxgk/a/"
LINKS = ["a.pdf", "./P0201.doc", "../b.html", "?f=c.doc", "#top", "//h/x", "/r.html", ""]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(["div", "p", "a", "img", "span"]))
    attr = {"a": "href", "img": "src"}.get(tag, draw(st.sampled_from(["background", "id"])))
    attrs = f' {attr}="{draw(st.sampled_from(LINKS))}"' if draw(st.booleans()) else ""
    children = draw(st.lists(trees(depth + 1), max_size=3)) if depth < 3 else []
    return f"<{tag}{attrs}>x{''.join(children)}</{tag}>"


def _each_outermost(doc, scopes, base):
    """What absolutize_within did before: each scope no other holds, on its own."""
    chosen = {el for el in scopes if el is not None and el.getroottree().getroot() is doc}
    for el in chosen:
        if not any(a in chosen for a in el.iterancestors()):
            links.absolutize(el, base)


@settings(max_examples=200, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=3), st.lists(st.integers(0, 40), max_size=4))
def test_the_scopes_union_is_made_absolute_as_each_outermost_scope_was(blocks, picks):
    page = f"<html><body>{''.join(blocks)}</body></html>"
    made = []
    for absolutize_within in (links.absolutize_within, _each_outermost):
        doc, base = parse.page_document(page, BASE + "t.html")
        elements = list(doc.iter(etree.Element))
        absolutize_within(doc, [elements[i % len(elements)] for i in picks], base)
        made.append(etree.tostring(doc, encoding="unicode"))
    assert made[0] == made[1]
