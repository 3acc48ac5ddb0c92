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
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from bridge.catalog import INDEX_NO_MAX, format_index_no
from bridge.config.dburl import parse, redact_url, scrub
from bridge.errors import ConfigError, Fatal, Problem, Rejected, Retriable
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Listed, Receipt, Target
from bridge.targets.memory import attachment_file_ids, invalid, record_problems, utc_since

log = logging.getLogger(__name__)

DEFAULT_TABLE = "gov_disclosure_exchange"
FILES_TABLE = "bridge_files"
SERIALS_TABLE = "bridge_index_serials"
DEFAULT_ORG_CODE = "002949236"  # 余姚市教育局, as in the seed report
RACE_ATTEMPTS = 5  # a put losing a unique-constraint race runs again; five lost in a row
# means something other than a race is wrong
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits while the reading system holds a lock
PG_CONNECT_TIMEOUT = 10  # seconds; an intranet database answers at once or is down
PG_LOCK_TIMEOUT = "30s"  # a reader holding a table lock makes us retry later, not hang
LIST_PAGE = 500  # rows per listing query, so no transaction stays open between pages

# MySQL's TEXT and BLOB stop at 64 KB and its DATETIME at whole seconds; elsewhere the
# plain types already hold a long record, a 20 MB attachment and microseconds.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LONG_BINARY = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

_TABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
T = TypeVar("T")


class _Schema:
    """The three tables; ``items`` carries the agreed name, the others are fixed."""

    def __init__(self, table: str) -> None:
        self.metadata = sa.MetaData()
        self.items = sa.Table(
            table,
            self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("external_id", sa.String(512), nullable=False, unique=True),
            sa.Column("index_no", sa.String(INDEX_NO_MAX), unique=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("title", sa.Text),
            sa.Column("category", sa.String(32)),
            sa.Column("created", sa.Date),
            sa.Column("publisher", sa.Text),
            sa.Column("doc_no", sa.Text),
            sa.Column("published", TIMESTAMP),
            sa.Column("record_json", LONG_TEXT, nullable=False),
            sa.Column("updated_at", TIMESTAMP, nullable=False),
            sa.CheckConstraint("status IN ('active', 'withdrawn')", name=f"{table}_status_check"),
        )
        sa.Index(f"{table}_updated_at_idx", self.items.c.updated_at)
        self.files = sa.Table(
            FILES_TABLE,
            self.metadata,
            sa.Column("file_id", sa.String(64), primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("media_type", sa.String(255), nullable=False),
            sa.Column("size", sa.Integer, nullable=False),
            sa.Column("data", LONG_BINARY, nullable=False),
            sa.Column("created_at", TIMESTAMP, nullable=False),
        )
        self.serials = sa.Table(
            SERIALS_TABLE,
            self.metadata,
            sa.Column("org_code", sa.String(18), nullable=False),
            sa.Column("year", sa.Integer, nullable=False),
            sa.Column("last_serial", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint("org_code", "year"),
        )


def schema_ddl(dialect: str = "postgresql", table: str = DEFAULT_TABLE) -> str:
    """The CREATE statements the target runs, for a DBA who creates the tables by hand.

    ``dialect`` is a SQLAlchemy backend name: postgresql, sqlite, mysql, mssql, oracle.
    """
    compiler = make_url(f"{dialect}://").get_dialect()()
    schema = _Schema(table)
    statements = []
    for t in schema.metadata.sorted_tables:
        statements.append(str(CreateTable(t).compile(dialect=compiler)).strip())
        statements += [str(CreateIndex(i).compile(dialect=compiler)) for i in t.indexes]
    ddl = ";\n\n".join(statements) + ";\n"
    return "\n".join(line.rstrip().replace("\t", "    ") for line in ddl.splitlines()) + "\n"


def _engine(url: str) -> sa.Engine:
    """An engine for any SQLAlchemy URL; ``postgresql://`` means psycopg 3."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "sqlite":
        in_memory = not u.database or u.database == ":memory:"
        engine = sa.create_engine(
            u,
            # isolation_level None: we issue BEGIN ourselves (see below)
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False,
                          "isolation_level": None},
            poolclass=StaticPool if in_memory else NullPool,
        )  # fmt: skip
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    pg = u.get_backend_name() == "postgresql"
    args = {"connect_timeout": PG_CONNECT_TIMEOUT} if pg else {}
    return sa.create_engine(u, pool_pre_ping=True, connect_args=args)


def _sqlite_on_begin(conn: Connection) -> None:
    # A deferred transaction that later writes fails at once with "database is locked";
    # an immediate one waits (busy timeout) for the reader or the other writer.
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")


def _reason(error: Exception, url: str) -> str:
    """The driver's message, first line, without any secret of ``url`` (a driver may quote
    its connection string)."""
    orig = getattr(error, "orig", None)
    text = scrub(str(orig) if orig is not None else str(error), url)
    return (text.strip().splitlines() or [type(error).__name__])[0][:300]


def _utc(moment: datetime) -> datetime:
    """Aware UTC: SQLite stores no offset, so every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="microseconds")


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
        if not _TABLE_NAME_RE.fullmatch(table):
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
        self._schema = _Schema(table)
        self._engine = _engine(url)
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
        return _utc(moment) if self._is_pg else _utc(moment).replace(tzinfo=None)

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
                f"{_reason(error, self._url)}"
            ) from None
        except exc.DataError as error:
            raise Rejected(
                f"{what}: the exchange database refused a value: {_reason(error, self._url)}",
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
                    "%s: lost a race (attempt %d): %s", what, attempt, _reason(error, self._url)
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
                for t in self._schema.metadata.sorted_tables:
                    exists = found.has_table(t.name)
                    have = {c["name"] for c in found.get_columns(t.name)} if exists else set()
                    missing = [c.name for c in t.columns if c.name not in have]
                    if missing:
                        raise Fatal(
                            f"exchange table {t.name} in {self.display_url} lacks column(s) "
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
            **self._copied(record),
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

    def _copied(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record fields copied into columns, so a reader can filter without parsing JSON."""
        published = record.get("published")
        try:
            when = (
                self._stamp(datetime.fromisoformat(published))
                if isinstance(published, str)
                else None
            )
        except ValueError:
            raise invalid(
                record["external_id"],
                [{"field": "published", "message": "must be an ISO 8601 date and time or null"}],
            ) from None

        def text_or_none(key: str) -> str | None:
            value = record.get(key)
            return value if isinstance(value, str) else None

        return {
            "title": text_or_none("title"),
            "category": text_or_none("category"),
            "created": date.fromisoformat(record["created"]),
            "publisher": text_or_none("publisher"),
            "doc_no": text_or_none("doc_no"),
            "published": when,
        }

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
            updated_at=_iso(row.updated_at),
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
                yield Listed(*row[1:5], updated_at=_iso(row.updated_at))
            if len(rows) < LIST_PAGE:
                return
            last_id = rows[-1].id

    def close(self) -> None:
        self._engine.dispose()
