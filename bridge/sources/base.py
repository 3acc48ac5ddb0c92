"""The source side: what a bureau site offers, in the bridge's terms.

Terminology:

- *column* (栏目): one listing on the site, such as 政策文件; a source has several;
- *listing*: the pages of one column, newest first (pinned items may sit on top);
- *entry*: one line of a listing: link, list title (possibly truncated), list date;
- *raw item*: what a detail page says, before normalization: title, metadata table,
  body HTML, attachments (already downloaded, so the record's hash covers them).

A ``Source`` yields entries page by page (so the pipeline can stop paging early) and
fetches one entry's detail page. Parsing does no I/O of its own; ``fetch.Fetcher`` does
all of it, politely.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.sources.fetch import NotModified


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


class Source(ABC):
    """One bureau site. Subclasses: ``trs.TrsSource``, ``memory.MemorySource`` …

    ``validators`` maps a page URL to the (ETag, Last-Modified) the pipeline loaded from
    the state store, to send as conditional headers; the source puts what it got for
    pages it parsed into ``new_validators``, which the pipeline saves only after the
    page's items are recorded (so a crash never hides an unprocessed page behind a 304).
    """

    name: str

    def __init__(self) -> None:
        self.validators: Mapping[str, tuple[str | None, str | None]] = {}
        self.new_validators: dict[str, tuple[str | None, str | None]] = {}

    @abstractmethod
    def columns(self) -> list[str]:
        """The column keys this source reads, in config order."""

    @abstractmethod
    def list_pages(self, column: str, *, conditional: bool = True) -> Iterator[ListPage]:
        """The pages of one column, newest first; the caller stops iterating when it
        has seen enough. With ``conditional``, unchanged pages may come back as 304."""

    @abstractmethod
    def fetch_item(self, entry: ListEntry) -> RawItem | Gone:
        """Read one detail page and its attachments."""

    def revalidate_item(
        self, entry: ListEntry, etag: str | None, last_modified: str | None
    ) -> RawItem | Gone | NotModified:
        """Read a known detail page again, conditionally when validators are known; a
        source without conditional GET reads it whole (the content hash decides)."""
        return self.fetch_item(entry)

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release connections."""
