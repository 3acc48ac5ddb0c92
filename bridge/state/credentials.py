"""A target that refuses our credentials (401/403): a state of its own, one per target.

An episode starts with the first refusal and ends with the first answer that shows the
credentials accepted. It is kept as a ``cursors`` row of the bridge itself (source
``_bridge``, key ``credentials_refused:<target>``): the state is orthogonal to the
circuit breaker (an outage may open the circuit while the secret is still wrong), so
it is not squeezed into the circuit's ``state`` column, and the cursors table is the
store's key-value table, so no migration is needed. The row exists only while the
episode lasts. Each change writes its audit row in the same transaction: one
``delivery.failed`` (reason "credentials refused") when an episode starts, one
``delivery.resumed`` when it ends, never one per retry. The secret is never part of
either: the message is the portal's answer, and the bridge sends only a signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bridge import audit
from bridge.state import audit_log, runs
from bridge.state.admin_queries import CURSOR_SOURCE
from bridge.state.models import utcnow

REASON = "credentials refused"  # details["reason"] of the audit row; notifications read it


@dataclass(frozen=True)
class Refusal:
    """Since when a target refuses our credentials, with its status and words."""

    since: datetime
    status: int
    message: str

    def describe(self) -> str:
        """``credentials refused (401 bad signature)``: the phrase every view shows."""
        said = f"{self.status} {self.message}" if self.status else self.message
        return f"{REASON} ({said})"


def _key(target: str) -> str:
    return f"credentials_refused:{target}"


def refusal(session: Session, target: str) -> Refusal | None:
    """The episode under way for ``target``, if any."""
    value = runs.get_cursor(session, CURSOR_SOURCE, _key(target))
    if not isinstance(value, dict):
        return None
    return Refusal(
        datetime.fromisoformat(value["since"]), int(value["status"]), str(value["message"])
    )


def refused(conn: Connection, target: str) -> bool:
    """Whether an episode is under way for ``target``, on a plain connection (the
    breaker asks before every claim)."""
    return isinstance(runs.read_cursor(conn, CURSOR_SOURCE, _key(target)), dict)


def refuse(
    session: Session,
    target: str,
    *,
    status: int,
    message: str,
    actor: str,
    source: str | None = None,
    item: str | None = None,
) -> bool:
    """Record a refusal; True when it starts an episode (and its one audit row)."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    if refusal(session, target) is not None:
        return False
    runs.set_cursor(
        session,
        CURSOR_SOURCE,
        _key(target),
        {"since": utcnow().isoformat(), "status": status, "message": message},
    )
    audit_log.append(
        session,
        audit.DELIVERY_FAILED,
        actor=actor,
        source=source,
        item=item,
        details={"reason": REASON, "status": status, "message": message, "target": target},
    )
    return True


def clear(session: Session, target: str, *, actor: str) -> bool:
    """End the episode (the target accepted us again); True when one was under way."""
    audit_log.lock_head(session)  # before any other row: see lock_head
    if refusal(session, target) is None:
        return False
    runs.clear_cursor(session, CURSOR_SOURCE, _key(target))
    audit_log.append(
        session, audit.DELIVERY_RESUMED, actor=actor, details={"after": REASON, "target": target}
    )
    return True
