"""Where downloaded attachments wait to be recorded: private temporary files.

An item's attachments are part of its record (the content hash covers them), so they
are downloaded before the item is judged, and held until it is recorded or dropped.
Held in memory, a page with many large attachments made the process's memory grow
with their sum; here each is a file (mode 0600 in
a 0700 directory of the system's temporary folder, ``$TMPDIR``), hashed while it
streams in, and read back one at a time when it is stored. The pipeline removes an
item's files once it is recorded or dropped (``RawItem.discard``); closing the spool
removes whatever is left (an item a stop left behind).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import shutil
import tempfile
import threading
from typing import BinaryIO

log = logging.getLogger(__name__)

HEAD_BYTES = 512  # of a file kept apart, to tell an error page from the file
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


class Spool:
    """A private directory for one fetcher's downloads, made when first needed."""

    def __init__(self) -> None:
        self._dir: str | None = None
        self._lock = threading.Lock()
        self._names = itertools.count()

    def new_file(self) -> tuple[BinaryIO, str]:
        """A new empty file, open for writing, and its path."""
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="bridge-attachments-")  # 0700
            directory = self._dir
        # Numbered, not random as mkstemp's: nobody else writes in the 0700 directory, and
        # O_EXCL still refuses a name that exists.
        path = os.path.join(directory, f"{next(self._names)}.part")
        fd = os.open(path, _NEW, 0o600)
        return os.fdopen(fd, "wb"), path

    def close(self) -> None:
        """Remove the directory and anything still in it."""
        with self._lock:
            directory, self._dir = self._dir, None
        if directory is None:
            return
        left = len(os.listdir(directory))
        if left:
            log.debug("removing %d attachment file(s) of items never recorded", left)
        shutil.rmtree(directory, ignore_errors=True)


class HashingWriter:
    """Writes chunks to a file, hashing and counting them on the way."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.sha256.update(chunk)
        self.size += len(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
