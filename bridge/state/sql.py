"""Prepared Core statements shared by the hot paths of the state store.

Recording an item and confirming its delivery run a dozen statements each; through the
ORM (statement building, the unit of work, savepoints for races) they cost several times
the SQL itself (measured in ``bench/backfill``). These run on ``session.connection()``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def table(model: Any) -> Table:
    return cast(Table, model.__table__)


class InsertIgnoring:
    """``INSERT … ON CONFLICT DO NOTHING`` for the backend at hand: the row another
    worker inserted first stands (``rowcount`` 0), without a savepoint round trip."""

    def __init__(self, target: Table, *keys: str) -> None:
        self._by_dialect: dict[str, Insert] = {
            "sqlite": sqlite.insert(target).on_conflict_do_nothing(index_elements=list(keys)),
            "postgresql": postgresql.insert(target).on_conflict_do_nothing(
                index_elements=list(keys)
            ),
        }

    def __call__(self, conn: Connection, values: dict[str, Any]) -> bool:
        """True when this call inserted the row."""
        result = conn.execute(self._by_dialect[conn.dialect.name], values)
        if result.rowcount == -1:
            # PostgreSQL: the insert returns its key (RETURNING, which SQLAlchemy reads
            # itself) and the rowcount is unknown; a row that was there returns none.
            return result.inserted_primary_key is not None
        return result.rowcount == 1

    def many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Each of ``rows`` inserted unless its key is there: one statement for them all."""
        if rows:
            conn.execute(self._by_dialect[conn.dialect.name], rows)


def new_id(result: CursorResult[Any]) -> int:
    """The primary key a single-row INSERT just created."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
