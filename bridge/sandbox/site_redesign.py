"""The site after ``relayout()``: a new CMS template, as after a real redesign.

List pages no longer carry their entries (a script loads them from ``list.json`` next to the
page), TRS pagers and Hanweb record XML are gone, and articles have their body in
``<article class="content">`` instead of ``div.TRS_Editor`` or the ZJEG_RSS markers. The URLs
of articles stay what they were. Every selector of the TRS and Hanweb presets now misses,
which the bridge must report as a layout alarm rather than as "no new items".
"""

from __future__ import annotations

import html
import json

from bridge.sandbox.content import PUBLISHER
from bridge.sandbox.site_columns import column
from bridge.sandbox.site_listing import Entry
from bridge.sandbox.site_model import ItemInfo, SiteOptions, attachment_href
from bridge.sandbox.site_pages import category_crumb, column_url, page, volatile_block

LIST_SCRIPT = "/js/list.js"


def render_list(key: str, opts: SiteOptions) -> bytes:
    """The column page: an empty container and the script that fills it from list.json."""
    name = column(key).name
    main = (
        f'<div class="column-head"><h2>{name}</h2></div>\n'
        '<div id="list" data-src="list.json"></div>\n'
        f'<script type="text/javascript" src="{LIST_SCRIPT}"></script>'
    )
    crumb = f'&gt; 信息公开 &gt; {category_crumb(key)}<a href="{column_url(key, opts)}">{name}</a>'
    return page(f"{name} - 余姚教育网", crumb, main, opts)


def list_json(entries: list[Entry]) -> bytes:
    """All entries of a column for the script; JSON is UTF-8 whatever the pages use."""
    rows = [
        {"title": e.title, "url": e.url, "date": e.day.isoformat(), "top": e.pinned}
        for e in entries
    ]
    return json.dumps({"total": len(rows), "list": rows}, ensure_ascii=False).encode("utf-8")


def render_detail(item: ItemInfo, body_html: str, opts: SiteOptions) -> bytes:
    """An article in the new template: a definition list for the metadata, then the body."""
    parts = [f'<h1 class="article-title">{html.escape(item.title)}</h1>']
    if item.has_meta_table:
        pairs = (
            ("索引号", item.index_no or ""),
            ("发布机构", PUBLISHER),
            ("成文日期", item.created.isoformat()),
            ("文号", item.doc_no or ""),
        )
        rows = "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in pairs)
        parts.append(f'<dl class="article-meta">{rows}</dl>')
    parts.append(f'<p class="article-date">{item.published:%Y-%m-%d %H:%M}</p>')
    extra = f"\n{volatile_block()}" if opts.volatile else ""
    parts.append(f'<article class="content">\n{body_html}{extra}\n</article>')
    if item.attachments:
        links = "".join(
            f'<li><a href="{html.escape(attachment_href(a))}">{html.escape(a["name"])}</a></li>'
            for a in item.attachments
        )
        parts.append(f'<ul class="files">{links}</ul>')
    main = '<div class="article-wrap">\n' + "\n".join(parts) + "\n</div>"
    crumb = f'&gt; <a href="{column_url(item.column, opts)}">{column(item.column).name}</a>'
    return page(f"{item.title} - 余姚教育网", crumb, main, opts, kind="detail")
