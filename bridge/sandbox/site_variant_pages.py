"""The markup of a sandbox site with variants: metadata layouts, article pages, TRS pagers.

Each layout copies the shape of a real page (shared/realpages): ``table.xxgk_table`` is the
sandbox's own, ``handan`` the 邯郸 TRS label blocks with the 成文日期 inside a comment,
``govcn`` the 中国政府网 ``table.bd1``, ``xxgk_info`` a list with spaced labels, ``dl`` labels
without colons. The ``countPage`` pager is 邯郸's script (10_handan_trs_list.html) with the
links pre-rendered after it, as that page has them. What each item gets is decided in
site_variants.py; docs/sandbox-variants.md shows every form.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from bridge.sandbox.site_columns import column
from bridge.sandbox.site_hanweb import article_tail
from bridge.sandbox.site_listing import Entry
from bridge.sandbox.site_model import ItemInfo, Manifest, SiteOptions
from bridge.sandbox.site_pages import (
    attachment_links,
    column_url,
    detail_crumb,
    page,
    render_list,
    volatile_block,
)
from bridge.sandbox.site_variants import (
    HIDDEN_CREATED,
    NO_LAYOUT,
    PAGERS,
    article_meta_tags,
    info_source,
    list_meta_tags,
    truth,
)

WINDOW = 6  # page numbers a pager shows around the current page (邯郸's num=6)
CONTAINERS = {
    "TRS_Editor": '<div class="TRS_Editor">',
    "TRS_UEDITOR": '<div class="view TRS_UEDITOR trs_paper_default">',
    "zoom": '<div id="zoom">',
}


def _iso(day: date) -> str:
    return day.isoformat()


def _cn_padded(day: date | datetime) -> str:
    return f"{day:%Y}年{day:%m}月{day:%d}日"  # 2012年12月03日, as 中国政府网 and 邯郸 write it


def _cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- metadata layouts ------------------------------------------------------------------------


class Fields:
    """The values a metadata block shows, escaped; ``title`` None when only the meta tags
    carry it, ``created_label`` None when the block shows no 成文日期."""

    def __init__(self, item: ItemInfo, shown: Mapping[str, Any]):
        v = item.variants or {}
        self.item = item
        self.index_no = html.escape(str(shown["index_no"] or ""))
        self.publisher_label = str(v["publisher_label"])
        self.publisher = html.escape(str(shown["publisher"]))
        self.title = html.escape(item.title) if shown["title_in"] == "h1" else None
        self.doc_no = html.escape(str(v["doc_no_cell"]))
        self.created_label: str | None = v["created_label"]
        self.created = item.created
        self.published = item.published
        self.topic = html.escape(item.topic)


def _xxgk_table(f: Fields) -> str:
    title = (
        f'<tr><td class="label">标　　题：</td><td colspan="3">{f.title}</td></tr>\n'
        if f.title is not None
        else ""
    )
    return (
        '<table class="xxgk_table">\n'
        f'<tr><td class="label">索 引 号：</td><td>{f.index_no}</td>'
        f'<td class="label">{f.publisher_label}：</td><td>{f.publisher}</td></tr>\n'
        f'<tr><td class="label">{f.created_label}：</td><td>{_iso(f.created)}</td>'
        f'<td class="label">文　　号：</td><td>{f.doc_no}</td></tr>\n'
        f"{title}"
        f'<tr><td class="label">主题分类：</td><td>{f.topic}</td>'
        '<td class="label">公开方式：</td><td>主动公开</td></tr>\n</table>'
    )


def _handan(f: Fields) -> str:
    """邯郸 (09_handan_trs_detail.html): the 成文日期 only inside a comment."""
    title = f"<p><strong>名称</strong>：{f.title}</p>\n" if f.title is not None else ""
    return (
        '<div class="top cf">\n<div class="top-l fl">\n'
        f"<p><strong>索引号</strong>：{f.index_no}</p>\n"
        f"<p><strong>{f.publisher_label}</strong>：{f.publisher}</p>\n"
        f"{title}"
        f"<p><strong>文号</strong>：{f.doc_no}</p>\n"
        "<!--<p><strong>主题词</strong>：</p>-->\n"
        '</div>\n<div class="top-r fr">\n'
        f"<p><strong>主题分类</strong>：{f.topic}</p>\n"
        f"<!--<p><strong>{HIDDEN_CREATED}</strong>：{_cn_padded(f.created)}</p>-->\n"
        f"<p><strong>发布日期</strong>：{_cn_padded(f.published)}</p>\n"
        '</div>\n<div style="clear: both;"></div>\n</div>'
    )


def _govcn(f: Fields) -> str:
    """中国政府网 (01–04_govcn_detail_*.html): 4 columns, <b> labels, an empty 主题词 row."""
    title = (
        f'<tr><td><b>标　　题：</b></td><td colspan="3">{f.title}</td></tr>\n'
        if f.title is not None
        else ""
    )
    return (
        '<table width="860" border="0" cellpadding="0" cellspacing="0" class="bd1">\n<tbody>\n'
        f'<tr><td width="70"><b>索 引 号：</b></td><td width="360">{f.index_no}</td>'
        f'<td width="70"><b>主题分类：</b></td><td width="360">{f.topic}</td></tr>\n'
        f"<tr><td><b>{f.publisher_label}：</b></td><td>{f.publisher}</td>"
        f"<td><b>{f.created_label}：</b></td><td>{_cn_padded(f.created)}</td></tr>\n"
        f"{title}"
        f"<tr><td><b>发文字号：</b></td><td>{f.doc_no}</td>"
        f"<td><b>发布日期：</b></td><td>{_cn_padded(f.published)}</td></tr>\n"
        "</tbody>\n</table>\n"
        '<table width="860" border="0" cellpadding="0" cellspacing="0" class="bd1">\n<tbody>\n'
        '<tr><td width="70" valign="top"><b>主 题 词：</b></td><td width="351" valign="top">'
        '</td><td width="68" valign="top"></td><td valign="top"></td></tr>\n</tbody>\n</table>'
    )


def _xxgk_info(f: Fields) -> str:
    rows = [("索&ensp;引&ensp;号", f.index_no), (f.publisher_label, f.publisher)]
    if f.title is not None:
        rows.append(("标&emsp;&emsp;题", f.title))
    rows.append(("文&emsp;&emsp;号", f.doc_no))
    if f.created_label:
        rows.append((f.created_label, _iso(f.created)))
    rows += [("主题分类", f.topic), ("发布日期", f"{f.published:%Y-%m-%d}")]
    items = "".join(f"<li><span>{label}：</span>{value}</li>\n" for label, value in rows)
    return f'<ul class="xxgk-info">\n{items}</ul>'


def _dl(f: Fields) -> str:
    rows = [("索引号", f.index_no), (f.publisher_label, f.publisher)]
    if f.title is not None:
        rows.append(("标题", f.title))
    rows.append(("文号", f.doc_no))
    if f.created_label:
        rows.append((f.created_label, _cn(f.created)))
    rows.append(("主题分类", f.topic))
    return '<dl class="xxgk">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


LAYOUT_MARKUP: dict[str, Callable[[Fields], str]] = {
    "xxgk_table": _xxgk_table,
    "handan": _handan,
    "govcn": _govcn,
    "xxgk_info": _xxgk_info,
    "dl": _dl,
}


def metadata_block(item: ItemInfo, shown: Mapping[str, Any]) -> str | None:
    layout = (item.variants or {}).get("layout", NO_LAYOUT)
    if layout == NO_LAYOUT:
        return None
    return LAYOUT_MARKUP[layout](Fields(item, shown))


# --- articles --------------------------------------------------------------------------------


def render_detail(item: ItemInfo, body_html: str, opts: SiteOptions) -> bytes:
    """An article of a site with variants, TRS or Hanweb."""
    shown = truth(item, opts)
    parts = [block] if (block := metadata_block(item, shown)) else []
    article = _hanweb_article if opts.style == "hanweb" else _trs_article
    parts += article(item, body_html, opts, shown["title_in"] == "h1")
    main = '<div class="article">\n' + "\n".join(parts) + "\n</div>"
    crumb = f"&gt; 信息公开 &gt; {detail_crumb(item, column_url(item.column, opts))}"
    head = article_meta_tags(item, body_html, shown)
    return page(f"{item.title} - 余姚教育网", crumb, main, opts, kind="detail", head=head)


def _source(item: ItemInfo) -> str:
    """The info line's 来源：… or 信息来源：…"""
    return f"{(item.variants or {})['info_label']}：{html.escape(info_source(item))}"


