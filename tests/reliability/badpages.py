"""The bad-input corpus, and a real local HTTP server that serves it inside a sandbox site.

Scrapy tests its crawler against a mock server whose resources are named by what they do
(``Status``, ``Delay``, ``Drop``). Here a *behaviour* (``Body``, ``Chunked``, ``Endless``,
``Drip``, ``Stall``, ``LengthLie``, ``Drop``, ``Heals``, and ``status``/``redirect``) says
how the server answers one path; a ``BadPage`` is one detail page of the corpus (the
behaviour of its URL and of its attachments' URLs), listed on the first list page of a
column of the site; a ``BadListing`` is a column whose list page itself is the bad input.

Every other path is answered from a generated sandbox site on disk, as a static server
would (``text/html`` without a charset), so good items and bad pages share one host and
one robots.txt. The corpus is listed only once ``live`` is set: items delivered before
then are what a bad page must never touch. ``break_item`` gives a delivered item a bad
page (and shows its list date another way, so that a cycle reads it again).

Pages come from one template (``detail_page``) and are then damaged, so every entry reads
as "a good page, except …"; the files in tests/data/bad are pages kept as found.
"""

from __future__ import annotations

import gzip
import html
import mimetypes
import re
import select
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bridge.defaults import MAX_PAGE_BYTES

SAVED = Path(__file__).resolve().parent.parent / "data" / "bad"

PAGE_CAP = MAX_PAGE_BYTES  # the default cap on a page
ATTACHMENT_CAP = 1 << 20  # max_attachment_bytes of the test's config (the default is 50 MiB)
READ_TIMEOUT = 1.0  # read_timeout of the test's config, in seconds
LIST_DATE = "2025-06-01"
LISTED_IN = "/xxgk/qt/index.html"  # the corpus is listed on the first page of 其他
DETAIL = "t20250601_{:06d}"  # article ids: 900001 … (controls 900501 …, listings 900210 …)


# --- behaviours ---------------------------------------------------------------------------


class Behaviour:
    """How the server answers one path."""

    def answer(self, h: _Handler) -> None:
        raise NotImplementedError


@dataclass
class Body(Behaviour):
    """``data`` with an honest Content-Length (``text/html`` without a charset, as a static
    server sends a page)."""

    data: bytes
    content_type: str = "text/html"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def answer(self, h: _Handler) -> None:
        h.head(self.status, {"Content-Type": self.content_type, **self.headers}, len(self.data))
        h.wfile.write(self.data)


def status(code: int, **headers: str) -> Body:
    """An error page with status ``code`` (``retry_after=`` becomes ``Retry-After``)."""
    page = f"<html><body><h1>{code}</h1></body></html>".encode()
    return Body(
        page, status=code, headers={k.replace("_", "-").title(): v for k, v in headers.items()}
    )


def redirect(location: str, code: int = 302) -> Body:
    return Body(b"", status=code, headers={"Location": location})


@dataclass
class Chunked(Behaviour):
    """``data`` sent in chunks with no Content-Length: the size is known only at the end."""

    data: bytes
    content_type: str = "text/html"

    def answer(self, h: _Handler) -> None:
        h.head(200, {"Content-Type": self.content_type, "Transfer-Encoding": "chunked"})
        for i in range(0, len(self.data), 65536):
            h.chunk(self.data[i : i + 65536])
        h.chunk(b"")


class Endless(Behaviour):
    """A chunked page that never ends (a CMS script in a loop): only a size cap stops it."""

    def answer(self, h: _Handler) -> None:
        h.head(200, {"Content-Type": "text/html; charset=utf-8", "Transfer-Encoding": "chunked"})
        h.chunk(b'<html><head><meta charset="utf-8"></head><body><div class="TRS_Editor">')
        row = ("<p>" + "没有尽头的段落。" * 64 + "</p>\n").encode() * 32
        while True:
            h.chunk(row)


@dataclass
class Drip(Behaviour):
    """An honest Content-Length, then one byte every ``interval`` seconds: each read comes
    in time, the whole page never does."""

    data: bytes
    interval: float = 0.1

    def answer(self, h: _Handler) -> None:
        h.head(200, {"Content-Type": "text/html"}, len(self.data))
        for i in range(len(self.data)):
            h.wfile.write(self.data[i : i + 1])
            h.wfile.flush()
            time.sleep(self.interval)  # a slow peer: real time is what it is made of


@dataclass
class Stall(Behaviour):
    """Not a byte for ``seconds`` (past the read timeout), then the connection closes."""

    seconds: float = 3.0

    def answer(self, h: _Handler) -> None:
        time.sleep(self.seconds)  # a stalled peer: real time is what it is made of
        h.close_connection = True


