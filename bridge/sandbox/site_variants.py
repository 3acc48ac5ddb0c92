"""Real-site variants of the sandbox site (``variants=True``): what each page shows, and how.

The plain sandbox site shows only the markup the bridge's parsers were written against. Real
bureau sites do more (shared/realpages: 中国政府网 UCAP, 邯郸 TRS, 定西 Hanweb, two text
captures), and with variants each item's page does some of it: another metadata layout
(docs/sandbox-variants.md), another label for the publisher or the 成文日期, a 文号 written
``无`` or with other brackets, a decree number without a year, a non-standard 索引号, the title
only in the meta tags, another body container. TRS columns get other pagers.

Terminology: an item's *variants* are the choices its page was drawn with (kept with the
item in the manifest, so edits keep them); its *shown* fields are what a careful reader
takes from the page (``truth()``), the expected values of the bridge's end-to-end tests.
Each item draws from an rng of its own, seeded with the site seed and its serial, so the
content (titles, bodies, dates, 文号) is what it is without variants and a seed gives the
same site every time. This module decides and tells; site_variant_pages.py writes markup.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.sandbox.content import CITY_OFFICE, PUBLISHER
from bridge.sandbox.site_columns import Column, column

if TYPE_CHECKING:
    from bridge.sandbox.site_model import ItemInfo, Manifest, SiteOptions

LAYOUTS = {"xxgk_table": 3, "handan": 2, "govcn": 2, "xxgk_info": 2, "dl": 2}
"""Metadata layouts of an item that has metadata (weights), docs/sandbox-variants.md:
today's table.xxgk_table, 邯郸's <p><strong> blocks, 中国政府网's table.bd1, ul.xxgk-info with
spaced labels, a <dl> without colons. An item without metadata has the layout "none"."""
NO_LAYOUT = "none"

META_PUBLISHER_LABELS = ("发布机构", "发文机关", "发文单位")
ISSUER_LABELS = ("发文机关", "发文单位")  # these name who issued the document
INFO_LABELS = ("来源", "信息来源")  # the info line under the title
CREATED_LABELS = ("生成日期", "成文日期", "发文日期", "印发日期")
HIDDEN_CREATED = "成文日期"  # 邯郸 keeps it, inside an HTML comment
BODY_CONTAINERS = {"TRS_Editor": 6, "TRS_UEDITOR": 2, "zoom": 2}  # TRS; Hanweb keeps div#zoom
ATTACHMENT_BLOCKS = {"list": 2, "fjxz": 1}  # TRS; Hanweb keeps its div.attachments
PAGERS = ("createPageHTML", "countPage", "recordCount", "text")
"""TRS list pagers, by column in turn from a seeded start: every site of four or more columns
has each. Hanweb columns keep the datastore and dataproxy.jsp (``HANWEB_PAGER``)."""
HANWEB_PAGER = "dataproxy"

JOINT_ISSUER = "余姚市教育局、余姚市财政局"  # kept whole, as 国务院、中央军委 on 中国政府网
JOINT_TITLE = "余姚市教育局 余姚市财政局"  # joint documents' titles begin so (phrases.json)
CITY_GOVERNMENT = "余姚市人民政府"  # issues the decrees (政府令)
DECREE = "余姚市人民政府令"  # 余姚市人民政府令第N号: no year, by design; N in doc_counters

JOINT_SHARE = 0.06  # of the bureau's own documents: issued with the 财政局
DECREE_SHARE = 0.2  # of the documents of these genres without a 文号 of their own
DECREE_GENRES = (
    "办法", "规定", "细则", "决定", "意见", "方案", "规划", "计划", "通知", "公告", "通告",
)  # fmt: skip
EMPTY_DOC_NO = {"": 2, "无": 2, "无〔〕号": 1}  # the 文号 cell of a document without one
BRACKETS = {"〔〕": 10, "[]": 1, "()": 1, "［］": 1}  # around the year of a 文号
ODD_INDEX_SHARE = 0.05  # 索引号 in a local form: YYJYJ-2012-00017 or a 6-digit serial
LOCAL_INDEX_PREFIX = "YYJYJ"  # 余姚教育局 in the CMS's own numbering
TITLE_IN_META_SHARE = 0.2  # no <h1>, no 标题 field: the title only in meta tags and <title>

SITE_NAME = "余姚教育网"
SITE_DOMAIN = "www.yyedu.gov.cn"
SITE_ID_CODE = "3302810029"  # 政府网站标识码: 10 digits, the county's division code first
COLUMN_TYPE = "信息公开"
DESCRIPTION_CHARS = 100

T = TypeVar("T")


def _pick(rng: random.Random, weights: Mapping[T, int]) -> T:
    return rng.choices(list(weights), list(weights.values()))[0]


def _at(draw: float, weights: Mapping[T, int]) -> T:
    """The choice a uniform ``draw`` in [0, 1) falls on, by weight."""
    total, edge = sum(weights.values()), 0.0
    for choice, weight in weights.items():
        edge += weight / total
        if draw < edge:
            return choice
    return list(weights)[-1]


# --- choosing --------------------------------------------------------------------------------


def choose(item: ItemInfo, manifest: Manifest) -> dict[str, Any]:
    """The variants of a new item; advances the decree counter when it is a decree.

    Every draw is made for every item in the same order, so no choice shifts another.
    """
    rng = random.Random(f"bridge-sandbox-variants:{manifest.seed}:{item.serial}")
    layout = _pick(rng, LAYOUTS)
    joint_draw, decree_draw, decree_step = rng.random(), rng.random(), rng.randint(1, 3)
    label_draw, info_label, created_draw = rng.random(), rng.choice(INFO_LABELS), rng.random()
    empty_doc, brackets = _pick(rng, EMPTY_DOC_NO), _pick(rng, BRACKETS)
    odd_index, local_index = rng.random() < ODD_INDEX_SHARE, rng.random() < 0.5
    title_draw = rng.random()
    container, attachments = _pick(rng, BODY_CONTAINERS), _pick(rng, ATTACHMENT_BLOCKS)

    if not item.has_meta_table:
        layout = NO_LAYOUT
    decree = item.doc_no is None and item.genre in DECREE_GENRES and decree_draw < DECREE_SHARE
    issuer = PUBLISHER
    doc_cell = ""
    if item.title.startswith(CITY_OFFICE):
        issuer = CITY_OFFICE
    elif decree and layout != NO_LAYOUT:  # the 文号 shows only in the metadata
        issuer = CITY_GOVERNMENT
        number = manifest.doc_counters.get(DECREE, 0) + decree_step
        manifest.doc_counters[DECREE] = number
        doc_cell = f"{DECREE}第{number}号"
    elif item.title.startswith(JOINT_TITLE) or joint_draw < JOINT_SHARE:
        issuer = JOINT_ISSUER
    if layout != NO_LAYOUT and not doc_cell:
        doc_cell = empty_doc if item.doc_no is None else _bracketed(item.doc_no, brackets)
    return {
        "layout": layout,
        "issuer": issuer,
        "publisher_label": _publisher_label(layout, issuer, label_draw, info_label),
        "info_label": info_label,
        "created_label": _created_label(layout, created_draw),
        "doc_no_cell": doc_cell,
        "index_no": _index_no(item, layout, odd_index, local_index),
        "title_in": "meta" if title_draw < TITLE_IN_META_SHARE else "h1",
        "body_container": "zoom" if manifest.options.style == "hanweb" else container,
        "attachments": "list" if manifest.options.style == "hanweb" else attachments,
    }


def _publisher_label(layout: str, issuer: str, draw: float, info_label: str) -> str:
    """Documents another body issued mostly name it under 发文机关/发文单位."""
    if layout == NO_LAYOUT:
        return info_label
    if layout == "govcn":
        return "发文机关"
    weights = (1, 3, 2) if issuer != PUBLISHER else (3, 1, 1)
    return _at(draw, dict(zip(META_PUBLISHER_LABELS, weights, strict=True)))


def _created_label(layout: str, draw: float) -> str | None:
    """The label of the 成文日期, or None where a reader sees none."""
    if layout in (NO_LAYOUT, "handan"):  # 邯郸 hides it in a comment
        return None
    if layout == "govcn":
        return "成文日期"
    weights: dict[str | None, int] = dict(zip(CREATED_LABELS, (3, 3, 1, 1), strict=True))
    if layout != "xxgk_table":  # the table keeps its cell; the lists may leave it out
        weights[None] = 2
    return _at(draw, weights)


def _bracketed(doc_no: str, brackets: str) -> str:
    return doc_no.replace("〔", brackets[0]).replace("〕", brackets[1])


def _index_no(item: ItemInfo, layout: str, odd: bool, local: bool) -> str | None:
    if layout == NO_LAYOUT or item.index_no is None:
        return None
    if not odd:
        return item.index_no
    year, serial = item.index_no.rsplit("/", 1)[1].split("-")
    if local:
        return f"{LOCAL_INDEX_PREFIX}-{year}-{serial}"
    code = item.index_no.split("/", 1)[0]
    return f"{code}/{year}-{int(serial):06d}"


def choose_paging(seed: int, opts: SiteOptions) -> dict[str, str]:
    """The pager of each column: TRS columns in turn from a seeded start, Hanweb its own."""
    if opts.style == "hanweb":
        return {c.key: HANWEB_PAGER for c in opts.column_list}
    start = random.Random(f"bridge-sandbox-paging:{seed}").randrange(len(PAGERS))
    return {c.key: PAGERS[(c.index + start) % len(PAGERS)] for c in opts.column_list}


def paging_of(manifest: Manifest) -> dict[str, str]:
    """The pager kind of every column (a site without variants: createPageHTML / dataproxy)."""
    if manifest.paging:
        return dict(manifest.paging)
    kind = HANWEB_PAGER if manifest.options.style == "hanweb" else PAGERS[0]
    return {c.key: kind for c in manifest.options.column_list}


# --- the truth -------------------------------------------------------------------------------


_YEAR_BRACKETS = re.compile(r"[\[(［（〔]\s*(\d{4})\s*[\])］）〕]")


def normalize_doc_no(cell: str) -> str | None:
    """The 文号 a cell shows, brackets as 〔〕; None for an empty cell, 无 or 无〔〕号."""
    text = cell.strip()
    if not text or text.startswith("无"):
        return None
    return _YEAR_BRACKETS.sub(r"〔\1〕", text)


def info_source(item: ItemInfo) -> str:
    """The info line's 来源: the bureau, or the joint issuers kept whole."""
    v = item.variants or {}
    return JOINT_ISSUER if v.get("issuer") == JOINT_ISSUER else PUBLISHER


