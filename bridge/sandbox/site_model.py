"""The sandbox site's CMS database: options, items and the manifest, and where bodies live.

Terminology: the *root* is the directory the site lives in; ``site.json`` there is the
manifest (options, every item ever published, counters); ``.cms/`` holds what the CMS keeps
but never serves: the item bodies (one append-only file, so a 100,000-item site never needs
all bodies in memory) and the Hanweb data-proxy record lists the server reads.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from bridge.catalog import org_code_problem
from bridge.sandbox.content import USCC
from bridge.sandbox.site_columns import DEFAULT_COLUMNS, Column, check_count, site_columns

MANIFEST = "site.json"  # the CMS database in the site root; never served
CMS_DIR = ".cms"  # dot folder: the server answers 404 for anything under it
BODIES = f"{CMS_DIR}/bodies.dat"  # every body version, UTF-8, appended; items point into it
FORMAT = 2  # 1 kept bodies inside site.json

STYLES = ("trs", "hanweb")
ENCODINGS = ("utf-8", "gbk")
LIST_DATES = ("iso", "mm-dd", "bracket", "chinese", "mixed")
LAYOUTS = ("classic", "redesign")


@dataclass(frozen=True)
class SiteOptions:
    """How the generated site looks and misbehaves; persisted, so every CMS action keeps it.

    All quirks are off by default: the plain TRS/UTF-8 site is what the first sync path and
    its tests were written against, and must stay byte for byte what it was.
    """

    style: str = "trs"  # "trs" or "hanweb" (docs/sandbox-hanweb.md)
    encoding: str = "utf-8"  # "gbk": GBK bytes, the charset only in a <meta>
    pinned: bool = False  # one older item per column (with >= 5 items) pinned on page 1
    cross_listed: bool = False  # one item listed in a second column too
    offsite_links: bool = False  # one entry per column linking another host
    volatile: bool = False  # detail pages carry a visit counter and a stamp per request
    list_dates: str = "iso"  # iso, mm-dd, bracket, chinese, or mixed (varies by column)
    cn_dates: bool = False  # some bodies sign off with 二〇一二年十二月三日
    cn_filenames: bool = False  # attachments keep their Chinese names in the URL
    rare_chars: bool = False  # names with GBK-only characters (喆, 堃, 玥, 镕) in titles/bodies
    robots_disallow: tuple[str, ...] = ()  # Disallow: lines of /robots.txt
    layout: str = "classic"  # "redesign" after relayout(): the parsers' selectors miss
    columns: int = DEFAULT_COLUMNS  # the first N columns of the catalog (site_columns.py)
    variants: bool = False  # real-site markup variants per item and column (site_variants.py)
    unit_code: str = USCC  # the org code the site's 索引号 start with (each unit has its own)

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be one of {', '.join(allowed)}, not {value!r}"
            for name, value, allowed in (
                ("style", self.style, STYLES),
                ("encoding", self.encoding, ENCODINGS),
                ("list_dates", self.list_dates, LIST_DATES),
                ("layout", self.layout, LAYOUTS),
            )
            if value not in allowed
        ]
        problems += [
            f"robots_disallow entry {p!r} must start with /"
            for p in self.robots_disallow
            if not p.startswith("/")
        ]
        problems += [p for p in [check_count(self.columns)] if p]
        if problem := org_code_problem(self.unit_code):
            problems.append(f"unit_code {self.unit_code!r}: {problem}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def codec(self) -> str:
        """The codec pages are written with: gb18030 equals GBK on every character we use."""
        return "gb18030" if self.encoding == "gbk" else "utf-8"

    @property
    def column_list(self) -> tuple[Column, ...]:
        """The site's columns, in catalog order: the six top columns first."""
        return site_columns(self.columns)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["robots_disallow"] = list(self.robots_disallow)
        if self.columns == DEFAULT_COLUMNS:  # the manifest of a default site stays as it was
            del out["columns"]
        if not self.variants:  # likewise
            del out["variants"]
        if self.unit_code == USCC:
            del out["unit_code"]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SiteOptions:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["robots_disallow"] = tuple(values.get("robots_disallow", ()))
        return cls(**values)


