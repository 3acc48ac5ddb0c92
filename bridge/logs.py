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

Two styles (``bridge.log_format``): ``text``, one line per message, and ``json``, one
object per line (``time`` with its offset, ``level``, ``logger``, ``message``, ``exc``
when there is a traceback) for a log shipper. Under journald (``JOURNAL_STREAM`` names
our stderr) every line starts with its syslog priority (``<3>`` error ... ``<7>`` debug),
which journald strips and keeps as the entry's priority, so ``journalctl -p err`` finds
the errors; text lines then carry no timestamp of their own (the journal has one).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"  # journald stamps each line itself
LOG_STYLES = ("text", "json")
QUIET = ("urllib3", "apscheduler", "alembic")  # their INFO is every connection and job

# syslog priorities, as journald reads them from a line's ``<N>`` prefix (SyslogLevelPrefix)
_PRIORITY = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


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


def priority(levelno: int) -> int:
    """The syslog priority of a logging level: 3 error, 4 warning, 6 info, 7 debug."""
    for floor, value in _PRIORITY:
        if levelno >= floor:
            return value
    return 7


def under_journald(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (stderr) is the journal's stream: ``JOURNAL_STREAM`` holds its
    ``device:inode``, as systemd documents (a child whose stderr was redirected elsewhere
    inherits the variable, so the variable alone does not tell)."""
    wanted = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = wanted.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; JSON escapes every control character itself."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class PriorityPrefix(logging.Formatter):
    """Another formatter's output with ``<N>`` before every line of it (a traceback's lines
    too, so they stay at the message's priority in the journal)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in self.inner.format(record).split("\n"))


def make_formatter(style: str = "text", *, journald: bool | None = None) -> logging.Formatter:
    """The formatter of ``style`` (``text`` or ``json``), for journald when it is there."""
    if journald is None:
        journald = under_journald()
    if style == "json":
        inner: logging.Formatter = JsonFormatter()
    else:
        inner = EscapingFormatter(JOURNAL_FORMAT if journald else LOG_FORMAT)
    inner.style_name = style  # type: ignore[attr-defined]
    return PriorityPrefix(inner) if journald else inner


class SchedulerOverlap(logging.Filter):
    """APScheduler's WARNING for a poll still running when its next turn comes (a drain
    during a backfill) is normal work: it is logged at DEBUG, or not at all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" not in str(record.msg):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup_logging(level: str | int, style: str = "text") -> None:
    """One stderr handler on the root logger (again: no second one), at ``level``, writing
    ``style`` (``text`` or ``json``)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_bridge", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._bridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if current_format() != style or handler.formatter is None:
        handler.setFormatter(make_formatter(style))
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    scheduler = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, SchedulerOverlap) for f in scheduler.filters):
        scheduler.addFilter(SchedulerOverlap())


def current_format() -> str:
    """The style of the bridge's handler (a child process logs like its parent)."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_bridge", False) and handler.formatter is not None:
            formatter = getattr(handler.formatter, "inner", handler.formatter)
            return str(getattr(formatter, "style_name", "text"))
    return "text"


def internal_error(logger: logging.Logger, what: str, exc: BaseException, *args: object) -> None:
    """Log a bug in one line: ``what`` (%-style, with ``args``), the exception's type and
    message, and where the traceback went."""
    where = what % args if args else what
    logger.error(
        "%s: %s: %s (please report it; the traceback is logged at DEBUG)",
        where, type(exc).__name__, exc,
    )  # fmt: skip
    logger.debug("traceback of: %s", where, exc_info=exc)
