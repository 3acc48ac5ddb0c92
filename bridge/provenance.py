"""Where a record's values came from, as the views show it (``bridge status --item``, the
admin page's item view, ``bridge report``).

Provenance is kept with each record version (``CatalogRecord.provenance``): ``page:<label>``
(the page's metadata), ``meta:<tag>`` (a government meta tag), ``body``, ``title``, ``list``,
``config``, ``default``, ``derived:…``, ``minted:bridge``, ``filed`` (the 索引号 the item was
filed under before). A 索引号 the portal minted reaches the store after the version was
recorded, so it is told here: ``minted:portal``.
"""

from __future__ import annotations

from typing import Any

FIELDS: tuple[tuple[str, str], ...] = (
    ("index_no", "索引号"),
    ("title", "名称"),
    ("publisher", "发布机构"),
    ("created", "生成日期"),
    ("published", "发布日期"),
    ("doc_no", "文号"),
    ("category", "组配分类"),
    ("topic", "主题分类"),
    ("genre", "体裁分类"),
    ("keywords", "主题词"),
    ("summary", "内容概述"),
    ("disclosure", "公开方式"),
    ("scope", "公开范围"),
    ("validity", "有效性"),
)
"""The catalog fields a person checks, in the order of the catalog's own form."""

FROM_THE_PAGE = ("page:", "meta:", "body", "title", "list")
"""Provenances of a value the page shows, as opposed to a default or a derivation."""


def provenance_of(record: dict[str, Any], field: str, held_index_no: str | None = None) -> str:
    """The provenance of ``field`` in a stored record (state form)."""
    how = (record.get("provenance") or {}).get(field)
    if how:
        return str(how)
    if field == "index_no" and (record.get("index_no") or held_index_no):
        return "minted:portal"
    if field == "category" and record.get("classified_by"):
        return "config" if str(record["classified_by"]).startswith("column:") else "derived:rules"
    return "—" if record.get(field) in (None, "", []) else "unknown"


def field_rows(
    record: dict[str, Any], held_index_no: str | None = None
) -> list[tuple[str, str, str, str]]:
    """(field, 中文, value as shown, provenance) of each catalog field of a stored record."""
    rows = []
    for field, label in FIELDS:
        value = record.get(field)
        if field == "index_no" and not value:
            value = held_index_no
        if isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        else:
            shown = "" if value is None else str(value)
        rows.append((field, label, shown, provenance_of(record, field, held_index_no)))
    return rows


def is_shown(how: str) -> bool:
    return how.startswith(FROM_THE_PAGE)
