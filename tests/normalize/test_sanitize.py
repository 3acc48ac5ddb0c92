"""Body HTML: nothing executable survives, links become absolute, formatting has one form.

The XSS corpus is checked by parsing the output (with lxml, and again with Python's own
HTML parser) and inspecting elements, attributes and URL schemes, never by matching text.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser
from pathlib import Path

import lxml.html
import nh3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from bridge.net.scope import Scope
from bridge.normalize.fragment import built as _built
from bridge.normalize.fragment import read_as_xml as _read_as_xml
from bridge.normalize.fragment import read_fragment
from bridge.normalize.sanitize import (
    _CLEANER,
    BLOCK_TAGS,
    _Folder,
    _sanitized,
    absolute_url,
    has_content,
    read_body,
    sanitize_and_read,
    sanitize_html,
    url_scheme,
    visible_text,
)
from bridge.sandbox.site import generate_site
from bridge.text import fold_spaces, tree_safe

BASE = "https://www.yyedu.gov.cn/zwgk/zcwj/201212/t20121203_1.html"

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=javascript:alert(&quot;XSS&quot;)>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;"
    "&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112"
    "&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000049&#0000041>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74"
    "&#x28&#x31&#x29>",
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="jav&#x0A;ascript:alert(1)">newline</a>',
    '<a href="jav&#x0D;ascript:alert(1)">carriage return</a>',
    '<a href=" &#14;  javascript:alert(1)">leading control</a>',
    '<a href="\x01javascript:alert(1)">C0 control</a>',
    '<a href="java\x00script:alert(1)">null byte</a>',
    '<img src="java\x00script:alert(1)">',
    '<a href="&#106;avascript:alert(1)">entity j</a>',
    '<a href="javascript&colon;alert(1)">named colon</a>',
    '<a href="  JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="vbscript:msgbox(1)">vbscript</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;/mglyph&gt;&lt;img'
    '&Tab;src=1&Tab;onerror=alert(1)&gt;">',
    "<scr<script>ipt>alert(1)</script>",
    '<<SCRIPT>alert("XSS");//<</SCRIPT>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<BODY ONLOAD=alert('XSS')>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<div style="background-image: url(javascript:alert(1))">styled</div>',
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    '<form action="javascript:alert(1)"><input type=submit value=go></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    "<details open ontoggle=alert(1)>",
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel=stylesheet href="javascript:alert(1)">',
    '<TABLE BACKGROUND="javascript:alert(\'XSS\')"><tr><td BACKGROUND="javascript:alert(1)">'
    "cell</td></tr></TABLE>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<p onmouseover="alert(1)">hover</p>',
    '<a href="javascript:alert(1)" onclick="alert(2)" style="color:red">all three</a>',
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<xss onafterscriptexecute=alert(1)><script>1</script>",
    '<img src="x" onerror="&#97;lert(1)">',
    "<template><script>alert(1)</script></template>",
    '<video><source onerror="alert(1)"></video>',
    '<a href="javascript:/*--></title></style></textarea></script></xmp><svg/onload=\'+/"/+/'
    "onmouseover=1/+/[*/[]/+alert(1)//'>\">polyglot</a>",
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "<isindex type=image src=1 onerror=alert(1)>",
    '<img src="/ok.png" srcset="javascript:alert(1)">',
    '<a href="%6A%61%76%61%73%63%72%69%70%74:alert(1)">percent-encoded</a>',
    '<a xlink:href="javascript:alert(1)">xlink</a>',
    '<p><a href="javascript:alert(1)"><img src="javascript:alert(2)"></a></p>',
]

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "svg", "math", "base", "meta", "link", "template", "noscript",
}  # fmt: skip
URL_ATTRS = {"href", "src", "action", "formaction", "background", "data", "srcset", "xlink:href"}


def _scheme(value: str) -> str:
    """The scheme a browser would see: entities decoded, every control/space removed."""
    decoded = html_lib.unescape(value)
    squeezed = "".join(c for c in decoded if c > " " and c != "\x7f")
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", squeezed)
    return m[1].lower() if m else ""


def _check_attributes(tag: str, attrs: list[tuple[str, str | None]]) -> None:
    assert tag not in FORBIDDEN_TAGS
    for name, value in attrs:
        assert not name.lower().startswith("on"), (tag, name)
        assert name.lower() not in {"style", "srcdoc", "srcset"}, (tag, name)
        if name.lower() in URL_ATTRS:
            assert _scheme(value or "") in {"http", "https", "mailto", "ftp"}, (tag, name, value)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(out: str) -> None:
    """No executable content, as two independent parsers read ``out``."""
    if out:
        root = lxml.html.fragment_fromstring(out, create_parent="div")
        for el in root.iter():
            assert isinstance(el.tag, str), "comments and processing instructions are dropped"
            _check_attributes(el.tag.lower(), list(el.attrib.items()))
    collector = _Collector()
    collector.feed(out)
    collector.close()
    for tag, attrs in collector.tags:
        _check_attributes(tag, attrs)


def test_the_corpus_is_as_large_as_the_issue_asks() -> None:
    assert len(XSS) >= 30


@pytest.mark.parametrize("vector", XSS)
def test_no_vector_survives(vector: str) -> None:
    out = sanitize_html(vector, BASE)
    assert_inert(out)
    assert_inert(sanitize_html(f"<p>前文</p>{vector}<p>后文</p>", BASE))


@pytest.mark.parametrize("vector", XSS)
def test_sanitizing_twice_changes_nothing(vector: str) -> None:
    once = sanitize_html(vector, BASE)
    assert sanitize_html(once, BASE) == once


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        ("<script>alert(1)</script>正文", "正文"),
        ("<img src=x onerror=alert(1)>", '<img src="https://www.yyedu.gov.cn/zwgk/zcwj/201212/x">'),
        ('<a href="jav&#x09;ascript:alert(1)">tab</a>', "tab"),
        ('<a href="javascript:alert(1)" onclick="x" style="y">all three</a>', "all three"),
        ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
        ('<div style="color:red" onclick="x">styled</div>', "<div>styled</div>"),
        ("<iframe src=//evil.example></iframe>文字", "文字"),
        ("<IMG SRC=JaVaScRiPt:alert('XSS')>后", "后"),
        ('<p><a href="javascript:alert(1)"><img src="javascript:alert(2)"></a></p>', ""),
    ],
)
def test_exact_outcomes(vector: str, expected: str) -> None:
    assert sanitize_html(vector, BASE) == expected


def test_relative_links_and_images_become_absolute() -> None:
    out = sanitize_html(
        '<p><a href="../../xxgk/a.html" title="附件">附件</a>'
        '<img src="/images/2012/photo.jpg" alt="照片" width="300" height="200">'
        '<a href="P020121203.doc">下载</a><a href="//cdn.example.cn/x.pdf">x</a>'
        '<a href="?page=2">第二页</a><a href="mailto:jyj@yyedu.gov.cn">信箱</a></p>',
        BASE,
    )
    assert out == (
        '<p><a href="https://www.yyedu.gov.cn/zwgk/xxgk/a.html" title="附件" '
        'rel="noopener noreferrer">附件</a>'
        '<img alt="照片" height="200" src="https://www.yyedu.gov.cn/images/2012/photo.jpg" '
        'width="300">'
        '<a href="https://www.yyedu.gov.cn/zwgk/zcwj/201212/P020121203.doc" '
        'rel="noopener noreferrer">下载</a>'
        '<a href="https://cdn.example.cn/x.pdf" rel="noopener noreferrer">x</a>'
        '<a href="https://www.yyedu.gov.cn/zwgk/zcwj/201212/t20121203_1.html?page=2" '
        'rel="noopener noreferrer">第二页</a>'
        '<a href="mailto:jyj@yyedu.gov.cn" rel="noopener noreferrer">信箱</a></p>'
    )


def test_query_strings_keep_their_ampersands() -> None:
    out = sanitize_html('<a href="list.jsp?id=1&amp;copy=2&lt=3">列表</a>', BASE)
    assert out == (
        '<a href="https://www.yyedu.gov.cn/zwgk/zcwj/201212/list.jsp?id=1&amp;copy=2&amp;lt=3" '
        'rel="noopener noreferrer">列表</a>'
    )


def test_tables_are_kept_with_their_spans() -> None:
    out = sanitize_html(
        '<table border="1" style="width:100%"><thead><tr><th colspan="2">学校</th></tr></thead>'
        '<tbody><tr><td rowspan="2" class="c">阳明小学</td><td>120</td></tr>'
        "<tr><td></td></tr></tbody></table>",
        BASE,
    )
    assert out == (
        '<table><thead><tr><th colspan="2">学校</th></tr></thead>'
        '<tbody><tr><td rowspan="2">阳明小学</td><td>120</td></tr><tr><td></td></tr></tbody>'
        "</table>"
    )


def test_allowed_formatting_survives() -> None:
    html = (
        "<h2>标题</h2><p><strong>一、</strong><em>强调</em><b>粗</b><i>斜</i><u>下划线</u>"
        "H<sub>2</sub>O m<sup>2</sup><span>段</span><br>换行</p><hr>"
        "<ul><li>甲</li></ul><ol><li>乙</li></ol><blockquote>引用</blockquote><div>块</div>"
    )
    assert sanitize_html(html, BASE) == html


FORMATTING_VARIANTS = [
    '<p class="MsoNormal" style="text-indent:2em">\u3000\u3000第一段内容。</p>\r\n'
    "<p>&nbsp;</p>\r\n<p>第二段  <b>重点</b> 内容。</p>",
    '<p style="text-indent:2em" class="MsoNormal">第一段内容。</p><p>第二段 <b>重点</b> 内容。</p>',
    "<p>第一段内容。 </p>\n\n  <p> 第二段\xa0\xa0<b>重点</b>\t内容。</p><p></p><span> </span>",
]


def test_formatting_only_variants_have_one_form() -> None:
    outs = {sanitize_html(v, BASE) for v in FORMATTING_VARIANTS}
    assert outs == {"<p>第一段内容。</p><p>第二段 <b>重点</b> 内容。</p>"}


def test_attribute_order_and_quoting_do_not_matter() -> None:
    a = sanitize_html("<img width=10 alt='图' src=\"a.png\">", BASE)
    b = sanitize_html('<img src="a.png" alt="图" width="10">', BASE)
    assert a == b


def test_nfd_and_nfc_are_one_form() -> None:
    assert sanitize_html("<p>Cafe\u0301</p>", BASE) == sanitize_html("<p>Caf\u00e9</p>", BASE)


def test_real_text_changes_still_show() -> None:
    assert sanitize_html("<p>第一段</p>", BASE) != sanitize_html("<p>第二段</p>", BASE)
    assert sanitize_html("<p>甲乙</p>", BASE) != sanitize_html("<p>甲 乙</p>", BASE)


def test_empty_input() -> None:
    assert sanitize_html("", BASE) == ""
    assert sanitize_html("  \r\n ", BASE) == ""
    assert sanitize_html("<p>&nbsp;</p><script>x</script>", BASE) == ""


def test_has_content() -> None:
    assert has_content("<p>文字</p>")
    assert has_content('<p><img src="https://x.cn/a.png"></p>')
    assert not has_content("")
    assert not has_content("<p></p>")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jav\tascript:alert(1)", "javascript"),
        ("  JAVASCRIPT:alert(1)", "javascript"),
        ("&#106;avascript:x", "javascript"),
        ("https://a.cn/", "https"),
        ("/relative", None),
    ],
)
def test_url_scheme_reads_like_a_browser(value: str, expected: str | None) -> None:
    assert url_scheme(value) == expected


def test_absolute_url_refuses_unsafe_results() -> None:
    assert absolute_url("a.html", BASE) == "https://www.yyedu.gov.cn/zwgk/zcwj/201212/a.html"
    assert absolute_url("jav\tascript:alert(1)", BASE) is None
    assert absolute_url("http://[::1", BASE) is None
    assert absolute_url("   ", BASE) is None
    assert absolute_url("a.html", "") is None  # no base: a relative URL cannot be resolved


TAGS = st.sampled_from(["p", "div", "b", "a", "img", "script", "svg", "table", "td", "span"])
ATTRS = st.sampled_from(
    ["", " onclick=alert(1)", ' href="javascript:alert(1)"', ' src="data:x"', ' style="x"',
     ' href="a.html"', ' src=" jav&#9;ascript:1"']
)  # fmt: skip
TEXTS = st.text(alphabet="甲乙 <>&\"'\u3000\xa0\n=/:", max_size=6)


@st.composite
def fragments(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        tag, attr, text = draw(TAGS), draw(ATTRS), draw(TEXTS)
        closing = draw(st.booleans())
        parts.append(f"<{tag}{attr}>{text}" + (f"</{tag}>" if closing else ""))
    return "".join(parts)


@given(fragments())
def test_generated_fragments_are_inert_and_stable(html: str) -> None:
    out = sanitize_html(html, BASE)
    assert_inert(out)
    assert sanitize_html(out, BASE) == out


@given(fragments())
def test_one_reading_of_the_body_gives_what_the_two_did(html: str) -> None:
    out = sanitize_html(html, BASE)
    assert read_body(out) == (visible_text(out), has_content(out))


@given(fragments())
def test_sanitizing_and_reading_at_once_gives_what_the_two_steps_do(html: str) -> None:
    out = sanitize_html(html, BASE)
    assert sanitize_and_read(html, BASE) == (out, *read_body(out))


class _RecursiveFolder:
    """The white-space walk as it was before issue 24 made it one loop: the reference."""

    def __init__(self) -> None:
        self.at_boundary, self.last, self.last_is_tail = True, None, False
        self.lines: list[str] = []
        self.image = False

    def boundary(self) -> None:
        el = self.last
        if el is not None:
            if self.last_is_tail:
                el.tail = el.tail.rstrip(" ") or None
            else:
                el.text = el.text.rstrip(" ") or None
            self.last = None
        self.at_boundary = True

    def fold(self, value: str) -> str:
        folded = fold_spaces(value)
        if self.at_boundary:
            folded = folded.lstrip(" ")
        if folded:
            self.at_boundary = folded[-1] == " "
            self.lines.append(folded)
        return folded

    def visit(self, el) -> None:
        block = el.tag in BLOCK_TAGS
        if block:
            self.boundary()
            if el.tag != "br":
                self.lines.append("\n")
        elif el.tag == "img":
            self.at_boundary, self.last = False, None
            self.image = self.image or bool(el.get("src"))
        if el.text:
            folded = self.fold(el.text)
            if folded != el.text:
                el.text = folded or None
            if folded:
                self.last, self.last_is_tail = el, False
        for child in el:
            if isinstance(child.tag, str):
                self.visit(child)
            if child.tail:
                folded = self.fold(child.tail)
                if folded != child.tail:
                    child.tail = folded or None
                if folded:
                    self.last, self.last_is_tail = child, True
        if block:
            self.boundary()
            self.lines.append("\n")


def _folded_both_ways(html: str) -> None:
    cleaned = tree_safe(_CLEANER.clean(html))  # as _sanitized reads it
    one, other = read_fragment(cleaned), read_fragment(cleaned)
    if one is None:
        return
    walk, reference = _Folder(), _RecursiveFolder()
    walk.visit(one)
    reference.visit(other)
    assert tree(one) == tree(other)
    assert (walk.text(), walk.image) == (
        _Folder.text(reference),  # type: ignore[arg-type]
        reference.image,
    )


SPACES = st.text(alphabet="甲a <>\u3000\xa0\t\n\x0b\x85\u2028\u200a", max_size=6)


@st.composite
def spaced(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 10))):
        tag, text = draw(XML_TAGS), draw(SPACES)
        attr = draw(st.sampled_from(["", ' src="/a.png"', ' title="t"']))
        parts.append(f"<{tag}{attr}>{text}" + (f"</{tag}>" if draw(st.booleans()) else ""))
        parts.append(draw(SPACES))
    return "".join(parts)


@given(spaced())
def test_the_walk_folds_white_space_as_the_recursive_one_did(html: str) -> None:
    _folded_both_ways(html)


def test_real_and_generated_bodies_fold_as_the_recursive_walk_did(tmp_path) -> None:
    generate_site(tmp_path, items=40, seed=7)
    saved = sorted((Path(__file__).parents[1] / "data").rglob("*.html"))
    for page in saved + sorted(tmp_path.rglob("t2*.html")):
        _folded_both_ways(page.read_bytes().decode("utf-8", errors="replace"))


def test_a_link_with_a_title_is_read_from_the_walk_that_wrote_it() -> None:
    """nh3 writes the rel it adds after a link's other attributes; written in that order,
    the last nh3 pass leaves the fragment as it was and the body is not parsed again."""
    html = '<p><a title="t" href="/a.html">a</a> b</p>'
    out, folded = _sanitized(html, BASE)
    assert out == (
        '<p><a href="https://www.yyedu.gov.cn/a.html" title="t" rel="noopener noreferrer">'
        "a</a> b</p>"
    )
    assert folded is not None and folded.text() == "a b"
    assert sanitize_and_read(html, BASE) == (out, *read_body(out))


def test_real_and_generated_pages_read_the_same_at_once_and_in_two_steps(tmp_path) -> None:
    generate_site(tmp_path, items=80, seed=7)
    saved = sorted((Path(__file__).parents[1] / "data").rglob("*.html"))
    pages = saved + sorted(tmp_path.rglob("t2*.html"))
    assert len(saved) > 30 and len(pages) > 100
    for page in pages:
        html = page.read_bytes().decode("utf-8", errors="replace")
        out = sanitize_html(html, BASE)
        assert sanitize_and_read(html, BASE) == (out, *read_body(out)), page


# --- reading nh3's output: as XML where that gives the same tree -------------------------

XML_ATTRS = st.sampled_from(
    ["", ' title="a<b>c"', ' alt="x>y"', ' title="p &amp; q"', ' title="多\n行"',
     ' title="\ttab"', ' href="a.html?x=1&amp;y=2"', ' width="3"', ' title="&nbsp;&quot;"']
)  # fmt: skip
XML_TAGS = st.sampled_from(["p", "b", "a", "img", "br", "hr", "table", "td", "span", "li"])


@st.composite
def cleaned(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        tag, attr, text = draw(XML_TAGS), draw(XML_ATTRS), draw(TEXTS)
        parts.append(f"<{tag}{attr}>{text}" + (f"</{tag}>" if draw(st.booleans()) else ""))
    return nh3.clean("".join(parts), attributes={"*": {"title", "alt", "href", "width"}})


def tree(root) -> str:
    return etree.tostring(root, encoding="unicode")


@given(cleaned())
def test_nh3_output_read_as_xml_is_the_tree_the_tokenizer_builds(html: str) -> None:
    as_xml = _read_as_xml(html)
    if as_xml is not None:
        assert tree(as_xml) == tree(_built(html))


def test_bodies_of_real_and_generated_pages_are_read_as_xml(tmp_path) -> None:
    """The fast reading is the usual one, and gives the same tree on every page."""
    generate_site(tmp_path, items=80, seed=7)
    saved = sorted((Path(__file__).parents[1] / "data").rglob("*.html"))
    read = 0
    bodies = [
        _CLEANER.clean(page.read_bytes().decode("utf-8", errors="replace"))
        for page in saved + sorted(tmp_path.rglob("t2*.html"))
    ]
    bodies = [b for b in bodies if b.strip()]
    for body in bodies:
        as_xml = _read_as_xml(body)
        if as_xml is not None:
            read += 1
            assert tree(as_xml) == tree(_built(body))
    assert len(bodies) > 100 and read == len(bodies)


def test_character_references_to_characters_no_tree_holds_are_dropped() -> None:
    """nh3 decodes "&#1;" into a control character; that raised ValueError in the tree."""
    assert sanitize_html("<p>&#1;x&#11;y&#xFFFE;z&#12;</p>", BASE) == "<p>x yz</p>"
    assert sanitize_and_read("<p>&#1;x&#11;y</p>", BASE) == ("<p>x y</p>", "x y", True)


# --- images from outside the source's scope (issue 19, finding 16) ----------------------------


def test_an_image_outside_the_scope_becomes_its_alt_text() -> None:
    scope = Scope("https://www.yyedu.gov.cn/", ["img.yyedu.gov.cn"])
    html = (
        '<p>甲<img src="../pic/a.png" alt="本站图">乙</p>'  # relative: resolved, then judged
        '<p><img src="https://img.yyedu.gov.cn/b.png" alt="图床"></p>'  # an allowed host
        '<p>丙<img src="http://10.0.0.1/c.png" alt="内网&lt;b&gt;图">丁</p>'
        '<p><img src="https://www.yyedu.gov.cn:8443/d.png" alt="他口"></p>'  # another port
        '<p><img src="http://t.example/p.gif" width="1" height="1"></p>'
    )
    assert sanitize_html(html, BASE, images=scope.admits) == (
        '<p>甲<img alt="本站图" src="https://www.yyedu.gov.cn/zwgk/zcwj/pic/a.png">乙</p>'
        '<p><img alt="图床" src="https://img.yyedu.gov.cn/b.png"></p>'
        "<p>丙内网&lt;b&gt;图丁</p><p>他口</p>"
    )
    # Without a filter (keep_offsite_images = true) every image stays.
    assert sanitize_html(html, BASE).count("<img") == 5


def test_a_data_uri_image_is_dropped_with_or_without_a_filter() -> None:
    html = '<p>甲<img src="data:image/png;base64,iVBORw0KGgo=" alt="内嵌">乙</p>'
    assert sanitize_html(html, BASE) == "<p>甲乙</p>"
    assert sanitize_html(html, BASE, images=Scope(BASE).admits) == "<p>甲乙</p>"


def test_a_body_of_only_an_offsite_image_shows_its_alt_text_or_nothing() -> None:
    admits = Scope(BASE).admits
    assert sanitize_and_read(
        '<img src="http://x.example/a.png" alt="图">', BASE, images=admits
    ) == (
        "图",
        "图",
        True,
    )
    assert sanitize_and_read('<p><img src="http://x.example/a.png"></p>', BASE, images=admits) == (
        "",
        "",
        False,
    )
