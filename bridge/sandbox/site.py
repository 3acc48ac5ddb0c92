"""The sandbox bureau website: a generated site on disk, its CMS actions, its server.

Terminology: the *root* is the directory the site lives in; ``site.json`` there is the CMS's
database (the manifest, site_model.py), everything else outside ``.cms/`` is published output.
Pages are replaced atomically and the manifest is written last, so a reader in another process
never sees a manifest naming a page that is not there yet. The site's options (style,
encoding, quirks, variants) are fixed when it is generated and kept in the manifest, so
``publish``, ``edit``, ``withdraw`` and ``relayout`` keep producing the same kind of site.
``shown_fields()`` tells what each page shows (site_variants.py), for tests to compare with.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from types import FrameType
from typing import Any

from bridge.sandbox import content, site_variants
from bridge.sandbox.site_columns import DEFAULT_COLUMNS, MAX_COLUMNS, Column, column
from bridge.sandbox.site_items import ItemAdder, choose_quirks
from bridge.sandbox.site_model import (
    MANIFEST,
    AttachmentInfo,
    BodyStore,
    ItemInfo,
    Manifest,
    SiteOptions,
    bureau_now,
    load_head,
    load_manifest,
    save_manifest,
)
from bridge.sandbox.site_output import (
    FreshFiles,
    file_for,
    render_detail,
    write,
    write_all_details,
    write_pages,
)
from bridge.sandbox.site_pages import COLUMNS
from bridge.sandbox.site_server import RequestLog, SiteServer

__all__ = [
    "COLUMNS",
    "MAX_COLUMNS",
    "AttachmentInfo",
    "Column",
    "ItemInfo",
    "Manifest",
    "RequestLog",
    "SiteOptions",
    "SiteServer",
    "column_paging",
    "columns_toml",
    "edit",
    "generate_site",
    "load_manifest",
    "publish",
    "relayout",
    "serve_forever",
    "shown_fields",
    "withdraw",
]

COLUMN_WEIGHTS = {key: column(key).weight for key, _, _ in COLUMNS}
"""Most of what a bureau publishes is work news and policy files; 机构职能 rarely changes.
Each sub-column of a bigger site (``columns``) weighs as much as 机构职能 (site_columns.py)."""

SPREAD_DAYS = 730  # generated items cover about two years before end_date
PAGE_SIZES = {"trs": 20, "hanweb": 15}  # entries per list page: the CMS templates' defaults


# --- the CMS actions -------------------------------------------------------------------------


def generate_site(
    root: Path,
    items: int = 60,
    seed: int = 1,
    *,
    page_size: int | None = None,
    end_date: date | None = None,
    style: str = "trs",
    encoding: str = "utf-8",
    pinned: bool = False,
    cross_listed: bool = False,
    offsite_links: bool = False,
    volatile: bool = False,
    list_dates: str = "iso",
    cn_dates: bool = False,
    cn_filenames: bool = False,
    rare_chars: bool | None = None,
    robots_disallow: Iterable[str] = (),
    columns: int = DEFAULT_COLUMNS,
    variants: bool = False,
    unit_code: str = content.USCC,
) -> Manifest:
    """Generate ``items`` items (the seed report is one) into an empty ``root``.

    Every quirk is off by default, so existing sites and tests keep their exact pages;
    ``rare_chars`` (names with GBK-only characters) defaults to on for GBK sites, where it
    is what tells a strict GB2312 reader from a right one. ``page_size`` defaults to the
    style's template (TRS 20, Hanweb 15). The same seed gives the same items in both styles.
    ``columns`` (6 to 60) adds sub-columns of the disclosure catalog to the six top columns
    (site_columns.py); items are spread over all of them, each filed under its column's
    category. ``Manifest.columns`` and ``columns_toml()`` tell a config what the site has.
    ``variants`` gives pages the markup variants of real sites (site_variants.py); with it
    off every page is what it always was.
    """
    root = Path(root)
    opts = SiteOptions(
        style=style,
        encoding=encoding,
        pinned=pinned,
        cross_listed=cross_listed,
        offsite_links=offsite_links,
        volatile=volatile,
        list_dates=list_dates,
        cn_dates=cn_dates,
        cn_filenames=cn_filenames,
        rare_chars=encoding == "gbk" if rare_chars is None else rare_chars,
        robots_disallow=tuple(robots_disallow),
        columns=columns,
        variants=variants,
        unit_code=unit_code,
    )
    size = PAGE_SIZES[style] if page_size is None else page_size
    if items < 1 or size < 1:
        raise ValueError("items and page_size must be at least 1")
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty; open an existing site with load_manifest()")
    end = end_date or bureau_now().date()
    start = max(end - timedelta(days=SPREAD_DAYS), content.SEED_PUBLISHED.date() + timedelta(1))
    if end < start:
        raise ValueError("end_date must be after 2012-12-05, the date of the seed report")
    rng = random.Random(f"bridge-sandbox:{seed}:{items}:{end.isoformat()}")
    manifest = Manifest(seed, size, end, [], {}, {}, opts)
    if variants:
        manifest.paging = site_variants.choose_paging(seed, opts)
    gap = max(1, min(40, 800_000 // items))  # article numbers stay 6 digits
    serial = 100_000 + rng.randint(1, gap)
    root.mkdir(parents=True, exist_ok=True)
    with BodyStore(root) as bodies, FreshFiles() as files:
        add = ItemAdder(root, manifest, bodies, rng, files.put)
        add(content.seed_report(), "qt", content.SEED_PUBLISHED, serial)
        writer = _writer(rng, {content.SEED_TITLE}, manifest)
        keys = _columns(rng, items - 1, opts.column_list)
        for key, moment in zip(keys, _moments(rng, items - 1, start, end), strict=True):
            serial += rng.randint(1, gap)
            add(writer.draft(column(key).category, moment.date()), key, moment, serial)
        choose_quirks(manifest, random.Random(f"bridge-sandbox-quirks:{seed}:{items}"))
        write_pages(root, manifest, files.put)
    save_manifest(root, manifest)
    return manifest


def publish(root: Path, count: int, *, when: date | None = None) -> list[ItemInfo]:
    """Add ``count`` new items dated ``when`` (default today), the newest of that day."""
    if count < 0:
        raise ValueError("count must not be negative")
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        now = bureau_now().replace(second=0, microsecond=0)
        day = when or now.date()
        serial = max(i.serial for i in manifest.items)
        rng = random.Random(f"bridge-sandbox-publish:{manifest.seed}:{serial}:{day}")
        writer = _writer(rng, {i.title for i in manifest.items}, manifest)
        cols = manifest.options.column_list
        keys, weights = [c.key for c in cols], [c.weight for c in cols]
        latest = [i.published for i in manifest.live() if i.published.date() == day]
        added: list[ItemInfo] = []
        with BodyStore(root) as bodies:
            add = ItemAdder(root, manifest, bodies, rng)
            for _ in range(count):
                moment = now if day == now.date() else datetime.combine(day, _clock(rng))
                moment = max([moment, *latest])  # ties are ordered by the rising article number
                serial += rng.randint(1, 9)
                key = rng.choices(keys, weights)[0]
                added.append(add(writer.draft(column(key).category, day), key, moment, serial))
        write_pages(root, manifest)
        save_manifest(root, manifest)
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
            if item.variants is not None:  # the same variants, the new title
                item.shown = site_variants.truth(item, manifest.options)
        body = item.body_html
        if body_append:
            body += "\n" + content.paragraph(body_append)
            with BodyStore(root) as bodies:
                item.body_at = bodies.add(body)
        item.edits += 1
        write(file_for(root, item.path), render_detail(item, body, manifest.options))
        write_pages(root, manifest)
        save_manifest(root, manifest)
    return item


def withdraw(root: Path, item_id: str) -> ItemInfo:
    """Take an item off the site: out of the listing first, then its files (404 after)."""
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        item = manifest.get(item_id)
        if not item.withdrawn:
            item.withdrawn = True
            write_pages(root, manifest)
            save_manifest(root, manifest)
            file_for(root, item.path).unlink(missing_ok=True)
            for att in item.attachments:
                stored = file_for(root, att["path"])
                stored.unlink(missing_ok=True)
                stored.with_name(f".{stored.name}.name").unlink(missing_ok=True)
    return item


def relayout(root: Path, layout: str = "redesign") -> Manifest:
    """A redesign (a new CMS template): every page is rendered again in ``layout``.

    Article URLs stay; listings move into ``list.json`` loaded by a script, bodies into
    ``<article class="content">``. ``layout="classic"`` puts the old template back.
    """
    root = Path(root)
    with _locked(root):
        manifest = load_manifest(root)
        manifest.options = replace(manifest.options, layout=layout)  # validates the layout
        write_all_details(root, manifest)
        write_pages(root, manifest)
        save_manifest(root, manifest)
    return manifest


def shown_fields(root: Path) -> dict[str, dict[str, Any]]:
    """What each live item's page shows, as a reader reads it (site_variants.truth): title
    and where (``title_in``), publisher and its label, created and its label, 文号 (with
    〔〕, None for 无), 索引号, topic, metadata layout, body container. A site without variants
    gets the same fields for its classic markup. The expected values of end-to-end tests;
    after a redesign the pages show none of it (the bridge must raise a layout alarm).
    """
    manifest = load_manifest(Path(root))
    opts = manifest.options
    return {
        i.id: dict(i.shown) if i.shown is not None else site_variants.truth(i, opts)
        for i in manifest.items
        if not i.withdrawn
    }


def column_paging(site: Manifest | Path | str) -> dict[str, str]:
    """The pager of each column: createPageHTML, countPage, recordCount or text (TRS), or
    dataproxy (Hanweb). A site without variants: createPageHTML or dataproxy everywhere."""
    manifest = site if isinstance(site, Manifest) else load_head(Path(site))
    return site_variants.paging_of(manifest)


def columns_toml(site: Manifest | Path | str) -> str:
    """The ``[[sources.columns]]`` tables (key, path, category) of a site, for a config.

    ``site`` is a manifest or a site root (only the manifest's head is read). Paths are the
    site's own: ``xxgk/zsks/`` in TRS, ``col/col1235/`` in Hanweb. For a default TRS site
    this is exactly what tests/conftest.py writes from ``COLUMNS``.
    """
    manifest = site if isinstance(site, Manifest) else load_head(Path(site))
    return "".join(
        f'\n  [[sources.columns]]\n  key = "{key}"\n  path = "{path.strip("/")}/"\n'
        f'  category = "{name}"\n'
        for key, path, name in manifest.columns
    )


# --- generation ------------------------------------------------------------------------------


def _writer(rng: random.Random, titles: set[str], manifest: Manifest) -> content.Writer:
    opts = manifest.options
    return content.Writer(
        rng, titles, manifest.doc_counters, cn_dates=opts.cn_dates, rare_chars=opts.rare_chars
    )


def _columns(rng: random.Random, n: int, cols: tuple[Column, ...]) -> list[str]:
    """Column per item: every column gets one (while there are items), the rest by weight."""
    keys, weights = [c.key for c in cols], [c.weight for c in cols]
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


# --- files -----------------------------------------------------------------------------------


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


def serve_forever(
    root: Path,
    items: int,
    seed: int,
    port: int,
    host: str = "127.0.0.1",
    page_size: int | None = None,
    *,
    delay: float = 0.0,
    **options: object,
) -> None:
    """`bridge sandbox site`: generate (or reopen) a site and serve it until SIGINT/SIGTERM.

    ``options`` are generate_site's; they apply only when the root is empty. The first line
    of stdout is the base URL, so a script can start this and read it.
    """
    root = Path(root)
    if not root.exists() or not any(root.iterdir()):
        manifest = generate_site(root, items, seed, page_size=page_size, **options)  # type: ignore[arg-type]
    else:
        manifest = load_manifest(root)
    server = SiteServer(root, host, port, delay=delay)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # The handlers go in before the URL is printed: whoever reads that line may send
    # SIGTERM at once, and before them it killed the process (exit -15, not a clean stop).
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        print(server.start(), flush=True)
        print(f"serving {len(manifest.live())} items from {root} (Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
