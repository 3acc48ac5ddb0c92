"""Errors sorted by what the caller should do about them.

- ``ConfigError``: the operator must fix the configuration; nothing ran (exit 2).
- ``StateError``: the state store cannot be used as it is (corrupt, old schema); exit 2.
- ``Fatal``: stop this run; retrying the same thing will fail the same way.
- ``Retriable``: try again later (network trouble, 5xx, 429); may carry ``retry_after``.
- ``Skippable``: this one item cannot be processed; record it and go on with the rest.
- ``SafetyAbort``: a safety valve tripped (a listing came back empty, too many
  withdrawals); the run stops and changes nothing unless the operator forces it.

Messages never contain secrets: they name the file, key, URL or item, never a value
that came from a secret setting.
"""

from __future__ import annotations

from dataclasses import dataclass


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration: where, and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(BridgeError):
    """The configuration is unusable; ``problems`` lists every fault found."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("config", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StateError(BridgeError):
    """The state store cannot be used (corrupt file, old schema, unreachable server)."""

    exit_code = 2


class Fatal(BridgeError):
    """Stop now; doing it again will not help (bad credentials, a 4xx from the portal)."""


class AuthenticationError(Fatal):
    """The portal refused our credentials (401/403): ``status`` and the portal's own
    words (``detail``), kept apart for the "credentials refused" state of the target."""

    def __init__(self, message: str, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class Retriable(BridgeError):
    """A transient fault; ``retry_after`` is the peer's hint in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Skippable(BridgeError):
    """This one item cannot be processed now; the run goes on with the others."""


class Rejected(BridgeError):
    """The peer answered that the request itself is wrong (a 4xx other than 401/408/429).

    Sending it again unchanged will fail again, so the delivery goes to the dead letter
    with the peer's message until an operator fixes the cause and runs ``bridge retry``.
    """

    def __init__(self, message: str, status: int, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class SafetyAbort(BridgeError):
    """A safety valve tripped; nothing was changed. ``--force`` accepts the change."""


class LayoutAlarm(SafetyAbort):
    """A page that used to parse now yields nothing: the site was probably redesigned."""

    def __init__(self, source: str, column: str, url: str, selector: str, detail: str) -> None:
        self.source, self.column, self.url, self.selector = source, column, url, selector
        super().__init__(
            f"layout alarm: source {source!r}, column {column!r}: {detail} "
            f"(url {url}, selector {selector!r})"
        )
