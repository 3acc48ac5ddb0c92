"""``run --wait-for-config``: a daemon in a container that starts once its config is right.

A container's restart policy restarts exit 2 like any other code (the systemd unit has
``RestartPreventExitStatus=2``; Docker has nothing like it), so a config error would
restart the container for ever. Waiting instead keeps one clear message in the log,
leaves ``/healthz`` unanswered (the container shows unhealthy), and starts the daemon as
soon as the file is fixed.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from bridge.cli import App, echo
from bridge.config import Settings
from bridge.errors import ConfigError

CONFIG_POLL = 2.0  # seconds between two looks at a config file that was wrong


def settings_when_valid(app: App, *, poll: float = CONFIG_POLL) -> Settings:
    """The settings, once the config file reads without a problem. Each time it is wrong
    the problems are printed and the file is watched until it changes; SIGTERM or SIGINT
    meanwhile exits 2 (the config is still wrong)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        while True:
            # The file as it is before it is read: a fix saved while the problems are
            # being printed (an operator acting on the first line) is a change too. Taken
            # after them, it was the fixed file's stamp, and the daemon waited for ever.
            seen = _stamp(app.config_path)
            try:
                return app.settings()
            except ConfigError as exc:
                echo(f"{len(exc.problems)} problem(s) in the configuration:", err=True)
                for problem in exc.problems:
                    echo(f"  {problem}", err=True)
                echo(f"waiting for {app.config_path} to change (--wait-for-config)", err=True)
            while _stamp(app.config_path) == seen:
                if stop.wait(poll):
                    raise SystemExit(2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells a changed file: its modification time (ns) and size."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
