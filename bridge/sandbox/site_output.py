"""Publishing the sandbox site to disk: detail pages, listings, robots.txt, static files.

Pages are replaced atomically (temp file + rename) and only when their bytes change, so the
ETag and Last-Modified of an untouched page stay put, as on a real static site. Which markup
a page gets depends on the site's options: TRS or Hanweb, classic or redesigned layout, with
or without real-site variants.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bridge.sandbox import (
    site_entrance,
    site_hanweb,
    site_pages,
    site_redesign,
    site_variant_pages,
)
from bridge.sandbox.content import DATA_DIR
from bridge.sandbox.site_columns import column
from bridge.sandbox.site_listing import hanweb_records, trs_pages
from bridge.sandbox.site_model import BODIES, ItemInfo, Manifest, SiteOptions
from bridge.sandbox.site_variants import list_meta_tags

HOME_ITEMS = 10  # newest items on the home page
WRITERS = 4  # threads creating files while a site is generated
WRITE_BACKLOG = 256  # files queued for them at most (bounds memory)
ASSETS = {"css/style.css": "style.css", "js/page.js": "page.js"}  # URL path -> data/ file
HANWEB_ASSETS = {"module/web/jpage/jpage.js": "jpage.js"}
REDESIGN_ASSETS = {"js/list.js": "list.js"}


def file_for(root: Path, url_path: str) -> Path:
    return root / url_path.lstrip("/")


def write(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, unless it already holds exactly that."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


Put = Callable[[Path, bytes], None]  # how a CMS action stores one file


class FreshFiles:
    """Writes the files of a site being generated, from a few threads, in place.

    Creating a file costs far more waiting on the file system than CPU, and nobody reads the
    tree until generation ends, so no temp files and no renames; a bounded backlog keeps
    memory flat on a 100,000-item site. The first error is raised by ``close()``.
    """

    def __init__(self, workers: int = WRITERS, backlog: int = WRITE_BACKLOG):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sandbox-write")
        self._slots = threading.BoundedSemaphore(backlog)
        self._errors: list[BaseException] = []

    def put(self, path: Path, data: bytes) -> None:
        if self._errors:
            raise self._errors[0]
        self._slots.acquire()
        self._pool.submit(self._write, path, data)

    def _write(self, path: Path, data: bytes) -> None:
        try:
            try:
                path.write_bytes(data)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        except BaseException as exc:  # handed to the generating thread
            self._errors.append(exc)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> FreshFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_detail(item: ItemInfo, body_html: str, opts: SiteOptions) -> bytes:
    if opts.layout == "redesign":
        return site_redesign.render_detail(item, body_html, opts)
    if item.variants is not None:
        return site_variant_pages.render_detail(item, body_html, opts)
    if opts.style == "hanweb":
        return site_hanweb.render_detail(item, body_html, opts)
    return site_pages.render_detail(item, body_html, opts)


def write_all_details(root: Path, manifest: Manifest) -> None:
    """Re-render every live item's page (a new template), reading bodies one at a time."""
    with open(root / BODIES, "rb") as bodies:
        for item in manifest.items:
            if item.withdrawn:
                continue
            bodies.seek(item.body_at[0])
            body = bodies.read(item.body_at[1]).decode("utf-8")
            write(file_for(root, item.path), render_detail(item, body, manifest.options))


def robots_txt(opts: SiteOptions) -> bytes:
    """``Disallow:`` with nothing after it allows everything, which is the default."""
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in opts.robots_disallow)]
    if not opts.robots_disallow:
        lines.append("Disallow:")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_pages(root: Path, manifest: Manifest, put: Put = write) -> None:
    """Republish the home page, robots.txt, the static files and every column listing."""
    opts = manifest.options
    assets = dict(ASSETS)
    if opts.style == "hanweb":
        assets.update(HANWEB_ASSETS)
    if opts.layout == "redesign":
        assets.update(REDESIGN_ASSETS)
    for url, name in assets.items():
        put(root / url, (DATA_DIR / name).read_bytes())
    put(root / "robots.txt", robots_txt(opts))
    newest = manifest.live()[:HOME_ITEMS]
    if opts.variants:  # the columns behind a 政府信息公开 entrance, as on real sites
        put(root / "index.html", site_entrance.render_home_page(newest, opts))
        for url, data in site_entrance.entrance_pages(opts).items():
            put(file_for(root, url), data)
    else:
        put(root / "index.html", site_pages.render_home(newest, opts))
    for col in opts.column_list:
        if opts.style == "hanweb":
            _write_hanweb_column(root, manifest, col.key, put)
        else:
            _write_trs_column(root, manifest, col.key, put)


def _folder(opts: SiteOptions, key: str) -> str:
    return column(key).folder(opts.style)


def _write_redesigned(root: Path, manifest: Manifest, key: str, put: Put) -> None:
    opts = manifest.options
    folder = file_for(root, _folder(opts, key))
    entries = [e for page in trs_pages(manifest, key) for e in page]
    if opts.style == "hanweb":
        entries = hanweb_records(manifest, key)
    put(folder / "list.json", site_redesign.list_json(entries))
    put(folder / "index.html", site_redesign.render_list(key, opts))


def _write_trs_column(root: Path, manifest: Manifest, key: str, put: Put) -> None:
    opts = manifest.options
    folder = file_for(root, column(key).trs_path)
    count = 0
    if opts.layout == "redesign":
        _write_redesigned(root, manifest, key, put)
    else:
        (folder / "list.json").unlink(missing_ok=True)
        pages = trs_pages(manifest, key)
        count = len(pages)
        records = len(manifest.live(key)) if opts.variants else 0  # what a pager may count
        for number, entries in enumerate(pages):
            name = "index.html" if number == 0 else f"index_{number}.html"
            if opts.variants:
                page = site_variant_pages.render_trs_list(
                    manifest, key, entries, number, count, records
                )
            else:
                page = site_pages.render_list(key, entries, number, count, opts)
            put(folder / name, page)
    for stale in folder.glob("index_*.html"):
        if int(stale.stem.split("_")[1]) >= count:
            stale.unlink()


def _write_hanweb_column(root: Path, manifest: Manifest, key: str, put: Put) -> None:
    opts = manifest.options
    store = site_hanweb.proxy_store(root, key)
    if opts.layout == "redesign":
        store.unlink(missing_ok=True)  # the new template has no data proxy: it answers 404
        _write_redesigned(root, manifest, key, put)
        return
    folder = file_for(root, _folder(opts, key))
    (folder / "list.json").unlink(missing_ok=True)
    records = [site_hanweb.record_html(e, key, opts) for e in hanweb_records(manifest, key)]
    perpage = manifest.page_size
    head = list_meta_tags(key) if opts.variants else site_pages.GENERIC_HEAD
    put(folder / "index.html", site_hanweb.render_column(key, records, opts, perpage, head))
    put(store, site_hanweb.proxy_json(records, opts, perpage))
