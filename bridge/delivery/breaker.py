"""The circuit breaker of one target: stop sending after ``circuit_threshold`` consecutive
failures, let one probe through after the cooldown."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bridge import audit
from bridge.state import audit_log, credentials, outbox
from bridge.state.models import utcnow

if TYPE_CHECKING:
    from bridge.context import Context

log = logging.getLogger(__name__)


class Breaker:
    """The circuit breaker of one target, kept in the state store so every process and
    ``bridge status`` see the same state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.target = ctx.settings.target.name
        self.cfg = ctx.settings.delivery
        self.clean = False  # True while the stored state is closed with no failures
        self.refused = False  # the target refused our credentials (as of the last check)

    def check(self) -> tuple[bool, float, str]:
        """(may send, seconds to wait if not, state)."""
        with self.ctx.db.read_rows() as conn:  # no ORM session: this runs before every claim
            seen = outbox.circuit_state(conn, self.target)
            self.refused = credentials.refused(conn, self.target)
        if seen is not None and seen[0] == "closed" and seen[1] is None:
            # The usual case, read without the write lock the crawl needs at that moment.
            self.clean = seen[2] == 0
            return True, 0.0, "closed"
        with self.ctx.db.write() as s:
            row = outbox.circuit(s, self.target)
            now = utcnow()
            if row.opened_until is not None and row.opened_until > now:
                return False, (row.opened_until - now).total_seconds(), row.state
            if row.state in ("open", "half-open"):
                # Cooldown over (or the last probe's sender never reported): this sender
                # probes, and every other sender, here or in another worker, waits for its
                # outcome (at most a lease) instead of probing too.
                row.state = "half-open"
                row.opened_until = now + timedelta(seconds=self.cfg.lease_seconds)
                self.clean = False
                return True, 0.0, "half-open"
            self.clean = row.failures == 0 and row.opened_until is None
            return True, 0.0, row.state

    def success(self) -> None:
        """The target answered and took our credentials: the circuit closes, and a
        "credentials refused" episode ends (its one ``delivery.resumed`` row)."""
        if self.clean and not self.refused:
            return  # nothing to reset: spare a write transaction per delivery
        with self.ctx.db.write() as s:
            if self.refused and credentials.clear(s, self.target, actor=self.ctx.actor):
                log.info("target %s accepts our credentials again", self.target)
            self.refused = False
            row = outbox.circuit(s, self.target)
            if row.state != "closed":
                audit_log.append(
                    s, audit.CIRCUIT_CLOSED, actor=self.ctx.actor, details={"target": self.target}
                )
                log.info("circuit of target %s closed again", self.target)
            row.state, row.failures, row.opened_until, row.last_error = "closed", 0, None, None
        self.clean = True

    def failure(self, error: str, retry_after: float | None) -> None:
        self.clean = False
        with self.ctx.db.write() as s:
            row = outbox.circuit(s, self.target)
            row.failures += 1
            row.last_error = error
            now = utcnow()
            if row.state == "half-open":
                row.opened_until = None  # the probe's window ends with its outcome
            if retry_after is not None:  # the portal asked everyone to wait, not just this item
                pause = timedelta(seconds=min(retry_after, self.cfg.retry_after_cap))
                if row.opened_until is None or row.opened_until < now + pause:
                    row.opened_until = now + pause
            if row.state == "half-open":
                # The probe failed: the same outage goes on (audited once, when it began).
                row.state = "open"
                until = now + timedelta(seconds=self.cfg.circuit_cooldown)
                row.opened_until = max(until, row.opened_until or until)
                log.info("circuit of target %s stays open: the probe failed: %s",
                         self.target, error)  # fmt: skip
            elif row.state == "closed" and row.failures >= self.cfg.circuit_threshold:
                row.state = "open"
                until = now + timedelta(seconds=self.cfg.circuit_cooldown)
                row.opened_until = max(until, row.opened_until or until)
                audit_log.append(
                    s,
                    audit.CIRCUIT_OPENED,
                    actor=self.ctx.actor,
                    details={
                        "target": self.target,
                        "failures": row.failures,
                        "last_error": error,
                        "cooldown_seconds": self.cfg.circuit_cooldown,
                    },
                )
                log.warning(
                    "circuit of target %s opened after %d failures: %s",
                    self.target,
                    row.failures,
                    error,
                )
