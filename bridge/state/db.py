"""Opening the state store: engines, SQLite tuning, integrity and schema checks.

SQLite is shared by the daemon and CLI commands, so it runs in WAL mode with a busy
timeout, and every write transaction starts with ``BEGIN IMMEDIATE``: a deferred
transaction that later upgrades to a write fails at once with "database is locked",
whatever the busy timeout, while an immediate one waits its turn.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bridge import defaults
from bridge.config.dburl import parse, redact_url, scrub
from bridge.errors import StateError
from bridge.state.access import write_problem

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported only where a schema is migrated: a start compares the stored
# revision with SCHEMA_HEAD, and Alembic's import and its reading of the migration
# scripts (9 MB and 50 ms of CPU in every process that opens the store) are spared.

_VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
_STAMPED = text(f"SELECT version_num FROM {_VERSION_TABLE}")
_CREATE_VERSION_TABLE = text(  # as Alembic creates it
    f"CREATE TABLE {_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
    f"CONSTRAINT {_VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
)
_STAMP = text(f"INSERT INTO {_VERSION_TABLE} (version_num) VALUES (:head)")

SCHEMA_HEAD = "0005"
"""The revision of the newest migration in ``migrations/versions``: the schema this code
needs. A test compares it with Alembic's own head, so a new migration cannot be added
without it."""

log = logging.getLogger(__name__)


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    return SCHEMA_HEAD


def alembic_head() -> str:
    """The head of the migration scripts as Alembic reads them (what ``SCHEMA_HEAD``
    must say)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for another backend or :memory:."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 (SQLAlchemy 2.1 does that itself; 2.0 does not)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={
                "timeout": defaults.SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            },
            # Keep connections open: closing the last connection to a WAL database
            # checkpoints it, and opening one runs the PRAGMAs again. Per transaction, that
            # cost more than the transaction itself (measured in bench/backfill).
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=8,
            pool_timeout=60,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # Threads of one process: crawls, the drain, the resync poll, the heartbeat, admin pages.
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8, pool_timeout=60)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is always deferred).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {defaults.SQLITE_BUSY_TIMEOUT_MS}")
    mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode and mode[0] != "wal":
        log.warning("SQLite journal mode is %s, not WAL: readers may wait for writers", mode[0])
    cur.execute("PRAGMA synchronous = NORMAL")  # safe in WAL: a crash loses no commit
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """An engine plus the two kinds of session: ``write()`` and ``read()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.display_url = redact_url(url)
        problem = parse(url)
        if isinstance(problem, str):
            raise StateError(f"the state database URL {problem}")
        self._check_access()
        try:
            self.engine = make_engine(url)
        except (ArgumentError, ValueError, ImportError) as exc:  # e.g. an unknown driver
            raise StateError(
                f"cannot open state database {self.display_url}: {self.reason(exc)}"
            ) from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader_engine = (
            self.engine.execution_options(sqlite_begin="DEFERRED")
            if self.is_sqlite
            else self.engine
        )
        self._reader = sessionmaker(self._reader_engine, expire_on_commit=False)

    def _check_access(self) -> None:
        """A SQLite folder or file this process may not write: the owner it needs, before
        SQLite calls it "unable to open" or "readonly" and it reads like a damaged store."""
        try:
            path = sqlite_path(normalize_url(self.url))
        except ArgumentError:
            return  # Database() reports the URL itself
        problem = write_problem(path) if path is not None else None
        if problem:
            raise StateError(f"state database {path}: {problem}")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction; objects stay readable after it ends (close does not expire)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def read_rows(self) -> Iterator[Connection]:
        """A read transaction on a plain connection, for a statement or two of Core:
        no ORM session around it (a delivery reads each attachment's bytes this way,
        and a session per file cost half as much again as the read)."""
        with self._reader_engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    def tidy(self) -> None:
        """Housekeeping: SQLite refreshes its query planner statistics and copies the WAL
        back into the database file without waiting for readers; PostgreSQL has autovacuum."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA optimize")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def reason(self, exc: Exception) -> str:
        """The driver's own message (not SQLAlchemy's wrapping) in one line, without any
        secret of the URL (a driver may quote its connection string)."""
        orig = getattr(exc, "orig", None)
        text = str(orig) if orig is not None else (str(exc) or type(exc).__name__)
        return " ".join(scrub(text, self.url).split())

    # --- checks --------------------------------------------------------------------------

    def check_integrity(self) -> None:
        """``PRAGMA integrity_check``; a damaged file is reported, never recreated."""
        if not self.is_sqlite:
            return
        path = sqlite_path(self.url)
        if path is not None:
            _check_files(path)  # before SQLite opens them: it would "repair" what it can't read
        try:
            with self.engine.connect() as conn:
                rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
        except DBAPIError as exc:
            raise StateError(
                f"state database {path} is not a usable SQLite database ({self.reason(exc)}); "
                f"{_UNTOUCHED}"
            ) from None
        problems = [r[0] for r in rows if r[0] != "ok"]
        if problems:
            shown = "; ".join(problems[:3])
            raise StateError(
                f"state database {path} is corrupt (integrity_check: {shown}); "
                "it was left untouched: restore it from a backup or move it aside"
            )

    def current_revision(self) -> str | None:
        """The revision Alembic stamped in the store (None: never migrated)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(_VERSION_TABLE):
                return None
            stamped = [r for (r,) in conn.execute(_STAMPED)]
        if len(stamped) > 1:  # Alembic's branches: this project keeps one line
            raise StateError(
                f"state database {self.display_url} is stamped with several schema "
                f"revisions ({', '.join(sorted(stamped))}); this bridge keeps one"
            )
        return stamped[0] if stamped else None

    def has_tables(self) -> bool:
        with self.engine.connect() as conn:
            return bool(inspect(conn).get_table_names())

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate to the newest schema; returns (revision before, revision after)."""
        before = self.current_revision()
        from alembic import command

        cfg = _alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return before, head_revision()

    def create_schema(self) -> None:
        """An empty store made new at ``SCHEMA_HEAD`` in one transaction: the models'
        tables, the audit chain's genesis row, and Alembic's stamp, as Alembic's cookbook
        builds a database from scratch. The result is what the migrations build, table by
        table and row by row (``tests/state/test_schema_create.py`` compares both on each
        backend), without importing Alembic into a daemon that never migrates."""
        from bridge import audit
        from bridge.state.models import AuditHeadRow, Base

        with self.engine.begin() as conn:
            Base.metadata.create_all(conn)
            conn.execute(
                insert(AuditHeadRow).values(id=1, last_id=0, last_hash=audit.GENESIS, count=0)
            )
            conn.execute(_CREATE_VERSION_TABLE)
            conn.execute(_STAMP, {"head": SCHEMA_HEAD})

    def check_schema(self, *, create: bool) -> None:
        """Stop unless the schema is the newest; an empty database is created when allowed."""
        current = self.current_revision()
        head = head_revision()
        if current == head:
            return
        if current is None and not self.has_tables() and create:
            log.info("creating a new state database at %s", self.display_url)
            self.create_schema()
            return
        raise StateError(
            f"state database {self.display_url} is at schema revision {current or 'none'}, "
            f"this bridge needs {head}: run `xxgk-bridge db upgrade` first"
        )


