"""What reading a column decides, before anything is stored: the crawl's plan.

The column reader (``bridge.crawl.reader``) turns each fetched page into one decision; a
recorder (``bridge.crawl.recorder``) applies it, or, in a dry run, the planner prints it.

- ``Version``: a normalized record to store. Whether it is *new*, *changed* or
  *unchanged* is the store's answer as it records it (in the write transaction, so
  that two cycles never both call an item new); the planner asks the same question
  read-only.
- ``Quarantine``: a page that normalizes to no valid record (its problems are kept).
- ``Withdraw``: items of a column whose detail page is gone, under the share rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.catalog import CatalogRecord
from bridge.normalize import QuarantineError
from bridge.raw import ListEntry, RawItem
from bridge.state import items


@dataclass
class SourceStats:
    pages: int = 0
    pages_not_modified: int = 0
    entries: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    withdrawn: int = 0
    withdraw_candidates: int = 0
    skipped: int = 0
    gone: int = 0
    columns_skipped: int = 0
    errors: int = 0
    replacement_chars: int = 0
    revalidated: int = 0  # known detail pages asked for again (bridge.crawl.revalidate)
    revalidated_not_modified: int = 0
    revalidated_unchanged: int = 0
    revalidated_changed: int = 0
    revalidated_gone: int = 0


@dataclass(slots=True)
class Version:
    """A record to store as the item's next version (when its content hash is new)."""

    entry: ListEntry
    raw: RawItem
    record: CatalogRecord
    digest: str


@dataclass(slots=True)
class Quarantine:
    """A page whose record breaks the rules: stored as quarantined, with its problems."""

    entry: ListEntry
    raw: RawItem
    error: QuarantineError


@dataclass(slots=True)
class Withdraw:
    """Items of ``column`` whose detail page is gone, of ``active`` items the column has:
    the share rule decides whether they go."""

    column: str
    gone: list[items.KnownItem]
    active: int
