"""The body containers named by an id or a class are found in Python among the page's
attribute values: the same elements, in the same order, as the CSS selectors find."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml.cssselect import CSSSelector

from bridge.sources import parse
from bridge.sources.container import _CONTAINERS, ARTICLE_CONTAINERS, _Named, _Names, find_body

TAGS = ["div", "p", "span", "article", "section", "td"]
# Words of the containers, parts of them, other cases, and every kind of white space
# between words (XPath splits at four kinds only: \xa0, \f, \u3000 are part of a word).
WORDS = ["TRS_Editor", "TRS_UEDITOR", "zoom", "Zoom", "zoom2", "content", "UCAP-CONTENT",
         "article-content", "main-txt", "x", ""]  # fmt: skip
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\xa0", "\f", "\u3000"]
TEXTS = ["", "正文", " "]


@st.composite
def values(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=3))
    joined = "".join(word + draw(st.sampled_from(SPACES)) for word in words)
    return draw(st.sampled_from(["", " "])) + joined


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = ""
    for name in ("id", "class"):
        if draw(st.booleans()):
            value = draw(values()).replace("&", "&amp;").replace('"', "&quot;")
            attrs += f' {name}="{value}"'
    children = draw(st.lists(trees(depth + 1), max_size=3)) if depth < 3 else []
    return f"<{tag}{attrs}>{draw(st.sampled_from(TEXTS))}{''.join(children)}</{tag}>"


@settings(max_examples=300, deadline=None)
@given(st.lists(trees(), min_size=1, max_size=4))
def test_named_containers_are_the_elements_the_css_selectors_find(blocks):
    doc = parse.document(f"<html><body>{''.join(blocks)}</body></html>", "http://h/a.html")
    names = _Names(doc)
    for css, selector in _CONTAINERS:
        wanted = CSSSelector(css, translator="html")(doc)
        found = selector.among(names) if isinstance(selector, _Named) else selector(doc)
        assert found == wanted, css
    by_css = [(css, CSSSelector(css, translator="html")) for css in ARTICLE_CONTAINERS]
    assert find_body(doc) == find_body(doc, by_css)


def test_every_container_of_an_id_or_a_class_is_read_in_python():
    named = [css for css, selector in _CONTAINERS if isinstance(selector, _Named)]
    assert named == [css for css in ARTICLE_CONTAINERS if css not in ("article",)]