def _trs_article(item: ItemInfo, body_html: str, opts: SiteOptions, h1: bool) -> list[str]:
    """Title, info line, body container, attachments and tools, as site_pages has them."""
    v = item.variants or {}
    parts = [f'<h1 class="title">{html.escape(item.title)}</h1>'] if h1 else []
    parts.append(
        f'<div class="info">发布时间：{item.published:%Y-%m-%d %H:%M}　{_source(item)}</div>'
    )
    extra = f"\n{volatile_block()}" if opts.volatile else ""
    parts.append(f"{CONTAINERS[v['body_container']]}\n{body_html}{extra}\n</div>")
    if item.attachments:
        parts.append(_trs_attachments(item, v["attachments"]))
    parts.append(
        '<div class="tools"><a href="javascript:window.print()">【打印本页】</a> '
        '<a href="javascript:window.close()">【关闭窗口】</a></div>'
    )
    return parts


def _hanweb_article(item: ItemInfo, body_html: str, opts: SiteOptions, h1: bool) -> list[str]:
    """Title cell, info line, the body between the ZJEG_RSS markers, files: site_hanweb's."""
    parts = []
    if h1:
        parts.append(
            '<table class="title-table" width="100%"><tr><td class="title">'
            f"<!--<$[标题名称]>begin-->{html.escape(item.title)}<!--<$[标题名称]>end-->"
            "</td></tr></table>"
        )
    return parts + article_tail(item, body_html, opts, _source(item))


