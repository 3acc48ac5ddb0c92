"""The Hanweb (大汉 JCMS) markup of the sandbox site, exactly as docs/sandbox-hanweb.md says.

Column pages embed the first ``perpage`` records as XML in ``<script type="text/xml">``;
later records come from ``dataproxy.jsp``, which the server answers from the record lists
written here into ``.cms/dataproxy/`` (the server never loads the manifest). Articles carry
the body between the ``ZJEG_RSS.content`` markers and link attachments through
``downfile.jsp``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from bridge.sandbox.content import PUBLISHER
from bridge.sandbox.site_columns import column
from bridge.sandbox.site_listing import Entry
from bridge.sandbox.site_model import CMS_DIR, ItemInfo, SiteOptions, attachment_href
from bridge.sandbox.site_pages import (
    GENERIC_HEAD,
    VISITS,
    category_crumb,
    column_url,
    date_form,
    detail_crumb,
    list_date,
    meta_table,
    page,
    shown_title,
    volatile_block,
)

UNIT_ID = 7701
WEB_ID = 1
MODULE_ID = 4497  # the id of the list module's <div>, fixed per template
WEB_NAME = quote("余姚教育网")
PROXY = "/module/web/jpage/dataproxy.jsp"
DOWNFILE = "/module/download/downfile.jsp"
UPLOADS = "/module/download/upfile/"  # where downfile.jsp finds the stored files
DATE_TAG_CYCLE = ("b", "span", "td")
"""The element holding the list date, by column in turn (real Hanweb templates vary it so):
jgzn b, zcwj span, ghjh td, ywgz b, tjsj span, qt td, and on through the sub-columns."""


def date_tag(key: str) -> str:
    return DATE_TAG_CYCLE[column(key).index % len(DATE_TAG_CYCLE)]


def article_path(key: str, serial: int, day_published: tuple[int, int, int]) -> str:
    """``/art/YYYY/M/D/art_<columnid>_<serial>.html``: month and day not zero-padded."""
    y, m, d = day_published
    return f"/art/{y}/{m}/{d}/art_{column(key).hanweb_id}_{serial:06d}.html"


def downfile_href(stored: str) -> str:
    """The download link of a stored file; ``stored`` is its path under UPLOADS."""
    return f"{DOWNFILE}?classid=0&filename={quote(stored)}"


def proxy_store(root: Path, key: str) -> Path:
    return root / CMS_DIR / "dataproxy" / f"{column(key).hanweb_id}.json"


def record_html(entry: Entry, key: str, opts: SiteOptions) -> str:
    """One record's HTML (the CDATA content): a ``<li>``, or a one-row table in td-columns."""
    link = (
        f'<a href="{entry.url}" title="{html.escape(entry.title)}" target="_blank">'
        f"{html.escape(shown_title(entry.title))}</a>"
    )
    marker = '<span class="zd">[置顶]</span>' if entry.pinned else ""
    day = list_date(entry.day, date_form(opts, key))
    tag = date_tag(key)
    if tag == "td":
        row = '<tr class="top">' if entry.pinned else "<tr>"
        return (
            '<table width="100%" border="0" cellspacing="0" cellpadding="0">'
            f'{row}<td class="bt_link">{marker}{link}</td>'
            f'<td class="bt_time" width="90">{day}</td></tr></table>'
        )
    start = '<li class="top">' if entry.pinned else "<li>"
    when = f"<b>{day}</b>" if tag == "b" else f'<span class="bt_time">{day}</span>'
    return f"{start}{marker}{link}{when}</li>"


