"""Logging set up once for every process of the bridge, and the one line for a bug.

The CLI, the daemon and the delivery process (a child interpreter) log the same way:
one handler on stderr (journald or ``docker logs`` take it from there), the chatty
libraries held at WARNING. An exception nobody raised on purpose is a bug: it gets one
ERROR line that says what stopped and why, and the traceback goes to DEBUG, so an
operator's log stays readable and a bug report can still carry the whole story.
"""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("urllib3", "apscheduler", "alembic")  # their INFO is every connection and job


def setup_logging(level: str | int, fmt: str = LOG_FORMAT) -> None:
    """One stderr handler on the root logger (again: no second one), at ``level``."""
    root = logging.getLogger()
    if not any(getattr(h, "_bridge", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt))
        handler._bridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def current_format() -> str:
    """The format of the bridge's handler (a child process logs like its parent)."""
    for handler in logging.getLogger().handlers:
        fmt = getattr(handler.formatter, "_fmt", None)
        if fmt:
            return str(fmt)
    return LOG_FORMAT


def internal_error(logger: logging.Logger, what: str, exc: BaseException, *args: object) -> None:
    """Log a bug in one line: ``what`` (%-style, with ``args``), the exception's type and
    message, and where the traceback went."""
    where = what % args if args else what
    logger.error(
        "%s: %s: %s (please report it; the traceback is logged at DEBUG)",
        where, type(exc).__name__, exc,
    )  # fmt: skip
    logger.debug("traceback of: %s", where, exc_info=exc)