def _trs_attachments(item: ItemInfo, block: str) -> str:
    links = attachment_links(item, relative=True)
    if block == "list":
        return f'<div class="attachments"><p>附件：</p><ul>{links}</ul></div>'
    # div.fjxz: one "附件：<a>name</a>" line per file, as many TRS templates print them
    lines = links.replace("<li>", "<p>附件：").replace("</li>", "</p>\n")
    return f'<div class="fjxz">\n{lines}</div>'


# --- TRS list pagers -------------------------------------------------------------------------


def render_trs_list(
    manifest: Manifest, key: str, entries: list[Entry], number: int, count: int, records: int
) -> bytes:
    """A TRS list page of a site with variants: its column's pager and the meta tags.
    ``records``: the column's dated entries (its live items)."""
    kind = manifest.paging.get(key, PAGERS[0])
    base = column(key).trs_path
    pager = trs_pager(kind, base, number, count, records, manifest.page_size)
    opts = manifest.options
    return render_list(key, entries, number, count, opts, pager, head=list_meta_tags(key))


def _name(base: str, number: int) -> str:
    return f"{base}index.html" if number == 0 else f"{base}index_{number}.html"


def trs_pager(kind: str, base: str, number: int, count: int, records: int, size: int) -> str | None:
    """The pager markup of page ``number`` (0-based) of ``count``; None: createPageHTML.

    ``records`` is the column's dated entries (pinned copies and off-site links are extra,
    on page 1), so ``ceil(records / size)`` is ``count`` (at least 1).
    """
    if kind == "countPage":
        return _count_page(base, number, count, records)
    if kind == "recordCount":
        script = (
            f'<script type="text/javascript">var recordCount = {records}; var pageSize = {size};'
            f" var currentPage = {number + 1};</script>"
        )
        return f'<div class="pagination">{script}\n{_links(base, number, count)}</div>'
    if kind == "text":
        after = f' <a href="{_name(base, number + 1)}">下一页</a>' if number + 1 < count else ""
        return (
            f'<div class="page"><span>共{count}页</span> <span>第{number + 1}页</span>{after}</div>'
        )
    return None