@dataclass
class LengthLie(Behaviour):
    """Content-Length says ``declared``; ``data`` is sent and the connection closed."""

    data: bytes
    declared: int

    def answer(self, h: _Handler) -> None:
        h.head(200, {"Content-Type": "text/html"}, self.declared)
        h.wfile.write(self.data)
        h.wfile.flush()
        h.close_connection = True


@dataclass
class ClosesUnderNext(Behaviour):
    """``data``, the connection kept alive; the next request on it finds it closing, as
    when a server's keep-alive timeout runs out as the request arrives: closed with the
    request unread, which the kernel answers with a reset."""

    data: bytes
    wait: float = 5.0  # for the next request, at most

    def answer(self, h: _Handler) -> None:
        Body(self.data).answer(h)
        h.wfile.flush()
        select.select([h.connection], [], [], self.wait)
        h.close_connection = True


class Drop(Behaviour):
    """The connection is closed without an answer."""

    def answer(self, h: _Handler) -> None:
        h.close_connection = True


@dataclass
class Heals(Behaviour):
    """``bad`` until the site is healed (``BadSite.healed``), then ``good``: a fault that
    passes, so a page that failed must be read again by a later cycle."""

    bad: Behaviour
    good: Behaviour

    def answer(self, h: _Handler) -> None:
        (self.good if h.server.site.healed else self.bad).answer(h)


# --- the page template ----------------------------------------------------------------------

PARAGRAPHS = (
    "为进一步加强全市中小学校园安全管理，切实保障师生生命财产安全，经研究，决定开展专项检查。",
    "一、检查范围：全市各中小学校、幼儿园及校外培训机构。",
    "二、检查内容：消防设施、食品安全、校车管理、周边环境整治等。",
    "三、工作要求：各单位要高度重视，落实责任，认真开展自查，及时整改发现的问题。",
)
SIGNATURE = (
    '<p style="text-align: right;">余姚市教育局</p>\n'
    '<p style="text-align: right;">2025年5月28日</p>'
)


def paragraphs(*texts: str) -> str:
    return "\n".join(f"<p>{html.escape(t)}</p>" for t in texts or PARAGRAPHS)


@dataclass(frozen=True)
class Page:
    """One detail page of the corpus, before damage: number ``n`` makes it unique."""

    n: int
    slug: str

    @property
    def article_id(self) -> str:
        return DETAIL.format(900000 + self.n)

    @property
    def folder(self) -> str:
        return f"/bad/{self.slug}/"

    @property
    def path(self) -> str:
        return f"{self.folder}{self.article_id}.html"

    @property
    def title(self) -> str:
        return f"余姚市教育局关于开展第{self.n}批校园安全专项检查的通知"

    @property
    def doc_no(self) -> str:
        return f"余教〔2025〕{100 + self.n}号"

    @property
    def body(self) -> str:
        return f"{paragraphs()}\n<p>本批次编号：{self.n}。</p>\n{SIGNATURE}"

    def meta(self, **cells: str) -> dict[str, str]:
        """The metadata table; ``cells`` replace values by label (生成日期="…")."""
        rows = {
            "索 引 号：": f"002949236/2025-{900 + self.n:05d}",
            "发布机构：": "余姚市教育局",
            "生成日期：": "2025-05-28",
            "文　　号：": self.doc_no,
            "标　　题：": html.escape(self.title),
            "主题分类：": "科技、教育\\教育",
            "公开方式：": "主动公开",
        }
        for label, value in cells.items():
            rows[next(k for k in rows if re.sub(r"[\s：]", "", k) == label)] = value
        return rows

    def html(self, **options: Any) -> str:
        options.setdefault("meta", self.meta())
        options.setdefault("body", self.body)
        return detail_page(options.pop("title", self.title), **options)

    def utf8(self, **options: Any) -> bytes:
        return self.html(**options).encode()

    def gbk(self, **options: Any) -> bytes:
        options.setdefault("charset", '<meta charset="gbk">')
        return self.html(**options).encode("gbk")


