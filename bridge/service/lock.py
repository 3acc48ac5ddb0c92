"""One daemon per state store, and who holds it.

SQLite: an ``flock`` on ``<database>.lock`` next to the database file. The kernel drops
the lock when its process dies, so a daemon killed with SIGKILL never blocks a restart;
the file also says who holds it (pid, host, since) for the message a second daemon
prints. PostgreSQL: a session-level advisory lock on a connection kept open for the
daemon's life (the server drops it when that connection dies), with the holder
recorded in the ``cursors`` table.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from bridge.errors import BridgeError
from bridge.state import runs
from bridge.state.db import Database, sqlite_path

ADVISORY_KEY = 0x6272_6964_6765  # "bridge"


class LockHeld(BridgeError):
    """Another process holds the store; ``holder`` says who."""

    exit_code = 2

    def __init__(self, holder: dict[str, Any] | None, what: str) -> None:
        self.holder = holder or {}
        who = describe(self.holder)
        super().__init__(f"{what}: the state store is held by {who}")


def describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another process"
    return (
        f"{holder.get('role', 'a process')} pid {holder.get('pid')} on {holder.get('host')} "
        f"since {holder.get('since')}"
    )


class StoreLock:
    def __init__(self, db: Database, role: str = "daemon") -> None:
        self.db = db
        self.role = role
        self._file: Any = None
        self._conn: Connection | None = None
        path = sqlite_path(db.url)
        self.path = Path(str(path) + ".lock") if path is not None else None

    def info(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        }

    def acquire(self, what: str = "cannot start") -> None:
        """Take the lock or raise ``LockHeld`` naming the holder."""
        if self.path is not None:
            f = self.path.open("a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = _parse(f.read())
                f.close()
                raise LockHeld(holder, what) from None
            f.seek(0)
            f.truncate()
            f.write(json.dumps(self.info()))
            f.flush()
            self._file = f
            return
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise LockHeld(self.holder(), what)
        self._conn = conn
        with self.db.write() as s:
            runs.set_cursor(s, "_bridge", "daemon_lock", self.info())

    def holder(self) -> dict[str, Any] | None:
        if self.path is not None:
            try:
                return _parse(self.path.read_text())
            except OSError:
                return None
        with self.db.read() as s:
            value = runs.get_cursor(s, "_bridge", "daemon_lock")
        return value if isinstance(value, dict) else None

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _parse(text_: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text_)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def live_workers(db: Database, lease: float) -> list[str]:
    """Workers of a PostgreSQL store that heartbeated within ``lease`` seconds."""
    from datetime import timedelta

    from bridge.state import cluster

    cutoff = datetime.now(UTC) - timedelta(seconds=lease)
    with db.read() as s:
        return [w.id for w in cluster.workers(s) if w.heartbeat_at >= cutoff]


class WorkersRunning(BridgeError):
    """A foreground cycle would crawl beside the daemons: ask them instead."""

    exit_code = 2

    def __init__(self, workers: list[str], what: str) -> None:
        self.workers = workers
        super().__init__(
            f"{what}: {len(workers)} xxgk-bridge run worker(s) use this state store "
            f"({', '.join(workers)}); ask them with `xxgk-bridge resync` instead"
        )


def foreground_guard(db: Database, lease: float, role: str, what: str) -> StoreLock | None:
    """Make sure no daemon works on the store while a command runs a cycle itself.

    SQLite: take the store lock (a daemon holds it while it runs). PostgreSQL: refuse
    while workers heartbeat. Returns the lock to release, if one was taken.
    """
    if db.is_sqlite:
        lock = StoreLock(db, role=role)
        lock.acquire(what)
        return lock
    running = live_workers(db, lease)
    if running:
        raise WorkersRunning(running, what)
    return None