def _links(base: str, number: int, count: int) -> str:
    """首页, 上一页, up to WINDOW numbers around ``number``, 下一页, 尾页 as plain links."""
    start = max(0, min(number - 2, count - WINDOW))
    out = [f'<a href="{_name(base, 0)}">首页</a>']
    if number > 0:
        out.append(f'<a href="{_name(base, number - 1)}">上一页</a>')
    for i in range(start, min(start + WINDOW, count)):
        out.append(
            f'<span class="current">{i + 1}</span>'
            if i == number
            else f'<a href="{_name(base, i)}">{i + 1}</a>'
        )
    if number + 1 < count:
        out.append(f'<a href="{_name(base, number + 1)}">下一页</a>')
    out.append(f'<a href="{_name(base, count - 1)}">尾页</a>')
    return " ".join(out)


_COUNT_PAGE_SCRIPT = """<script language="javascript">
var countnum= %(records)d;
var currentPage=%(number)d;
var prevPage=currentPage-1
var nextPage=currentPage+1
var countPage=%(count)d
var endPage=countPage-1
document.write("<a href=\\"index.html\\" target=\\"_self\\" >首页</a>&nbsp;&nbsp;");
if(countPage>1&&currentPage!=0&&currentPage!=1)
    document.write("<a  href=\\"index"+"_"+prevPage+"."+"html\\" target=\\"_self\\">上一页</a>&nbsp;&nbsp;");
else if(countPage>1&&currentPage!=0&&currentPage==1)
    document.write("<a  href=\\"index.html\\" target=\\"_self\\">上一页</a>&nbsp;&nbsp;");
else
    document.write("<span class='bg'>上一页</span>&nbsp;&nbsp;");
var num=6;
var startPage=currentPage-2;
if(startPage<0)startPage=0;
var endpage=startPage+num;
if(endpage>countPage)
    endpage=countPage;
startPage=endpage-6;
if(startPage<0)startPage=0;
for(var i=startPage;i<endpage;i++){
    if(currentPage==i)
        document.write("<span class='now'>"+(i+1)+"</span>&nbsp;&nbsp;");
    else if(i==0){
        document.write("<a  href=\\"index.html\\" target=\\"_self\\" class='pnum'>"+1+"</a>&nbsp;&nbsp;");
    }else
        document.write("<a href=\\"index"+"_"+i+"."+"html\\" target=\\"_self\\" class='pnum'>"+(i+1)+"</a>&nbsp;&nbsp;");}
if(countPage>1&&currentPage!=(countPage-1))
    document.write("<a href=\\"index"+"_"+nextPage+"."+"html\\" target=\\"_self\\">下一页</a>&nbsp;&nbsp;");
else
    document.write("<span class='bg'>下一页</span>&nbsp;&nbsp;");
if(countPage==1)
    document.write("<a  href=\\"index.html\\" target=\\"_self\\">尾页</a>");
else if(countPage>1)
    document.write("<a  href=\\"index_"+endPage+".html\\" target=\\"_self\\">尾页</a>");
</script>"""


def _count_page(base: str, number: int, count: int, records: int) -> str:
    """邯郸's pager: the script, then what it writes, pre-rendered with absolute paths."""
    sep = "&nbsp;&nbsp;"

    def link(n: int, text: str, cls: str = "") -> str:
        extra = f' class="{cls}"' if cls else ""
        return f'<a href="{_name(base, n)}" target="_self"{extra}>{text}</a>{sep}'

    out = [link(0, "首页")]
    out.append(link(number - 1, "上一页") if number > 0 else f'<span class="bg">上一页</span>{sep}')
    end = min(max(0, number - 2) + WINDOW, count)
    for i in range(max(0, end - WINDOW), end):
        out.append(
            f'<span class="now">{i + 1}</span>{sep}' if i == number else link(i, str(i + 1), "pnum")
        )
    if number + 1 < count:
        out.append(link(number + 1, "下一页"))
    else:
        out.append(f'<span class="bg">下一页</span>{sep}')
    out.append(link(count - 1, "尾页").removesuffix(sep))
    script = _COUNT_PAGE_SCRIPT % {"records": records, "number": number, "count": count}
    return f'<div class="page_box">\n<div class="page">\n{script}{"".join(out)}</div>\n</div>'


__all__ = ["metadata_block", "render_detail", "render_trs_list", "trs_pager"]