def detail_page(
    title: str,
    *,
    body: str,
    meta: dict[str, str],
    charset: str = '<meta charset="utf-8">',
    attachments: tuple[tuple[str, str], ...] = (),
    h1: str | None = None,
    before_body: str = "",
    after_body: str = "",
) -> str:
    """A TRS detail page: metadata table, ``h1.title``, ``div.TRS_Editor``, attachments."""
    cells = "".join(f'<tr><td class="label">{k}</td><td>{v}</td></tr>\n' for k, v in meta.items())
    links = "".join(f'<li><a href="{href}">{name}</a></li>' for name, href in attachments)
    block = f'<div class="attachments"><p>附件：</p><ul>{links}</ul></div>\n' if links else ""
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n{charset}\n'
        f"<title>{html.escape(title)} - 余姚教育网</title>\n</head>\n<body>\n"
        '<div class="nav"><a href="/index.html">首页</a></div>\n<div class="article">\n'
        f'<table class="xxgk_table">\n{cells}</table>\n'
        f'<h1 class="title">{html.escape(title) if h1 is None else h1}</h1>\n{before_body}'
        f'<div class="TRS_Editor">\n{body}\n</div>\n{block}{after_body}</div>\n'
        '<div class="footer"><p>版权所有：余姚市教育局</p></div>\n</body>\n</html>\n'
    )


# --- the corpus: detail pages ----------------------------------------------------------------

Answer = Behaviour | tuple[Behaviour, dict[str, Behaviour]]
"""A page's behaviour, or it and the behaviours of further paths (attachments, hops)."""


@dataclass(frozen=True)
class BadPage:
    """A corpus entry: the page, how to build its answers, and what it is (``doc``)."""

    page: Page
    build: Callable[[Page], Answer]
    doc: str

    @property
    def slug(self) -> str:
        return self.page.slug

    def routes(self) -> dict[str, Behaviour]:
        """Its paths and their behaviours; with a control page after a transient fault."""
        answer = self.build(self.page)
        main, extra = answer if isinstance(answer, tuple) else (answer, {})
        out = {self.page.path: main, **{self.page.folder + k: v for k, v in extra.items()}}
        if any(isinstance(b, Heals) for b in (main, *extra.values())):
            out[self.control.path] = Body(self.control.utf8())
        return out

    @property
    def control(self) -> Page:
        """The fine page listed right after a transient fault (one that heals): the cycle
        stops a source after five failed reads with no page read in between ("site down"),
        so the corpus keeps its transient faults apart, and shows the next page is read."""
        return Page(self.page.n + 500, "control-after-" + self.slug)


CORPUS: list[BadPage] = []


def bad(slug: str) -> Callable[[Callable[[Page], Answer]], Callable[[Page], Answer]]:
    """Registers a corpus page; the order is the listing order (newest first)."""

    def register(build: Callable[[Page], Answer]) -> Callable[[Page], Answer]:
        CORPUS.append(BadPage(Page(len(CORPUS) + 1, slug), build, (build.__doc__ or "").strip()))
        return build

    return register


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
ATTACHMENT = "P020250601000001.pdf"


def with_attachment(p: Page, name: str, answer: Behaviour) -> Answer:
    """The page with one attachment, ``name``, answered by ``answer``."""
    return Body(p.utf8(attachments=((name, "./" + ATTACHMENT),))), {ATTACHMENT: answer}


# Charsets and decoding


@bad("truncated-mid-tag")
def _(p: Page) -> Answer:
    """Cut inside the 落款's ``<p style=…>``, as a full disk leaves a published file."""
    data = p.utf8()
    return Body(data[: data.index(b'<p style="text-align: right;">') + 12])


@bad("truncated-mid-utf8")
def _(p: Page) -> Answer:
    """Cut one byte into a three-byte character of the body."""
    data = p.utf8()
    return Body(data[: data.index("三、工作要求".encode()) + 1])


@bad("meta-utf8-bytes-gbk")
def _(p: Page) -> Answer:
    """``<meta charset="utf-8">`` over GBK bytes."""
    return Body(p.gbk(charset='<meta charset="utf-8">'))


@bad("header-gbk-bytes-utf8")
def _(p: Page) -> Answer:
    """The server says ``charset=gbk`` (a server-wide default); the page is UTF-8."""
    return Body(p.utf8(charset=""), content_type="text/html; charset=gbk")


@bad("meta-gbk-bytes-utf8")
def _(p: Page) -> Answer:
    """A template kept ``<meta charset="gbk">`` after the site moved to UTF-8."""
    return Body(p.utf8(charset='<meta charset="gbk">'))


@bad("meta-in-comment-lies")
def _(p: Page) -> Answer:
    """A commented-out ``<meta charset="gbk">`` before the real UTF-8 one."""
    return Body(p.utf8(charset='<!-- <meta charset="gbk"> -->\n<meta charset="utf-8">'))


