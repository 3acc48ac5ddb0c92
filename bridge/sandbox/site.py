"""The sandbox bureau website: a TRS-style static site on disk, its CMS actions, its server.

Terminology: the *root* is the directory the site lives in; ``site.json`` there is the CMS's
database (the manifest), everything else is published output. Pages are replaced atomically
(temp file + rename) and the manifest is written last, so a reader in another process never
sees a manifest naming a page that is not there yet. Unchanged pages are left alone, so their
ETag and Last-Modified stay put, as on a real static site.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from types import FrameType
from typing import Any, TypedDict

from bridge.sandbox import content
from bridge.sandbox.site_pages import (
    COLUMN_NAMES,
    COLUMN_PATHS,
    COLUMNS,
    MANIFEST,
    render_detail,
    render_home,
    render_list,
)
from bridge.sandbox.site_server import RequestLog, SiteServer

__all__ = [
    "COLUMNS",
    "AttachmentInfo",
    "ItemInfo",
    "Manifest",
    "RequestLog",
    "SiteServer",
    "edit",
    "generate_site",
    "load_manifest",
    "publish",
    "serve_forever",
    "withdraw",
]

COLUMN_WEIGHTS = {"jgzn": 1, "zcwj": 5, "ghjh": 2, "ywgz": 7, "tjsj": 2, "qt": 2}
"""Most of what a bureau publishes is work news and policy files; 机构职能 rarely changes."""

SPREAD_DAYS = 730  # generated items cover about two years before end_date
HOME_ITEMS = 10  # newest items on the home page


class AttachmentInfo(TypedDict):
    name: str
    path: str
    media_type: str
    size: int
    sha256: str


@dataclass
class ItemInfo:
    """One item as the CMS knows it; ``path`` is the detail page's URL path."""

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
    body_html: str
    withdrawn: bool = False
    edits: int = 0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["created"] = self.created.isoformat()
        out["published"] = self.published.isoformat()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ItemInfo:
        fields = dict(d)
        fields["created"] = date.fromisoformat(d["created"])
        fields["published"] = datetime.fromisoformat(d["published"])
        return cls(**fields)


