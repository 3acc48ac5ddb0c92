"""Who holds a lease: ``host:pid`` (a process) or ``host:pid/n`` (one sender of it).

Leases in the store (deliveries in flight, source claims) name their holder this way, so
that a process restarting after a crash can tell the leases of its own host's dead
processes from those of a live one, and hand them back at once instead of waiting for
them to run out.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    sender: int | None = None  # which sender of the process (a drain runs several)

    @classmethod
    def this_process(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid())

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """``host:pid`` or ``host:pid/n``; None for anything else (a foreign name)."""
        process, slash, sender = text.partition("/")
        host, colon, pid = process.rpartition(":")
        if not colon or not pid.isdigit() or (slash and not sender.isdigit()):
            return None
        return cls(host, int(pid), int(sender) if slash else None)

    def __str__(self) -> str:
        process = f"{self.host}:{self.pid}"
        return process if self.sender is None else f"{process}/{self.sender}"

    def alive(self) -> bool:
        """False only for a process of this host that no longer exists: a process of
        another host may well be running, and it is not ours to tell."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # it exists, as another user
            return True
        return True


def alive(owner: str) -> bool:
    """Whether the holder named ``owner`` may still be running (a foreign name: yes)."""
    parsed = Owner.parse(owner)
    return parsed is None or parsed.alive()
