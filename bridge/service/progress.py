"""How far a cycle has got, counted from the pipeline's ``ctx.report`` events.

Counting only: the library never prints. ``bridge sync --once`` and ``bridge resync``
show a tally's snapshot (``bridge.cli.progress``); the daemon stores it in a queued
resync's row, where ``resync --wait`` reads it.

What is known grows as the crawl goes: a column's first list page tells how many pages it
has (``ListPage.page_count``), and the items on the pages not read yet are estimated from
those read so far. A poll that stops after the newest pages counts only what it read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Column:
    reads_all: bool
    page_count: int | None = None
    pages: int = 0
    wanted: int = 0  # entries of the pages read that this run reads

    def pages_known(self) -> int:
        if self.reads_all and self.page_count:
            return max(self.page_count, self.pages)
        return self.pages

    def items_known(self) -> int:
        left = self.pages_known() - self.pages
        if left <= 0 or not self.pages:
            return self.wanted
        return self.wanted + round(left * self.wanted / self.pages)


@dataclass
class _Source:
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    columns: dict[str, _Column] = field(default_factory=dict)
    items: int = 0
    status: str | None = None  # set when the source is done: ok | failed | alarm

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "pages": sum(c.pages for c in self.columns.values()),
            "pages_known": sum(c.pages_known() for c in self.columns.values()),
            "items": self.items,
            "items_known": max(self.items, sum(c.items_known() for c in self.columns.values())),
            "seconds": round((self.finished or now) - self.started, 3),
            "status": self.status,
        }


class Tally:
    """Per source: list pages and items read, of those known. ``report`` is the
    ``Context.progress`` hook; it may be called from the crawl's thread while another
    thread takes ``snapshot``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, _Source] = {}

    def report(self, what: str, info: dict[str, Any]) -> None:
        name = str(info.get("source", ""))
        with self._lock:
            source = self._sources.setdefault(name, _Source())
            if what == "list page":
                column = source.columns.setdefault(
                    str(info["column"]), _Column(reads_all=bool(info.get("reads_all", True)))
                )
                column.pages += 1
                column.wanted += int(info.get("wanted") or 0)
                if info.get("page_count"):
                    column.page_count = int(info["page_count"])
            elif what == "item":
                source.items += 1
            elif what == "source done":
                source.status = str(info.get("status"))
                source.finished = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        """``{"sources": {name: {pages, pages_known, items, items_known, seconds,
        status}}}``, JSON-ready, sources in the order they began."""
        now = time.monotonic()
        with self._lock:
            return {"sources": {n: s.snapshot(now) for n, s in self._sources.items()}}


def rate(source: dict[str, Any]) -> float:
    """Items read per second since the source began."""
    seconds = float(source.get("seconds") or 0.0)
    return source["items"] / seconds if seconds > 0 else 0.0


def seconds_left(source: dict[str, Any]) -> float | None:
    """The time to read the items known but not read yet, at the rate so far."""
    left = source["items_known"] - source["items"]
    speed = rate(source)
    if left <= 0 or speed <= 0 or source.get("status"):
        return None
    return left / speed
