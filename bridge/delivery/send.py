"""Sending one claimed delivery and storing the answer, or scheduling a retry.

What an error means is decided in one place per target (``targets.http.classify``):
``Retriable`` (connection errors, timeouts, 408, 429, 5xx) → try again after an
exponential backoff with jitter, never sooner than the portal's ``Retry-After`` (capped),
and dead-letter after ``delivery.max_attempts``; ``Rejected`` (other 4xx) → dead letter
with the portal's message at once; ``AuthenticationError`` → stop draining, nothing is
marked delivered, and the target is in the "credentials refused" state (bridge.state.
credentials) until the first answer that accepts us: meanwhile each drain probes with one
delivery whose ``delivery.sent`` row is written only once it got another answer.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.delivery.breaker import Breaker
from bridge.delivery.stats import DeliveryStats
from bridge.errors import AuthenticationError, Rejected, Retriable
from bridge.state import credentials, outbox
from bridge.state.outbox import Claimed

if TYPE_CHECKING:
    from bridge.context import Context
    from bridge.targets.base import Receipt

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """What became of one delivery a sender had in hand."""

    DONE = "done"  # the target confirmed it, and its answer is stored
    RETRY = "retry"  # a failure worth retrying: due again later (or dead after max_attempts)
    DEAD = "dead"  # the target rejected it: a dead letter, with the target's message
    AUTH = "auth"  # the target refused our credentials: nothing more goes out
    LOST = "lost"  # another sender took its lease meanwhile: left to that one

    @property
    def holds_the_batch(self) -> bool:
        """Whether the rest of the batch goes back to the queue (the target is in trouble)."""
        return self in (Outcome.RETRY, Outcome.AUTH)


@dataclass(frozen=True)
class Sent:
    outcome: Outcome
    following_marked: bool = False  # the next delivery's "sent" went with this answer


def backoff_delay(cfg: Any, attempt: int, retry_after: float | None) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with jitter, at least Retry-After.

    ``backoff_initial * 2 ** (attempt - 1)`` plus up to ``backoff_initial`` of jitter,
    capped at ``backoff_max``. Written out rather than borrowed from tenacity: the retry
    is not a loop in this process but a due time in the store, which any sender of any
    process takes up, so there is no tenacity retry state to compute it from."""
    exponent = min(max(attempt - 1, 0), 64)  # 2**64 seconds is past any cap
    delay = cfg.backoff_initial * 2.0**exponent + random.uniform(0, cfg.backoff_initial)
    delay = max(0.0, min(delay, cfg.backoff_max))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cfg.retry_after_cap))
    return delay


