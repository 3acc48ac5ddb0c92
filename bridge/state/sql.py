"""Prepared Core statements shared by the hot paths of the state store.

Recording an item and confirming its delivery run a dozen statements each; through the
ORM (statement building, the unit of work, savepoints for races) they cost several times
the SQL itself (measured in ``bench/backfill``). These run on ``session.connection()``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, ReturningInsert


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


class InsertIgnoring:
    """``INSERT … ON CONFLICT DO NOTHING`` for the backend at hand: the row another
    worker inserted first stands, without a savepoint round trip.

    Whether this call inserted the row is read from ``RETURNING`` (a row that was there
    returns none), not from the row count: on PostgreSQL the driver's count for this
    statement is unknown (-1), and SQLAlchemy's ``inserted_primary_key`` is made from the
    parameters given, so it reads "inserted" either way (two workers both took the first
    serial of a year before)."""

    def __init__(self, target: Table, *keys: str) -> None:
        self._plain: dict[str, Insert] = {
            "sqlite": sqlite.insert(target).on_conflict_do_nothing(index_elements=list(keys)),
            "postgresql": postgresql.insert(target).on_conflict_do_nothing(
                index_elements=list(keys)
            ),
        }
        first = target.c[keys[0]]
        self._by_dialect: dict[str, ReturningInsert[Any]] = {
            name: insert.returning(first) for name, insert in self._plain.items()
        }

    def __call__(self, conn: Connection, values: dict[str, Any]) -> bool:
        """True when this call inserted the row."""
        return conn.execute(self._by_dialect[conn.dialect.name], values).first() is not None

    def many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Each of ``rows`` inserted unless its key is there: one statement for them all."""
        if rows:
            conn.execute(self._plain[conn.dialect.name], rows)  # no rows to read back


def new_id(result: CursorResult[Any]) -> int:
    """The primary key a single-row INSERT just created."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