@bad("short-utf8-under-gbk-meta")
def _(p: Page) -> Answer:
    """A short UTF-8 notice under ``<meta charset="gbk">`` whose bytes GB18030 reads too,
    as mojibake (瀹夊叏宸ヤ綔閫氱煡): decoding without an error proves nothing."""
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="gbk">\n<title>安全工作通知</title>\n'
        '</head>\n<body>\n<table class="xxgk_table"><tr><td>生成日期:</td><td>2025-05-28</td>'
        '</tr></table>\n<h1 class="title">安全工作通知</h1>\n<div class="TRS_Editor">\n'
        "<p>各校安全工作通知</p>\n</div>\n</body>\n</html>\n"
    )
    assert page.encode().decode("gb18030") != page  # the trap: it decodes, wrongly
    return Body(page.encode())


@bad("no-charset-gbk-bytes")
def _(p: Page) -> Answer:
    """GBK bytes, no charset anywhere; the source's charset is utf-8."""
    return Body(p.gbk(charset=""))


@bad("bom-utf8-meta-gbk")
def _(p: Page) -> Answer:
    """A UTF-8 BOM, then ``<meta charset="gbk">``: the BOM is right."""
    return Body(b"\xef\xbb\xbf" + p.utf8(charset='<meta charset="gbk">'))


@bad("bom-utf16le")
def _(p: Page) -> Answer:
    """UTF-16LE with its BOM (a Windows editor's "Unicode")."""
    return Body(b"\xff\xfe" + p.html(charset='<meta charset="utf-16">').encode("utf-16-le"))


@bad("header-utf8-bytes-gbk")
def _(p: Page) -> Answer:
    """The server says ``charset=utf-8``; the page is GBK and says so in its ``<meta>``."""
    return Body(p.gbk(), content_type="text/html; charset=utf-8")


@bad("header-unknown-charset")
def _(p: Page) -> Answer:
    """``charset=x-no-such-charset`` in the header."""
    return Body(p.utf8(), content_type="text/html; charset=x-no-such-charset")


@bad("gb2312-label-gbk-only-chars")
def _(p: Page) -> Answer:
    """Labelled gb2312, with GBK-only characters (喆, 镕) in the body."""
    body = p.body + "\n<p>联系人：王喆、朱镕。</p>"
    return Body(p.gbk(charset='<meta charset="gb2312">', body=body))


@bad("stray-gbk-bytes-in-utf8")
def _(p: Page) -> Answer:
    """A UTF-8 page with one phrase pasted in as GBK bytes."""
    return Body(p.utf8().replace("检查范围".encode(), "检查范围".encode("gbk")))


@bad("null-bytes")
def _(p: Page) -> Answer:
    """NUL bytes inside the body text (a browser ignores them)."""
    return Body(p.utf8().replace("专项检查。".encode(), "专项\0检查\0。".encode()))


@bad("control-characters")
def _(p: Page) -> Answer:
    """Form feed, vertical tab and ESC in the body text, as old CMS exports leave them."""
    return Body(p.utf8(body=p.body + "\n<p>附注：分页\x0c符、垂直\x0b制表与\x1b转义。</p>"))


@bad("mixed-line-endings")
def _(p: Page) -> Answer:
    """CRLF, CR and LF mixed line by line."""
    ends = (b"\r\n", b"\r", b"\n")
    lines = p.utf8().split(b"\n")
    return Body(b"".join(line + ends[i % 3] for i, line in enumerate(lines)))


# Not a page at all


@bad("empty-200")
def _(p: Page) -> Answer:
    """200 with an empty body."""
    return Body(b"")


@bad("whitespace-only-200")
def _(p: Page) -> Answer:
    """200 with nothing but white space."""
    return Body(b" \r\n\t\n   \n")


@bad("bom-only")
def _(p: Page) -> Answer:
    """A UTF-8 BOM and nothing else."""
    return Body(b"\xef\xbb\xbf")


@bad("status-204")
def _(p: Page) -> Answer:
    """204 No Content for a listed page."""
    return Body(b"", status=204)


@bad("pdf-as-html")
def _(p: Page) -> Answer:
    """A PDF file served as text/html."""
    return Body(PDF)


@bad("png-as-html")
def _(p: Page) -> Answer:
    """A PNG image served as text/html."""
    return Body(PNG)


@bad("gzip-bytes-as-html")
def _(p: Page) -> Answer:
    """A gzip file (the page, compressed) served as text/html with no Content-Encoding."""
    return Body(gzip.compress(p.utf8()))


@bad("binary-garbage")
def _(p: Page) -> Answer:
    """Every byte value, eight times over."""
    return Body(bytes(range(256)) * 8)


