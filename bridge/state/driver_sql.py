"""The busiest batch statements, run on the driver's cursor.

Recording a page of items binds a dozen columns of several rows per item. Through
``Connection.execute`` SQLAlchemy spends more Python on each row (parameter dictionaries,
bind processors, its execution context) than the database spends on it
(``bench/backfill``). The statements here bind only text, integers and times already
converted (``models.bound_time``), which no bind processor changes: their SQL is compiled
once per dialect and set of columns, and the rows go to the DBAPI cursor as they are, in
the caller's transaction (the SQLite ``BEGIN IMMEDIATE`` is already issued by then).
A driver's error is raised as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``
…, a lost connection invalidated); cursor events (``before_cursor_execute``) do not fire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect


class DriverStatement:
    """A Core INSERT or UPDATE run on the DBAPI cursor with rows of the given keys.

    ``bound`` names the parameters the caller hands over already converted as the
    column's type would (the times of ``bound_time``); every other parameter must have
    no bind processor on the dialect, and the rows must give every parameter (column
    defaults too), or compiling says so."""

    def __init__(self, by_dialect: dict[str, Any], *, bound: Iterable[str] = ()) -> None:
        self._by_dialect = by_dialect
        self._bound = frozenset(bound)
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, Any]] = {}

    def core(self, dialect: Dialect) -> Any:
        """The Core statement for ``dialect``, as ``Connection.execute`` would run it."""
        return self._by_dialect[dialect.name]

    def compile(self, dialect: Dialect, keys: Sequence[str]) -> tuple[str, Any]:
        """The SQL text for rows of ``keys``, and how a row becomes the driver's
        parameters: a tuple for a positional paramstyle, else the row itself."""
        key = (dialect.name, tuple(keys))
        found = self._compiled.get(key)
        if found is None:
            compiled = self.core(dialect).compile(dialect=dialect, column_keys=list(keys))
            for name, bind in compiled.binds.items():
                if name not in keys:  # e.g. a column default: SQLAlchemy would compute it
                    raise KeyError(f"{name}: the rows must give it")
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None and name not in self._bound:
                    raise TypeError(f"{name} needs SQLAlchemy's bind processor on {dialect.name}")
            positions = compiled.positiontup
            if positions:
                if len(positions) == 1:
                    (only,) = positions
                    found = (compiled.string, lambda row: (row[only],))
                else:
                    found = (compiled.string, itemgetter(*positions))
            else:
                found = (compiled.string, None)
            self._compiled[key] = found
        return found

    def execute_many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run the statement once per row (rows of one set of keys)."""
        if not rows:
            return
        text, params = self.compile(conn.dialect, list(rows[0]))
        given = rows if params is None else [params(r) for r in rows]
        with _cursor(conn, text, given) as cursor:
            cursor.executemany(text, given)

    def returning(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Run the statement once per row and collect the rows its RETURNING gives, in no
        promised order. psycopg's ``executemany`` returns them (in one pipeline);
        sqlite3's returns none, so SQLite runs a statement per row (in C, cheap)."""
        if not rows:
            return []
        text, params = self.compile(conn.dialect, list(rows[0]))
        out: list[tuple[Any, ...]] = []
        with _cursor(conn, text, rows) as cursor:
            if params is None:
                cursor.executemany(text, rows, returning=True)
                while True:
                    out += cursor.fetchall()
                    if not cursor.nextset():
                        break
            else:
                for row in rows:
                    out += cursor.execute(text, params(row)).fetchall()
        return out


class DriverSelect:
    """A Core SELECT whose one parameter is an expanding ``IN`` list, run on the DBAPI
    cursor: SQLAlchemy expands the list into the SQL text once per length (cached),
    and its rows come back as plain tuples in the SELECT's column order."""

    def __init__(self, stmt: Any, param: str) -> None:
        self.stmt = stmt  # as Connection.execute would run it, on every dialect
        self._param = param
        self._expanded: dict[tuple[str, int], tuple[str, list[str] | None]] = {}

    def expand(self, dialect: Dialect, n: int) -> tuple[str, list[str] | None]:
        """The SQL text for a list of ``n`` values (n > 0), and the names its values
        bind to (None: positional, in the list's order)."""
        key = (dialect.name, n)
        found = self._expanded.get(key)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if name != self._param or processor is not None:
                    raise TypeError(f"{name}: only the list {self._param}, of plain values")
            state = compiled.construct_expanded_state({self._param: [""] * n})
            names = state.parameter_expansion[self._param]
            if state.positiontup is None:
                found = (state.statement, names)
            elif list(state.positiontup) == names:  # the list is all there is
                found = (state.statement, None)
            else:
                raise TypeError(f"{state.positiontup}: only the list {self._param}")
            if len(self._expanded) > 512:  # lengths of batches: a few dozen in practice
                self._expanded.clear()
            self._expanded[key] = found
        return found

    def rows(self, conn: Connection, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not values:
            return []
        text, names = self.expand(conn.dialect, len(values))
        params: Any = tuple(values) if names is None else dict(zip(names, values, strict=True))
        with _cursor(conn, text, params) as cursor:
            return list(cursor.execute(text, params).fetchall())


@contextmanager
def _cursor(conn: Connection, text: str, params: Any) -> Iterator[Any]:
    """A cursor of ``conn``'s DBAPI connection, closed after; what it raises is handled
    as ``Connection.execute`` handles it (wrapped, a lost connection invalidated)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except BaseException as exc:
        conn._handle_dbapi_exception(exc, text, params, cursor, None)
    finally:
        cursor.close()
