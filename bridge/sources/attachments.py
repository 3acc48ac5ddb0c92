"""An item's attachments, downloaded under the per-item caps.

A record is never delivered without its attachments, so an item whose attachments
cannot all be had is held back whole (``Skippable``: the cycle counts and logs it as
skipped, with the reason, goes on with the other items, and tries it again next time):
one that answers 404 or an error page; more links than ``fetch.max_attachments``; files
that together come to more than ``fetch.max_item_bytes`` (the download stops there).
Files already downloaded for an item held back are removed at once.
"""

from __future__ import annotations

import mimetypes

from bridge.errors import Skippable
from bridge.raw import RawAttachment
from bridge.sources.body import TooLarge
from bridge.sources.charset import binary_kind
from bridge.sources.fetch import Fetcher, Missing

_PAGE_NAMES = (".html", ".htm", ".shtml", ".xhtml")


def download_attachments(
    fetcher: Fetcher, links: list[tuple[str, str]]
) -> tuple[RawAttachment, ...]:
    """Download an item's attachments, ``(name, url)`` in page order, or hold it back."""
    cfg = fetcher.cfg
    if len(links) > cfg.max_attachments:
        raise Skippable(
            f"the page links {len(links)} attachments, more than max_attachments = "
            f"{cfg.max_attachments}: held back, nothing downloaded (raise [fetch] "
            "max_attachments if the page really has so many)"
        )
    files: list[RawAttachment] = []
    total = 0
    try:
        for name, url in links:
            left = cfg.max_item_bytes - total
            try:
                got = download_attachment(
                    fetcher, name, url, max_bytes=min(cfg.max_attachment_bytes, left)
                )
            except TooLarge:
                if left >= cfg.max_attachment_bytes:
                    raise
                raise Skippable(
                    f"the attachments come to more than max_item_bytes = {cfg.max_item_bytes} "
                    f"bytes ({len(files)} of {len(links)} downloaded, {total} bytes, then "
                    f"{name} at {url} went past it): held back"
                ) from None
            files.append(got)
            total += got.size
    except BaseException:
        for a in files:
            a.discard()
        raise
    return tuple(files)


def download_attachment(
    fetcher: Fetcher, name: str, url: str, *, max_bytes: int | None = None
) -> RawAttachment:
    """Download one attachment into the fetcher's spool; a missing one holds the whole
    item back."""
    got = fetcher.file(url, max_bytes=max_bytes)
    if isinstance(got, Missing):
        # A record is never delivered without its attachments.
        raise Skippable(f"attachment {name} at {url} answered {got.status}")
    attachment = RawAttachment(
        name=name,
        url=got.url,
        media_type=got.media_type,
        size=got.size,
        sha256=got.sha256,
        path=got.path,
    )
    if got.media_type.lower() == "text/html" and not name.lower().endswith(_PAGE_NAMES):
        if binary_kind(got.head) is None and got.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
            # A download script answers a missing file with an error page and a 200.
            attachment.discard()
            raise Skippable(f"attachment {name} at {url} answered with an HTML page, not the file")
        # A download script that calls every file text/html: the file's name knows better.
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachment = RawAttachment(name, got.url, guessed, got.size, got.sha256, got.path)
    return attachment
