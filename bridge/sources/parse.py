"""Page-parsing helpers shared by the source presets (pure: text in, data out).

Parsing uses lxml.html directly: on a 4.5 KB detail page it costs about 0.08 ms against
1.5 ms for BeautifulSoup, and a crawler on a fast network is bound by parsing CPU.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

_WS = re.compile(r"[\s\u3000\xa0]+")
_LABEL_TRIM = re.compile(r"[\s\u3000\xa0:：]+")
ATTACHMENT_EXTENSIONS = (
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".wps",
    ".et",
    ".zip",
    ".rar",
    ".7z",
    ".txt",
    ".csv",
    ".ofd",
    ".ceb",
    ".jpg",
    ".jpeg",
    ".png",
)
META_LABELS = (
    "索引号",
    "发布机构",
    "生成日期",
    "成文日期",
    "发文日期",
    "发布日期",
    "文号",
    "发文字号",
    "发文文号",
    "标题",
    "名称",
    "主题分类",
    "组配分类",
    "体裁分类",
    "公开方式",
    "公开范围",
    "有效性",
    "内容概述",
    "摘要",
    "主题词",
    "关键词",
    "公开时限",
    "信息来源",
    "所属主题",
)


def document(text: str, url: str) -> lxml.html.HtmlElement:
    """Parse HTML; an empty or hopeless page becomes an empty document, not an exception."""
    try:
        doc = lxml.html.document_fromstring(text or "<html></html>")
    except (etree.ParserError, ValueError):
        # ValueError: a str with an XML encoding declaration; retry without it
        doc = lxml.html.document_fromstring(
            re.sub(r"^\s*<\?xml[^>]*>", "", text) or "<html></html>"
        )
    doc.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    return doc


def clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def label_key(text: str) -> str:
    """A metadata label with all white space and colons removed (`索 引 号：` → 索引号)."""
    return _LABEL_TRIM.sub("", text or "")


def element_text(el: lxml.html.HtmlElement) -> str:
    return clean(el.text_content())


def meta_table(doc: lxml.html.HtmlElement) -> dict[str, str]:
    """Label/value pairs from the disclosure metadata table(s) at the top of a page.

    Works cell by cell: a cell whose text, with white space and colons removed, is a
    known label takes the next cell's text as its value. Real pages mix <td>, <th>
    and 2- or 4-column layouts, and sometimes put `label：value` in one cell.
    """
    out: dict[str, str] = {}
    for table in doc.iter("table"):
        cells = [c for c in table.iter("td", "th")]
        for i, cell in enumerate(cells):
            raw = element_text(cell)
            key = label_key(raw)
            if key in META_LABELS and i + 1 < len(cells):
                value = element_text(cells[i + 1])
                if label_key(value) not in META_LABELS:
                    out.setdefault(key, value)
                continue
            m = re.match(r"^([^:：]{2,12})[:：](.+)$", raw)
            if m and label_key(m.group(1)) in META_LABELS:
                out.setdefault(label_key(m.group(1)), clean(m.group(2)))
    return out


def inner_html(el: lxml.html.HtmlElement) -> str:
    parts = [el.text or ""]
    parts.extend(etree.tostring(child, encoding="unicode", method="html") for child in el)
    return "".join(parts)


def attachment_links(
    scopes: list[lxml.html.HtmlElement], allowed: set[str]
) -> list[tuple[str, str]]:
    """(name, absolute url) of file links in the given elements, each URL once."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for scope in scopes:
        for a in scope.iter("a"):
            href = (a.get("href") or "").strip()
            parts = urlsplit(href)
            if parts.scheme not in ("http", "https") or (parts.hostname or "") not in allowed:
                continue
            path = unquote(parts.path).lower()
            if not path.endswith(ATTACHMENT_EXTENSIONS) or href in seen:
                continue
            seen.add(href)
            name = clean(a.text_content()) or unquote(parts.path.rsplit("/", 1)[-1])
            name = re.sub(r"^附件\s*\d*\s*[:：.、]?\s*", "", name) or name
            out.append((name, href))
    return out


def absolute(base: str, href: str) -> str:
    return urljoin(base, href)
