"""Fault injection for the sandbox portal (DESIGN.md §6, §8).

The real portal belongs to another organisation: it will be slow, fail, rate-limit, go
down for maintenance, and sometimes apply a write and lose the answer. ``Faults`` says how
often each of these happens; ``FaultInjector`` decides, request by request, which one
strikes. ``PortalServer.dispatch_api`` asks it before every /api/v1 request (never for
``/sandbox/*`` or the public pages, and for ``/api/v1/health`` only with
``include_health``).

Decisions are taken in this order, at the moment the request arrives:

1. an outage window → 503 (or a reset connection), until ``outage_until``;
2. a request that comes before an earlier 429's ``Retry-After`` has passed → 429 again,
   counted as ``too_early`` (so a test can assert that the client honoured it);
3. a 429 burst → the next ``rate_limit_burst`` requests get 429 with ``Retry-After``;
4. ``error_rate`` → 500 / 502 / 503 (a 503 with ``Retry-After`` half the time);
5. ``timeout_rate`` → no answer until the client gives up (or ``hang_seconds`` pass);
6. ``drop_after_write_rate`` → a write is applied, then the connection is reset unanswered.

None of 1–5 applies the write. ``latency`` (+ up to ``latency_jitter``) delays every
answer. Each random choice has its own stream seeded from ``seed``, so the requests an
error rate hits do not shift when another fault is switched on.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from email.utils import formatdate
from typing import Any

from bridge.sandbox.portal_http import Response, error

HANG_SECONDS = 35.0  # longer than the http target's default 30 s timeout
ERROR_STATUSES = (500, 502, 503)
RETRY_AFTER_FORMS = ("seconds", "http-date")
OUTAGE_MODES = ("503", "reset")
WRITE_METHODS = frozenset({"PUT", "DELETE", "POST"})  # on /api/v1 these all store something

_RATES = ("error_rate", "timeout_rate", "drop_after_write_rate")
_SECONDS = ("latency", "latency_jitter")
_ERROR_CODES = {500: "internal", 502: "bad_gateway", 503: "unavailable"}


class InvalidFaults(ValueError):
    """Fault settings that break a rule; ``errors`` names every field at once (HTTP 422)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Faults:
    """How badly the sandbox portal behaves. The defaults: not at all.

    Example::

        server.faults = Faults(error_rate=0.3, timeout_rate=0.1, seed=7)
        server.set_faults(rate_limit_burst=3, retry_after=2, retry_after_form="http-date")
        server.outage_for(5)
        server.clear_faults()
    """

    error_rate: float = 0.0  # share of requests answered with one of error_statuses
    error_statuses: tuple[int, ...] = ERROR_STATUSES
    timeout_rate: float = 0.0  # share of requests held unanswered
    hang_seconds: float = HANG_SECONDS  # the longest a held request waits for its client
    latency: float = 0.0  # seconds added to every answer
    latency_jitter: float = 0.0  # plus a uniform random 0..latency_jitter seconds
    rate_limit_burst: int = 0  # the next N requests get 429 (re-armed when set)
    retry_after: int = 1  # seconds, in the Retry-After of a 429 (and of some 503s)
    retry_after_form: str = "seconds"  # or "http-date"
    outage_until: float | None = None  # unix time; every request fails until then
    # (the HTTP control and the CLI also take ``outage_seconds``: that long from now)
    outage_mode: str = "503"  # or "reset": the connection is reset unanswered
    drop_after_write_rate: float = 0.0  # share of writes applied, then left unanswered
    include_health: bool = False  # disturb GET /api/v1/health too
    seed: int | None = None  # None: different choices on every run

    def __post_init__(self) -> None:
        object.__setattr__(self, "error_statuses", tuple(self.error_statuses))
        problems = self.problems()
        if problems:
            raise InvalidFaults(problems)

    def problems(self) -> list[dict[str, str]]:
        """Every rule these settings break, each as {"field", "message"}."""
        errors: list[dict[str, str]] = []

        def fail(name: str, message: str) -> None:
            errors.append({"field": name, "message": message})

        for name in _RATES:
            if not 0.0 <= getattr(self, name) <= 1.0:  # also refuses NaN
                fail(name, "must be between 0 and 1")
        for name in _SECONDS:
            if not 0.0 <= getattr(self, name) < math.inf:
                fail(name, "must be 0 or more seconds")
        if not 0.0 < self.hang_seconds < math.inf:
            fail("hang_seconds", "must be more than 0 seconds")
        if not self.error_statuses or not all(500 <= s <= 599 for s in self.error_statuses):
            fail("error_statuses", "must be one or more statuses from 500 to 599")
        if self.rate_limit_burst < 0:
            fail("rate_limit_burst", "must be 0 or more requests")
        if self.retry_after < 0:
            fail("retry_after", "must be 0 or more seconds")
        if self.retry_after_form not in RETRY_AFTER_FORMS:
            fail("retry_after_form", "must be one of " + ", ".join(RETRY_AFTER_FORMS))
        if self.outage_mode not in OUTAGE_MODES:
            fail("outage_mode", "must be one of " + ", ".join(OUTAGE_MODES))
        return errors

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data

    @classmethod
    def from_json(cls, data: Any, base: Faults | None = None, now: float | None = None) -> Faults:
        """Settings from a JSON object; fields it leaves out are taken from ``base``.

        Besides the fields, ``outage_seconds`` sets ``outage_until`` that far from ``now``.
        Raises ``InvalidFaults`` naming every problem (unknown keys, wrong types, ranges).
        """
        if not isinstance(data, dict):
            raise InvalidFaults([{"field": "body", "message": "must be a JSON object"}])
        kinds = {f.name: f.type for f in fields(cls)}
        errors: list[dict[str, str]] = []
        changes: dict[str, Any] = {}
        for name, value in data.items():
            if name == "outage_seconds":
                if _is_number(value) and value >= 0:
                    moment = time.time() if now is None else now
                    changes["outage_until"] = moment + float(value)
                else:
                    errors.append({"field": name, "message": "must be 0 or more seconds"})
                continue
            if name not in kinds:
                errors.append({"field": name, "message": "unknown fault setting"})
                continue
            converted = _convert(str(kinds[name]), value)
            if isinstance(converted, _Wrong):
                errors.append({"field": name, "message": converted.message})
            else:
                changes[name] = converted
        try:
            faults = replace(base or cls(), **changes)
        except InvalidFaults as exc:
            raise InvalidFaults(errors + exc.errors) from None
        if errors:
            raise InvalidFaults(errors)
        return faults

    def describe(self) -> str:
        """The settings that differ from the defaults, for a log or status line."""
        default = Faults()
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ", ".join(changed) or "none"