@dataclass
class Manifest:
    """The site's database: every item ever published (withdrawn ones flagged) and counters."""

    seed: int
    page_size: int
    end_date: date
    items: list[ItemInfo]
    doc_counters: dict[str, int]  # "余教|2012" -> last 文号 number used
    index_counters: dict[str, int]  # "2012" -> last 索引号 serial used

    def get(self, item_id: str) -> ItemInfo:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no item {item_id!r} on the sandbox site")

    def live(self, column: str | None = None) -> list[ItemInfo]:
        """Items on the site now, newest first, as the listings show them."""
        found = [i for i in self.items if not i.withdrawn and column in (None, i.column)]
        return sorted(found, key=lambda i: (i.published, i.serial), reverse=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "seed": self.seed,
            "page_size": self.page_size,
            "end_date": self.end_date.isoformat(),
            "doc_counters": self.doc_counters,
            "index_counters": self.index_counters,
            "items": [i.to_json() for i in self.items],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Manifest:
        return cls(
            seed=d["seed"],
            page_size=d["page_size"],
            end_date=date.fromisoformat(d["end_date"]),
            items=[ItemInfo.from_json(i) for i in d["items"]],
            doc_counters=d["doc_counters"],
            index_counters=d["index_counters"],
        )


def load_manifest(root: Path) -> Manifest:
    path = Path(root) / MANIFEST
    try:
        return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FileNotFoundError(f"no sandbox site in {root} ({MANIFEST} is missing)") from None


# --- the CMS actions -------------------------------------------------------------------------


def generate_site(
    root: Path,
    items: int = 60,
    seed: int = 1,
    *,
    page_size: int = 20,
    end_date: date | None = None,
) -> Manifest:
    """Generate ``items`` items (the seed report is one) into an empty ``root``."""
    root = Path(root)
    if items < 1 or page_size < 1:
        raise ValueError("items and page_size must be at least 1")
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty; open an existing site with load_manifest()")
    end = end_date or date.today()
    start = max(end - timedelta(days=SPREAD_DAYS), content.SEED_PUBLISHED.date() + timedelta(1))
    if end < start:
        raise ValueError("end_date must be after 2012-12-05, the date of the seed report")
    rng = random.Random(f"bridge-sandbox:{seed}:{items}:{end.isoformat()}")
    manifest = Manifest(seed, page_size, end, [], {}, {})
    gap = max(1, min(40, 800_000 // items))  # article numbers stay 6 digits
    serial = 100_000 + rng.randint(1, gap)
    _add(root, manifest, content.seed_report(), "qt", content.SEED_PUBLISHED, serial, rng)
    writer = content.Writer(rng, {content.SEED_TITLE}, manifest.doc_counters)
    columns, moments = _columns(rng, items - 1), _moments(rng, items - 1, start, end)
    for column, moment in zip(columns, moments, strict=True):
        serial += rng.randint(1, gap)
        _add(root, manifest, writer.draft(column, moment.date()), column, moment, serial, rng)
    _write_pages(root, manifest)
    _save(root, manifest)
    return manifest


def publish(root: Path, count: int, *, when: date | None = None) -> list[ItemInfo]:
    """Add ``count`` new items dated ``when`` (default today), the newest of that day."""
    if count < 0:
        raise ValueError("count must not be negative")
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        now = datetime.now().replace(second=0, microsecond=0)
        day = when or now.date()
        serial = max(i.serial for i in manifest.items)
        rng = random.Random(f"bridge-sandbox-publish:{manifest.seed}:{serial}:{day}")
        writer = content.Writer(rng, {i.title for i in manifest.items}, manifest.doc_counters)
        keys, weights = list(COLUMN_WEIGHTS), list(COLUMN_WEIGHTS.values())
        latest = [i.published for i in manifest.live() if i.published.date() == day]
        added: list[ItemInfo] = []
        for _ in range(count):
            moment = now if day == now.date() else datetime.combine(day, _clock(rng))
            moment = max([moment, *latest])  # ties are ordered by the rising article number
            serial += rng.randint(1, 9)
            column = rng.choices(keys, weights)[0]
            draft = writer.draft(column, day)
            added.append(_add(root, manifest, draft, column, moment, serial, rng))
        _write_pages(root, manifest)
        _save(root, manifest)
    return added


def edit(
    root: Path, item_id: str, *, title: str | None = None, body_append: str | None = None
) -> ItemInfo:
    """An editor changes an item: its detail page and the listings are republished."""
    if title is None and not body_append:
        raise ValueError("edit needs a new title or text to append")
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        item = manifest.get(item_id)
        if item.withdrawn:
            raise ValueError(f"{item_id} is withdrawn; it cannot be edited")
        if title is not None:
            title = title.strip()
            if not title or any(i.title == title and i is not item for i in manifest.items):
                raise ValueError(f"title {title!r} is empty or already used on the site")
            item.title, item.genre = title, content.genre_of(title)
        if body_append:
            item.body_html += "\n" + content.paragraph(body_append)
        item.edits += 1
        _write(_file(root, item.path), render_detail(item))
        _write_pages(root, manifest)
        _save(root, manifest)
    return item


def withdraw(root: Path, item_id: str) -> ItemInfo:
    """Take an item off the site: out of the listing first, then its files (404 after)."""
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        item = manifest.get(item_id)
        if not item.withdrawn:
            item.withdrawn = True
            _write_pages(root, manifest)
            _save(root, manifest)
            for path in [item.path, *(a["path"] for a in item.attachments)]:
                _file(root, path).unlink(missing_ok=True)
    return item


def _columns(rng: random.Random, n: int) -> list[str]:
    """Column per item: every column gets one, the rest by weight."""
    keys, weights = list(COLUMN_WEIGHTS), list(COLUMN_WEIGHTS.values())
    chosen = [k for k in keys if k != "qt"][:n]  # qt already holds the seed report
    chosen += rng.choices(keys, weights, k=n - len(chosen))
    rng.shuffle(chosen)
    return chosen


def _moments(rng: random.Random, n: int, start: date, end: date) -> list[datetime]:
    """Publish times, mostly on working days, in office hours; the newest is on ``end``."""
    days = []
    for _ in range(n):
        day = start + timedelta(rng.randint(0, (end - start).days))
        for _retry in range(3):
            if day.weekday() < 5:
                break
            day = start + timedelta(rng.randint(0, (end - start).days))
        days.append(day)
    days.sort()
    if days:
        days[-1] = end
    return sorted(datetime.combine(day, _clock(rng)) for day in days)


def _clock(rng: random.Random) -> clock:
    return clock(rng.randint(8, 17), rng.randint(0, 59))


def _add(
    root: Path,
    manifest: Manifest,
    draft: content.Draft,
    column: str,
    published: datetime,
    serial: int,
    rng: random.Random,
) -> ItemInfo:
    """Give a draft its id, URL and 索引号, write its files, and record it."""
    ymd = f"{published:%Y%m%d}"
    folder = f"{COLUMN_PATHS[column]}{published:%Y%m}/"
    index_no = None
    if draft.has_meta_table:
        year = str(draft.created.year)
        number = manifest.index_counters.get(year, rng.randint(0, 30)) + 1
        manifest.index_counters[year] = number
        index_no = f"{content.ORG_CODE}/{year}-{number:05d}"
    attachments: list[AttachmentInfo] = []
    for name, data in draft.attachments:
        ext = name.rsplit(".", 1)[1]
        path = f"{folder}P0{ymd}{rng.randrange(10**12):012d}.{ext}"
        _write(_file(root, path), data)
        sha = hashlib.sha256(data).hexdigest()
        media = content.MEDIA_TYPES[ext]
        attachments.append(
            AttachmentInfo(name=name, path=path, media_type=media, size=len(data), sha256=sha)
        )
    item = ItemInfo(
        id=f"t{ymd}_{serial:06d}",
        serial=serial,
        column=column,
        path=f"{folder}t{ymd}_{serial:06d}.html",
        title=draft.title,
        doc_no=draft.doc_no,
        created=draft.created,
        published=published,
        category=COLUMN_NAMES[column],
        genre=content.genre_of(draft.title),
        topic=draft.topic,
        index_no=index_no,
        has_meta_table=draft.has_meta_table,
        attachments=attachments,
        body_html=draft.body_html,
    )
    _write(_file(root, item.path), render_detail(item))
    manifest.items.append(item)
    return item


# --- files -----------------------------------------------------------------------------------


def _file(root: Path, url_path: str) -> Path:
    return root / url_path.lstrip("/")


def _write(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, unless it already holds exactly that."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save(root: Path, manifest: Manifest) -> None:
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=1)
    _write(root / MANIFEST, text.encode("utf-8"))


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One CMS action at a time, also across processes (a test and `bridge demo`)."""
    if not (root / MANIFEST).exists():
        raise FileNotFoundError(f"no sandbox site in {root} ({MANIFEST} is missing)")
    with open(root / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_pages(root: Path, manifest: Manifest) -> None:
    """Republish the home page, the static files and every column listing."""
    for asset in ("css/style.css", "js/page.js"):
        _write(root / asset, (content.DATA_DIR / Path(asset).name).read_bytes())
    _write(root / "index.html", render_home(manifest.live()[:HOME_ITEMS]))
    size = manifest.page_size
    for key, path, _name in COLUMNS:
        items = manifest.live(key)
        pages = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
        folder = _file(root, path)
        for number, entries in enumerate(pages):
            name = "index.html" if number == 0 else f"index_{number}.html"
            _write(folder / name, render_list(key, entries, number, len(pages)))
        for stale in folder.glob("index_*.html"):
            if int(stale.stem.split("_")[1]) >= len(pages):
                stale.unlink()


def serve_forever(
    root: Path, items: int, seed: int, port: int, host: str = "127.0.0.1", page_size: int = 20
) -> None:
    """`bridge sandbox site`: generate (or reopen) a site and serve it until SIGINT/SIGTERM.

    The first line of stdout is the base URL, so a script can start this and read it.
    """
    root = Path(root)
    if not root.exists() or not any(root.iterdir()):
        manifest = generate_site(root, items, seed, page_size=page_size)
    else:
        manifest = load_manifest(root)
    server = SiteServer(root, host, port)
    print(server.start(), flush=True)
    print(f"serving {len(manifest.live())} items from {root} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
