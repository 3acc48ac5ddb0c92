"""Draining the outbox: send each claimed delivery, store the answer, or schedule a retry.

What an error means is decided in one place per target (``targets.http.classify``):
``Retriable`` (connection errors, timeouts, 408, 429, 5xx) → try again after an
exponential backoff with jitter, never sooner than the portal's ``Retry-After`` (capped),
and dead-letter after ``delivery.max_attempts``; ``Rejected`` (other 4xx) → dead letter
with the portal's message at once; ``AuthenticationError`` → stop draining, nothing is
marked delivered, and the target is in the "credentials refused" state (bridge.state.
credentials) until the first answer that accepts us: meanwhile each drain probes with one
delivery whose ``delivery.sent`` row is written only once it got another answer. A per-target circuit breaker stops all sending after
``circuit_threshold`` consecutive failures and lets one probe through after the cooldown.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import tenacity

from bridge import audit, logs
from bridge.errors import AuthenticationError, Rejected, Retriable
from bridge.state import audit_log, credentials, outbox
from bridge.state.models import utcnow
from bridge.state.outbox import Claimed

if TYPE_CHECKING:
    from bridge.context import Context
    from bridge.targets.base import Receipt

log = logging.getLogger(__name__)

BUREAU_TZ = ZoneInfo("Asia/Shanghai")  # a publication date without a zone is the bureau's
IDLE_CLAIM_INTERVAL = 0.2  # seconds between claims while a crawl records and none is due


@dataclass
class DeliveryStats:
    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    uploaded: int = 0
    failed: int = 0
    dead: int = 0
    stopped: int = 0  # senders stopped by a bug or a lost store: what they had waits queued
    retrying: int = 0  # after failures: deliveries still waiting for a retry (set by run_once)
    circuit_open: bool = False
    auth_error: str | None = None
    # For the daemon's histograms (they come back from a delivery process with the rest):
    call_seconds: list[float] = field(default_factory=list)  # each portal PUT / DELETE
    # (source, seconds from the site's publication date to the portal's confirmation) of
    # each item the portal created

    def counts(self) -> dict[str, Any]:
        """The counts, as a result or an audit detail shows them (no timings)."""
        return {k: v for k, v in asdict(self).items() if k != "call_seconds"}

    @property
    def confirmed(self) -> int:
        return self.created + self.updated + self.unchanged + self.withdrawn

    @property
    def clean(self) -> bool:
        """Nothing left undone that a retry later would not do by itself."""
        return not (
            self.failed or self.dead or self.auth_error or self.circuit_open or self.stopped
        )

    def summary(self) -> str:
        """The one line a command prints for a drain."""
        line = (
            f"delivery: {self.sent} sent, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.withdrawn} withdrawn, {self.failed} failed, "
            f"{self.dead} dead"
        )
        if self.uploaded:
            line += f", {self.uploaded} file(s) uploaded"
        if self.retrying:
            line += f"; {self.retrying} wait(s) for a retry"
        if self.circuit_open:
            line += "; circuit open: remaining deliveries wait for the cooldown"
        if self.stopped:
            line += "; a sender stopped on an error (see the log): the rest stay queued"
        return line

    def merge(self, other: DeliveryStats) -> None:
        """Add another sender's counts to these."""
        for name in (
            "sent",
            "created",
            "updated",
            "unchanged",
            "withdrawn",
            "uploaded",
            "failed",
            "dead",
            "stopped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.call_seconds.extend(other.call_seconds)
        self.circuit_open = self.circuit_open or other.circuit_open
        self.auth_error = self.auth_error or other.auth_error


def backoff_delay(cfg: Any, attempt: int, retry_after: float | None) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with jitter, at least Retry-After."""
    wait = tenacity.wait_exponential_jitter(
        initial=cfg.backoff_initial, max=cfg.backoff_max, jitter=cfg.backoff_initial
    )
    delay = float(wait(SimpleNamespace(attempt_number=attempt)))  # type: ignore[arg-type]
    if retry_after is not None:
        delay = max(delay, min(retry_after, cfg.retry_after_cap))
    return delay


class Breaker:
    """The circuit breaker of one target, kept in the state store so every process and
    ``bridge status`` see the same state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.target = ctx.settings.target.name
        self.cfg = ctx.settings.delivery
        self.clean = False  # True while the stored state is closed with no failures
        self.refused = False  # the target refused our credentials (as of the last check)

    def check(self) -> tuple[bool, float, str]:
        """(may send, seconds to wait if not, state)."""
        with self.ctx.db.read() as s:
            seen = outbox.circuit_state(s, self.target)
            self.refused = credentials.refusal(s, self.target) is not None
        if seen is not None and seen[0] == "closed" and seen[1] is None:
            # The usual case, read without the write lock the crawl needs at that moment.
            self.clean = seen[2] == 0
            return True, 0.0, "closed"
        with self.ctx.db.write() as s:
            row = outbox.circuit(s, self.target)
            now = utcnow()
            if row.opened_until is not None and row.opened_until > now:
                return False, (row.opened_until - now).total_seconds(), row.state
            if row.state in ("open", "half-open"):
                # Cooldown over (or the last probe's sender never reported): this sender
                # probes, and every other sender, here or in another worker, waits for its
                # outcome (at most a lease) instead of probing too.
                row.state = "half-open"
                row.opened_until = now + timedelta(seconds=self.cfg.lease_seconds)
                self.clean = False
                return True, 0.0, "half-open"
            self.clean = row.failures == 0 and row.opened_until is None
            return True, 0.0, row.state

    def success(self) -> None:
        """The target answered and took our credentials: the circuit closes, and a
        "credentials refused" episode ends (its one ``delivery.resumed`` row)."""
        if self.clean and not self.refused:
            return  # nothing to reset: spare a write transaction per delivery
        with self.ctx.db.write() as s:
            if self.refused and credentials.clear(s, self.target, actor=self.ctx.actor):
                log.info("target %s accepts our credentials again", self.target)
            self.refused = False
            row = outbox.circuit(s, self.target)
            if row.state != "closed":
                audit_log.append(
                    s, audit.CIRCUIT_CLOSED, actor=self.ctx.actor, details={"target": self.target}
                )
                log.info("circuit of target %s closed again", self.target)
            row.state, row.failures, row.opened_until, row.last_error = "closed", 0, None, None
        self.clean = True

    def failure(self, error: str, retry_after: float | None) -> None:
        self.clean = False
        with self.ctx.db.write() as s:
            row = outbox.circuit(s, self.target)
            row.failures += 1
            row.last_error = error
            now = utcnow()
            if row.state == "half-open":
                row.opened_until = None  # the probe's window ends with its outcome
            if retry_after is not None:  # the portal asked everyone to wait, not just this item
                pause = timedelta(seconds=min(retry_after, self.cfg.retry_after_cap))
                if row.opened_until is None or row.opened_until < now + pause:
                    row.opened_until = now + pause
            if row.state == "half-open":
                # The probe failed: the same outage goes on (audited once, when it began).
                row.state = "open"
                until = now + timedelta(seconds=self.cfg.circuit_cooldown)
                row.opened_until = max(until, row.opened_until or until)
                log.info("circuit of target %s stays open: the probe failed: %s",
                         self.target, error)  # fmt: skip
            elif row.state == "closed" and row.failures >= self.cfg.circuit_threshold:
                row.state = "open"
                until = now + timedelta(seconds=self.cfg.circuit_cooldown)
                row.opened_until = max(until, row.opened_until or until)
                audit_log.append(
                    s,
                    audit.CIRCUIT_OPENED,
                    actor=self.ctx.actor,
                    details={
                        "target": self.target,
                        "failures": row.failures,
                        "last_error": error,
                        "cooldown_seconds": self.cfg.circuit_cooldown,
                    },
                )
                log.warning(
                    "circuit of target %s opened after %d failures: %s",
                    self.target,
                    row.failures,
                    error,
                )


def drain(
    ctx: Context, *, wait: float = 0.0, while_running: threading.Event | None = None
) -> DeliveryStats:
    """Send due deliveries until none is left, ``delivery.concurrency`` at a time.

    With ``wait`` > 0, also wait up to that many seconds for retries and circuit
    cooldowns that fall due. With ``while_running``, keep going while that event is set
    (a crawl still recording new versions), so delivery overlaps discovery.
    """
    stats = DeliveryStats()
    with ctx.db.write() as s:
        freed = outbox.release_dead_owners(s, ctx.owner.rsplit(":", 1)[0], _pid_alive)
    if freed:
        log.info("%d delivery(ies) left in flight by a process that died are queued again", freed)
    deadline = time.monotonic() + wait
    workers = max(1, ctx.settings.delivery.concurrency)
    lock, shared = threading.Lock(), _Shared()
    if workers == 1:
        _drain_loop(ctx, _sender_name(ctx), stats, deadline, while_running, lock, shared)
        return stats
    threads = [
        threading.Thread(target=_drain_loop, name=f"deliver-{n}", daemon=True,
                         args=(ctx, _sender_name(ctx), stats, deadline, while_running, lock, shared))
        for n in range(workers)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


_SENDERS = itertools.count()  # numbers the senders of this process, across its drains


def _sender_name(ctx: Context) -> str:
    """The lease owner of one sender: ``host:pid/n``, unique in the process (a daemon runs
    a drain per job, several at once), so a lease tells which sender holds it."""
    return f"{ctx.owner}/{next(_SENDERS)}"


@dataclass
class _Shared:
    """What the senders of one drain tell each other."""

    troubles: int = 0  # failures so far: a change sends every sender back to the breaker


def _drain_loop(
    ctx: Context,
    owner: str,
    stats: DeliveryStats,
    deadline: float,
    while_running: threading.Event | None,
    lock: threading.Lock,
    shared: _Shared,
) -> None:
    """One sender: claim a few due deliveries, send them in turn, until there are none.

    Several senders share the outbox safely: a claim takes rows under a lease held by
    ``owner`` (one per sender), each delivery's lease is renewed when its turn comes, and
    an item never has two claimable deliveries at once (per-item order holds)."""
    breaker = Breaker(ctx)
    cfg = ctx.settings.delivery
    own = DeliveryStats()
    try:
        while not ctx.stop.is_set() and not stats.auth_error:
            allowed, pause, state = breaker.check()
            if not allowed:
                if time.monotonic() + pause <= deadline:
                    ctx.stop.wait(min(pause, 1.0))
                    continue
                own.circuit_open = state == "open"  # this drain ends with the circuit open
                break
            with ctx.db.write() as s:
                batch = outbox.claim(
                    s,
                    target=breaker.target,
                    owner=owner,
                    lease_seconds=cfg.lease_seconds,
                    limit=1
                    if state == "half-open" or breaker.refused
                    else max(1, cfg.batch // max(1, cfg.concurrency)),
                )
            if not batch:
                if while_running is not None and while_running.is_set():
                    _await_more(ctx, while_running)  # the crawl is still recording
                    continue
                with ctx.db.read() as s:
                    due = outbox.next_due(s, breaker.target)
                if due is None:
                    break
                until_due = (due - utcnow()).total_seconds()
                if time.monotonic() + until_due > deadline:
                    break
                ctx.stop.wait(min(max(until_due, 0.05), 1.0))
                continue
            troubles = shared.troubles
            marked = False  # this one's "sent" was recorded with the last one's answer
            for i, claimed in enumerate(batch):
                # Another sender's failure (a 429 with Retry-After, an outage) holds every
                # sender: back to the breaker before the next request. A delivery already
                # recorded as sent is the one in hand: it goes.
                if not marked and (
                    ctx.stop.is_set() or stats.auth_error or shared.troubles != troubles
                ):
                    _release(ctx, owner, batch[i:])
                    break
                following = batch[i + 1] if i + 1 < len(batch) else None
                outcome, marked = deliver_one(
                    ctx, claimed, breaker, own, owner=owner, marked=marked, following=following
                )
                if outcome == "auth":
                    with lock:
                        stats.auth_error = own.auth_error
                if outcome in ("retry", "auth"):
                    with lock:
                        shared.troubles += 1
                    _release(ctx, owner, batch[i + 1 :])
                    break
    except Exception as exc:  # a bug or the store going away: one line, the rest stay queued
        logs.internal_error(log, "delivery sender stopped", exc)
        own.stopped += 1
    finally:
        with lock:
            stats.merge(own)


def _await_more(ctx: Context, while_running: threading.Event) -> None:
    """Wait for the crawl to record more: up to ``IDLE_CLAIM_INTERVAL`` between claims
    (each is a write transaction), but back at once when the crawl ends or a stop is
    asked, so what it recorded last goes out without a pause."""
    deadline = time.monotonic() + IDLE_CLAIM_INTERVAL
    while while_running.is_set() and not ctx.stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)  # the flag may be another process's: no waiting on it


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _release(ctx: Context, owner: str, claimed: list[Claimed]) -> None:
    if not claimed:
        return
    with ctx.db.write() as s:
        for c in claimed:
            outbox.release(s, c, owner=owner)


def _prepare(
    ctx: Context, c: Claimed, stats: DeliveryStats, uploads: list[tuple[str, str]]
) -> dict[str, Any]:
    """The wire record: the stored version with its index number and uploaded files.

    Files uploaded now are added to ``uploads`` (sha256, file id), to be remembered in
    the transaction that stores the delivery's outcome: if that never happens, the next
    attempt uploads them again, and the target answers with the same file ids."""
    assert c.record is not None
    record = {k: v for k, v in c.record.items() if k != "classified_by"}
    if c.index_no:
        record["index_no"] = c.index_no
    target = ctx.target
    wanted = [a["sha256"] for a in record.get("attachments") or []]
    file_ids: dict[str, str] = {}
    if wanted:  # one read for all of them
        with ctx.db.read() as s:
            file_ids = outbox.uploaded_files(s, target.name, wanted)
    attachments = []
    for a in record.get("attachments") or []:
        file_id = file_ids.get(a["sha256"])
        if file_id is None:
            file_id = _upload(ctx, a)
            file_ids[a["sha256"]] = file_id  # the same file twice in one record: once
            stats.uploaded += 1
            uploads.append((a["sha256"], file_id))
        attachments.append({**a, "file_id": file_id})
    record["attachments"] = attachments
    return record


def _upload(ctx: Context, a: dict[str, Any]) -> str:
    """Upload one attachment from the store; its bytes are read now, and dropped once
    sent: one file in memory at a time, however many the record has."""
    with ctx.db.read() as s:
        data = outbox.blob_data(s, a["sha256"])
    if data is None:
        raise Rejected(
            f"attachment {a['name']} ({a['sha256'][:12]}) is missing from the state store", 0
        )
    return ctx.target.upload(a["name"], data, a["sha256"], a["media_type"])


def deliver_one(
    ctx: Context,
    c: Claimed,
    breaker: Breaker,
    stats: DeliveryStats,
    *,
    owner: str,
    marked: bool = False,
    following: Claimed | None = None,
) -> tuple[str, bool]:
    """Send one delivery; returns (done | retry | dead | auth | lost, following marked).

    Its "sent" event is written and its lease renewed before the request, in a
    transaction of its own unless ``marked`` (done with the previous delivery's answer).
    When this one is confirmed, ``following``'s turn is taken in the same transaction:
    one write per delivery instead of two. A delivery whose lease another sender took
    while it waited in this sender's batch is left to that sender ("lost")."""
    cfg = ctx.settings.delivery
    uploads: list[tuple[str, str]] = []
    held_since = time.monotonic()  # its lease was renewed just now (or with the last answer)
    # While the target refuses our credentials this delivery is a probe: its "sent" row
    # waits for an answer other than a refusal, so a refused probe every drain leaves
    # no row claiming a delivery that never went through.
    probe = breaker.refused and not marked

    def sent_now(s: Any) -> None:
        if probe:
            outbox.audit_sent(s, c, actor=ctx.actor, target=breaker.target)

    try:
        if not marked:
            with ctx.db.write() as s:
                held = outbox.mark_sent(
                    s, c, owner=owner, lease_seconds=cfg.lease_seconds, actor=ctx.actor,
                    target=breaker.target, audited=not probe,
                )  # fmt: skip
            if not held:
                log.info("delivery %d of %s: taken over by another sender", c.id, c.external_id)
                return "lost", False
        stats.sent += 1
        if c.action == "put":
            record = _prepare(ctx, c, stats, uploads)
            # Uploads of large files may take long: the PUT goes only under a lease that
            # still has most of its time (else another sender may hold it by now).
            if time.monotonic() - held_since > cfg.lease_seconds / 4:
                with ctx.db.write() as s:
                    outbox.remember_uploads(s, breaker.target, uploads)
                    held = outbox.renew_lease(s, c, owner=owner, lease_seconds=cfg.lease_seconds)
                uploads.clear()
                if not held:
                    log.warning(
                        "delivery %d of %s: its lease ran out while its files were uploaded; "
                        "another sender has it", c.id, c.external_id,
                    )  # fmt: skip
                    return "lost", False
            receipt = _timed(stats, lambda: ctx.target.put(record))
        else:
            receipt = _timed(stats, lambda: ctx.target.delete(c.external_id))
    except AuthenticationError as exc:
        stats.auth_error = str(exc)
        log.debug(
            "%s", exc
        )  # the caller reports it once: the CLI on stderr, the daemon in its run log
        with ctx.db.write() as s:
            credentials.refuse(
                s, breaker.target, status=exc.status, message=exc.detail or str(exc),
                actor=ctx.actor, source=c.source, item=c.external_id,
            )  # fmt: skip
            outbox.remember_uploads(s, breaker.target, uploads)
            outbox.release(s, c, owner=owner)
        breaker.refused = True
        return "auth", False
    except Retriable as exc:
        stats.failed += 1
        delay = backoff_delay(cfg, c.attempts + 1, exc.retry_after)
        with ctx.db.write() as s:
            sent_now(s)
            status = outbox.retry_later(
                s,
                c,
                owner=owner,
                actor=ctx.actor,
                error=str(exc),
                delay=delay,
                max_attempts=cfg.max_attempts,
            )
            outbox.remember_uploads(s, breaker.target, uploads)
        if status == "dead":
            stats.dead += 1
        log.warning("delivery of %s failed (attempt %d): %s", c.external_id, c.attempts + 1, exc)
        breaker.failure(str(exc), exc.retry_after)
        return "retry", False
    except Rejected as exc:
        stats.dead += 1
        with ctx.db.write() as s:
            sent_now(s)
            outbox.dead_letter(
                s, c, owner=owner, actor=ctx.actor, error=str(exc), errors=exc.errors
            )
            outbox.remember_uploads(s, breaker.target, uploads)
        log.error("delivery of %s rejected: %s", c.external_id, exc)
        breaker.success()  # the target answered: it is up, whatever it thought of the record
        return "dead", False
    marks_following = False
    with ctx.db.write() as s:
        sent_now(s)
        kept = outbox.complete(s, c, owner=owner, actor=ctx.actor, answer=receipt.as_json())
        outbox.remember_uploads(s, breaker.target, uploads)  # after: the head is locked first
        if kept and following is not None and not ctx.stop.is_set():
            marks_following = outbox.mark_sent(
                s, following, owner=owner, lease_seconds=cfg.lease_seconds, actor=ctx.actor,
                target=breaker.target,
            )  # fmt: skip
    if not kept:
        log.warning(
            "delivery %d of %s: lease lost before the answer was stored", c.id, c.external_id
        )
        return "lost", False
    if receipt.status in ("created", "updated", "unchanged", "withdrawn"):
        setattr(stats, receipt.status, getattr(stats, receipt.status) + 1)
    breaker.success()
    return "done", marks_following


def _timed(stats: DeliveryStats, call: Callable[[], Receipt]) -> Receipt:
    """One portal call, its duration kept whatever its outcome (a timeout counts too)."""
    started = time.monotonic()
    try:
        return call()
    finally:
        stats.call_seconds.append(time.monotonic() - started)
