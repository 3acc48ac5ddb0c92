"""Files below one folder, reached without leaving it, each written all at once.

The exchange folder is shared with other writers (the receiving system, people on the
share), so nothing in it is trusted to lead back into it: every path below the root is
opened one name at a time relative to its parent's descriptor (``openat``) with
``O_NOFOLLOW``, so a symbolic link planted at any level is refused, never followed; a
file is replaced by a rename, which replaces a link instead of writing through it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from bridge.errors import Fatal

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NO_LINK = (errno.ELOOP, errno.ENOTDIR)  # what openat says of a link under O_NOFOLLOW


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that no reader ever sees part of it: temp file, fsync, rename."""
    dir_fd = os.open(path.parent, _DIR_FLAGS)
    try:
        write_at(dir_fd, path.name, data)
    finally:
        os.close(dir_fd)


def write_at(dir_fd: int, name: str, data: bytes) -> None:
    """``write_atomic`` for ``name`` in the folder ``dir_fd``. The rename replaces a link
    at ``name`` instead of writing through it."""
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    with suppress(OSError):  # make the rename itself durable (not possible everywhere)
        os.fsync(dir_fd)


def open_dir(root: Path, folders: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of ``root/folders[0]/folders[1]/…``, reached one name at a time
    without following a symbolic link below ``root`` (missing folders made if ``create``).
    """
    _check_names(root, folders)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for n, folder in enumerate(folders):
            if create:
                with suppress(FileExistsError):
                    os.mkdir(folder, 0o777, dir_fd=fd)  # the umask applies
            try:
                child = os.open(folder, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in _NO_LINK:
                    raise _linked(root, "/".join(folders[: n + 1])) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def probe_writable(root: Path) -> None:
    """Create and remove a file in the folder ``root`` (no link followed): ``OSError``
    when it is missing, not a folder, or not writable by this process."""
    dir_fd = open_dir(root, [])
    try:
        name = f".bridge-check.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        os.close(os.open(name, flags, 0o600, dir_fd=dir_fd))
        os.unlink(name, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def read_below(root: Path, relative: str) -> bytes | None:
    """The bytes of the regular file ``root/relative`` (no link followed), None if absent."""
    *folders, name = relative.split("/")
    _check_names(root, [name])
    try:
        dir_fd = open_dir(root, folders)
    except FileNotFoundError:
        return None
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _linked(root, relative) from None
        raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Fatal(f"{root / relative} is not a regular file; the bridge never wrote it")
        return f.read()


def _check_names(root: Path, names: Sequence[str]) -> None:
    """Each name is one step down: never empty (an absolute path), ``.`` or ``..``."""
    for name in names:
        if name in ("", ".", "..") or "/" in name or "\0" in name:
            raise Fatal(f"{root}: {name!r} is not a name below the folder")


def _linked(root: Path, relative: str) -> Fatal:
    return Fatal(
        f"{root / relative} is a symbolic link (or not a folder); the bridge follows no link "
        "inside its exchange folder: remove it"
    )