@dataclass(frozen=True)
class _Wrong:
    message: str


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _convert(kind: str, value: Any) -> Any:
    """A JSON value as the field's Python type, or ``_Wrong`` saying what was expected."""
    optional = "None" in kind
    if value is None:
        return None if optional else _Wrong("must not be null")
    if kind.startswith("float"):
        return float(value) if _is_number(value) else _Wrong("must be a number")
    if kind.startswith("int"):
        return (
            value
            if isinstance(value, int) and not isinstance(value, bool)
            else _Wrong("must be a whole number")
        )
    if kind == "bool":
        return value if isinstance(value, bool) else _Wrong("must be true or false")
    if kind == "str":
        return value if isinstance(value, str) else _Wrong("must be a string")
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return tuple(value)  # error_statuses
    return _Wrong("must be a list of whole numbers")


@dataclass(frozen=True)
class Decision:
    """What to do with one request: answer instead of the API, or disturb it."""

    fault: str | None = None  # the counter in portal_stats.FAULT_NAMES it falls under
    response: Response | None = None  # the answer to give instead of applying the request
    delay: float = 0.0  # seconds to wait before answering
    drop_after_write: bool = False  # apply the write, then reset the connection


NO_FAULT = Decision()


@dataclass
class _Streams:
    """One random stream per kind of choice, so switching one fault on leaves the others'
    choices as they were."""

    error: random.Random
    timeout: random.Random
    drop: random.Random
    detail: random.Random  # which 5xx, whether a 503 says Retry-After, latency jitter

    @classmethod
    def seeded(cls, seed: int | None) -> _Streams:
        def stream(name: str) -> random.Random:
            return random.Random(f"{seed}:{name}") if seed is not None else random.Random()

        return cls(stream("error"), stream("timeout"), stream("drop"), stream("detail"))


