"""How the sandbox site looks: its columns, the page chrome, and the TRS-style markup.

The bridge's TRS parser is written against exactly this markup (``ul.list`` entries with the
full title in ``title=``, ``createPageHTML(count, index, ...)``, ``table.xxgk_table`` with the
oddly spaced labels, ``div.TRS_Editor``), so it changes only together with that contract. The
chrome around it (header, nav, side menu, footer) comes from data/page.html and is there so a
parser has to select, as on a real site. Hanweb markup is in site_hanweb.py, the redesign in
site_redesign.py, the real-site variants in site_variant_pages.py; what they share (chrome,
dates, charset, volatile parts) is here.
"""

from __future__ import annotations

import html
import posixpath
import string
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

from bridge.sandbox.content import DATA_DIR, PUBLISHER
from bridge.sandbox.site_columns import CATALOG, TOP, column
from bridge.sandbox.site_model import MANIFEST, SiteOptions, attachment_href
from bridge.sandbox.site_variants import site_meta_tags

if TYPE_CHECKING:
    from bridge.sandbox.site_listing import Entry
    from bridge.sandbox.site_model import ItemInfo

__all__ = ["COLUMNS", "COLUMN_NAMES", "COLUMN_PATHS", "MANIFEST"]

COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (c.key, c.trs_path, c.name) for c in CATALOG[: len(TOP)]
)
"""(key, path, name) per column of a default site: the six top columns of the catalog
(site_columns.py); the name is also the item's 组配分类. ``Manifest.columns`` has any site's."""

COLUMN_PATHS = {key: path for key, path, _ in COLUMNS}
COLUMN_NAMES = {key: name for key, _, name in COLUMNS}
HANWEB_IDS = {c.key: c.hanweb_id for c in CATALOG[: len(TOP)]}
"""Hanweb column ids of the six (docs/sandbox-hanweb.md); sub-columns go on from 1235."""

LIST_TITLE_CHARS = 24  # TRS and Hanweb list templates cut titles to 24 characters and add "..."
MIXED_DATES = ("iso", "mm-dd", "bracket", "chinese")  # list_dates="mixed": by column, in turn

GENERIC_HEAD = (
    '<meta name="keywords" content="余姚教育网,余姚市教育局,政府信息公开">\n'
    '<meta name="description" content="余姚市教育局政府信息公开">'
)
"""The site-wide meta tags of every page; a site with variants has the government ones
(site_variants.py) in their place."""

# Tokens the server replaces on every request (site_server.py); ASCII, so they survive GBK.
VISITS = "{{sandbox.visits}}"
NOW = "{{sandbox.now}}"
NOW_ISO = "{{sandbox.now_iso}}"


# --- shared ----------------------------------------------------------------------------------


def column_url(key: str, opts: SiteOptions) -> str:
    """The URL path of a column's first list page."""
    return column(key).folder(opts.style) + "index.html"


def charset_meta(opts: SiteOptions, kind: str) -> str:
    """The page's only charset declaration; GBK sites use both real forms (detail vs lists).

    The lists declare gb2312 while carrying GBK-only characters, as many real sites do, so a
    reader that trusts the label strictly fails there.
    """
    if opts.encoding == "utf-8":
        return '<meta charset="utf-8">'
    if kind == "detail":
        return '<meta charset="gbk">'
    return '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'


@cache
def _template() -> string.Template:
    return string.Template((DATA_DIR / "page.html").read_text(encoding="utf-8"))


def page(
    title: str,
    crumb: str,
    main: str,
    opts: SiteOptions,
    kind: str = "list",
    head: str = GENERIC_HEAD,
    menus: tuple[str, str] | None = None,
) -> bytes:
    """``main`` inside the site chrome, as on real sites: the nav links the six top columns,
    the side menu every column of the site (the same six on a default site). ``head``: the
    meta tags after the title; ``menus``: another (nav, side menu), as on the home page of
    a site with variants (site_entrance.py)."""
    nav, aside = _menus(opts) if menus is None else menus
    text = _template().substitute(
        charset=charset_meta(opts, kind),
        title=html.escape(title),
        head=head,
        nav=nav,
        crumb=crumb,
        side=aside,
        main=main,
    )
    return text.encode(opts.codec)


