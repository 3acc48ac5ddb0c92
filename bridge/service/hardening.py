"""What the process does first, before it reads a secret or creates a file.

Files it creates — the state store and its WAL, the lock, exports, the exchange folder's
records — are its user's alone (umask 077: other local users would otherwise read the
audit trail and the stored pages), and it never writes a core file (a core of the daemon
holds the portal secret). The systemd unit says the same (``UMask=0077``,
``LimitCORE=0``); this holds under cron, Docker or a shell too.
"""

from __future__ import annotations

import contextlib
import os
import resource


def harden() -> None:
    os.umask(0o077)
    with contextlib.suppress(ValueError, OSError):  # no such limit here: nothing to lower
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