class FaultInjector:
    """The current ``Faults`` and the state they run on: burst left, throttled until."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._streams = _Streams.seeded(None)
        self._burst_left = 0
        self._throttled_until: float | None = None
        self.replace(faults or Faults())

    @property
    def faults(self) -> Faults:
        return self._faults

    def replace(self, faults: Faults) -> None:
        """Start over with these settings: fresh random streams, burst armed, no throttle."""
        with self._lock:
            self._faults = faults
            self._streams = _Streams.seeded(faults.seed)
            self._burst_left = faults.rate_limit_burst
            self._throttled_until = None

    def update(self, **changes: Any) -> Faults:
        """Change some settings, keep the rest; re-seeds only when ``seed`` is among the
        changes and re-arms the burst only when ``rate_limit_burst`` is."""
        with self._lock:
            self._faults = replace(self._faults, **changes)
            if "seed" in changes:
                self._streams = _Streams.seeded(self._faults.seed)
            if "rate_limit_burst" in changes:
                self._burst_left = self._faults.rate_limit_burst
            return self._faults

    def state(self, now: float | None = None) -> dict[str, Any]:
        """What the settings have left to do: 429s still to give, waits still running."""
        moment = time.time() if now is None else now
        with self._lock:
            outage_until = self._faults.outage_until
            throttled = self._throttled_until
            return {
                "burst_left": self._burst_left,
                "throttled_until": throttled
                if throttled is not None and moment < throttled
                else None,
                "outage_left": round(max(0.0, outage_until - moment), 3) if outage_until else 0.0,
            }

    def decide(self, method: str, health: bool, now: float) -> Decision:
        """The fault (if any) for a request that arrived at ``now``; see the module doc."""
        with self._lock:
            f, streams = self._faults, self._streams
            if health and not f.include_health:
                return NO_FAULT
            delay = f.latency
            if f.latency_jitter > 0:
                delay += streams.detail.uniform(0.0, f.latency_jitter)
            if f.outage_until is not None and now < f.outage_until:
                if f.outage_mode == "reset":
                    return Decision("outage", Response.dropped(), delay)
                answer = error(503, "unavailable", "the portal is down for maintenance")
                answer.headers["Retry-After"] = _retry_after(f.outage_until, now, f)
                return Decision("outage", answer, delay)
            if self._throttled_until is not None and now < self._throttled_until:
                answer = error(429, "rate_limited", "too early: Retry-After has not passed yet")
                answer.headers["Retry-After"] = _retry_after(self._throttled_until, now, f)
                return Decision("too_early", answer, delay)
            if self._burst_left > 0:
                self._burst_left -= 1
                until = now + f.retry_after
                if f.retry_after_form == "http-date":  # a date has whole seconds: round up,
                    until = float(math.ceil(until))  # so the date the client sees is exact
                self._throttled_until = until
                answer = error(429, "rate_limited", "too many requests")
                answer.headers["Retry-After"] = _retry_after(until, now, f)
                return Decision("throttled", answer, delay)
            if f.error_rate > 0 and streams.error.random() < f.error_rate:
                status = streams.detail.choice(f.error_statuses)
                answer = error(status, _ERROR_CODES.get(status, "server_error"), "injected fault")
                if status == 503 and streams.detail.random() < 0.5:
                    answer.headers["Retry-After"] = _retry_after(now + f.retry_after, now, f)
                return Decision("errors", answer, delay)
            if f.timeout_rate > 0 and streams.timeout.random() < f.timeout_rate:
                return Decision("timeouts", Response.hung(f.hang_seconds), delay)
            drop = (
                method in WRITE_METHODS
                and f.drop_after_write_rate > 0
                and streams.drop.random() < f.drop_after_write_rate
            )
            return Decision(None, None, delay, drop) if delay or drop else NO_FAULT


def _retry_after(until: float, now: float, faults: Faults) -> str:
    """``Retry-After`` for a wait until ``until``, in the configured form; rounded up, so a
    client that waits exactly as told is never early."""
    if faults.retry_after_form == "http-date":
        return formatdate(math.ceil(until), usegmt=True)
    return str(max(0, math.ceil(round(until - now, 6))))  # round: float noise, not a second