class AttachmentInfo(TypedDict):
    name: str  # the name people see (link text, Content-Disposition)
    path: str  # URL path of the file on disk (what withdraw deletes)
    media_type: str
    size: int
    sha256: str
    href: NotRequired[str]  # what the page links (percent-encoded; downfile.jsp in Hanweb)


def attachment_href(att: AttachmentInfo) -> str:
    return att.get("href", att["path"])


@dataclass(slots=True)
class ItemInfo:
    """One item as the CMS knows it; ``path`` is the detail page's URL path.

    The body is not held here but in ``.cms/bodies.dat`` at ``body_at`` (offset, length);
    ``body_html`` reads it, so a caller still sees an item's body as one attribute.
    """

    id: str
    serial: int
    column: str
    path: str
    title: str
    doc_no: str | None
    created: date
    published: datetime
    category: str
    genre: str | None
    topic: str
    index_no: str | None
    has_meta_table: bool
    attachments: list[AttachmentInfo]
    body_at: tuple[int, int] = (0, 0)
    withdrawn: bool = False
    edits: int = 0
    pinned: bool = False  # shown again at the top of page 1 of its column(s)
    also: list[str] = field(default_factory=list)  # further columns that list it
    variants: dict[str, Any] | None = None  # how its page shows it (site_variants.py)
    shown: dict[str, Any] | None = None  # what its page shows, as a reader reads it
    root: Path | None = field(default=None, compare=False, repr=False)

    @property
    def body_html(self) -> str:
        if self.root is None:
            raise RuntimeError(f"{self.id} is not attached to a site root")
        return read_body(self.root, self.body_at)

    @property
    def columns(self) -> list[str]:
        return [self.column, *self.also]

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "root"}
        for name in ("variants", "shown"):  # only on a site with variants: others stay as they were
            if out[name] is None:
                del out[name]
        out["created"] = self.created.isoformat()
        out["published"] = self.published.isoformat()
        out["body_at"] = list(self.body_at)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any], root: Path | None = None) -> ItemInfo:
        values = dict(d)
        values["created"] = date.fromisoformat(d["created"])
        values["published"] = datetime.fromisoformat(d["published"])
        values["body_at"] = tuple(d["body_at"])
        return cls(**values, root=root)


@dataclass
class Manifest:
    """The site's database: every item ever published (withdrawn ones flagged) and counters."""

    seed: int
    page_size: int
    end_date: date
    items: list[ItemInfo]
    doc_counters: dict[str, int]  # "余教|2012" -> last 文号 number used
    index_counters: dict[str, int]  # "2012" -> last 索引号 serial used
    options: SiteOptions = field(default_factory=SiteOptions)
    paging: dict[str, str] = field(default_factory=dict)  # column key -> pager (variants only)

    @property
    def columns(self) -> list[tuple[str, str, str]]:
        """(key, path, name) per column of this site, like ``COLUMNS`` for the default one.

        ``path`` is the column's folder on this site (``/xxgk/zsks/``, ``/col/col1235/``);
        ``name`` is the 组配分类 of its items, one of the six top columns' names. What the
        site shows as a sub-column's name (招生考试) is in ``options.column_list``.
        """
        style = self.options.style
        return [(c.key, c.folder(style), c.category_name) for c in self.options.column_list]

    def get(self, item_id: str) -> ItemInfo:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} on the sandbox site")

    def live(self, column: str | None = None) -> list[ItemInfo]:
        """Items on the site now, newest first, as the listings show them (date order)."""
        found = [
            i for i in self.items if not i.withdrawn and (column is None or column in i.columns)
        ]
        return sorted(found, key=lambda i: (i.published, i.serial), reverse=True)

    def head_json(self) -> dict[str, Any]:
        """Everything but the items."""
        head: dict[str, Any] = {
            "format": FORMAT,
            "seed": self.seed,
            "page_size": self.page_size,
            "end_date": self.end_date.isoformat(),
            "options": self.options.to_json(),
            "doc_counters": self.doc_counters,
            "index_counters": self.index_counters,
        }
        if self.paging:  # a site without variants keeps the head it had
            head["paging"] = self.paging
        return head

    @classmethod
    def from_json(cls, d: dict[str, Any], items: list[ItemInfo]) -> Manifest:
        if d.get("format") != FORMAT:
            raise ValueError(
                f"{MANIFEST} has format {d.get('format')}, this sandbox writes {FORMAT}; "
                "remove the folder to generate the site again"
            )
        return cls(
            seed=d["seed"],
            page_size=d["page_size"],
            end_date=date.fromisoformat(d["end_date"]),
            items=items,
            doc_counters=d["doc_counters"],
            index_counters=d["index_counters"],
            options=SiteOptions.from_json(d.get("options", {})),
            paging=d.get("paging", {}),
        )


