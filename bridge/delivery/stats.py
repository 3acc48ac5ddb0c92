"""What a drain did: the counts a command prints and the daemon's metrics read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DeliveryStats:
    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    uploaded: int = 0
    failed: int = 0
    dead: int = 0
    stopped: int = 0  # senders stopped by a bug or a lost store: what they had waits queued
    retrying: int = 0  # after failures: deliveries still waiting for a retry (set by run_once)
    circuit_open: bool = False
    auth_error: str | None = None
    # For the daemon's histograms (they come back from a delivery process with the rest):
    call_seconds: list[float] = field(default_factory=list)  # each portal PUT / DELETE
    # (source, seconds from the site's publication date to the portal's confirmation) of
    # each item the portal created

    def counts(self) -> dict[str, Any]:
        """The counts, as a result or an audit detail shows them (no timings)."""
        return {k: v for k, v in asdict(self).items() if k != "call_seconds"}

    @property
    def confirmed(self) -> int:
        return self.created + self.updated + self.unchanged + self.withdrawn

    @property
    def clean(self) -> bool:
        """Nothing left undone that a retry later would not do by itself."""
        return not (
            self.failed or self.dead or self.auth_error or self.circuit_open or self.stopped
        )

    def summary(self) -> str:
        """The one line a command prints for a drain."""
        line = (
            f"delivery: {self.sent} sent, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.withdrawn} withdrawn, {self.failed} failed, "
            f"{self.dead} dead"
        )
        if self.uploaded:
            line += f", {self.uploaded} file(s) uploaded"
        if self.retrying:
            line += f"; {self.retrying} wait(s) for a retry"
        if self.circuit_open:
            line += "; circuit open: remaining deliveries wait for the cooldown"
        if self.stopped:
            line += "; a sender stopped on an error (see the log): the rest stay queued"
        return line

    def merge(self, other: DeliveryStats) -> None:
        """Add another sender's counts to these."""
        for name in (
            "sent",
            "created",
            "updated",
            "unchanged",
            "withdrawn",
            "uploaded",
            "failed",
            "dead",
            "stopped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.call_seconds.extend(other.call_seconds)
        self.circuit_open = self.circuit_open or other.circuit_open
        self.auth_error = self.auth_error or other.auth_error