# Transport: sizes, lengths, time, status, redirects. Retriable faults (they heal) stand
# apart from each other: five in a row would rightly stop the cycle as "site down".


@bad("status-500")
def _(p: Page) -> Answer:
    """500, until the server recovers."""
    return Heals(status(500), Body(p.utf8()))


@bad("over-page-cap")
def _(p: Page) -> Answer:
    """A 20 MB page (an editor pasted a whole database dump), with its Content-Length."""
    return Body(p.utf8() + b"<!--" + b"x" * (20 << 20) + b"-->")


@bad("length-lie-short")
def _(p: Page) -> Answer:
    """Content-Length 20000; the connection closes after 3000 bytes."""
    return Heals(LengthLie(p.utf8()[:3000], 20000), Body(p.utf8()))


@bad("over-page-cap-chunked")
def _(p: Page) -> Answer:
    """Twice the cap, chunked: no Content-Length to refuse it by."""
    return Chunked(p.utf8() + b"<!--" + b"x" * (2 * PAGE_CAP) + b"-->")


@bad("status-429-retry-after")
def _(p: Page) -> Answer:
    """429 with Retry-After: 120, until the server recovers."""
    return Heals(status(429, retry_after="120"), Body(p.utf8()))


@bad("infinite-chunked")
def _(p: Page) -> Answer:
    """A chunked response that never ends."""
    return Endless()


@bad("slow-drip")
def _(p: Page) -> Answer:
    """One byte every 0.1 s: no single read times out; the page takes minutes."""
    return Heals(Drip(p.utf8()), Body(p.utf8()))


@bad("status-403")
def _(p: Page) -> Answer:
    """403 for one page (an item restricted to the intranet)."""
    return status(403)


@bad("stall-past-read-timeout")
def _(p: Page) -> Answer:
    """No answer for three read timeouts, until the server recovers."""
    return Heals(Stall(), Body(p.utf8()))


@bad("status-404-listed")
def _(p: Page) -> Answer:
    """Listed, but 404."""
    return status(404)


@bad("connection-drop")
def _(p: Page) -> Answer:
    """The connection closes without an answer, until the server recovers."""
    return Heals(Drop(), Body(p.utf8()))


@bad("status-410-listed")
def _(p: Page) -> Answer:
    """Listed, but 410 Gone."""
    return status(410)


@bad("redirect-loop")
def _(p: Page) -> Answer:
    """The page redirects to another that redirects back."""
    return redirect(p.folder + "again.html"), {"again.html": redirect(p.path)}


@bad("redirect-offsite")
def _(p: Page) -> Answer:
    """A redirect to another host."""
    return redirect("http://www.example.com/xxgk/t20250601_1.html")


@bad("redirect-moved")
def _(p: Page) -> Answer:
    """301 to the page's new address on the same host: a fine page after one hop."""
    return redirect(p.folder + "moved.html", 301), {"moved.html": Body(p.utf8())}


@bad("length-lie-long")
def _(p: Page) -> Answer:
    """Content-Length 1500 for a longer page: the client keeps the first 1500 bytes."""
    data = p.utf8()
    return LengthLie(data, 1500)


@bad("gzip-bomb")
def _(p: Page) -> Answer:
    """Content-Encoding: gzip; 30 MB of spaces squeezed into 30 KB."""
    data = gzip.compress(p.utf8() + b" " * (30 << 20))
    return Body(data, headers={"Content-Encoding": "gzip"})


@bad("keep-alive-closed-under-next")
def _(p: Page) -> Answer:
    """A fine page; its connection, kept alive, closes as the next request goes out on it."""
    return ClosesUnderNext(p.utf8())


# Markup


@bad("trs-editor-empty")
def _(p: Page) -> Answer:
    """A ``div.TRS_Editor`` with nothing inside."""
    return Body(p.utf8(body=""))


@bad("trs-editor-nbsp-only")
def _(p: Page) -> Answer:
    """A body of empty paragraphs and no-break spaces."""
    return Body(p.utf8(body="<p>&nbsp;</p><p>\u3000</p><p><span> </span></p><br>"))


@bad("deep-nesting")
def _(p: Page) -> Answer:
    """100,000 nested ``<div>`` inside the body."""
    deep = "<div>" * 100_000 + "<p>最深处的段落。</p>" + "</div>" * 100_000
    return Body(p.utf8(body=paragraphs() + deep + SIGNATURE))


