"""公开时效, 归集时效 and the baseline of the whole store, kept current at the cost of
what changed: the source of ``/metrics`` (scraped every 15 s) and the admin charts.

Reading every item and every version's record at each scrape costs seconds at 100,000
items. Instead each item's *contribution* (baseline, or its working days in each measure,
apart, pending) is kept with what it depends on: the item's version (its newest record
gives the 生成日期 and its provenance), ``published_at``, ``first_confirmed_at`` and the
first read of its column. A refresh reads only the items whose ``items.updated_at``
moved since the last one (every write to an item row moves it: ``onupdate`` applies to
the ORM and to the Core updates of recording and outbox alike), plus new ids, and reads a
record only for an item whose version changed. ``count(*)`` catches anything else (a full
reload when it disagrees). Per-source tallies are updated by taking the old contribution
out and putting the new one in, so the output costs nothing per item.

A write commits after its ``updated_at`` is taken, so a refresh re-reads the last
``LAG`` before the newest ``updated_at`` it has seen (cheap: unchanged items are skipped
on their dependencies). Pending items are not in the histograms; their elapsed working
days depend on today and are worked out when asked (for the chart's late count).

Classification is :meth:`bridge.admin.report.timeliness.Timeliness.add`'s, over the same columns.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bridge import workdays
from bridge.provenance import is_shown, provenance_of
from bridge.state.db import Database
from bridge.state.models import ItemRow, ItemVersionRow, SourceRow

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

LAG = timedelta(minutes=10)  # longer than any write transaction holds its rows
HOUR = 3600.0
CHUNK = 500

_COLUMNS = select(
    ItemRow.id, ItemRow.source_id, ItemRow.column, ItemRow.first_seen, ItemRow.version,
    ItemRow.published_at, ItemRow.first_confirmed_at, ItemRow.updated_at,
)  # fmt: skip


@lru_cache(maxsize=65536)
def _working_days(start: date, end: date) -> int:
    return workdays.working_days(start, end)


@dataclass(frozen=True, slots=True)
class Placed:
    """One item's part in its source's tallies."""

    source_id: int
    baseline: bool = False
    disclosure: int | None = None  # working days, counted (生成日期 shown)
    apart: bool = False  # 公开时效 counted apart (生成日期 not shown)
    collection: int | None = None  # working days, finished
    seconds: float | None = None  # finished: publication → confirmation
    micros: int = 0  # the same, exact, for the sum
    pending_since: datetime | None = None  # published_at of a pending item


@dataclass(slots=True)
class _Row:
    source_id: int
    column: str
    first_seen: datetime
    version: int
    published_at: datetime | None
    confirmed_at: datetime | None
    created: date | None = None  # the newest version's 生成日期 (None: none or unreadable)
    shown: bool = False  # … and the page shows it
    record_version: int = -1  # the version ``created``/``shown`` were read from
    placed: Placed | None = None


@dataclass
class Tally:
    """One source's figures: working days → items, per measure (finished items only)."""

    disclosure: Counter[int] = field(default_factory=Counter)
    collection: Counter[int] = field(default_factory=Counter)
    seconds_buckets: Counter[int] = field(default_factory=Counter)  # index into bounds
    seconds_micros: int = 0
    baseline: int = 0
    apart: int = 0
    pending: dict[int, datetime] = field(default_factory=dict)  # item id → published_at

    def figures(self, measure: str, now: datetime) -> Figures:
        """A measure as the admin chart shows it: :meth:`bridge.admin.report.timeliness.Measure.buckets`
        (finished items), counted and late (pending ones too, by their days so far)."""
        counts: Counter[int] = getattr(self, measure)
        bars = dict.fromkeys((label for label, _ in workdays.BUCKETS), 0)
        for days, n in counts.items():
            bars[workdays.bucket_of(days)] += n
        late = sum(n for days, n in counts.items() if days > workdays.LEGAL_LIMIT)
        pending = 0
        if measure == "collection":
            today = workdays.local_date(now)
            pending = len(self.pending)
            late += sum(
                1 for at in self.pending.values()
                if _working_days(workdays.local_date(at), today) > workdays.LEGAL_LIMIT
            )  # fmt: skip
        return Figures(
            measure, list(bars.items()), counted=counts.total() + pending, late=late,
            pending=pending, apart=self.apart if measure == "disclosure" else 0,
            baseline=self.baseline,
        )  # fmt: skip


