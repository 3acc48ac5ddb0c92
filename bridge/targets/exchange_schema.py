"""The exchange database's tables (``Schema``, ``schema_ddl`` for a DBA), the engine that
reaches them, and the small helpers the target reads and writes them with."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from bridge.catalog import INDEX_NO_MAX
from bridge.config.dburl import scrub
from bridge.targets.memory import invalid

PG_CONNECT_TIMEOUT = 10  # seconds; an intranet database answers at once or is down
DEFAULT_TABLE = "gov_disclosure_exchange"
FILES_TABLE = "bridge_files"
SERIALS_TABLE = "bridge_index_serials"

# MySQL's TEXT and BLOB stop at 64 KB and its DATETIME at whole seconds; elsewhere the
# plain types already hold a long record, a 20 MB attachment and microseconds.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LONG_BINARY = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

TABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class Schema:
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

    def missing_columns(self, found: sa.Inspector) -> list[tuple[str, list[str]]]:
        """(table, its columns the database lacks), for each table that lacks some."""
        out = []
        for t in self.metadata.sorted_tables:
            exists = found.has_table(t.name)
            have = {c["name"] for c in found.get_columns(t.name)} if exists else set()
            missing = [c.name for c in t.columns if c.name not in have]
            if missing:
                out.append((t.name, missing))
        return out


def schema_ddl(dialect: str = "postgresql", table: str = DEFAULT_TABLE) -> str:
    """The CREATE statements the target runs, for a DBA who creates the tables by hand.

    ``dialect`` is a SQLAlchemy backend name: postgresql, sqlite, mysql, mssql, oracle.
    """
    compiler = make_url(f"{dialect}://").get_dialect()()
    schema = Schema(table)
    statements = []
    for t in schema.metadata.sorted_tables:
        statements.append(str(CreateTable(t).compile(dialect=compiler)).strip())
        statements += [str(CreateIndex(i).compile(dialect=compiler)) for i in t.indexes]
    ddl = ";\n\n".join(statements) + ";\n"
    return "\n".join(line.rstrip().replace("\t", "    ") for line in ddl.splitlines()) + "\n"


def engine(url: str, *, busy_timeout: float) -> sa.Engine:
    """An engine for any SQLAlchemy URL; ``postgresql://`` means psycopg 3 (``busy_timeout``:
    seconds a SQLite writer waits for a lock)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "sqlite":
        in_memory = not u.database or u.database == ":memory:"
        engine = sa.create_engine(
            u,
            # isolation_level None: we issue BEGIN ourselves (see below)
            connect_args={"timeout": busy_timeout, "check_same_thread": False,
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


def reason(error: Exception, url: str) -> str:
    """The driver's message, first line, without any secret of ``url`` (a driver may quote
    its connection string)."""
    orig = getattr(error, "orig", None)
    text = scrub(str(orig) if orig is not None else str(error), url)
    return (text.strip().splitlines() or [type(error).__name__])[0][:300]


def utc(moment: datetime) -> datetime:
    """Aware UTC: SQLite stores no offset, so every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="microseconds")


def copied_columns(record: dict[str, Any], stamp: Callable[[datetime], datetime]) -> dict[str, Any]:
    """The record fields copied into columns, so a reader can filter without parsing JSON
    (``stamp``: a time as the database takes it)."""
    published = record.get("published")
    try:
        when = stamp(datetime.fromisoformat(published)) if isinstance(published, str) else None
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