@bad("ten-thousand-paragraphs")
def _(p: Page) -> Answer:
    """10,000 ``<p>`` in the body."""
    rows = "\n".join(f"<p>第{i}条　各学校应当落实安全责任。</p>" for i in range(1, 10_001))
    return Body(p.utf8(body=paragraphs() + rows + SIGNATURE))


@bad("title-2000-chars")
def _(p: Page) -> Answer:
    """A title of 2,000 characters."""
    title = ("关于加强校园安全" * 250)[:1997] + "的通知"
    return Body(p.utf8(title=title, meta=p.meta(标题=title)))


@bad("comment-fake-markers")
def _(p: Page) -> Answer:
    """HTML comments holding a fake body, a fake title and fake body markers."""
    fake = (
        '<!-- <div class="TRS_Editor"><p>注释里的假正文</p></div> -->\n'
        "<!--ZJEG_RSS.content.begin--><!-- <h1>注释里的假标题</h1> -->\n"
    )
    return Body(
        p.utf8(before_body=fake, body="<!-- 假正文 -->" + p.body + "<!--ZJEG_RSS.content.end-->")
    )


@bad("unclosed-script")
def _(p: Page) -> Answer:
    """A ``<script>`` in the body that is never closed: the rest of the page is script."""
    return Body(p.utf8(body=paragraphs() + '<script>var tail = "' + SIGNATURE))


@bad("unclosed-cdata")
def _(p: Page) -> Answer:
    """``<![CDATA[`` in the body, never closed."""
    return Body(p.utf8(body=paragraphs() + "<![CDATA[ <p>未闭合" + SIGNATURE))


@bad("unclosed-comment-after-body")
def _(p: Page) -> Answer:
    """A comment opened after the body and never closed."""
    return Body(p.utf8(after_body="<!-- 页脚开始 "))


@bad("xss-title")
def _(p: Page) -> Answer:
    """A title holding markup (as text)."""
    title = p.title + "<script>alert(1)</script><img src=x onerror=alert(2)>"
    return Body(p.utf8(title=title, meta=p.meta(标题=html.escape(title))))


@bad("xss-body")
def _(p: Page) -> Answer:
    """Script, event handlers, javascript: links, an iframe, an svg, a style, a form."""
    evil = (
        "<script>document.cookie</script>"
        '<p onclick="alert(1)" style="background:url(javascript:alert(2))">点击</p>'
        '<a href="javascript:alert(3)">链接</a><a href=" JaVaScRiPt:alert(4)">链接二</a>'
        '<a href="jav&#x09;ascript:alert(5)">链接三</a>'
        '<iframe src="http://www.example.com/"></iframe><svg onload="alert(6)"><circle/></svg>'
        "<style>p{color:red}</style><form action=/x><input name=q></form>"
        '<img src="x" onerror="alert(7)"><object data="x.swf"></object>'
    )
    return Body(p.utf8(body=paragraphs() + evil + SIGNATURE))


@bad("xss-attachment-name")
def _(p: Page) -> Answer:
    """An attachment whose name is markup."""
    name = "&lt;script&gt;alert(1)&lt;/script&gt;安全检查表.pdf"
    return with_attachment(p, name, Body(PDF, "application/pdf"))


@bad("attachment-name-path-traversal")
def _(p: Page) -> Answer:
    """An attachment named ``../../../etc/passwd.pdf``."""
    return with_attachment(p, "../../../etc/passwd.pdf", Body(PDF, "application/pdf"))


# Metadata


@bad("created-month-13")
def _(p: Page) -> Answer:
    """生成日期 2012-13-45; the 落款 says 2025年5月28日."""
    return Body(p.utf8(meta=p.meta(生成日期="2012-13-45")))


@bad("created-month-13-no-body-date")
def _(p: Page) -> Answer:
    """生成日期 2012-13-45 and no date anywhere in the body."""
    return Body(p.utf8(meta=p.meta(生成日期="2012-13-45"), body=paragraphs()))


@bad("created-chinese-numerals-wrong")
def _(p: Page) -> Answer:
    """生成日期 二〇二五年十三月五日 and no date in the body."""
    return Body(p.utf8(meta=p.meta(生成日期="二〇二五年十三月五日"), body=paragraphs()))


@bad("created-in-future")
def _(p: Page) -> Answer:
    """生成日期 2031-01-01."""
    return Body(p.utf8(meta=p.meta(生成日期="2031-01-01")))


@bad("docno-no-number")
def _(p: Page) -> Answer:
    """文号 余教〔2025〕 with no number."""
    return Body(p.utf8(meta=p.meta(文号="余教〔2025〕")))


