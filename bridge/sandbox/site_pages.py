"""How the sandbox site looks: its columns, URL layout and TRS-style markup.

The bridge's TRS parser is written against exactly this markup (``ul.list`` entries with the
full title in ``title=``, ``createPageHTML(count, index, ...)``, ``table.xxgk_table`` with the
oddly spaced labels, ``div.TRS_Editor``), so it changes only together with that contract. The
chrome around it (header, nav, side menu, footer) comes from data/page.html and is there so a
parser has to select, as on a real site.
"""

from __future__ import annotations

import html
import string
from functools import cache
from typing import TYPE_CHECKING

from bridge.sandbox.content import DATA_DIR, PUBLISHER

if TYPE_CHECKING:
    from bridge.sandbox.site import ItemInfo

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("jgzn", "/xxgk/jgzn/", "机构职能"),
    ("zcwj", "/xxgk/zcwj/", "政策文件"),
    ("ghjh", "/xxgk/ghjh/", "规划计划"),
    ("ywgz", "/xxgk/ywgz/", "业务工作"),
    ("tjsj", "/xxgk/tjsj/", "统计数据"),
    ("qt", "/xxgk/qt/", "其他"),
)
"""(key, path, name) per column; the name is also the item's 组配分类."""

COLUMN_PATHS = {key: path for key, path, _ in COLUMNS}
COLUMN_NAMES = {key: name for key, _, name in COLUMNS}
MANIFEST = "site.json"  # the CMS database in the site root; never served
LIST_TITLE_CHARS = 24  # TRS list templates cut titles to 24 characters and add "..."


# --- markup ----------------------------------------------------------------------------------


@cache
def _template() -> string.Template:
    return string.Template((DATA_DIR / "page.html").read_text(encoding="utf-8"))


def _page(title: str, crumb: str, main: str) -> bytes:
    """``main`` inside the site chrome; nav and side menu link every column, as real sites do."""
    nav = "\n".join(f'<li><a href="{p}index.html">{n}</a></li>' for _, p, n in COLUMNS)
    links = "".join(f'<li><a href="{p}index.html">{n}</a></li>' for _, p, n in COLUMNS)
    aside = f'<div class="side"><h3>信息公开目录</h3><ul>{links}</ul></div>'
    page = _template().substitute(
        title=html.escape(title), nav=nav, crumb=crumb, side=aside, main=main
    )
    return page.encode("utf-8")


def shown_title(title: str) -> str:
    """The list text: the title cut to 24 characters plus "..." when longer."""
    return title if len(title) <= LIST_TITLE_CHARS else title[:LIST_TITLE_CHARS] + "..."


def _entry(item: ItemInfo, href: str, cls: str = "date") -> str:
    full, shown = html.escape(item.title), html.escape(shown_title(item.title))
    return (
        f'<li><a href="{href}" title="{full}" target="_blank">{shown}</a>'
        f'<span class="{cls}">{item.published:%Y-%m-%d}</span></li>'
    )


def render_list(key: str, entries: list[ItemInfo], number: int, count: int) -> bytes:
    """Page ``number`` (0-based) of ``count`` of a column listing: ul.list plus the pager call."""
    base = COLUMN_PATHS[key]
    lines = [_entry(i, "./" + i.path.removeprefix(base)) for i in entries]
    ul = (
        '<ul class="list">\n' + "".join(f"{li}\n" for li in lines) + "</ul>"
        if lines
        else '<ul class="list"></ul>'
    )
    script = f'<script type="text/javascript">createPageHTML({count}, {number}, "index", "html");</script>'
    main = f'<div class="column-title"><h2>{COLUMN_NAMES[key]}</h2></div>\n{ul}\n{script}'
    crumb = f'&gt; 信息公开 &gt; <a href="{base}index.html">{COLUMN_NAMES[key]}</a>'
    return _page(f"{COLUMN_NAMES[key]} - 余姚教育网", crumb, main)


def render_detail(item: ItemInfo) -> bytes:
    """A detail page: metadata table (most items), title, info line, body, attachments."""
    title = html.escape(item.title)
    parts = []
    if item.has_meta_table:
        parts.append(
            '<table class="xxgk_table">\n'
            f'<tr><td class="label">索 引 号：</td><td>{item.index_no}</td>'
            f'<td class="label">发布机构：</td><td>{PUBLISHER}</td></tr>\n'
            f'<tr><td class="label">生成日期：</td><td>{item.created.isoformat()}</td>'
            f'<td class="label">文　　号：</td><td>{item.doc_no or ""}</td></tr>\n'
            f'<tr><td class="label">标　　题：</td><td colspan="3">{title}</td></tr>\n'
            f'<tr><td class="label">主题分类：</td><td>{item.topic}</td>'
            '<td class="label">公开方式：</td><td>主动公开</td></tr>\n</table>'
        )
    parts.append(f'<h1 class="title">{title}</h1>')
    parts.append(
        f'<div class="info">发布时间：{item.published:%Y-%m-%d %H:%M}　来源：{PUBLISHER}</div>'
    )
    parts.append(f'<div class="TRS_Editor">\n{item.body_html}\n</div>')
    if item.attachments:
        links = "".join(
            f'<li><a href="./{a["path"].rsplit("/", 1)[1]}">{html.escape(a["name"])}</a></li>'
            for a in item.attachments
        )
        parts.append(f'<div class="attachments"><p>附件：</p><ul>{links}</ul></div>')
    parts.append(
        '<div class="tools"><a href="javascript:window.print()">【打印本页】</a> '
        '<a href="javascript:window.close()">【关闭窗口】</a></div>'
    )
    main = '<div class="article">\n' + "\n".join(parts) + "\n</div>"
    base = COLUMN_PATHS[item.column]
    crumb = f'&gt; 信息公开 &gt; <a href="{base}index.html">{item.category}</a> &gt; 正文'
    return _page(f"{item.title} - 余姚教育网", crumb, main)


def render_home(newest: list[ItemInfo]) -> bytes:
    """The home page: the column nav and the newest items across the site."""
    items = "".join(f"{_entry(i, i.path, 'time')}\n" for i in newest)
    main = f'<div class="block"><h2>最新公开</h2>\n<ul class="news">\n{items}</ul></div>'
    return _page("余姚教育网 - 余姚市教育局", "", main)
