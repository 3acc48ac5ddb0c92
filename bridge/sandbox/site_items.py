"""How the sandbox CMS turns an editor's draft into a published item, and picks its quirks.

An item gets its id and URL from the site's style (TRS ``/xxgk/<col>/YYYYMM/tYYYYMMDD_N.html``,
Hanweb ``/art/Y/M/D/art_<colid>_N.html``), its 索引号 from the per-year counter (numbered with
the bureau's 统一社会信用代码, content.USCC), with ``variants`` its page's variants
(site_variants.py), its body a place
in ``.cms/bodies.dat``, and its attachments a stored file: beside the page in TRS, behind
``downfile.jsp`` in Hanweb, under their Chinese names with ``cn_filenames``. Every style draws
the same random numbers, so one seed gives the same items in both styles.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from bridge.sandbox import content, site_hanweb, site_variants
from bridge.sandbox.site_columns import column as column_of
from bridge.sandbox.site_model import AttachmentInfo, BodyStore, ItemInfo, Manifest
from bridge.sandbox.site_output import Put, file_for, render_detail, write

PIN_MIN_ITEMS = 5  # a column pins an item once it has this many of its own
CROSS_LIST_FROM = 10  # the cross-listed item is one of the newest this many, so it is seen


def choose_quirks(manifest: Manifest, rng: random.Random) -> None:
    """Pin and cross-list items, with an rng of their own so the content stays the same."""
    opts = manifest.options
    keys = [c.key for c in opts.column_list]
    if opts.pinned:
        for key in keys:
            own = [i for i in manifest.live(key) if i.column == key]
            if len(own) >= PIN_MIN_ITEMS:  # an older item: past page 1 when there is one
                rng.choice(own[min(manifest.page_size, len(own) - 1) :]).pinned = True
    if opts.cross_listed:
        newest = [i for i in manifest.live()[:CROSS_LIST_FROM] if not i.pinned]
        item = rng.choice(newest)
        item.also = [rng.choice([k for k in keys if k != item.column])]


class ItemAdder:
    """Gives drafts their id, URL and 索引号, writes their files, and records them."""

    def __init__(
        self,
        root: Path,
        manifest: Manifest,
        bodies: BodyStore,
        rng: random.Random,
        put: Put = write,
    ):
        self.root, self.manifest, self.bodies, self.rng = root, manifest, bodies, rng
        self.put = put  # FreshFiles.put while generating into an empty root

    def __call__(
        self, draft: content.Draft, column: str, published: datetime, serial: int
    ) -> ItemInfo:
        opts, manifest = self.manifest.options, self.manifest
        ymd = f"{published:%Y%m%d}"
        if opts.style == "hanweb":
            item_id = f"{serial:06d}"  # what the Hanweb preset takes as the article id
            day = (published.year, published.month, published.day)
            path = site_hanweb.article_path(column, serial, day)
        else:
            item_id = f"t{ymd}_{serial:06d}"
            path = f"{column_of(column).trs_path}{published:%Y%m}/{item_id}.html"
        index_no = None
        if draft.has_meta_table:
            year = str(draft.created.year)
            number = manifest.index_counters.get(year, self.rng.randint(0, 30)) + 1
            manifest.index_counters[year] = number
            index_no = f"{opts.unit_code}/{year}-{number:05d}"
        attachments = [self._attach(name, data, path, ymd) for name, data in draft.attachments]
        item = ItemInfo(
            id=item_id,
            serial=serial,
            column=column,
            path=path,
            title=draft.title,
            doc_no=draft.doc_no,
            created=draft.created,
            published=published,
            category=column_of(column).category_name,
            genre=content.genre_of(draft.title),
            topic=draft.topic,
            index_no=index_no,
            has_meta_table=draft.has_meta_table,
            attachments=attachments,
            body_at=self.bodies.add(draft.body_html),
            root=self.root,
        )
        if opts.variants:  # drawn from the item's own rng: the main one is not touched
            item.variants = site_variants.choose(item, manifest)
            item.shown = site_variants.truth(item, opts)
        page = render_detail(item, draft.body_html, opts)
        self.put(file_for(self.root, item.path), page)
        manifest.items.append(item)
        return item

    def _attach(self, name: str, data: bytes, page_path: str, ymd: str) -> AttachmentInfo:
        """Store one file; TRS links it beside the page, Hanweb through downfile.jsp."""
        opts = self.manifest.options
        ext = name.rsplit(".", 1)[1]
        number = self.rng.randrange(10**12)  # drawn in every style: same seed, same items
        safe_name = name.replace("/", "_").replace("\\", "_")
        item_stem = page_path.rsplit("/", 1)[1].removesuffix(".html")
        sidecar = None
        if opts.style == "hanweb":
            if opts.cn_filenames:
                stored = f"{item_stem.rsplit('_', 1)[1]}/{safe_name}"  # the article's serial
            else:
                stored, sidecar = f"{ymd}{number:012d}.{ext}", name
            path, href = site_hanweb.UPLOADS + stored, site_hanweb.downfile_href(stored)
        else:
            folder = page_path.rsplit("/", 1)[0] + "/"
            if opts.cn_filenames:
                path = f"{folder}{item_stem}/{safe_name}"
            else:
                path = f"{folder}P0{ymd}{number:012d}.{ext}"
            href = quote(path)
        target = file_for(self.root, path)
        self.put(target, data)
        if sidecar is not None:  # the name downfile.jsp sends in Content-Disposition
            self.put(target.with_name(f".{target.name}.name"), sidecar.encode())
        return AttachmentInfo(
            name=name,
            path=path,
            media_type=content.MEDIA_TYPES[ext],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            href=href,
        )