@bad("docno-latin-issuer")
def _(p: Page) -> Answer:
    """文号 YJ〔2025〕12号."""
    return Body(p.utf8(meta=p.meta(文号="YJ〔2025〕12号")))


@bad("metadata-cells-empty")
def _(p: Page) -> Answer:
    """Every metadata value empty: the body and the list supply what they can."""
    return Body(p.utf8(meta={k: "" for k in p.meta()}))


# Attachments


@bad("attachment-over-cap")
def _(p: Page) -> Answer:
    """An attachment of twice the cap, with its Content-Length."""
    return with_attachment(
        p, "全市校舍图纸.pdf", Body(PDF + b"0" * (2 * ATTACHMENT_CAP), "application/pdf")
    )


@bad("attachment-over-cap-chunked")
def _(p: Page) -> Answer:
    """An attachment of twice the cap, chunked."""
    return with_attachment(
        p, "全市校舍图纸.pdf", Chunked(PDF + b"0" * (2 * ATTACHMENT_CAP), "application/pdf")
    )


@bad("attachment-404")
def _(p: Page) -> Answer:
    """An attachment that answers 404."""
    return with_attachment(p, "检查表.pdf", status(404))


@bad("attachment-html-error-page")
def _(p: Page) -> Answer:
    """A .pdf link answering 200 with an HTML "file not found" page (a download script)."""
    page = '<html><head><meta charset="utf-8"></head><body>文件不存在！</body></html>'.encode()
    return with_attachment(p, "检查表.pdf", Body(page, "text/html;charset=utf-8"))


@bad("attachment-pdf-served-as-html")
def _(p: Page) -> Answer:
    """A real PDF that a download script calls text/html (a Content-Type lie)."""
    return with_attachment(p, "检查表.pdf", Body(PDF, "text/html"))


@bad("attachment-500")
def _(p: Page) -> Answer:
    """An attachment that answers 500 until the server recovers."""
    return with_attachment(p, "检查表.pdf", Heals(status(500), Body(PDF, "application/pdf")))


@bad("attachment-redirect-offsite")
def _(p: Page) -> Answer:
    """An attachment redirecting to another host."""
    return with_attachment(p, "检查表.pdf", redirect("http://files.example.com/a.pdf"))


# Pages kept as found (tests/data/bad)


@bad("saved-js-redirect-stub")
def _(p: Page) -> Answer:
    """Saved: an "external link" item, a page of only script that sends the browser on."""
    return Body((SAVED / "js-redirect-stub.html").read_bytes())


@bad("saved-word-paste")
def _(p: Page) -> Answer:
    """Saved: a body pasted from Word, 300 ``<span>``/``<font>`` left open, mso markup."""
    return Body((SAVED / "word-paste.html").read_bytes())


@bad("saved-truncated-gbk")
def _(p: Page) -> Answer:
    """Saved: a GBK page cut in the middle of a character."""
    return Body((SAVED / "truncated-gbk.html").read_bytes())


# --- the corpus: list pages ------------------------------------------------------------------


@dataclass(frozen=True)
class BadListing:
    """A column whose first list page is bad; it links ``entries`` fine detail pages."""

    slug: str
    build: Callable[[bytes], Behaviour]
    doc: str
    number: int
    entries: int = 2

    @property
    def folder(self) -> str:
        return f"/badlist/{self.slug}/"

    def pages(self) -> list[Page]:
        return [Page(200 + self.number * 10 + i, self.slug) for i in range(self.entries)]

    def list_page(self, count: int = 1) -> bytes:
        items = "".join(
            f'<li><a href="./{p.article_id}.html" title="{p.title}">{p.title}</a>'
            f'<span class="date">{LIST_DATE}</span></li>\n'
            for p in self.pages()
        )
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>列表</title></head><body>\n'
            f'<ul class="list">\n{items}</ul>\n'
            f'<script type="text/javascript">createPageHTML({count}, 0, "index", "html");</script>\n'
            "</body></html>\n"
        ).encode()

    def routes(self) -> dict[str, Behaviour]:
        out: dict[str, Behaviour] = {self.folder + "index.html": self.build(self.list_page())}
        for p in self.pages():
            out[f"{self.folder}{p.article_id}.html"] = Body(p.utf8())
        return out


LISTINGS: list[BadListing] = []


def bad_listing(
    slug: str,
) -> Callable[[Callable[[bytes], Behaviour]], Callable[[bytes], Behaviour]]:
    def register(build: Callable[[bytes], Behaviour]) -> Callable[[bytes], Behaviour]:
        LISTINGS.append(BadListing(slug, build, (build.__doc__ or "").strip(), len(LISTINGS) + 1))
        return build

    return register


