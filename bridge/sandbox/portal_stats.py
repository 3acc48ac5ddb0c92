"""What the sandbox portal saw, for ``GET /sandbox/stats``: counters and a request log.

Tests and benchmarks assert on these instead of trusting the bridge's own account: how
many PUTs created an item, how many answers were faults, and (from the log's arrival
times) whether the client waited out a ``Retry-After`` before asking again.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

FAULT_NAMES = ("errors", "timeouts", "throttled", "too_early", "outage", "dropped_after_write")
"""The fault counters, each the number of requests that fault answered (or left unanswered):
``throttled`` the 429s of a burst, ``too_early`` the 429s to requests that came before the
``Retry-After`` time had passed."""

LOG_LIMIT = 100_000  # log entries kept (oldest dropped first): a 1,000-item crash test with
# retries sends a few thousand requests; this keeps memory bounded for a long demo

Status = int | str  # an HTTP status, or "dropped" / "timeout" when no answer was sent


class RequestStats:
    """Counters by method and status, PUT outcomes, fault counters, and the request log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._puts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def count(
        self,
        method: str,
        target: str,
        status: Status,
        *,
        at: float,
        outcome: str | None = None,
        fault: str | None = None,
    ) -> None:
        """Record one /api/v1 request; ``at`` is when it arrived (unix seconds)."""
        with self._lock:
            self._requests.setdefault(method, Counter())[str(status)] += 1
            if outcome is not None:
                self._puts[outcome] += 1
            if fault is not None:
                self._faults[fault] += 1
            self._log.append(
                {"time": at, "method": method, "path": target, "status": status, "fault": fault}
            )

    def snapshot(self, with_log: bool = True) -> dict[str, Any]:
        with self._lock:
            requests: dict[str, dict[str, int]] = {m: {} for m in ("PUT", "POST", "DELETE", "GET")}
            requests.update({m: dict(c) for m, c in self._requests.items()})
            snapshot: dict[str, Any] = {
                "requests": requests,
                "total": sum(sum(c.values()) for c in self._requests.values()),
                "puts_by_status": {s: self._puts[s] for s in ("created", "updated", "unchanged")},
                "faults": {name: self._faults[name] for name in FAULT_NAMES},
            }
            if with_log:
                snapshot["log"] = [dict(entry) for entry in self._log]
            return snapshot

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._puts.clear()
            self._faults.clear()
            self._log.clear()
