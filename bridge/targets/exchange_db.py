"""exchange-db: a 中间库, rows in an agreed table of another database (DESIGN.md §5).

Government systems are usually connected this way: the sending side writes rows into a
table both sides agreed on, the receiving side reads them on its own schedule. The bridge
keeps one row per item (``external_id``), never deletes one (a withdrawal is a status),
and stores attachments once per sha256 in ``bridge_files``. The schema is in the README
(``schema_ddl`` renders it for any SQLAlchemy dialect).

Every write is one transaction guarded by unique constraints, so repeats and concurrent
writers (two bridges, a retry racing its own lost answer) converge: a writer that loses a
race rolls back, runs again, and then answers as the winner's row says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from bridge.catalog import format_index_no
from bridge.config.dburl import parse, redact_url
from bridge.errors import ConfigError, Fatal, Problem, Rejected, Retriable
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Listed, Receipt, Target
from bridge.targets.exchange_schema import (
    DEFAULT_TABLE,
    TABLE_NAME_RE,
    Schema,
    copied_columns,
    engine,
    iso,
    reason,
    schema_ddl,
    utc,
)
from bridge.targets.memory import attachment_file_ids, invalid, record_problems, utc_since

__all__ = ["ExchangeDbTarget", "schema_ddl"]

log = logging.getLogger(__name__)

DEFAULT_ORG_CODE = "002949236"  # 余姚市教育局, as in the seed report
RACE_ATTEMPTS = 5  # a put losing a unique-constraint race runs again; five lost in a row
# means something other than a race is wrong
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits while the reading system holds a lock
PG_LOCK_TIMEOUT = "30s"  # a reader holding a table lock makes us retry later, not hang
LIST_PAGE = 500  # rows per listing query, so no transaction stays open between pages

T = TypeVar("T")


class ExchangeDbTarget(Target):
    """Rows in ``table`` (default ``gov_disclosure_exchange``) of the database at ``url``.

    Tables are created on first use when missing; existing ones must have the documented
    columns. ``org_code`` numbers the 索引号 of records that arrive without one.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        table: str = DEFAULT_TABLE,
        org_code: str = DEFAULT_ORG_CODE,
    ) -> None:
        if not TABLE_NAME_RE.fullmatch(table):
            raise ConfigError(
                [Problem("target.db_table", "must be a plain SQL name (letters, digits, _)")]
            )
        self.name = name
        self.org_code = org_code
        self.display_url = redact_url(url)
        self._url = url
        problem = parse(url)
        if isinstance(problem, str):
            raise ConfigError([Problem("target.db_url", problem)])
        self._schema = Schema(table)
        self._engine = engine(url, busy_timeout=SQLITE_BUSY_TIMEOUT)
        self._is_sqlite = self._engine.dialect.name == "sqlite"
        self._is_pg = self._engine.dialect.name == "postgresql"
        self._reader = (
            self._engine.execution_options(sqlite_begin="DEFERRED")
            if self._is_sqlite
            else self._engine
        )
        # One transaction at a time per process on SQLite: its writers queue anyway, and an
        # in-memory database has a single shared connection.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if self._is_sqlite else nullcontext()
        )
        self._ready = False

    def _stamp(self, moment: datetime) -> datetime:
        """A time as this database takes it: aware UTC for PostgreSQL, naive UTC elsewhere."""
        return utc(moment) if self._is_pg else utc(moment).replace(tzinfo=None)

    def __repr__(self) -> str:  # never show a password
        return f"ExchangeDbTarget({self.name!r}, {self.display_url!r}, table={self.table!r})"

    @property
    def table(self) -> str:
        return self._schema.items.name

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Database trouble sorted by what the caller should do (IntegrityError passes)."""
        try:
            yield
        except exc.IntegrityError:
            raise
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise Retriable(
                f"{what}: exchange database {self.display_url} unavailable: "
                f"{reason(error, self._url)}"
            ) from None
        except exc.DataError as error:
            raise Rejected(
                f"{what}: the exchange database refused a value: {reason(error, self._url)}",
                422,
            ) from None
        except exc.DBAPIError as error:
            if error.connection_invalidated:
                raise Retriable(f"{what}: connection to {self.display_url} lost") from None
            raise

    @contextmanager
    def _tx(self, what: str, *, write: bool = True) -> Iterator[Connection]:
        self._ensure_schema()
        with (
            self._serial,
            self._errors(what),
            (self._engine if write else self._reader).begin() as conn,
        ):
            if write and self._is_pg:
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'"))
            yield conn

    def _race(self, what: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction; after a lost unique-key race, run it again."""
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                with self._tx(what) as conn:
                    return work(conn)
            except exc.IntegrityError as error:
                log.debug(
                    "%s: lost a race (attempt %d): %s", what, attempt, reason(error, self._url)
                )
        raise Retriable(f"{what}: lost {RACE_ATTEMPTS} races in a row with another writer")

    def _ensure_schema(self) -> None:
        """Create missing tables once; refuse an existing table that lacks our columns."""
        if self._ready:
            return
        with self._serial, self._errors(f"prepare exchange table {self.table}"):
            for _ in range(RACE_ATTEMPTS):  # another bridge may be creating them right now
                try:
                    with self._engine.begin() as conn:
                        self._schema.metadata.create_all(conn)
                    break
                except (exc.ProgrammingError, exc.IntegrityError):
                    continue
            with self._reader.begin() as conn:
                found = sa.inspect(conn)
                for name, missing in self._schema.missing_columns(found):
                    raise Fatal(
                        f"exchange table {name} in {self.display_url} lacks column(s) "
                        f"{', '.join(missing)}: create it as the README's exchange-db "
                        "schema shows"
                    )
        self._ready = True

    def check_writable(self) -> str:
        """Connect and prove the table takes a row, in a transaction rolled back (nothing
        stays; on PostgreSQL the id sequence may skip one). Missing tables are not created:
        the first delivery does that. Returns what was found; raises ``Retriable`` (no
        connection, refused write) or ``Fatal`` (a table lacking columns)."""
        what = f"check exchange table {self.table}"
        with self._serial, self._errors(what), self._engine.connect() as conn:
            tx = conn.begin()  # BEGIN IMMEDIATE on SQLite: the write lock, or wait for it
            try:
                if self._is_pg:
                    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'"))
                found = sa.inspect(conn)
                if not found.has_table(self.table):
                    return f"table {self.table} not there yet: the first delivery creates it"
                have = {c["name"] for c in found.get_columns(self.table)}
                missing = [c.name for c in self._schema.items.columns if c.name not in have]
                if missing:
                    raise Fatal(
                        f"exchange table {self.table} in {self.display_url} lacks column(s) "
                        f"{', '.join(missing)}: create it as the README's exchange-db schema shows"
                    )
                now = self._stamp(datetime.now(UTC))
                conn.execute(
                    self._schema.items.insert().values(
                        external_id=f"bridge-check:{now.isoformat()}",
                        version=0,
                        status="withdrawn",
                        content_hash="0" * 64,
                        record_json="{}",
                        updated_at=now,
                    )
                )
            finally:
                tx.rollback()
        return f"table {self.table} takes a row (rolled back)"

    # -- the Target interface ------------------------------------------------------------

    def put(self, record: dict[str, Any]) -> Receipt:
        digest = content_hash(record)
        return self._race(f"put {record['external_id']}", lambda c: self._put(c, record, digest))

    def _put(self, conn: Connection, record: dict[str, Any], digest: str) -> Receipt:
        t = self._schema.items
        external_id = record["external_id"]
        errors = record_problems(record, self._file_hashes(conn, attachment_file_ids(record)))
        if errors:
            raise invalid(external_id, errors)
        row = conn.execute(
            sa.select(t).where(t.c.external_id == external_id).with_for_update()
        ).first()
        held = row.index_no if row is not None else None
        wanted = record.get("index_no")
        if held is not None and wanted not in (None, held):
            raise Rejected(
                f"item {external_id!r} is filed as {held}; its index_no cannot change to {wanted}",
                409,
            )
        if wanted and held is None:
            holder = conn.execute(sa.select(t.c.external_id).where(t.c.index_no == wanted)).scalar()
            if holder is not None and holder != external_id:
                raise Rejected(f"index_no {wanted} is already used by item {holder!r}", 409)
        index_no = held or wanted or self._mint(conn, int(record["created"][:4]))
        values = {
            "index_no": index_no,
            "status": "active",
            "content_hash": digest,
            "record_json": json.dumps({**record, "index_no": index_no}, ensure_ascii=False),
            "updated_at": self._stamp(datetime.now(UTC)),
            **copied_columns(record, self._stamp),
        }
        if row is None:
            conn.execute(sa.insert(t).values(external_id=external_id, version=1, **values))
            return Receipt(external_id, index_no, 1, "created")
        if row.status == "active" and row.content_hash == digest:
            if held is None:  # a row written by someone else, without a number yet
                conn.execute(sa.update(t).where(t.c.id == row.id).values(index_no=index_no))
            return Receipt(external_id, index_no, row.version, "unchanged")
        version = row.version + 1
        conn.execute(sa.update(t).where(t.c.id == row.id).values(version=version, **values))
        return Receipt(external_id, index_no, version, "updated")

    def _file_hashes(self, conn: Connection, file_ids: list[str]) -> dict[str, str]:
        if not file_ids:
            return {}
        f = self._schema.files
        rows = conn.execute(sa.select(f.c.file_id, f.c.sha256).where(f.c.file_id.in_(file_ids)))
        return {file_id: sha256 for file_id, sha256 in rows}

    def _mint(self, conn: Connection, year: int) -> str:
        """Next free serial for (org, 成文 year); skips numbers supplied with records.

        The counter row is locked for the rest of the transaction, so two writers never
        mint the same number; two creating the year's first row race on its primary key.
        """
        s, t = self._schema.serials, self._schema.items
        key = (s.c.org_code == self.org_code) & (s.c.year == year)
        last = conn.execute(sa.select(s.c.last_serial).where(key).with_for_update()).scalar()
        if last is None:
            conn.execute(sa.insert(s).values(org_code=self.org_code, year=year, last_serial=0))
            last = 0
        serial = last + 1
        while conn.execute(
            sa.select(t.c.id).where(t.c.index_no == format_index_no(self.org_code, year, serial))
        ).first():
            serial += 1
        conn.execute(sa.update(s).where(key).values(last_serial=serial))
        return format_index_no(self.org_code, year, serial)

    def delete(self, external_id: str) -> Receipt:
        t = self._schema.items
        with self._tx(f"withdraw {external_id}") as conn:
            row = conn.execute(
                sa.select(t.c.id, t.c.index_no, t.c.version, t.c.status)
                .where(t.c.external_id == external_id)
                .with_for_update()
            ).first()
            if row is None:
                return Receipt(external_id, None, None, "withdrawn")
            if row.status != "withdrawn":  # a repeated withdrawal changes nothing
                conn.execute(
                    sa.update(t)
                    .where(t.c.id == row.id)
                    .values(status="withdrawn", updated_at=self._stamp(datetime.now(UTC)))
                )
            return Receipt(external_id, row.index_no, row.version, "withdrawn")

    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise Rejected(
                f"file {name!r}: sha256 does not match its bytes",
                422,
                [{"field": "sha256", "message": "does not match the bytes"}],
            )
        f = self._schema.files

        def store(conn: Connection) -> str:
            found = conn.execute(sa.select(f.c.file_id).where(f.c.sha256 == sha256)).scalar()
            if found is not None:
                return str(found)
            file_id = "f-" + sha256[:24]
            conn.execute(
                sa.insert(f).values(
                    file_id=file_id,
                    sha256=sha256,
                    name=name,
                    media_type=media_type or "application/octet-stream",
                    size=len(data),
                    data=data,
                    created_at=self._stamp(datetime.now(UTC)),
                )
            )
            return file_id

        return self._race(f"upload {name}", store)

    def get(self, external_id: str) -> dict[str, Any] | None:
        t = self._schema.items
        with self._tx(f"read {external_id}", write=False) as conn:
            row = conn.execute(sa.select(t).where(t.c.external_id == external_id)).first()
        if row is None:
            return None
        record: dict[str, Any] = json.loads(row.record_json)
        record.update(
            index_no=row.index_no,
            version=row.version,
            status=row.status,
            content_hash=row.content_hash,
            updated_at=iso(row.updated_at),
        )
        return record

    def listing(self, since: str | None = None) -> Iterator[Listed]:
        t = self._schema.items
        after = self._stamp(datetime.fromisoformat(utc_since(since))) if since else None
        last_id = 0
        while True:
            query = sa.select(
                t.c.id, t.c.external_id, t.c.index_no, t.c.content_hash, t.c.status, t.c.updated_at
            ).where(t.c.id > last_id)
            if after is not None:
                query = query.where(t.c.updated_at >= after)
            with self._tx("list the exchange table", write=False) as conn:
                rows = conn.execute(query.order_by(t.c.id).limit(LIST_PAGE)).all()
            for row in rows:
                yield Listed(*row[1:5], updated_at=iso(row.updated_at))
            if len(rows) < LIST_PAGE:
                return
            last_id = rows[-1].id

    def close(self) -> None:
        self._engine.dispose()