def shown_publisher(item: ItemInfo) -> str:
    """发文机关/发文单位 name the issuer; 发布机构 and 来源 the bureau (or both joint issuers)."""
    v = item.variants or {}
    if v.get("publisher_label") in ISSUER_LABELS:
        return str(v["issuer"])
    return info_source(item)


def truth(item: ItemInfo, opts: SiteOptions) -> dict[str, Any]:
    """What the item's page shows, as a reader reads it; for a site with or without variants."""
    v = item.variants
    if v is None:
        return _classic_truth(item, opts)
    layout = v["layout"]
    return {
        "title": item.title,
        "title_in": v["title_in"],
        "publisher": shown_publisher(item),
        "publisher_label": v["publisher_label"],
        "created": item.created.isoformat() if v["created_label"] else None,
        "created_label": v["created_label"],
        "doc_no": normalize_doc_no(v["doc_no_cell"]),
        "index_no": v["index_no"],
        "topic": None if layout == NO_LAYOUT else item.topic,
        "metadata_layout": layout,
        "body_container": v["body_container"],
    }


def _classic_truth(item: ItemInfo, opts: SiteOptions) -> dict[str, Any]:
    """Today's markup: table.xxgk_table on most items (发布机构, 生成日期), else the info line."""
    table = item.has_meta_table
    hanweb = opts.style == "hanweb"
    return {
        "title": item.title,
        "title_in": "h1",  # h1.title; Hanweb's td.title
        "publisher": PUBLISHER,
        "publisher_label": "发布机构" if table else ("信息来源" if hanweb else "来源"),
        "created": item.created.isoformat() if table else None,
        "created_label": "生成日期" if table else None,
        "doc_no": item.doc_no if table else None,
        "index_no": item.index_no if table else None,
        "topic": item.topic if table else None,
        "metadata_layout": "xxgk_table" if table else NO_LAYOUT,
        "body_container": "zoom" if hanweb else "TRS_Editor",
    }


