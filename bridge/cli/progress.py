"""How far a sync or resync has got, on the operator's screen.

On a terminal, a live display (pages and items read of those known, items/s, the time
left, deliveries pending) redrawn a few times a second; piped or under journald, one
summary line per source a minute, on stderr:

    yyedu: 1,315 of 3,020 items read (43 %), 24.1 items/s, about 1 min 10 s left; 212 deliveries pending

The numbers are a ``bridge.service.progress.Tally``'s snapshot: this process's own for a cycle run
here, the one the daemon stores for a queued resync. ``BRIDGE_PROGRESS_INTERVAL``
(seconds) shortens the minute between lines; it is there for the tests.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from bridge.cli import echo
from bridge.service.progress import rate, seconds_left

log = logging.getLogger(__name__)

LINE_INTERVAL = 60.0  # seconds between summary lines when not on a terminal
REDRAW = 0.25  # seconds between frames on a terminal
PENDING_EVERY = 1.0  # seconds between counts of the deliveries pending (a query)

Snapshot = Callable[[], dict[str, Any] | None]
Pending = Callable[[], int | None]


def line_interval() -> float:
    try:
        return float(os.environ.get("BRIDGE_PROGRESS_INTERVAL", "")) or LINE_INTERVAL
    except ValueError:
        return LINE_INTERVAL


def duration(seconds: float) -> str:
    """``1 h 5 min``, ``1 min 10 s``, ``45 s``: how long, in words an operator reads."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


def items_text(source: dict[str, Any]) -> str:
    """``1,315 of 3,020 items read (43 %)``, or ``12 items read`` while none is known."""
    done, known = source["items"], source["items_known"]
    if known <= 0:
        return f"{done:,} items read"
    return f"{done:,} of {known:,} items read ({100 * done // known} %)"


def summary_line(name: str, source: dict[str, Any], pending: int | None) -> str:
    """The line a minute for one source (see the module's docstring)."""
    parts = [items_text(source), f"{rate(source):.1f} items/s"]
    left = seconds_left(source)
    if left is not None:
        parts.append(f"about {duration(left)} left")
    if source.get("status"):
        parts.append(f"read to the end ({source['status']})")
    line = f"{name}: {', '.join(parts)}"
    if pending is not None:
        line += f"; {pending:,} deliveries pending"
    return line


class Display:
    """Shows ``snapshot()`` while a cycle runs: a live frame on a terminal (stderr), a
    summary line per source every ``line_interval()`` otherwise. ``pending()`` counts the
    deliveries still to send (None: not shown)."""

    def __init__(self, snapshot: Snapshot, pending: Pending, *, live: bool | None = None) -> None:
        self.snapshot = snapshot
        self.pending_query = pending
        self.console = Console(stderr=True)
        self.live = self.console.is_terminal if live is None else live
        self.note = ""  # a line under the frame: "waiting for the daemon …"
        self._pending: int | None = None
        self._pending_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame: Live | None = None

    def __enter__(self) -> Display:
        if self.live:
            self._frame = Live(
                get_renderable=self._render, console=self.console, refresh_per_second=1 / REDRAW
            )
            self._frame.start()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._frame is not None:
            self._pending_at = 0.0  # the last frame shows the count at the end
            self._frame.refresh()
            self._frame.stop()

    def _loop(self) -> None:
        interval = REDRAW if self.live else line_interval()
        while not self._stop.wait(interval):
            if not self.live:
                self.print_lines()

    def pending(self) -> int | None:
        now = time.monotonic()
        if not self._pending_at or now - self._pending_at >= PENDING_EVERY:
            try:
                self._pending = self.pending_query()
            except DBAPIError:  # the store is busy or away: the count waits for the next try
                log.debug("cannot count the deliveries pending now", exc_info=True)
            self._pending_at = now
        return self._pending

    def print_lines(self) -> None:
        """One summary line per source still being read (all when none is)."""
        data = (self.snapshot() or {}).get("sources", {})
        if not data:
            if self.note:
                echo(self.note, err=True)
            return
        pending = self.pending()
        reading = {n: s for n, s in data.items() if not s.get("status")} or data
        for name, source in reading.items():
            echo(summary_line(name, source, pending), err=True)
        sys.stderr.flush()

    def _render(self) -> Group:
        data = (self.snapshot() or {}).get("sources", {})
        table = Table.grid(padding=(0, 2))
        for name, s in data.items():
            left = seconds_left(s)
            table.add_row(
                Text(name),
                ProgressBar(total=max(s["items_known"], 1), completed=s["items"], width=30),
                Text(f"pages {s['pages']:,} of {s['pages_known']:,}"),
                Text(items_text(s)),
                Text(f"{rate(s):.1f} items/s"),
                Text(
                    f"about {duration(left)} left" if left is not None else (s.get("status") or "")
                ),
            )
        parts: list[Any] = [table]
        pending = self.pending()
        if pending is not None:
            parts.append(Text(f"deliveries pending: {pending:,}"))
        if self.note:
            parts.append(Text(self.note))
        return Group(*parts)
