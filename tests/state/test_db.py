"""The SQLite state store: WAL, immediate writes, integrity and schema checks."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge import audit
from bridge.errors import StateError
from bridge.state import audit_log, items
from bridge.state.db import SCHEMA_HEAD, alembic_head, head_revision, open_database


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_new_database_is_created_in_wal_mode_at_the_newest_schema(tmp_path):
    db = open_database(url(tmp_path / "s" / "new.db"))
    assert db.current_revision() == head_revision()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_the_schema_head_is_the_newest_migration():
    # A start compares the store with SCHEMA_HEAD without reading the migration scripts:
    # a migration added without moving it would go unnoticed by every start.
    assert alembic_head() == SCHEMA_HEAD


def test_creating_and_opening_a_store_do_not_import_alembic(tmp_path):
    # Alembic's import and its reading of the scripts cost a daemon 9 MB and 50 ms: only
    # `bridge db upgrade` needs them.
    path = tmp_path / "s.db"
    probe = (
        "import sys; from bridge.state.db import open_database; "
        f"open_database({url(path)!r}).dispose(); "
        f"db = open_database({url(path)!r}, create=False); "
        "print(db.current_revision(), 'alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (done.stdout, done.stderr) == (f"{SCHEMA_HEAD} False\n", "")


def test_a_store_stamped_with_two_revisions_is_refused_by_name(tmp_path):
    path = tmp_path / "two.db"
    open_database(url(path)).dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO alembic_version (version_num) VALUES ('0004b')")
    with pytest.raises(StateError) as exc:
        open_database(url(path))
    assert str(exc.value) == (
        f"state database sqlite:///{path} is stamped with several schema revisions "
        f"(0004b, {SCHEMA_HEAD}); this bridge keeps one"
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_file_is_reported_with_its_path_and_left_untouched(tmp_path, damage):
    path = tmp_path / "state.db"
    db = open_database(url(path))
    with db.write() as s:
        for i in range(300):
            audit_log.append(
                s, audit.CONFIG_LOADED, actor="test", details={"n": i, "pad": "x" * 200}
            )
    db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    data = path.read_bytes()
    damaged = b"this is not a database " * 200 if damage == "garbage" else data[: len(data) // 2]
    path.write_bytes(damaged)
    with pytest.raises(StateError) as exc:
        open_database(url(path))
    message = str(exc.value)
    assert str(path) in message
    assert "left untouched" in message
    assert path.read_bytes() == damaged


def test_old_schema_names_the_command_to_run(tmp_path, cli):
    path = tmp_path / "old.db"
    db = open_database(url(path))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    db.dispose()
    with pytest.raises(StateError) as exc:
        open_database(url(path))
    assert str(exc.value) == (
        f"state database sqlite:///{path} is at schema revision 0000, "
        f"this bridge needs {head_revision()}: run `xxgk-bridge db upgrade` first"
    )
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bridge]\nstate_url = "sqlite:///{path}"\n[[sources]]\nname = "a"\nbase_url = "http://x/"\n'
        'publisher = "p"\norg_code = "002949236"\n[[sources.columns]]\nkey = "k"\npath = "k/"\n'
        '[target]\nurl = "https://y/"\nkey = "k"\nsecret = "s"\n'
    )
    result = cli("--config", str(config), "status")
    assert result.code == 2
    assert result.err.strip().endswith("run `xxgk-bridge db upgrade` first")
    assert "Traceback" not in result.err


def _allocate(url: str, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = open_database(url)
    got = []
    for _ in range(n):
        with db.write() as s:
            got.append(items.allocate_index_no(s, "002949236", 2026))
            audit_log.append(s, audit.INDEX_NO_MINTED, actor=f"p{n}", details={"index_no": got[-1]})
    db.dispose()
    out.put(got)


def test_writers_in_four_processes_never_hit_database_is_locked(state_url):
    """BEGIN IMMEDIATE + busy timeout (SQLite) or row locks (PostgreSQL): concurrent writers
    queue instead of failing, and the index serials they allocate are unique and contiguous."""
    open_database(state_url).dispose()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(state_url, 40, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    allocated = [no for r in results for no in r]
    serials = sorted(int(no.rsplit("-", 1)[1]) for no in allocated)
    assert serials == list(range(1, 161))
    assert all(no.startswith("002949236/2026-") for no in allocated)
    db = open_database(state_url)
    with db.read() as s:
        assert audit.verify_chain(audit_log.iter_chain(s), head=audit_log.head(s)).ok
    db.dispose()


def test_reader_does_not_block_writer(tmp_path):
    db = open_database(url(tmp_path / "rw.db"))
    with db.read() as reader:
        reader.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        with db.write() as writer:
            audit_log.append(writer, audit.CONFIG_LOADED, actor="test")
    with sqlite3.connect(tmp_path / "rw.db") as conn:
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (1,)
    db.dispose()


def test_db_upgrade_moves_an_old_store_forward_and_is_audited(tmp_path, cli):
    from alembic import command

    from bridge.state.db import Database, _alembic_config

    path = tmp_path / "v1.db"
    db = Database(url(path))
    cfg = _alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    db.dispose()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bridge]\nstate_url = "sqlite:///{path}"\n[[sources]]\nname = "a"\nbase_url = "http://x/"\n'
        'publisher = "p"\norg_code = "002949236"\n[[sources.columns]]\nkey = "k"\npath = "k/"\n'
        '[target]\nurl = "https://y/"\nkey = "k"\nsecret = "s"\n'
    )
    refused = cli("--config", str(config), "audit", "verify")
    assert refused.code == 2
    assert (
        f"is at schema revision 0001, this bridge needs {head_revision()}: run `xxgk-bridge db upgrade` first"
        in refused.err
    )
    upgraded = cli("--config", str(config), "db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    assert (
        upgraded.out.strip()
        == f"state database sqlite:///{path}: upgraded from 0001 to {head_revision()}"
    )
    again = cli("--config", str(config), "db", "upgrade")
    assert again.out.strip() == f"state database sqlite:///{path}: already at {head_revision()}"
    events = cli("--config", str(config), "audit", "--event", "db.upgraded", "--format", "jsonl")
    assert '"from": "0001"' in events.out
    assert cli("--config", str(config), "audit", "verify").code == 0


def test_insert_ignoring_tells_a_row_that_was_there(state_url):
    """The year's first serial: the call that inserts the row is told so, a call finding it
    there is not (on PostgreSQL the driver's row count is unknown and the primary key made
    from the parameters read "inserted" either way: two workers both took serial 1)."""
    db = open_database(state_url)
    first = {"org_code": "002949236", "year": 2026, "next_serial": 2}
    with db.write() as s:
        assert items._FIRST_SERIAL(s.connection(), first) is True
    with db.write() as s:
        assert items._FIRST_SERIAL(s.connection(), {**first, "next_serial": 9}) is False
    with db.write() as s:
        assert items.allocate_index_no(s, "002949236", 2026) == "002949236/2026-00002"
    db.dispose()
