"""Can this process write the SQLite store's folder and files? Asked before SQLite is.

SQLite reports a folder it may not write as "unable to open database file" and a file it
may not write as "attempt to write a readonly database", which read like a damaged store.
The usual cause is a folder made by root, such as a bind-mounted state folder on the host
for a container that runs as uid 10001, and the fix is a ``chown``, not a backup: say so,
with the uid this process really runs as.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_problem(db_file: Path) -> str | None:
    """Why this process cannot write ``db_file`` or its folder, or None.

    The folder must be writable (SQLite creates the ``-wal`` and ``-shm`` files and the
    journal beside the database), and so must each of the three files that exists.
    """
    db_file = Path(os.path.abspath(db_file))
    folder = db_file.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    uid = os.geteuid()  # the owner of what it creates; 10001 in the image
    if existing != folder:  # the folder is yet to be made, inside ``existing``
        if _writable(existing):
            return None
        if _read_only_fs(existing):
            return f"cannot create {folder}: {existing} is on a read-only file system"
        return (
            f"cannot create {folder}: permission denied in {existing}; the bridge runs as "
            f"uid {uid}: mkdir -p {folder} && chown -R {uid} {folder}"
        )
    for path in (folder, db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        if path.exists() and not _writable(path):
            if _read_only_fs(path):
                return f"cannot write {path}: read-only file system; mount a writable volume at {folder}"
            if path.stat().st_uid == uid:  # its own, with the mode taken away
                bits = "rwx" if path.is_dir() else "rw"
                return (
                    f"cannot write {path}: permission denied, though uid {uid} (the bridge) "
                    f"owns it: chmod u+{bits} {path}"
                )
            return (
                f"cannot write {path}: permission denied; the bridge runs as uid {uid}: "
                f"chown -R {uid} {folder}"
            )
    return None


def _writable(path: Path) -> bool:
    """By the effective ids and capabilities, those opening a file uses (plain access()
    would ask for the real uid's, without capabilities)."""
    mode = os.W_OK | os.X_OK if path.is_dir() else os.R_OK | os.W_OK
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