@cache
def _menus(opts: SiteOptions) -> tuple[str, str]:
    links = [(column_url(c.key, opts), c.name) for c in opts.column_list]
    nav = "\n".join(f'<li><a href="{u}">{n}</a></li>' for u, n in links[: len(TOP)])
    side = "".join(f'<li><a href="{u}">{n}</a></li>' for u, n in links)
    return nav, f'<div class="side"><h3>信息公开目录</h3><ul>{side}</ul></div>'


def category_crumb(key: str) -> str:
    """A sub-column's breadcrumb names its category first: 业务工作 &gt; 招生考试."""
    col = column(key)
    return "" if col.top else f"{col.category_name} &gt; "


def detail_crumb(item: ItemInfo, column_href: str) -> str:
    """The breadcrumb of an article from its column on: 业务工作 &gt; [招生考试] &gt; 正文."""
    col = column(item.column)
    if col.top:
        return f'<a href="{column_href}">{item.category}</a> &gt; 正文'
    return f'{item.category} &gt; <a href="{column_href}">{col.name}</a> &gt; 正文'


def shown_title(title: str) -> str:
    """The list text: the title cut to 24 characters plus "..." when longer."""
    return title if len(title) <= LIST_TITLE_CHARS else title[:LIST_TITLE_CHARS] + "..."


def date_form(opts: SiteOptions, key: str) -> str:
    if opts.list_dates != "mixed":
        return opts.list_dates
    return MIXED_DATES[column(key).index % len(MIXED_DATES)]


def list_date(day: date, form: str) -> str:
    """A list date as the template writes it: 2012-12-03, 12-03, [2012-12-03], 2012年12月3日."""
    if form == "mm-dd":
        return f"{day:%m-%d}"
    if form == "bracket":
        return f"[{day:%Y-%m-%d}]"
    if form == "chinese":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day:%Y-%m-%d}"


def volatile_block() -> str:
    """What changes on every view; placed inside the body container, so a naive hash moves."""
    return (
        f"<!-- generated {NOW_ISO} -->\n"
        f'<p class="gen-time">页面生成时间：{NOW}</p>\n'
        f'<p class="visits">浏览次数：<span id="visits">{VISITS}</span></p>'
    )


def meta_table(item: ItemInfo) -> str:
    """The disclosure metadata table, labels oddly spaced as real sites have them."""
    return (
        '<table class="xxgk_table">\n'
        f'<tr><td class="label">索 引 号：</td><td>{item.index_no}</td>'
        f'<td class="label">发布机构：</td><td>{PUBLISHER}</td></tr>\n'
        f'<tr><td class="label">生成日期：</td><td>{item.created.isoformat()}</td>'
        f'<td class="label">文　　号：</td><td>{item.doc_no or ""}</td></tr>\n'
        f'<tr><td class="label">标　　题：</td><td colspan="3">{html.escape(item.title)}</td></tr>\n'
        f'<tr><td class="label">主题分类：</td><td>{item.topic}</td>'
        '<td class="label">公开方式：</td><td>主动公开</td></tr>\n</table>'
    )


# --- TRS -------------------------------------------------------------------------------------


def trs_href(entry: Entry, base: str) -> str:
    """How a TRS list links an entry: relative to the column folder, absolute off-site."""
    if entry.offsite:
        return entry.url
    if entry.url.startswith(base):
        return "./" + entry.url.removeprefix(base)
    return posixpath.relpath(entry.url, base)  # cross-listed: ../ywgz/202611/t….html


def _entry(entry: Entry, href: str, form: str, cls: str = "date") -> str:
    full, shown = html.escape(entry.title), html.escape(shown_title(entry.title))
    start = '<li class="top"><span class="zd">[置顶]</span>' if entry.pinned else "<li>"
    return (
        f'{start}<a href="{href}" title="{full}" target="_blank">{shown}</a>'
        f'<span class="{cls}">{list_date(entry.day, form)}</span></li>'
    )


