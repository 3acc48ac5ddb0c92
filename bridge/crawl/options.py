"""What one crawl cycle is asked to do: the options of ``run_once``, as one value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class RunOptions:
    """One cycle's choices. The defaults are a scheduled poll of every source, delivered.

    - ``sources`` / ``columns``: only these (all by default);
    - ``full``: read every listing to its end (a resync), which also finds withdrawals;
      ``since``: with ``full``, only items listed on or after that day;
    - ``dry_run``: decide everything, record and send nothing, return the plan;
    - ``force``: past the safety valves (an empty listing, a large share withdrawn);
    - ``deliver``: drain the outbox beside the crawl; ``deliver_for``: seconds to keep
      draining afterwards, for retries and cooldowns that fall due;
    - ``kind``: the run's name in the runs table (``sync`` or ``resync`` by ``full``).
    """

    sources: list[str] | None = None
    columns: list[str] | None = None
    full: bool = False
    since: date | None = None
    dry_run: bool = False
    force: bool = False
    deliver: bool = True
    kind: str | None = None
    deliver_for: float = 0.0

    @property
    def run_kind(self) -> str:
        return self.kind or ("resync" if self.full else "sync")

    @property
    def delivers(self) -> bool:
        return self.deliver and not self.dry_run

    @property
    def revalidates(self) -> bool:
        """Known detail pages are asked for again only by a plain poll of every column."""
        return not (self.full or self.dry_run or self.columns or self.since)