def render_column(
    key: str, records: list[str], opts: SiteOptions, perpage: int, head: str = GENERIC_HEAD
) -> bytes:
    """The column page ``/col/col<ID>/index.html`` with the first ``perpage`` records."""
    colid, name = column(key).hanweb_id, column(key).name
    nextgroup = (
        f'<a href="{PROXY}?page=1&webid={WEB_ID}&path=/&columnid={colid}&unitid={UNIT_ID}'
        f'&webname={WEB_NAME}&permissiontype=0"></a>'
    )
    shown = "".join(f"<record><![CDATA[\n{r}\n]]></record>\n" for r in records[:perpage])
    main = (
        f'<div class="column-title"><h2>{name}</h2></div>\n'
        f'<div id="{MODULE_ID}"><script type="text/xml"><datastore>\n'
        f"<nextgroup><![CDATA[{nextgroup}]]></nextgroup>\n"
        f"<recordset>\n{shown}</recordset>\n"
        "</datastore></script></div>\n"
        f'<script type="text/javascript">var totalRecord = {len(records)}; var perPage = {perpage};'
        f" var columnid = {colid}; var unitid = {UNIT_ID};</script>\n"
        '<script language="javascript" src="/module/web/jpage/jpage.js"></script>'
    )
    crumb = f'&gt; 信息公开 &gt; {category_crumb(key)}<a href="{column_url(key, opts)}">{name}</a>'
    return page(f"{name} - 余姚教育网", crumb, main, opts, head=head)


def proxy_json(records: list[str], opts: SiteOptions, perpage: int) -> bytes:
    """What dataproxy.jsp answers from: the column's records, its page size and encoding."""
    data = {"encoding": opts.encoding, "perpage": perpage, "records": records}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def proxy_xml(records: list[str], total: int, perpage: int, encoding: str) -> bytes:
    """The data proxy's answer: totals and the requested records; ``<recordset/>`` if none."""
    pages = -(-total // perpage)
    label = "GBK" if encoding == "gbk" else "UTF-8"
    body = "".join(f"<record><![CDATA[{r}]]></record>" for r in records)
    recordset = f"<recordset>{body}</recordset>" if records else "<recordset/>"
    text = (
        f'<?xml version="1.0" encoding="{label}"?>\n'
        f"<datastore><totalrecord>{total}</totalrecord><totalpage>{pages}</totalpage>\n"
        f"{recordset}</datastore>"
    )
    return text.encode("gb18030" if encoding == "gbk" else "utf-8")


def static_visits(item: ItemInfo) -> int:
    """The counter a page shows when it is not volatile: fixed per item."""
    return 100 + item.serial * 7 % 4900


def article_tail(item: ItemInfo, body_html: str, opts: SiteOptions, source: str) -> list[str]:
    """The info line (with ``source``, 信息来源：… or 来源：…), the body between the
    ZJEG_RSS markers and the attachments block of a Hanweb article page."""
    visits = VISITS if opts.volatile else str(static_visits(item))
    parts = [
        f'<div class="info">发布日期：{item.published:%Y-%m-%d}　{source}'
        f'　浏览次数：<span id="visits">{visits}</span></div>'
    ]
    extra = f"{volatile_block()}\n" if opts.volatile else ""
    parts.append(
        '<div id="zoom"><!--ZJEG_RSS.content.begin--><meta name="ContentStart">\n'
        f"{body_html}\n{extra}"
        '<meta name="ContentEnd"><!--ZJEG_RSS.content.end--></div>'
    )
    if item.attachments:
        links = "<br>".join(
            f'<a href="{attachment_href(a)}">{html.escape(a["name"])}</a>' for a in item.attachments
        )
        parts.append(f'<div class="attachments">{links}</div>')
    return parts


def render_detail(item: ItemInfo, body_html: str, opts: SiteOptions) -> bytes:
    """An article page: metadata table (most items), title cell, info line, body, files."""
    parts = [meta_table(item)] if item.has_meta_table else []
    parts.append(
        '<table class="title-table" width="100%"><tr><td class="title">'
        f"<!--<$[标题名称]>begin-->{html.escape(item.title)}<!--<$[标题名称]>end--></td></tr></table>"
    )
    parts += article_tail(item, body_html, opts, f"信息来源：{PUBLISHER}")
    main = '<div class="article">\n' + "\n".join(parts) + "\n</div>"
    crumb = f"&gt; 信息公开 &gt; {detail_crumb(item, column_url(item.column, opts))}"
    return page(f"{item.title} - 余姚教育网", crumb, main, opts, kind="detail")
