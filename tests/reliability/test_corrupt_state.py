"""A damaged state store is refused, never reset: every command exits 2 with one line that
names the file, prints no traceback, and leaves the file exactly as it found it.

The store is a real one (a sync of a small sandbox site), copied and then damaged the ways
disks, copies and operators damage files: cut short, overwritten, a page zeroed, replaced
by a directory, made unreadable, or given a write-ahead log that is not one.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import config_text, run_bridge

from bridge.sandbox.portal import PortalServer
from bridge.sandbox.site import SiteServer, generate_site

Damage = Callable[[Path, bytes], None]

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

COMMANDS = (("sync", "--once"), ("status",), ("audit", "verify"), ("run",))
UNUSABLE = (
    "bridge: state database {path} is not a usable SQLite database ({reason}); it was left "
    "untouched: restore it from a backup or move it aside"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A state database after one real sync (no WAL left: the last connection checkpointed
    it), and the site and portal URLs it was made with."""
    root = tmp_path_factory.mktemp("store")
    generate_site(root / "site", items=5, seed=3)
    site, portal = SiteServer(root / "site"), PortalServer(root / "portal.db")
    site_url, portal_url = site.start(), portal.start()
    state = root / "state.db"
    config = root / "bridge.toml"
    config.write_text(config_text(state, site_url, portal_url), encoding="utf-8")
    try:
        result = run_bridge("--config", str(config), "sync", "--once")
        assert result.code == 0, result.both
        assert not Path(f"{state}-wal").exists()
        yield state, site_url, portal_url
    finally:
        site.stop()
        portal.stop()


def page_size(db: bytes) -> int:
    return int.from_bytes(db[16:18], "big")  # the database header says


def zero_root_page(table: str) -> Damage:
    """The store with the root page of ``table``'s b-tree overwritten with zeros."""

    def damage(path: Path, db: bytes) -> None:
        path.write_bytes(db)
        with closing(sqlite3.connect(path)) as conn:
            (page,) = conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()
        with open(path, "r+b") as f:
            f.seek((page - 1) * page_size(db))
            f.write(b"\0" * page_size(db))

    return damage


def write(data: Callable[[bytes], bytes]) -> Damage:
    return lambda path, db: path.write_bytes(data(db))


def unreadable(path: Path, db: bytes) -> None:
    path.write_bytes(db)
    path.chmod(0)


def as_directory(path: Path, db: bytes) -> None:
    path.mkdir()


