"""Logging set up once for every process of the bridge, and the one line for a bug.

The CLI, the daemon and the delivery process (a child interpreter) log the same way:
one handler on stderr (journald or ``docker logs`` take it from there), the chatty
libraries held at WARNING. An exception nobody raised on purpose is a bug: it gets one
ERROR line that says what stopped and why, and the traceback goes to DEBUG, so an
operator's log stays readable and a bug report can still carry the whole story.

Log lines quote what a site sent (titles, URLs, ``Location`` headers, error texts). A
hostile site could put terminal escape sequences in them (clear the screen, retitle the
window, hide lines) or a newline that forges a log line of its own. Every control
character in a message is therefore written escaped, visibly (``\x1b``, ``\n``); only
tracebacks keep their line breaks.
"""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("urllib3", "apscheduler", "alembic")  # their INFO is every connection and job


# C0 (tab, newline and carriage return included), DEL, and C1 (0x9b is a one-byte CSI)
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\x1b``, ``\n``):
    safe to print on a terminal or in a one-line log entry."""
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in the message; the traceback stays as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = escape_controls(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def setup_logging(level: str | int, fmt: str = LOG_FORMAT) -> None:
    """One stderr handler on the root logger (again: no second one), at ``level``."""
    root = logging.getLogger()
    if not any(getattr(h, "_bridge", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(EscapingFormatter(fmt))
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