_ITEMS_START = ', "items": [\n'  # site.json: the head on line 1, then one item per line


def save_manifest(root: Path, manifest: Manifest) -> None:
    """Write ``site.json`` atomically, an item at a time: 100,000 items are tens of MB."""
    path = Path(root) / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest.head_json(), ensure_ascii=False)[:-1] + _ITEMS_START)
        for number, item in enumerate(manifest.items):
            if number:
                fh.write(",\n")
            fh.write(json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":")))
        fh.write("\n]}\n")
    os.replace(tmp, path)


def load_manifest(root: Path) -> Manifest:
    """Read ``site.json`` an item per line (any other JSON layout is read whole)."""
    root = Path(root)
    try:
        fh = open(root / MANIFEST, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise FileNotFoundError(f"no sandbox site in {root} ({MANIFEST} is missing)") from None
    with fh:
        first = fh.readline()
        if not first.endswith(_ITEMS_START):
            whole = json.loads(first + fh.read())
            items = [ItemInfo.from_json(i, root) for i in whole.pop("items")]
            return Manifest.from_json(whole, items)
        head = json.loads(first.removesuffix(_ITEMS_START) + "}")
        items = []
        for line in fh:
            if line.startswith("]}"):
                break
            items.append(ItemInfo.from_json(json.loads(line.rstrip().removesuffix(",")), root))
        return Manifest.from_json(head, items)


def load_head(root: Path) -> Manifest:
    """The manifest without its items: options and counters of a site of any size, fast."""
    root = Path(root)
    try:
        with open(root / MANIFEST, encoding="utf-8") as fh:
            first = fh.readline()
    except FileNotFoundError:
        raise FileNotFoundError(f"no sandbox site in {root} ({MANIFEST} is missing)") from None
    if not first.endswith(_ITEMS_START):
        manifest = load_manifest(root)
        manifest.items = []
        return manifest
    return Manifest.from_json(json.loads(first.removesuffix(_ITEMS_START) + "}"), [])


def read_body(root: Path, at: tuple[int, int]) -> str:
    offset, length = at
    with open(Path(root) / BODIES, "rb") as fh:
        fh.seek(offset)
        return fh.read(length).decode("utf-8")


class BodyStore:
    """Appends body versions to ``.cms/bodies.dat``; an edit appends, nothing is rewritten.

    A crash between the append and the manifest save leaves unreferenced bytes, never a
    manifest pointing at bytes that are not there.
    """

    def __init__(self, root: Path):
        self.path = Path(root) / BODIES
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 - closed by close()/the with block
        self._offset = self._fh.tell()  # kept here: tell() on every add costs a seek

    def add(self, body_html: str) -> tuple[int, int]:
        data = body_html.encode("utf-8")
        offset = self._offset
        self._fh.write(data)
        self._offset += len(data)
        return (offset, len(data))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BodyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def bureau_now() -> datetime:
    """The bureau's wall clock (Beijing time, naive, as its pages print it), whatever the
    machine's time zone: a page published now carries today's date in Yuyao."""
    return datetime.now(BUREAU_TZ).replace(tzinfo=None)