class Sender:
    """One lease owner (``host:pid/n``) sending the deliveries it claimed, one at a time.

    A drain runs ``delivery.concurrency`` of them, each in a thread of its own, each with
    its own counts (merged when it ends) and its own view of the target's breaker."""

    def __init__(self, ctx: Context, owner: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self.breaker = Breaker(ctx)
        self.stats = DeliveryStats()

    def release(self, claimed: list[Claimed]) -> None:
        """Give deliveries back untouched (stopping, or the target in trouble)."""
        if not claimed:
            return
        with self.ctx.db.write() as s:
            for c in claimed:
                outbox.release(s, c, owner=self.owner)

    def deliver_one(
        self, c: Claimed, *, marked: bool = False, following: Claimed | None = None
    ) -> Sent:
        """Send one delivery and store what became of it.

        Its "sent" event is written and its lease renewed before the request, in a
        transaction of its own unless ``marked`` (done with the previous delivery's
        answer). When this one is confirmed, ``following``'s turn is taken in the same
        transaction (``Sent.following_marked``): one write per delivery instead of two. A
        delivery whose lease another sender took while it waited in this sender's batch
        is left to that sender (``LOST``)."""
        ctx, cfg, breaker = self.ctx, self.ctx.settings.delivery, self.breaker
        uploads: list[tuple[str, str]] = []
        held_since = time.monotonic()  # its lease was renewed just now (or with the last answer)
        # While the target refuses our credentials this delivery is a probe: its "sent" row
        # waits for an answer other than a refusal, so a refused probe every drain leaves
        # no row claiming a delivery that never went through.
        probe = breaker.refused and not marked
        try:
            if not marked:
                with ctx.db.write() as s:
                    held = outbox.mark_sent(
                        s, c, owner=self.owner, lease_seconds=cfg.lease_seconds,
                        actor=ctx.actor, target=breaker.target, audited=not probe,
                    )  # fmt: skip
                if not held:
                    log.info("delivery %d of %s: taken over by another sender", c.id, c.external_id)
                    return Sent(Outcome.LOST)
            self.stats.sent += 1
            if c.action == "put":
                record = _prepare(ctx, c, self.stats, uploads)
                # Uploads of large files may take long: the PUT goes only under a lease that
                # still has most of its time (else another sender may hold it by now).
                if time.monotonic() - held_since > cfg.lease_seconds / 4:
                    with ctx.db.write() as s:
                        outbox.remember_uploads(s, breaker.target, uploads)
                        held = outbox.renew_lease(
                            s, c, owner=self.owner, lease_seconds=cfg.lease_seconds
                        )
                    uploads.clear()
                    if not held:
                        log.warning(
                            "delivery %d of %s: its lease ran out while its files were "
                            "uploaded; another sender has it", c.id, c.external_id,
                        )  # fmt: skip
                        return Sent(Outcome.LOST)
                receipt = _timed(self.stats, lambda: ctx.target.put(record))
            else:
                receipt = _timed(self.stats, lambda: ctx.target.delete(c.external_id))
        except AuthenticationError as exc:
            return self._refused(c, exc, uploads)
        except Retriable as exc:
            return self._failed(c, exc, uploads, probe=probe)
        except Rejected as exc:
            return self._rejected(c, exc, uploads, probe=probe)
        return self._confirmed(c, receipt, uploads, probe=probe, following=following)

    def _sent_now(self, s: Any, c: Claimed, probe: bool) -> None:
        """A probe's "sent" row, written with the answer that was not a refusal."""
        if probe:
            outbox.audit_sent(s, c, actor=self.ctx.actor, target=self.breaker.target)

    def _refused(
        self, c: Claimed, exc: AuthenticationError, uploads: list[tuple[str, str]]
    ) -> Sent:
        self.stats.auth_error = str(exc)
        # The caller reports it once: the CLI on stderr, the daemon in its run log.
        log.debug("%s", exc)
        with self.ctx.db.write() as s:
            credentials.refuse(
                s, self.breaker.target, status=exc.status, message=exc.detail or str(exc),
                actor=self.ctx.actor, source=c.source, item=c.external_id,
            )  # fmt: skip
            outbox.remember_uploads(s, self.breaker.target, uploads)
            outbox.release(s, c, owner=self.owner)
        self.breaker.refused = True
        return Sent(Outcome.AUTH)

    def _failed(
        self, c: Claimed, exc: Retriable, uploads: list[tuple[str, str]], *, probe: bool
    ) -> Sent:
        cfg = self.ctx.settings.delivery
        self.stats.failed += 1
        delay = backoff_delay(cfg, c.attempts + 1, exc.retry_after)
        with self.ctx.db.write() as s:
            self._sent_now(s, c, probe)
            status = outbox.retry_later(
                s, c, owner=self.owner, actor=self.ctx.actor, error=str(exc), delay=delay,
                max_attempts=cfg.max_attempts,
            )  # fmt: skip
            outbox.remember_uploads(s, self.breaker.target, uploads)
        if status == "dead":
            self.stats.dead += 1
        log.warning("delivery of %s failed (attempt %d): %s", c.external_id, c.attempts + 1, exc)
        self.breaker.failure(str(exc), exc.retry_after)
        return Sent(Outcome.RETRY)

    def _rejected(
        self, c: Claimed, exc: Rejected, uploads: list[tuple[str, str]], *, probe: bool
    ) -> Sent:
        self.stats.dead += 1
        with self.ctx.db.write() as s:
            self._sent_now(s, c, probe)
            outbox.dead_letter(
                s, c, owner=self.owner, actor=self.ctx.actor, error=str(exc), errors=exc.errors
            )
            outbox.remember_uploads(s, self.breaker.target, uploads)
        log.error("delivery of %s rejected: %s", c.external_id, exc)
        self.breaker.success()  # the target answered: it is up, whatever it thought of the record
        return Sent(Outcome.DEAD)

    def _confirmed(
        self,
        c: Claimed,
        receipt: Receipt,
        uploads: list[tuple[str, str]],
        *,
        probe: bool,
        following: Claimed | None,
    ) -> Sent:
        ctx, cfg = self.ctx, self.ctx.settings.delivery
        marks_following = False
        with ctx.db.write() as s:
            self._sent_now(s, c, probe)
            kept = outbox.complete(
                s, c, owner=self.owner, actor=ctx.actor, answer=receipt.as_json()
            )
            outbox.remember_uploads(
                s, self.breaker.target, uploads
            )  # after: the head is locked first
            if kept and following is not None and not ctx.stop.is_set():
                marks_following = outbox.mark_sent(
                    s, following, owner=self.owner, lease_seconds=cfg.lease_seconds,
                    actor=ctx.actor, target=self.breaker.target,
                )  # fmt: skip
        if not kept:
            log.warning(
                "delivery %d of %s: lease lost before the answer was stored", c.id, c.external_id
            )
            return Sent(Outcome.LOST)
        if receipt.status in ("created", "updated", "unchanged", "withdrawn"):
            setattr(self.stats, receipt.status, getattr(self.stats, receipt.status) + 1)
        self.breaker.success()
        return Sent(Outcome.DONE, marks_following)


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


def _timed(stats: DeliveryStats, call: Callable[[], Receipt]) -> Receipt:
    """One portal call, its duration kept whatever its outcome (a timeout counts too)."""
    started = time.monotonic()
    try:
        return call()
    finally:
        stats.call_seconds.append(time.monotonic() - started)
