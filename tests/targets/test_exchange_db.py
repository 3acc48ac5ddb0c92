"""exchange-db beyond the contract: what the receiving system sees with plain SQL, the
documented DDL, and how database trouble is classified."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import psycopg
import pytest
from contract import PDF, make_record, run_together, with_uploaded

from bridge.config import ExchangeDbConfig, Secret
from bridge.errors import ConfigError, Fatal, Retriable
from bridge.targets import exchange_db, make_target
from bridge.targets.exchange_db import ExchangeDbTarget, schema_ddl

COLUMNS = (
    "id, external_id, index_no, version, status, content_hash, title, category, created,"
    " publisher, doc_no, published, record_json, updated_at"
)


def deliver_three(target: ExchangeDbTarget) -> dict[str, str | None]:
    """One record with an attachment, one updated, one withdrawn; their index numbers."""
    first = target.put(with_uploaded(target, make_record(1)))
    target.put(make_record(2))
    second = target.put(make_record(2, title="余姚市教育局关于调整2024年寒假放假时间的通知"))
    third = target.put(make_record(3))
    target.delete(third.external_id)
    return {"1": first.index_no, "2": second.index_no, "3": third.index_no}


def test_a_plain_sqlite_reader_sees_the_documented_rows(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    target = ExchangeDbTarget("exchange", f"sqlite:///{path}")
    numbers = deliver_three(target)
    target.close()

    with sqlite3.connect(path) as db:
        rows = db.execute(f"SELECT {COLUMNS} FROM gov_disclosure_exchange ORDER BY id").fetchall()
        files = db.execute("SELECT file_id, sha256, name, media_type, size, data FROM bridge_files")
        [(file_id, sha256, name, media_type, size, data)] = files.fetchall()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("yyedu:t20240315_000001", numbers["1"], 1, "active"),
        ("yyedu:t20240315_000002", numbers["2"], 2, "active"),
        ("yyedu:t20240315_000003", numbers["3"], 1, "withdrawn"),
    ]
    second = rows[1]
    assert second[6:12] == (
        "余姚市教育局关于调整2024年寒假放假时间的通知",
        "业务工作",
        "2024-03-15",
        "余姚市教育局",
        "余教〔2024〕2号",
        "2024-03-15 01:30:00.000000",  # 09:30 in Shanghai, stored as UTC
    )
    record = json.loads(second[12])
    assert record["title"] == second[6] and record["index_no"] == numbers["2"]
    assert datetime.fromisoformat(second[13]) <= datetime.now(UTC).replace(tzinfo=None)
    assert (sha256, name, media_type, size, data) == (
        hashlib.sha256(PDF).hexdigest(),
        "校舍安全检查表.pdf",
        "application/pdf",
        len(PDF),
        PDF,
    )
    assert json.loads(rows[0][12])["attachments"][0]["file_id"] == file_id


def test_a_plain_postgres_reader_sees_typed_columns(pg_url: str) -> None:
    target = ExchangeDbTarget("exchange", pg_url)
    numbers = deliver_three(target)
    target.close()

    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as db:
        types: dict[str, str] = dict(
            db.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = 'gov_disclosure_exchange'"
            ).fetchall()
        )
        rows = db.execute(f"SELECT {COLUMNS} FROM gov_disclosure_exchange ORDER BY id").fetchall()
        [(data,)] = db.execute("SELECT data FROM bridge_files").fetchall()
    assert types["created"] == "date"
    assert types["published"] == types["updated_at"] == "timestamp with time zone"
    assert [(r[2], r[3], r[4]) for r in rows] == [
        (numbers["1"], 1, "active"),
        (numbers["2"], 2, "active"),
        (numbers["3"], 1, "withdrawn"),
    ]
    assert rows[1][8] == date(2024, 3, 15)
    assert rows[1][11] == datetime(2024, 3, 15, 1, 30, tzinfo=UTC)
    assert json.loads(rows[1][12])["doc_no"] == "余教〔2024〕2号"
    assert bytes(data) == PDF


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_tables_created_from_the_documented_ddl_are_accepted(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'dba.db'}"
        with sqlite3.connect(tmp_path / "dba.db") as db:
            db.executescript(schema_ddl("sqlite"))
    else:
        url = request.getfixturevalue("pg_url")
        with psycopg.connect(url.replace("+psycopg", "")) as db:
            for statement in schema_ddl("postgresql").split(";")[:-1]:
                db.execute(statement)
    target = ExchangeDbTarget("exchange", url)
    assert target.put(make_record()).status == "created"
    target.close()


def test_a_table_without_the_agreed_columns_is_fatal(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "CREATE TABLE gov_disclosure_exchange (id INTEGER PRIMARY KEY, external_id TEXT)"
        )
    target = ExchangeDbTarget("exchange", f"sqlite:///{tmp_path / 'old.db'}")
    with pytest.raises(Fatal, match=r"lacks column\(s\) index_no, version, status"):
        target.put(make_record())


def test_a_custom_table_name(tmp_path: Path) -> None:
    target = ExchangeDbTarget("exchange", f"sqlite:///{tmp_path / 'x.db'}", table="gk_exchange")
    target.put(make_record())
    target.close()
    with sqlite3.connect(tmp_path / "x.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"gk_exchange", "bridge_files", "bridge_index_serials"}
    with pytest.raises(ConfigError, match=r"target\.db_table"):
        ExchangeDbTarget("exchange", "sqlite://", table="x; DROP TABLE y")


def test_an_unreachable_server_is_retriable_and_hides_the_password() -> None:
    target = ExchangeDbTarget("exchange", "postgresql://bridge:s3cret-pw@127.0.0.1:9/exchange")
    with pytest.raises(Retriable) as caught:
        target.put(make_record())
    assert "unavailable" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(target)


def test_a_locked_sqlite_file_is_retriable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    ExchangeDbTarget("exchange", url).put(make_record(1))
    monkeypatch.setattr(exchange_db, "SQLITE_BUSY_TIMEOUT", 0.2)
    target = ExchangeDbTarget("exchange", url)
    reader = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    reader.execute("BEGIN EXCLUSIVE")  # the receiving system holding the file
    try:
        with pytest.raises(Retriable, match="database is locked"):
            target.put(make_record(2))
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert target.put(make_record(2)).status == "created"


def test_an_in_memory_database_works_from_threads() -> None:
    target = ExchangeDbTarget("exchange", "sqlite://")  # one shared connection
    receipts = run_together([partial(target.put, make_record(n)) for n in range(1, 5)])
    assert sorted(r.status for r in receipts) == ["created"] * 4
    assert len({r.index_no for r in receipts}) == 4
    assert len(list(target.listing())) == 4


def test_make_target_builds_it_from_the_config(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    cfg = ExchangeDbConfig(name="中间库", db_url=Secret(url, "test"), db_table="gk_exchange")
    target = make_target(cfg)
    assert isinstance(target, ExchangeDbTarget)
    assert (target.name, target.table) == ("中间库", "gk_exchange")
