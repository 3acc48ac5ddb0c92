"""Which links of a site's pages lead to its disclosure columns, and which of the six
categories (组配分类) each column's name says: pure functions over parsed pages.

A bureau site links its columns from the home page (the nav, the side menu of 信息公开目录)
and from its 政府信息公开 entrance page; a list page names itself in the ``ColumnName``
meta tag that 《政府网站发展指引》 asks for. ``bridge init`` keeps a candidate only when its
first list page actually lists articles (read by the family's own list parser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html

from bridge.catalog import CATEGORIES
from bridge.discover.family import HANWEB_ARTICLE, HANWEB_COLUMN, TRS_ARTICLE

MIXED = "mixed"

ENTRANCE_WORDS = ("政府信息公开", "信息公开", "政务公开")
"""Link texts of the disclosure entrance, most specific first."""
_ENTRANCE_PATH = re.compile(r"/(?:xxgk|zwgk|zfxxgk|gkml)(?:/|/index\.s?html?)?$", re.I)

CATEGORY_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("信息公开年报", "年度报告", "年报"), "其他"),
    (("政策解读", "规范性文件", "政策文件", "上级文件", "法规", "文件", "政策"), "政策文件"),
    (("规划", "计划", "总结", "方案"), "规划计划"),
    (("统计", "数据", "预决算", "预算", "决算", "经费", "公报"), "统计数据"),
    (("机构", "职能", "领导", "人事", "招聘", "权责"), "机构职能"),
    (("通知公告", "工作动态", "业务", "工作", "动态", "公示", "公告", "通知", "招生"), "业务工作"),
)
"""Words in a column's name and the category they file under, tried in order (a
``信息公开年报`` is 其他, not 政策文件; a ``规划计划`` not 统计数据). A name that is one of
the six categories is that category; a name none of these words is in is ``mixed``
(classified per item by title and 文号, bridge/normalize/classify.py)."""

_CHROME = (
    "首页 网站首页 返回首页 更多 更多>> more 网站地图 联系我们 关于我们 无障碍 English 登录 注册 "
    "搜索 打印 关闭 返回顶部 设为首页 加入收藏 上一页 下一页 尾页 末页 政府信息公开 信息公开 "
    "政务公开 信息公开目录 信息公开指南 信息公开制度 依申请公开"
)
NOT_COLUMNS = frozenset(_CHROME.split())
"""Link texts that are chrome, not a column (the entrance itself is followed, not kept)."""
_FILE_LINK = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|zip|rar|jpe?g|png|gif|txt)$", re.I)
_NAME = re.compile(r"^[\u3400-\u9fffＡ-ｚA-Za-z0-9（）()、·]{2,12}$")
_KEY_PART = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Candidate:
    """A link that may lead to a column: its list page URL, folder and shown name."""

    url: str
    folder: str  # path relative to the site root, as [[sources.columns]] path takes it
    name: str
    found_on: str  # "home page" or "entrance page"


def category_of(name: str) -> str:
    """The category a column's name says, or ``mixed``."""
    name = name.strip()
    if name in CATEGORIES:
        return name
    for words, category in CATEGORY_WORDS:
        if any(w in name for w in words):
            return category
    return MIXED


def _same_site(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return a.scheme in ("http", "https") and a.netloc == b.netloc


def _text(a: lxml.html.HtmlElement) -> str:
    return re.sub(r"\s+", "", a.text_content() or "") or (a.get("title") or "").strip()


def entrance(doc: lxml.html.HtmlElement, page_url: str) -> str | None:
    """The 政府信息公开 entrance linked from a page (its text first, then its path), or None."""
    links = [(a, urljoin(page_url, a.get("href") or "")) for a in doc.iter("a")]
    links = [(a, u) for a, u in links if _same_site(u, page_url) and u != page_url]
    for word in ENTRANCE_WORDS:
        for a, url in links:
            if _text(a) in (word, word + "目录", word + "专栏", word + "平台"):
                return url
    for _a, url in links:
        if _ENTRANCE_PATH.search(urlsplit(url).path):
            return url
    return None


def folder_of(url: str, base_url: str) -> str:
    """The column path a link names, relative to the site root: ``xxgk/zcwj/`` for
    ``/xxgk/zcwj/index.html``, ``col/col1230/`` for a Hanweb column; a page of another
    name (``tzgg.html``) stays as it is."""
    path = urlsplit(url).path
    root = urlsplit(base_url).path
    rel = path[len(root) :] if path.startswith(root) else path.lstrip("/")
    return re.sub(r"(?:^|(?<=/))index(?:_\d+)?\.s?html?$", "", rel)


def candidates(
    doc: lxml.html.HtmlElement, page_url: str, base_url: str, found_on: str
) -> list[Candidate]:
    """Links of a page that may be columns, in page order, one per folder."""
    out: dict[str, Candidate] = {}
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        url = urljoin(page_url, href).split("#", 1)[0]
        path = urlsplit(url).path
        name = _text(a)
        if (
            not _same_site(url, base_url)
            or not name
            or name in NOT_COLUMNS
            or not _NAME.match(name)
            or TRS_ARTICLE.search(path)
            or HANWEB_ARTICLE.search(path)
            or _FILE_LINK.search(path)
            or urlsplit(url).query
        ):
            continue
        folder = folder_of(url, base_url)
        if not folder or folder in out:
            continue
        out[folder] = Candidate(url, folder, name, found_on)
    return list(out.values())


def column_meta(doc: lxml.html.HtmlElement) -> dict[str, str]:
    """The ``ColumnName`` / ``ColumnType`` meta tags of a page (empty when absent)."""
    out = {}
    for name in ("ColumnName", "ColumnType"):
        el = doc.find(f".//meta[@name='{name}']")
        if el is not None and (el.get("content") or "").strip():
            out[name] = (el.get("content") or "").strip()
    return out


def column_key(folder: str, taken: set[str]) -> str:
    """A short config key for a column: its last folder name (``zcwj``, ``col1230``),
    lower-cased to the key alphabet, unique among ``taken``."""
    parts = [p for p in re.split(r"[/.]", folder) if p and p not in ("html", "htm", "shtml")]
    base = _KEY_PART.sub("", (parts[-1] if parts else "col").lower())[:30] or "col"
    if HANWEB_COLUMN.search("/" + folder):
        base = parts[-1].lower()
    key, n = base, 2
    while key in taken:
        key, n = f"{base}{n}", n + 1
    taken.add(key)
    return key
