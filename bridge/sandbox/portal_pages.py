"""The sandbox portal's public pages: the disclosure catalog as a citizen sees it.

Pure functions from stored records to HTML, so a demo shows items arriving. Every value is
HTML-escaped except ``body_html``, which the bridge has already sanitized and which the
real portal shows as it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote, unquote

from bridge.catalog import CATEGORIES
from bridge.net.query_params import whole_number
from bridge.sandbox.portal_store import PortalStore

PORTAL_TITLE = "余姚市政府信息公开平台"
PAGE_SIZE = 20  # items per page of a category list, as on the real portal
MAX_PAGE = 10**9  # ?page= above this is refused: its offset must fit SQLite's integers

METADATA_ROWS = (
    ("索引号", "index_no"),
    ("发布机构", "publisher"),
    ("生成日期", "created"),
    ("文号", "doc_no"),
    ("组配分类", "category"),
    ("主题分类", "topic"),
    ("体裁分类", "genre"),
    ("公开方式", "disclosure"),
    ("有效性", "validity"),
    ("名称", "title"),
    ("内容概述", "summary"),
)
"""The detail page's metadata table, in the order the portal prints it."""

_STYLE = """
body { font-family: "Microsoft YaHei", "PingFang SC", sans-serif; margin: 0; color: #222; }
header { background: #b71c1c; color: #fff; padding: 12px 24px; }
header a { color: #fff; text-decoration: none; font-size: 22px; }
main { max-width: 960px; margin: 16px auto; padding: 0 16px; }
table { border-collapse: collapse; width: 100%; margin: 12px 0; }
th, td { border: 1px solid #ccc; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; white-space: nowrap; }
nav.pager { margin: 12px 0; }
.notice { color: #b71c1c; font-size: 18px; }
"""


def render(store: PortalStore, path: str, query: Mapping[str, list[str]]) -> tuple[int, str]:
    """The status and HTML of a public page: home, a category list, an item, or 404.

    A bad parameter raises ``BadParameter`` (the portal answers ``bad_request_page``)."""
    if path == "/":
        latest, _ = store.public_list(None, 0, 10)
        return 200, home_page(store.category_counts(), latest)
    if path.startswith("/catalog/items/"):
        record = store.get(unquote(path[len("/catalog/items/") :]))
        if record is None:
            return 404, not_found_page()
        if record["status"] == "withdrawn":
            return 410, withdrawn_page(record)  # 410 Gone: it existed and was taken down
        return 200, detail_page(record)
    if path.startswith("/catalog/"):
        category = unquote(path[len("/catalog/") :])
        if category not in CATEGORIES:
            return 404, not_found_page()
        page = whole_number(query, "page", 1, MAX_PAGE) or 1
        records, total = store.public_list(category, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        if page > 1 and not records:
            return 404, not_found_page()
        return 200, category_page(category, records, page, total)
    return 404, not_found_page()


def content_disposition(name: str) -> str:
    """RFC 6266/5987: an ASCII fallback for old clients, the UTF-8 name for the rest."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def item_url(external_id: str) -> str:
    return "/catalog/items/" + quote(external_id, safe="")


def category_url(category: str, page: int = 1) -> str:
    url = "/catalog/" + quote(category, safe="")
    return url if page == 1 else f"{url}?page={page}"


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _layout(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<header><a href="/">{escape(PORTAL_TITLE)}</a></header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _item_table(records: Iterable[Mapping[str, Any]], with_category: bool = False) -> str:
    head = "<tr><th>索引号</th><th>名称</th>" + ("<th>组配分类</th>" if with_category else "")
    rows = [head + "<th>生成日期</th></tr>"]
    for r in records:
        category = f"<td>{_text(r.get('category'))}</td>" if with_category else ""
        rows.append(
            f"<tr><td>{_text(r['index_no'])}</td>"
            f'<td><a href="{escape(item_url(r["external_id"]))}">{_text(r.get("title"))}</a></td>'
            f"{category}<td>{_text(r.get('created'))}</td></tr>"
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def home_page(counts: Mapping[str, int], latest: list[dict[str, Any]]) -> str:
    """Portal home: the six 组配分类 with their counts, then the newest items."""
    links = "\n".join(
        f'<li><a href="{escape(category_url(c))}">{escape(c)}</a>（{counts.get(c, 0)}）</li>'
        for c in CATEGORIES
    )
    newest = _item_table(latest, with_category=True) if latest else "<p>暂无信息。</p>"
    body = (
        f"<h1>{escape(PORTAL_TITLE)}</h1>\n<h2>政府信息公开目录</h2>\n"
        f'<ul class="categories">\n{links}\n</ul>\n<h2>最新信息</h2>\n{newest}'
    )
    return _layout(PORTAL_TITLE, body)


def category_page(category: str, records: list[dict[str, Any]], page: int, total: int) -> str:
    """One page of a category's active items, newest first, with a pager."""
    pages = max(1, -(-total // PAGE_SIZE))
    listing = _item_table(records) if records else "<p>该栏目暂无信息。</p>"
    pager = [f"<span>共 {total} 条，第 {page} / {pages} 页</span>"]
    if page > 1:
        pager.append(f'<a href="{escape(category_url(category, page - 1))}">上一页</a>')
    if page < pages:
        pager.append(f'<a href="{escape(category_url(category, page + 1))}">下一页</a>')
    body = f'<h1>{escape(category)}</h1>\n{listing}\n<nav class="pager">{" ".join(pager)}</nav>'
    return _layout(f"{category} - {PORTAL_TITLE}", body)


def detail_page(record: Mapping[str, Any]) -> str:
    """An item's page: the metadata table, the body as sent, then the attachments."""
    rows = "\n".join(
        f"<tr><th>{label}</th><td>{_text(record.get(key))}</td></tr>"
        for label, key in METADATA_ROWS
    )
    attachments = record.get("attachments") or []
    files = "\n".join(
        f'<li><a href="/files/{quote(str(a.get("file_id")), safe="")}">{_text(a.get("name"))}</a>'
        f"（{_text(a.get('size'))} 字节）</li>"
        for a in attachments
    )
    body = (
        f'<h1>{_text(record.get("title"))}</h1>\n<table class="metadata">\n{rows}\n</table>\n'
        f'<article class="content">\n{record.get("body_html") or ""}\n</article>'
    )
    if files:
        body += f'\n<h2>附件</h2>\n<ul class="attachments">\n{files}\n</ul>'
    return _layout(f"{record.get('title') or ''} - {PORTAL_TITLE}", body)


def withdrawn_page(record: Mapping[str, Any]) -> str:
    """What a citizen sees at the address of a withdrawn (撤销) item."""
    body = (
        '<p class="notice">该信息已撤销。</p>\n'
        f"<p>索引号：{_text(record.get('index_no'))}</p>\n"
        '<p><a href="/">返回首页</a></p>'
    )
    return _layout(f"该信息已撤销 - {PORTAL_TITLE}", body)


def bad_request_page(message: str) -> str:
    return _layout(
        f"请求有误 - {PORTAL_TITLE}", f'<p class="notice">请求有误：{escape(message)}</p>'
    )


def not_found_page() -> str:
    return _layout(f"页面不存在 - {PORTAL_TITLE}", '<p class="notice">页面不存在。</p>')
