"""A new store is created from the models at SCHEMA_HEAD (no Alembic at start): it must be
the store the migrations build, on each backend, table by table and row by row."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text

from bridge.state.db import SCHEMA_HEAD, Database, open_database


def describe(conn: Connection) -> dict[str, Any]:
    """Everything a store's schema says, and every row it starts with, in a form two
    stores built differently can be compared by (constraint names included)."""
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        columns = {
            c["name"]: (
                str(c["type"].compile(conn.dialect)),
                c["nullable"],
                None if c.get("default") is None else re.sub(r"\s+", " ", str(c["default"])),
            )
            for c in insp.get_columns(table)
        }
        out[table] = {
            "columns": columns,
            "primary key": insp.get_pk_constraint(table),
            "foreign keys": sorted(
                (
                    fk.get("name"),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    tuple(sorted((fk.get("options") or {}).items())),
                )
                for fk in insp.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in insp.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "checks": sorted(
                (c["name"], re.sub(r"\s+", " ", c["sqltext"]))
                for c in insp.get_check_constraints(table)
            ),
            "rows": sorted(
                tuple(map(str, row)) for row in conn.execute(text(f'SELECT * FROM "{table}"'))
            ),
        }
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'created.db'}", f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    import psycopg

    admin = request.getfixturevalue("pg_admin_url")
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = admin.partition("?")
    urls = [
        (base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        for name in names
    ]
    yield urls[0], urls[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_new_store_is_what_the_migrations_build(two_stores: tuple[str, str]) -> None:
    created_url, migrated_url = two_stores
    created = open_database(created_url)  # a start on an empty store: create_schema
    migrated = Database(migrated_url)
    try:
        assert migrated.upgrade() == (None, SCHEMA_HEAD)  # `bridge db upgrade`: Alembic
        with created.engine.connect() as a, migrated.engine.connect() as b:
            made, built = describe(a), describe(b)
        assert set(made) == set(built)
        for table in built:
            assert made[table] == built[table], table
        assert made["alembic_version"]["rows"] == [(SCHEMA_HEAD,)]
        assert made["audit_head"]["rows"] == [("1", "0", "0" * 64, "0")]
    finally:
        created.dispose()
        migrated.dispose()


def test_a_created_sqlite_store_has_the_migrated_column_order(tmp_path: Path) -> None:
    # Column order is not part of the comparison above (the inspector's columns are a
    # dict there): a migration's added column comes last, and so must the model's.
    open_database(f"sqlite:///{tmp_path / 'created.db'}").dispose()
    migrated = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrated.upgrade()
    migrated.dispose()

    def columns(path: Path) -> dict[str, list[str]]:
        with sqlite3.connect(path) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return {t: [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}

    made, built = columns(tmp_path / "created.db"), columns(tmp_path / "migrated.db")
    assert made == built