# --- the government meta tags (《政府网站发展指引》) ------------------------------------------


def _tags(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f'<meta name="{n}" content="{html.escape(v)}">' for n, v in pairs)


def _site_pairs() -> list[tuple[str, str]]:
    return [("SiteName", SITE_NAME), ("SiteDomain", SITE_DOMAIN), ("SiteIDCode", SITE_ID_CODE)]


def site_meta_tags() -> str:
    """The home page's: the site's name, domain and 政府网站标识码."""
    return _tags(_site_pairs())


def list_meta_tags(key: str) -> str:
    """A column page's: the site's and the column's."""
    col: Column = column(key)
    return _tags([*_site_pairs(), ("ColumnName", col.name), ("ColumnType", COLUMN_TYPE)])


def body_text(body_html: str) -> str:
    """The body as a reader sees it, without tags or line breaks (for Description)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", body_html))
    return re.sub(r"\s+", "", text)


def article_meta_tags(item: ItemInfo, body_html: str, shown: Mapping[str, Any]) -> str:
    """An article's, after the column's: title, publish time, source, keywords, description."""
    col = column(item.column)
    return _tags(
        [
            *_site_pairs(),
            ("ColumnName", col.name),
            ("ColumnType", COLUMN_TYPE),
            ("ArticleTitle", item.title),
            ("PubDate", f"{item.published:%Y-%m-%d %H:%M}"),
            ("ContentSource", str(shown["publisher"])),
            ("Keywords", ",".join(dict.fromkeys((col.name, item.genre or "其他")))),
            ("Description", body_text(body_html)[:DESCRIPTION_CHARS]),
        ]
    )
