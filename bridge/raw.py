"""What a bureau site says, as found: the values the sources produce and normalization reads.

Terminology:

- *column* (栏目): one listing on the site, such as 政策文件; a source has several;
- *listing*: the pages of one column, newest first (pinned items may sit on top);
- *entry*: one line of a listing: link, list title (possibly truncated), list date;
- *raw item*: what a detail page says, before normalization: title, metadata table,
  body HTML, attachments (already downloaded, so the record's hash covers them).

Its own module, apart from ``sources`` and ``normalize``, so that neither imports the other.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ListEntry:
    """One line of a column listing."""

    column: str
    url: str
    article_id: str
    list_title: str
    list_date: str | None = None
    pinned: bool = False

    @property
    def fingerprint(self) -> str:
        """What the listing says about the item; a change here means fetch it again."""
        return f"{self.list_title}\x1f{self.list_date or ''}"


@dataclass(frozen=True)
class ListPage:
    """One page of a listing. ``not_modified`` means the server answered 304."""

    column: str
    url: str
    number: int
    entries: tuple[ListEntry, ...]
    page_count: int | None = None
    not_modified: bool = False


@dataclass(frozen=True)
class RawAttachment:
    """A downloaded attachment. Its bytes wait in ``path``, a private temporary file
    (``spool.Spool``), until the item is recorded or dropped (``discard``): never whole
    in memory, except one at a time while it is stored. ``path`` is None for a stand-in
    that has no bytes (a parsing test's)."""

    name: str
    url: str
    media_type: str
    size: int
    sha256: str
    path: str | None = field(default=None, repr=False, compare=False)

    def read(self) -> bytes:
        if self.path is None:
            raise ValueError(f"attachment {self.name} was never downloaded")
        with open(self.path, "rb") as f:
            return f.read()

    def discard(self) -> None:
        """Remove the downloaded file (done with: recorded, or the item dropped)."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


@dataclass(frozen=True)
class RawItem:
    """What one detail page says, as found; normalization makes a record of it."""

    source: str
    column: str
    url: str
    article_id: str
    title: str
    """What the template's heading (or the CMS's title marker) shows; "" when none."""
    list_title: str
    list_date: str | None
    meta: dict[str, str]
    """Metadata table, labels with all white space and colons removed (索引号, 文号 …)."""
    body_html: str
    body_text: str
    attachments: tuple[RawAttachment, ...]
    fetched_at: datetime
    replacement_chars: int = 0
    """U+FFFD characters produced by decoding: non-zero means the charset was wrong."""
    charset: str = "utf-8"
    charset_how: str = "header"
    """How the charset was chosen: header, bom, meta, utf-8, default, or detected (a guess)."""
    page_meta: dict[str, str] = field(default_factory=dict)
    """The page's government meta tags (``ArticleTitle``, ``PubDate``, ``ContentSource`` …)."""
    doc_title: str = ""
    """The page's ``<title>``, the title's last fallback."""
    etag: str | None = None
    last_modified: str | None = None
    """The detail page's validators, kept for its revalidation (conditional GET)."""

    def discard(self) -> None:
        """Remove the attachments' downloaded files: the item is recorded, or dropped."""
        for a in self.attachments:
            a.discard()


@dataclass(frozen=True)
class Gone:
    """The detail page answered 404 or 410: the item may have been withdrawn."""

    url: str
    status: int
