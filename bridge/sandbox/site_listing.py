"""What a column listing shows, before any markup: pinned copies, dated items, off-site links.

The tricks a naive scraper trips over live here, once for both styles:

- a pinned (置顶) item is shown at the top of page 1 *and* again at its own place in the date
  order (a separate 置顶 block, as TRS templates do); the TRS pages keep ``page_size`` dated
  entries each, so page 1 has the pinned copies on top of them; Hanweb has a single record
  list, so there the pinned copies are its first records and count in ``totalRecord``;
- a cross-listed item (``ItemInfo.also``) is in the listing of each of its columns, with the
  same URL (under its home column);
- one entry per column links another host, in date order after the two newest entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bridge.sandbox.site_columns import column
from bridge.sandbox.site_model import ItemInfo, Manifest

OFFSITE_AT = 2  # the off-site entry follows the two newest dated entries
OFFSITE_ARTICLE = 990001  # + column index: the other site's article numbers
OFFSITE_SITES = {  # style -> (the other site's publisher, its base URL)
    "trs": ("宁波市教育局", "http://www.nbedu.gov.cn"),
    "hanweb": ("浙江省教育厅", "http://www.zjedu.gov.cn"),
}
OFFSITE_SUBJECTS = {  # top column -> what the linked page of the other site is
    "jgzn": "关于公布{y}年度权责清单调整情况的通知",
    "zcwj": "关于做好{y}年普通高中招生工作的通知",
    "ghjh": "关于印发{y}年全省教育工作要点的通知",
    "ywgz": "关于开展{y}年中小学生暑期安全教育活动的通知",
    "tjsj": "关于发布{y}年教育事业发展主要指标的公告",
    "qt": "{y}年度政府信息公开工作年度报告",
}
OFFSITE_SUB_SUBJECT = "关于做好{y}年{name}相关工作的通知"  # in a sub-column, e.g. 招生考试


@dataclass(frozen=True)
class Entry:
    """One line of a listing: ``url`` is an item's URL path, or a full URL off-site."""

    title: str
    url: str
    day: date
    pinned: bool = False
    offsite: bool = False


def item_entry(item: ItemInfo, pinned: bool = False) -> Entry:
    return Entry(item.title, item.path, item.published.date(), pinned=pinned)


def offsite_entry(style: str, key: str, day: date) -> Entry:
    """The link to another host in column ``key``, dated ``day`` like its neighbours."""
    col = column(key)
    publisher, host = OFFSITE_SITES[style]
    article = OFFSITE_ARTICLE + col.index
    if style == "hanweb":
        url = f"{host}/art/{day.year}/{day.month}/{day.day}/art_1532_{article}.html"
    else:
        url = f"{host}/xxgk/{day:%Y%m}/t{day:%Y%m%d}_{article}.html"
    subject = OFFSITE_SUBJECTS[key] if col.top else OFFSITE_SUB_SUBJECT
    title = publisher + subject.format(y=day.year, name=col.name)
    return Entry(title, url, day, offsite=True)


def _parts(manifest: Manifest, key: str) -> tuple[list[Entry], list[Entry], Entry | None]:
    items = manifest.live(key)
    pinned = [item_entry(i, True) for i in items if i.pinned and i.column == key]
    dated = [item_entry(i) for i in items]
    offsite = None
    if manifest.options.offsite_links and dated:
        neighbour = dated[min(OFFSITE_AT, len(dated)) - 1]
        offsite = offsite_entry(manifest.options.style, key, neighbour.day)
    return pinned, dated, offsite


def trs_pages(manifest: Manifest, key: str) -> list[list[Entry]]:
    """The entries of each list page; ``page_size`` dated entries per page, extras on page 1."""
    pinned, dated, offsite = _parts(manifest, key)
    size = manifest.page_size
    pages = [dated[i : i + size] for i in range(0, len(dated), size)] or [[]]
    if offsite is not None:
        pages[0].insert(min(OFFSITE_AT, len(pages[0])), offsite)
    pages[0][:0] = pinned
    return pages


def hanweb_records(manifest: Manifest, key: str) -> list[Entry]:
    """The column's one record list: pinned copies first, then dated with the off-site link."""
    pinned, dated, offsite = _parts(manifest, key)
    if offsite is not None:
        dated.insert(min(OFFSITE_AT, len(dated)), offsite)
    return pinned + dated