CASES: dict[str, tuple[Damage, str]] = {
    "truncated to half": (write(lambda db: db[: len(db) // 2]), "database disk image is malformed"),
    "truncated to one page": (
        write(lambda db: db[: page_size(db)]),
        "database disk image is malformed",
    ),
    "garbage": (write(lambda db: random.Random(1).randbytes(len(db))), "file is not a database"),
    "header zeroed": (write(lambda db: b"\0" * 100 + db[100:]), "file is not a database"),
    "audit table's root page zeroed": (
        zero_root_page("audit_events"),
        "database disk image is malformed",
    ),
    "a directory": (as_directory, None),
}


def fingerprint(folder: Path) -> dict[str, str]:
    """Every state file's content (the lock file aside: it is not the store)."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("state.db") and not path.name.endswith(".lock"):
            out[path.name] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "directory"
            )
    return out


def damaged(store: tuple[Path, str, str], tmp_path: Path, damage: Damage) -> tuple[Path, Path]:
    good, site_url, portal_url = store
    state = tmp_path / "state.db"
    damage(state, good.read_bytes())
    config = tmp_path / "bridge.toml"
    config.write_text(config_text(state, site_url, portal_url), encoding="utf-8")
    return state, config


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_store_is_refused_and_left_untouched(store, tmp_path, case):
    damage, reason = CASES[case]
    state, config = damaged(store, tmp_path, damage)
    before = fingerprint(tmp_path)
    for command in COMMANDS:
        result = run_bridge("--config", str(config), *command, timeout=60)
        assert result.code == 2, (command, result.both)
        assert result.out == "", (command, result.out)
        expected = (
            UNUSABLE.format(path=state, reason=reason)
            if reason
            else f"bridge: state database {state} is a directory, not a file; it was left "
            "untouched: restore it from a backup or move it aside"
        )
        assert result.err == expected + "\n", (
            command,
            result.err,
        )
        assert fingerprint(tmp_path) == before, command


def test_an_unreadable_store_is_not_called_damaged(store, tmp_path):
    # Its mode taken away, not its content: the message says how to give it back.
    # (tests/state/test_unwritable_state.py runs this case as another uid under root.)
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    state, config = damaged(store, tmp_path, unreadable)
    before = fingerprint(tmp_path)
    for command in COMMANDS:
        result = run_bridge("--config", str(config), *command, timeout=60)
        assert (result.code, result.out) == (2, ""), (command, result.both)
        assert result.err == (
            f"bridge: state database {state}: cannot write {state}: permission denied, though "
            f"uid {os.geteuid()} (the bridge) owns it: chmod u+rw {state}\n"
        ), command
        assert fingerprint(tmp_path) == before, command


def test_a_torn_last_commit_in_the_wal_is_what_a_crash_leaves(store, tmp_path):
    """Not damage: SQLite keeps every commit before a half-written last frame, as after a
    power cut, and the store opens."""
    state, config = damaged(store, tmp_path, write(lambda db: db))
    with closing(sqlite3.connect(state)) as conn:
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    wal = wal_with_commits(
        state,
        [
            "UPDATE runs SET message = 'first' WHERE id = 1",
            "UPDATE runs SET message = 'second' WHERE id = 1",
        ],
    )
    data = wal.read_bytes()
    wal.write_bytes(data[:-100])  # the last frame cut short
    status = run_bridge("--config", str(config), "status")
    assert status.code == 0, status.both
    verified = run_bridge("--config", str(config), "audit", "verify")
    assert verified.code == 0, verified.both
    assert f"audit trail intact: {events} events verified" in verified.out
    with closing(sqlite3.connect(state)) as conn:
        assert conn.execute("SELECT message FROM runs WHERE id = 1").fetchone() == ("first",)


def wal_with_commits(state: Path, statements: list[str]) -> Path:
    """``state`` with a write-ahead log holding ``statements``, one commit each, that no
    checkpoint has copied into the database yet (as when a process died holding it)."""
    keep = state.with_name("kept")
    keep.mkdir()
    conn = sqlite3.connect(state)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    for sql in statements:
        conn.execute(sql)
        conn.commit()
    shutil.copy(state, keep / "db")
    shutil.copy(f"{state}-wal", keep / "wal")
    conn.close()  # checkpoints and removes the WAL: put back what a dead process left
    shutil.copy(keep / "db", state)
    shutil.copy(keep / "wal", f"{state}-wal")
    shutil.rmtree(keep)
    return Path(f"{state}-wal")


# --- known problems in bridge/state/db.py: each test shows one ---------------------------------


def test_a_store_truncated_to_zero_bytes_is_refused(store, tmp_path):
    state, config = damaged(store, tmp_path, write(lambda db: b""))
    for command in (("status",), ("audit", "verify"), ("sync", "--once")):
        result = run_bridge("--config", str(config), *command)
        assert result.code == 2, (command, result.both)
        assert str(state) in result.err
        assert state.read_bytes() == b"", command


def test_a_wal_that_is_garbage_is_refused_and_kept(store, tmp_path):
    state, config = damaged(store, tmp_path, write(lambda db: db))
    wal = Path(f"{state}-wal")
    wal.write_bytes(random.Random(2).randbytes(3 * 4096 + 32))
    before = fingerprint(tmp_path)
    result = run_bridge("--config", str(config), "status")
    assert result.code == 2, result.both
    assert str(wal) in result.err
    assert fingerprint(tmp_path) == before
