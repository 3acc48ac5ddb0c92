"""The figures of ``bench.freshness``: what the site did, what the portal stored and when.

A *change* is one thing the sandbox site did while the daemon ran: a new item published, or
a sentence appended to the body of an item the portal already held. Each has the moment it
became visible on the site (``at``, epoch seconds). The portal's own store says when it took
each version of each item (``item_history.recorded_at``, UTC, microseconds), so:

- a new item is caught by the first version the portal stored of it;
- a body edit is caught by the first version after the one held at the edit whose body
  contains the appended sentence.

A change the portal had not taken by the deadline is *missed*: counted and listed, never
dropped. Percentiles are nearest-rank over the caught changes (with 20 values, p95 is the
19th), so a small sample never reports a latency smaller than one it saw.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import table

KINDS = (("new", "new items"), ("edit", "body edits of recent items"))
SLACK = 10.0  # seconds the goal allows on top of the poll interval (issue 21)


@dataclass
class Change:
    kind: str  # "new" or "edit"
    item: str  # the sandbox item id; the portal's external_id is "<source>:<item>"
    at: float  # epoch seconds: the change was on the site from this moment
    marker: str | None = None  # edit: the appended sentence
    base_version: int | None = None  # edit: the portal's version of the item at the edit
    caught_at: float | None = None  # epoch seconds the portal stored the change
    version: int | None = None  # the portal version that carried it

    @property
    def latency(self) -> float | None:
        return None if self.caught_at is None else self.caught_at - self.at


def _epoch(stamp: str) -> float:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class PortalView:
    """The sandbox portal's SQLite file, read beside the running server (WAL allows it)."""

    def __init__(self, db: Path, source: str) -> None:
        self.db = db
        self.source = source

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            conn.execute("PRAGMA busy_timeout = 5000")
            return list(conn.execute(sql, params).fetchall())

    def count(self) -> int:
        rows = self._query("SELECT count(*) FROM items")
        return int(rows[0][0]) if rows else 0

    def versions(self) -> dict[str, int]:
        """Current version of every item the portal holds, by sandbox item id."""
        prefix = f"{self.source}:"
        return {
            ext.removeprefix(prefix): int(version)
            for ext, version in self._query("SELECT external_id, version FROM items")
            if ext.startswith(prefix)
        }

    def history(self, item: str) -> list[tuple[int, float, str]]:
        """(version, recorded at in epoch seconds, body_html) of each stored version."""
        rows = self._query(
            "SELECT h.version, h.recorded_at, h.record FROM item_history h"
            " JOIN items i ON i.id = h.item_id WHERE i.external_id = ? ORDER BY h.version",
            (f"{self.source}:{item}",),
        )
        return [(int(v), _epoch(at), json.loads(rec).get("body_html", "")) for v, at, rec in rows]


def collect(portal: PortalView, changes: list[Change], deadline: float) -> None:
    """Fill in when the portal took each change; a version stored after ``deadline`` does
    not count (the change stays missed)."""
    for change in changes:
        if change.caught_at is not None:
            continue
        for version, at, body in portal.history(change.item):
            if at > deadline:
                break
            if change.kind == "new" or (
                version > (change.base_version or 0) and change.marker and change.marker in body
            ):
                change.caught_at, change.version = at, version
                break


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (never below a value it stands for); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(changes: list[Change], interval: float) -> dict[str, dict[str, Any]]:
    """Per kind: counts, p50/p95/max seconds, the goal and whether it was met."""
    goal = interval + SLACK
    out: dict[str, dict[str, Any]] = {}
    for kind, label in KINDS:
        mine = [c for c in changes if c.kind == kind]
        late = [c.latency for c in mine if c.latency is not None]
        p95 = percentile(late, 95)
        missed = [c.item for c in mine if c.caught_at is None]
        out[kind] = {
            "label": label,
            "changes": len(mine),
            "caught": len(late),
            "missed": len(missed),
            "missed_items": missed,
            "p50_s": percentile(late, 50),
            "p95_s": p95,
            "max_s": max(late) if late else None,
            "goal_s": goal,
            # A missed change is later than any goal: the goal holds only when none is missed.
            "goal_met": bool(mine) and not missed and p95 is not None and p95 <= goal,
        }
    return out


def report_table(summary: dict[str, dict[str, Any]], interval: float) -> str:
    def secs(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}"

    rows = []
    for kind, _label in KINDS:
        s = summary[kind]
        if not s["changes"]:
            verdict = "— (none made)"
        elif s["goal_met"]:
            verdict = "met"
        elif s["missed"]:
            verdict = f"**not met** ({s['missed']} missed)"
        else:
            verdict = "**not met**"
        rows.append(
            (
                s["label"],
                s["changes"],
                s["caught"],
                s["missed"],
                secs(s["p50_s"]),
                secs(s["p95_s"]),
                secs(s["max_s"]),
                f"{interval:g}",
                f"p95 ≤ {s['goal_s']:g} s: {verdict}",
            )
        )
    headers = ["change", "made", "caught", "missed", "p50 s", "p95 s", "max s", "interval s"]
    return table([*headers, "goal"], rows)
