"""The circuit breaker's row of a target, shared by every sender and ``bridge status``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.state.models import CircuitRow
from bridge.state.sql import table


def circuit(session: Session, target: str) -> CircuitRow:
    row = session.get(CircuitRow, target, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # several senders may meet the new target at once
                row = CircuitRow(target=target, state="closed", failures=0)
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.get(CircuitRow, target, with_for_update=True, populate_existing=True)
            assert row is not None
    return row


_CIRCUITS = table(CircuitRow)
# Built once: the breaker reads it before every claim, and building it cost more than
# running it.
_STATE = select(_CIRCUITS.c.state, _CIRCUITS.c.opened_until, _CIRCUITS.c.failures).where(
    _CIRCUITS.c.target == bindparam("b_target")
)


def circuit_state(conn: Connection, target: str) -> tuple[str, datetime | None, int] | None:
    """(state, opened until, failures) of the target's circuit, read without a lock."""
    row = conn.execute(_STATE, {"b_target": target}).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def circuits(session: Session) -> list[CircuitRow]:
    return list(session.execute(select(CircuitRow).order_by(CircuitRow.target)).scalars())