_WAL_MAGIC = {0x377F0682: False, 0x377F0683: True}  # magic -> checksums big-endian
_WAL_VERSION = 3007000
_UNTOUCHED = "it was left untouched: restore it from a backup or move it aside"


def _wal_checksum(data: bytes, big_endian: bool) -> tuple[int, int]:
    """SQLite's WAL checksum (https://sqlite.org/fileformat2.html#walformat)."""
    s0 = s1 = 0
    words = struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data)
    for x0, x1 in zip(words[0::2], words[1::2], strict=True):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


def _check_files(path: Path) -> None:
    """Refuse a store file that SQLite would silently treat as new or repair.

    An existing empty file would be given a fresh schema (a truncated store reset without
    a word), and a write-ahead log whose header is not one is dropped and deleted on open
    (losing the evidence, and any commits in it). A torn last frame after a crash is
    normal and stays accepted: only the header is checked.
    """
    if path.is_dir():
        raise StateError(f"state database {path} is a directory, not a file; {_UNTOUCHED}")
    if path.exists() and path.stat().st_size == 0:
        raise StateError(
            f"state database {path} is an empty file (truncated?); {_UNTOUCHED}, "
            "or delete it to start a new store"
        )
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return
    with wal.open("rb") as f:
        header = f.read(32)
    damaged = len(header) < 32
    if not damaged:
        magic, version = struct.unpack(">II", header[:8])
        big_endian = _WAL_MAGIC.get(magic)
        damaged = (
            big_endian is None
            or version != _WAL_VERSION
            or _wal_checksum(header[:24], big_endian) != struct.unpack(">II", header[24:32])
        )
    if damaged:
        raise StateError(
            f"the write-ahead log {wal} of state database {path} is damaged (its header is "
            f"not a SQLite WAL header); both files were left untouched: restore them from a "
            "backup or move them aside"
        )


def open_database(url: str, *, create: bool = True, check: bool = True) -> Database:
    """Open the store, check it, and create a new one if the file is new and ``create``."""
    db = Database(url)
    try:
        if check:
            db.check_integrity()
            db.check_schema(create=create)
        else:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
    except DBAPIError as exc:  # refused, unknown host, bad password, bad option …
        db.dispose()
        raise StateError(f"cannot open state database {db.display_url}: {db.reason(exc)}") from None
    except StateError:
        db.dispose()
        raise
    return db