@bad_listing("truncated")
def _(data: bytes) -> Behaviour:
    """Cut in the middle of the second entry."""
    return Body(data[: data.index(b"<li>", data.index(b"<li>") + 1) + 20])


@bad_listing("empty-200")
def _(data: bytes) -> Behaviour:
    """An empty 200."""
    return Body(b"")


@bad_listing("png")
def _(data: bytes) -> Behaviour:
    """A PNG image served as the list page."""
    return Body(PNG)


@bad_listing("redirect-loop")
def _(data: bytes) -> Behaviour:
    """The list page redirects to itself."""
    return redirect("index.html")


@bad_listing("gbk-no-charset")
def _(data: bytes) -> Behaviour:
    """GBK bytes, no charset anywhere: the entries' links still read."""
    return Body(data.decode().replace('<meta charset="utf-8">', "").encode("gbk"))


@bad_listing("page-count-lie")
def _(data: bytes) -> Behaviour:
    """createPageHTML says 99,999 pages; the second answers 404."""
    return Body(data.replace(b"createPageHTML(1,", b"createPageHTML(99999,"))


@bad_listing("deep-nesting")
def _(data: bytes) -> Behaviour:
    """100,000 nested ``<div>`` before the entries."""
    return Body(data.replace(b'<ul class="list">', b"<div>" * 100_000 + b'<ul class="list">'))


@bad_listing("over-cap")
def _(data: bytes) -> Behaviour:
    """A list page over the cap."""
    return Body(data + b"<!--" + b"x" * (2 * PAGE_CAP) + b"-->")


# --- the server ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are counted in ``BadSite.hits``."""

    def do_GET(self) -> None:
        site = self.server.site
        path = unquote(urlsplit(self.path).path)
        with site.lock:
            site.hits[path] += 1
        try:
            site.behaviour(path).answer(self)
        except OSError:  # the client hung up (a size cap, a timeout): stop answering
            self.close_connection = True

    def head(self, code: int, headers: dict[str, str], length: int | None = None) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: BadSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is what half the corpus is about."""


class BadSite:
    """A sandbox site on disk, served with the corpus in it (once ``live``)."""

    def __init__(
        self,
        root: Path,
        corpus: list[BadPage] = CORPUS,
        listings: list[BadListing] = LISTINGS,
    ) -> None:
        self.root = root
        self.corpus = corpus
        self.live = False
        self.healed = False
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.routes: dict[str, Behaviour] = {}
        self.listing: list[Page] = []  # the corpus in listing order, controls included
        self.controls: list[Page] = []
        for bad in corpus:
            routes = bad.routes()
            self.routes.update(routes)
            self.listing.append(bad.page)
            if bad.control.path in routes:
                self.listing.append(bad.control)
                self.controls.append(bad.control)
        for listing in listings:
            self.routes.update(listing.routes())
        self.broken: dict[str, Behaviour] = {}  # path of a delivered item -> its bad page
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.site = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> BadSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def break_item(self, path: str, answer: Behaviour) -> None:
        """From now on, the delivered item at ``path`` answers ``answer``, and its list
        entry shows its date another way (so a cycle reads the page again)."""
        self.broken[path] = answer

    def behaviour(self, path: str) -> Behaviour:
        if self.live and path in self.routes:
            return self.routes[path]
        if path in self.broken:
            return self.broken[path]
        file = (self.root / path.lstrip("/")).resolve()
        if path.endswith("/") or not file.is_file() or self.root.resolve() not in file.parents:
            return status(404)
        data = file.read_bytes()
        if path.endswith("/index.html"):
            data = self._listing(path, data)
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return Body(data, "text/html" if kind == "text/html" else kind)

    def _listing(self, path: str, data: bytes) -> bytes:
        text = data.decode()
        for broken in self.broken:
            name = broken.rsplit("/", 1)[1]
            text = re.sub(
                rf'(<a href="[^"]*/{re.escape(name)}".*?<span class="date">)(\d{{4}})-(\d\d)-(\d\d)',
                lambda m: f"{m[1]}{m[2]}年{int(m[3])}月{int(m[4])}日",
                text,
            )
        if self.live and path == LISTED_IN:
            entries = "".join(
                f'<li><a href="{p.path}" title="{html.escape(p.title)}">'
                f'{html.escape(p.title[:24])}...</a><span class="date">{LIST_DATE}</span></li>\n'
                for p in self.listing
            )
            text = text.replace('<ul class="list">\n', '<ul class="list">\n' + entries, 1)
        return text.encode()
