"""The source side: what a bureau site offers, in the bridge's terms.

A ``Source`` yields entries page by page (so the pipeline can stop paging early) and
fetches one entry's detail page; the values it yields (``ListEntry``, ``ListPage``,
``RawItem``, ``Gone``) and their terminology are in ``bridge.raw``. Parsing does no I/O
of its own; ``fetch.Fetcher`` does all of it, politely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from bridge.raw import Gone, ListEntry, ListPage, RawItem

if TYPE_CHECKING:
    from bridge.sources.fetch import NotModified


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