@dataclass(frozen=True)
class Figures:
    name: str  # "disclosure" | "collection"
    buckets: list[tuple[str, int]]
    counted: int
    late: int
    pending: int
    apart: int
    baseline: int


def combined(tallies: Iterable[Tally]) -> Tally:
    """All sources' figures together."""
    out = Tally()
    for t in tallies:
        out.disclosure.update(t.disclosure)
        out.collection.update(t.collection)
        out.seconds_buckets.update(t.seconds_buckets)
        out.seconds_micros += t.seconds_micros
        out.baseline += t.baseline
        out.apart += t.apart
        out.pending.update(t.pending)
    return out


def cumulative(counts: Counter[int], bounds: tuple[float, ...]) -> list[int]:
    """Items at or under each bound (``counts``: value or bucket index → items), then all."""
    return [sum(n for v, n in counts.items() if v <= b) for b in bounds] + [counts.total()]


class LiveTimeliness:
    """The store's timeliness, refreshed incrementally; one per :class:`Database`."""

    def __init__(self, db: Database, seconds_bounds: tuple[float, ...]) -> None:
        self.db = db
        self.bounds = seconds_bounds
        self._lock = threading.Lock()
        self._rows: dict[int, _Row] = {}
        self._by_column: dict[tuple[int, str], set[int]] = {}
        self._first_read: dict[tuple[int, str], datetime] = {}
        self._tallies: dict[int, Tally] = {}
        self._names: dict[int, str] = {}
        self._max_id = 0
        self._watermark: datetime | None = None

    # --- reading ---------------------------------------------------------------------------

    def refresh(self) -> dict[str, Tally]:
        """Bring the tallies up to date; source name → its tally (a copy-free view: read it
        before the next refresh)."""
        with self._lock, self.db.read() as s:
            count = s.execute(select(func.count()).select_from(ItemRow)).scalar_one()
            q = _COLUMNS
            if self._watermark is not None:
                since = self._watermark - LAG
                q = q.where(or_(ItemRow.updated_at >= since, ItemRow.id > self._max_id))
            self._merge(s, s.execute(q).all())
            if len(self._rows) != count:  # something moved without its updated_at
                self._merge(s, s.execute(_COLUMNS).all(), full=True)
            if set(self._tallies) - set(self._names):
                self._names = dict(s.execute(select(SourceRow.id, SourceRow.name)).all())
            return {self._names.get(sid, str(sid)): t for sid, t in sorted(self._tallies.items())}

    def _merge(self, s: Session, found: Sequence[Any], *, full: bool = False) -> None:
        dirty: set[int] = set()
        earlier: dict[tuple[int, str], datetime] = {}  # a column's first read, moved back
        recount: set[tuple[int, str]] = set()  # … or perhaps forward: recomputed
        if full:
            for gone in set(self._rows) - {r.id for r in found}:
                self._place(gone, None)
                old = self._rows.pop(gone)
                self._by_column[(old.source_id, old.column)].discard(gone)
                recount.add((old.source_id, old.column))
        for r in found:
            key = (r.source_id, r.column)
            row = self._rows.get(r.id)
            if row is None:
                row = self._rows[r.id] = _Row(
                    r.source_id, r.column, r.first_seen, r.version, r.published_at,
                    r.first_confirmed_at,
                )  # fmt: skip
                self._by_column.setdefault(key, set()).add(r.id)
                dirty.add(r.id)
                if key not in earlier or r.first_seen < earlier[key]:
                    earlier[key] = r.first_seen
            elif (row.version, row.published_at, row.confirmed_at, row.first_seen) != (
                r.version, r.published_at, r.first_confirmed_at, r.first_seen,
            ):  # fmt: skip
                if row.first_seen != r.first_seen:
                    recount.add(key)
                row.version, row.published_at = r.version, r.published_at
                row.confirmed_at, row.first_seen = r.first_confirmed_at, r.first_seen
                dirty.add(r.id)
            self._max_id = max(self._max_id, r.id)
            if self._watermark is None or r.updated_at > self._watermark:
                self._watermark = r.updated_at
        moved: set[tuple[int, str]] = set()
        for key, first in earlier.items():
            if key not in self._first_read or first < self._first_read[key]:
                self._first_read[key] = first
                moved.add(key)
        for key in recount:  # rare: an item row's first_seen rewritten, or a row gone
            ids = self._by_column.get(key, set())
            first_read = min((self._rows[i].first_seen for i in ids), default=None)
            if first_read != self._first_read.get(key):
                moved.add(key)
                if first_read is None:
                    self._first_read.pop(key, None)
                else:
                    self._first_read[key] = first_read
        for key in moved:
            dirty |= self._by_column.get(key, set())
        self._read_records(s, [i for i in dirty if self._needs_record(self._rows[i])])
        for i in dirty:
            self._place(i, self._placed(self._rows[i]))

    @staticmethod
    def _needs_record(row: _Row) -> bool:
        return row.version > 0 and row.record_version != row.version

    def _read_records(self, s: Session, ids: list[int]) -> None:
        """The newest version's 生成日期 and whether the page shows it, for ``ids``."""
        for chunk in (sorted(ids)[i : i + CHUNK] for i in range(0, len(ids), CHUNK)):
            rows = s.execute(
                select(ItemVersionRow.item_id, ItemVersionRow.version, ItemVersionRow.record)
                .join(ItemRow, and_(ItemRow.id == ItemVersionRow.item_id,
                                    ItemRow.version == ItemVersionRow.version))
                .where(ItemVersionRow.item_id.in_(chunk))
            ).all()  # fmt: skip
            for item_id, version, text in rows:
                record = json.loads(text)
                row = self._rows[item_id]
                row.created = workdays.created_of(record)
                row.shown = is_shown(provenance_of(record, "created"))
                row.record_version = row.version = version

    def _placed(self, row: _Row) -> Placed | None:
        """As :meth:`bridge.admin.report.timeliness.Timeliness.add` places the item."""
        if row.version == 0 or row.record_version != row.version or row.published_at is None:
            return None
        first_read = self._first_read.get((row.source_id, row.column))
        published = workdays.local_date(row.published_at)
        if workdays.is_baseline(published, first_read):
            return Placed(row.source_id, baseline=True)
        if row.created is None or not row.shown:
            disclosure, apart = None, True
        else:
            disclosure, apart = _working_days(row.created, published), False
        if row.confirmed_at is None:
            return Placed(row.source_id, disclosure=disclosure, apart=apart,
                          pending_since=row.published_at)  # fmt: skip
        delta = max(row.confirmed_at - row.published_at, timedelta(0))
        return Placed(
            row.source_id, disclosure=disclosure, apart=apart,
            collection=_working_days(published, workdays.local_date(row.confirmed_at)),
            seconds=max(0.0, (row.confirmed_at - row.published_at).total_seconds() / 3600) * HOUR,
            micros=delta // timedelta(microseconds=1),
        )  # fmt: skip

    def _place(self, item_id: int, new: Placed | None) -> None:
        row = self._rows.get(item_id)
        if row is None:
            return
        old, row.placed = row.placed, new
        if old == new:
            return
        if old is not None:
            self._count(item_id, old, -1)
        if new is not None:
            self._count(item_id, new, +1)

    def _count(self, item_id: int, p: Placed, sign: int) -> None:
        t = self._tallies.get(p.source_id)
        if t is None:
            t = self._tallies[p.source_id] = Tally()
        if p.baseline:
            t.baseline += sign
            return
        t.apart += sign if p.apart else 0
        if p.disclosure is not None:
            t.disclosure[p.disclosure] += sign
        if p.pending_since is not None:
            if sign > 0:
                t.pending[item_id] = p.pending_since
            else:
                t.pending.pop(item_id, None)
        if p.collection is not None and p.seconds is not None:
            t.collection[p.collection] += sign
            t.seconds_buckets[self._bucket(p.seconds)] += sign
            t.seconds_micros += sign * p.micros

    def _bucket(self, value: float) -> int:
        return next((i for i, b in enumerate(self.bounds) if value <= b), len(self.bounds))


_LIVE: weakref.WeakKeyDictionary[Database, LiveTimeliness] = weakref.WeakKeyDictionary()
_LIVE_LOCK = threading.Lock()


def of(db: Database, seconds_bounds: tuple[float, ...]) -> LiveTimeliness:
    """The one live view of ``db`` (shared by /metrics and the admin charts)."""
    with _LIVE_LOCK:
        live = _LIVE.get(db)
        if live is None or live.bounds != seconds_bounds:
            live = _LIVE[db] = LiveTimeliness(db, seconds_bounds)
        return live