def render_list(
    key: str,
    entries: list[Entry],
    number: int,
    count: int,
    opts: SiteOptions,
    pager: str | None = None,
    head: str = GENERIC_HEAD,
) -> bytes:
    """Page ``number`` (0-based) of ``count`` of a column listing: ul.list plus the pager call.

    ``pager`` replaces the ``createPageHTML`` call (the other pagers of site_variant_pages.py).
    """
    base, name = column(key).trs_path, column(key).name
    form = date_form(opts, key)
    lines = [_entry(e, trs_href(e, base), form) for e in entries]
    ul = (
        '<ul class="list">\n' + "".join(f"{li}\n" for li in lines) + "</ul>"
        if lines
        else '<ul class="list"></ul>'
    )
    script = f'<script type="text/javascript">createPageHTML({count}, {number}, "index", "html");</script>'
    if pager is not None:
        script = pager
    main = f'<div class="column-title"><h2>{name}</h2></div>\n{ul}\n{script}'
    crumb = f'&gt; 信息公开 &gt; {category_crumb(key)}<a href="{base}index.html">{name}</a>'
    return page(f"{name} - 余姚教育网", crumb, main, opts, head=head)


def attachment_links(item: ItemInfo, relative: bool) -> str:
    """``<li>`` links of an item's attachments, relative to its folder (TRS) or as stored."""
    folder = item.path.rsplit("/", 1)[0] + "/"
    out = []
    for att in item.attachments:
        href = attachment_href(att)
        if relative and href.startswith(folder):
            href = "./" + href.removeprefix(folder)
        out.append(f'<li><a href="{html.escape(href)}">{html.escape(att["name"])}</a></li>')
    return "".join(out)


def render_detail(item: ItemInfo, body_html: str, opts: SiteOptions) -> bytes:
    """A detail page: metadata table (most items), title, info line, body, attachments."""
    title = html.escape(item.title)
    parts = [meta_table(item)] if item.has_meta_table else []
    parts.append(f'<h1 class="title">{title}</h1>')
    parts.append(
        f'<div class="info">发布时间：{item.published:%Y-%m-%d %H:%M}　来源：{PUBLISHER}</div>'
    )
    extra = f"\n{volatile_block()}" if opts.volatile else ""
    parts.append(f'<div class="TRS_Editor">\n{body_html}{extra}\n</div>')
    if item.attachments:
        links = attachment_links(item, relative=True)
        parts.append(f'<div class="attachments"><p>附件：</p><ul>{links}</ul></div>')
    parts.append(
        '<div class="tools"><a href="javascript:window.print()">【打印本页】</a> '
        '<a href="javascript:window.close()">【关闭窗口】</a></div>'
    )
    main = '<div class="article">\n' + "\n".join(parts) + "\n</div>"
    crumb = f"&gt; 信息公开 &gt; {detail_crumb(item, column(item.column).trs_path + 'index.html')}"
    return page(f"{item.title} - 余姚教育网", crumb, main, opts, kind="detail")


def render_home(
    newest: list[ItemInfo], opts: SiteOptions, menus: tuple[str, str] | None = None
) -> bytes:
    """The home page: the column nav (or ``menus``) and the newest items across the site."""
    rows = []
    for i in newest:
        full, shown = html.escape(i.title), html.escape(shown_title(i.title))
        rows.append(
            f'<li><a href="{i.path}" title="{full}" target="_blank">{shown}</a>'
            f'<span class="time">{i.published:%Y-%m-%d}</span></li>\n'
        )
    main = f'<div class="block"><h2>最新公开</h2>\n<ul class="news">\n{"".join(rows)}</ul></div>'
    head = site_meta_tags() if opts.variants else GENERIC_HEAD
    return page("余姚教育网 - 余姚市教育局", "", main, opts, "home", head, menus)
