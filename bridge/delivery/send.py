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
import json
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge.delivery.breaker import Breaker
from bridge.delivery.stats import DeliveryStats
from bridge.errors import AuthenticationError, Rejected, Retriable
from bridge.state import audit_log, credentials, outbox
from bridge.state.outbox import Claimed
from bridge.targets.base import WireRecord

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


# Why the rest of a batch goes back to the queue, for its ``delivery.returned`` rows.
_GIVEN_BACK = {
    Outcome.RETRY: "a request failed: the sender backs off",
    Outcome.AUTH: "the target refused the credentials",
}


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
    its own counts (merged when it ends) and its own view of the target's breaker.

    A batch's "sent" rows went with its claim; its answers are kept here and stored
    together (``store``): when the batch ends, with a failure's or a refusal's own
    transaction, and when the leases of the rest are renewed. A crash in between loses
    nothing: the deliveries are still in flight under the dead sender's lease, and the
    next drain sends them again (idempotent PUTs, at most one batch)."""

    def __init__(self, ctx: Context, owner: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self.breaker = Breaker(ctx)
        self.stats = DeliveryStats()
        self._answered: list[tuple[Claimed, Receipt]] = []  # confirmed, not stored yet
        self._uploads: list[tuple[str, str]] = []  # (sha256, file id) not remembered yet
        self._unannounced: set[int] = set()  # probes: their "sent" row goes with the answer
        self._file_ids: dict[str, str] = {}  # the batch's files the target holds, by sha256

    def send_batch(
        self, batch: list[Claimed], *, announced: bool, held_up: Callable[[], bool]
    ) -> Outcome | None:
        """Send a claimed batch in turn and store the answers; the rest goes back to the
        queue when ``held_up()`` (a stop, another sender's trouble) or when the target is
        in trouble (returns that outcome)."""
        lease = self.ctx.settings.delivery.lease_seconds
        self._unannounced = set() if announced else {c.id for c in batch}
        self._file_ids = uploaded_files(self.ctx, batch)
        rest = list(batch)
        held_since = time.monotonic()  # the leases were taken (or renewed) then
        while rest:
            if held_up():
                self.store(release=rest, why="stopping, or another sender's request failed")
                return None
            # A slow batch renews the leases of its rest (and stores the answers so far)
            # before a quarter of the lease has gone, so no other sender takes a
            # delivery this one is about to send.
            if time.monotonic() - held_since > lease / 4:
                held = self.store(renew=rest)
                held_since = time.monotonic()
                for c in rest:
                    if c not in held:
                        log.info("delivery %d of %s: taken over by another sender",
                                 c.id, c.external_id)  # fmt: skip
                rest = held
                continue
            c = rest.pop(0)
            outcome = self.deliver_one(c, held_since=held_since)
            if outcome.holds_the_batch:
                if rest:
                    self.store(release=rest, why=_GIVEN_BACK[outcome])
                return outcome
        self.store()
        return None

    def store(
        self,
        *,
        renew: list[Claimed] | None = None,
        release: list[Claimed] | None = None,
        why: str = "",
    ) -> list[Claimed]:
        """Store the answers kept so far (one transaction), renewing the leases of
        ``renew`` (returns those still held) or giving ``release`` back (``why``)."""
        if not (self._answered or self._uploads or renew or release):
            return []
        held: list[Claimed] = []
        with self.ctx.db.write() as s:
            self._store_in(s)
            if renew:
                held = outbox.renew_held(
                    s,
                    renew,
                    owner=self.owner,
                    lease_seconds=self.ctx.settings.delivery.lease_seconds,
                )
            self._give_back(s, release or [], why)
        return held

    def _give_back(self, s: Any, batch: list[Claimed], why: str) -> None:
        """Deliveries back to the queue unsent; those the claim announced as sent get
        their ``delivery.returned`` row."""
        returned = [c for c in batch if outbox.release(s, c, owner=self.owner)]
        outbox.audit_returned(
            s, [c for c in returned if c.id not in self._unannounced],
            actor=self.ctx.actor, target=self.breaker.target, reason=why,
        )  # fmt: skip

    def _store_in(self, s: Any) -> None:
        """The kept answers and uploads, in the caller's write transaction (first: the
        chain head is locked before any delivery row)."""
        if self._answered or self._uploads:
            audit_log.lock_head(s)  # before the upload rows too: see lock_head
        answered, self._answered = self._answered, []
        kept = outbox.complete_all(
            s, [(c, receipt.as_json()) for c, receipt in answered], owner=self.owner,
            actor=self.ctx.actor, unannounced=self._unannounced, target=self.breaker.target,
        )  # fmt: skip
        outbox.remember_uploads(s, self.breaker.target, self._uploads)
        self._uploads = []
        stored = {c.id for c in kept}
        for c, receipt in answered:
            if c.id not in stored:
                log.warning(
                    "delivery %d of %s: lease lost before the answer was stored",
                    c.id, c.external_id,
                )  # fmt: skip
            elif receipt.status in ("created", "updated", "unchanged", "withdrawn"):
                setattr(self.stats, receipt.status, getattr(self.stats, receipt.status) + 1)

    def deliver_one(self, c: Claimed, *, held_since: float) -> Outcome:
        """Send one delivery; its answer is kept for ``store``, a failure stored now.

        ``held_since``: when its lease was last taken or renewed (``time.monotonic()``).
        While the target refuses our credentials the delivery is a probe: its "sent" row
        waits for an answer other than a refusal, so a refused probe every drain leaves
        no row claiming a delivery that never went through."""
        ctx, cfg, breaker = self.ctx, self.ctx.settings.delivery, self.breaker
        uploads = self._uploads
        try:
            self.stats.sent += 1
            if c.action == "put":
                record = _prepare(ctx, c, self.stats, uploads, self._file_ids)
                # Uploads of large files may take long: the PUT goes only under a lease that
                # still has most of its time (else another sender may hold it by now).
                if time.monotonic() - held_since > cfg.lease_seconds / 4:
                    with ctx.db.write() as s:
                        self._store_in(s)
                        held = outbox.renew_lease(
                            s, c, owner=self.owner, lease_seconds=cfg.lease_seconds
                        )
                    if not held:
                        log.warning(
                            "delivery %d of %s: its lease ran out while its files were "
                            "uploaded; another sender has it", c.id, c.external_id,
                        )  # fmt: skip
                        return Outcome.LOST
                receipt = _timed(self.stats, lambda: ctx.target.put(record))
            else:
                receipt = _timed(self.stats, lambda: ctx.target.delete(c.external_id))
        except AuthenticationError as exc:
            return self._refused(c, exc)
        except Retriable as exc:
            return self._failed(c, exc)
        except Rejected as exc:
            return self._rejected(c, exc)
        self._answered.append((c, receipt))
        breaker.success()
        return Outcome.DONE

    def _sent_now(self, s: Any, c: Claimed) -> None:
        """A probe's "sent" row, written with the answer that was not a refusal."""
        if c.id in self._unannounced:
            outbox.audit_sent(s, c, actor=self.ctx.actor, target=self.breaker.target)

    def _refused(self, c: Claimed, exc: AuthenticationError) -> Outcome:
        self.stats.auth_error = str(exc)
        # The caller reports it once: the CLI on stderr, the daemon in its run log.
        log.debug("%s", exc)
        with self.ctx.db.write() as s:
            self._store_in(s)
            credentials.refuse(
                s, self.breaker.target, status=exc.status, message=exc.detail or str(exc),
                actor=self.ctx.actor, source=c.source, item=c.external_id,
            )  # fmt: skip
            self._give_back(s, [c], "the target refused the credentials")
        self.breaker.refused = True
        return Outcome.AUTH

    def _failed(self, c: Claimed, exc: Retriable) -> Outcome:
        cfg = self.ctx.settings.delivery
        self.stats.failed += 1
        delay = backoff_delay(cfg, c.attempts + 1, exc.retry_after)
        with self.ctx.db.write() as s:
            self._store_in(s)
            self._sent_now(s, c)
            status = outbox.retry_later(
                s, c, owner=self.owner, actor=self.ctx.actor, error=str(exc), delay=delay,
                max_attempts=cfg.max_attempts,
            )  # fmt: skip
        if status == "dead":
            self.stats.dead += 1
        log.warning("delivery of %s failed (attempt %d): %s", c.external_id, c.attempts + 1, exc)
        self.breaker.failure(str(exc), exc.retry_after)
        return Outcome.RETRY

    def _rejected(self, c: Claimed, exc: Rejected) -> Outcome:
        self.stats.dead += 1
        with self.ctx.db.write() as s:
            self._store_in(s)
            self._sent_now(s, c)
            outbox.dead_letter(
                s, c, owner=self.owner, actor=self.ctx.actor, error=str(exc), errors=exc.errors
            )
        log.error("delivery of %s rejected: %s", c.external_id, exc)
        self.breaker.success()  # the target answered: it is up, whatever it thought of the record
        return Outcome.DEAD


def uploaded_files(ctx: Context, batch: list[Claimed]) -> dict[str, str]:
    """The target's file ids of the batch's attachments it already holds: one read for
    the whole batch."""
    wanted = [a["sha256"] for c in batch if c.record for a in c.record.get("attachments") or []]
    if not wanted:
        return {}
    with ctx.db.read_rows() as conn:
        return outbox.uploaded_files(conn, ctx.target.name, wanted)


def _prepare(
    ctx: Context,
    c: Claimed,
    stats: DeliveryStats,
    uploads: list[tuple[str, str]],
    file_ids: dict[str, str],
) -> WireRecord:
    """The wire record: the stored version with its index number and uploaded files.

    ``file_ids``: the target's file ids by sha256 (``uploaded_files``), which files
    uploaded now join. They are added to ``uploads`` (sha256, file id) too, to be
    remembered in the transaction that stores the delivery's outcome: if that never
    happens, the next attempt uploads them again, and the target answers with the same
    file ids."""
    assert c.record is not None
    record = WireRecord(c.record)
    record.pop("classified_by", None)
    if c.index_no:
        record["index_no"] = c.index_no
    attachments = []
    for a in record.get("attachments") or []:
        file_id = file_ids.get(a["sha256"])
        if file_id is None:
            file_id = _upload(ctx, a)
            file_ids[a["sha256"]] = file_id  # the same file twice in a batch: once
            stats.uploaded += 1
            uploads.append((a["sha256"], file_id))
        attachments.append({**a, "file_id": file_id})
    record["attachments"] = attachments
    if c.stored is not None:
        record.text = spliced(c.stored, c.record, record)
    return record


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_CHANGED = ("attachments", "classified_by", "index_no")  # what _prepare changes


def spliced(stored: str, state: dict[str, Any], wire: dict[str, Any]) -> str | None:
    """The canonical JSON of ``wire`` (sorted keys, no spaces), made from ``stored``, the
    canonical JSON of ``state``, where the two differ only in the keys of ``_CHANGED``;
    None when it cannot be spliced safely (the target then encodes ``wire`` itself).

    Each changed key's ``"key":value`` text is found in ``stored`` and replaced or cut
    out: as it is in ``state``, it is there at the top level, and found just once it is
    nowhere else (a quote inside a string is escaped). Encoding a PUT's body cost 10 us
    (12 with attachments); splicing it, 2 (10)."""
    text = stored
    for key in _CHANGED:
        if key not in state:
            if key in wire:
                return None  # a key to insert: left to the encoder
            continue
        if key in wire and wire[key] == state[key]:
            continue
        pair = f'"{key}":{_CANONICAL(state[key])}'
        at = text.find(pair)
        if at < 0 or text.find(pair, at + 1) >= 0:
            return None
        end = at + len(pair)
        if key in wire:
            text = f'{text[:at]}"{key}":{_CANONICAL(wire[key])}{text[end:]}'
        elif text[at - 1] == ",":  # cut out with the comma before it
            text = text[: at - 1] + text[end:]
        else:
            return None  # the first key (never in the state form): left to the encoder
    return text


def _upload(ctx: Context, a: dict[str, Any]) -> str:
    """Upload one attachment from the store; its bytes are read now, and dropped once
    sent: one file in memory at a time, however many the record has."""
    with ctx.db.read_rows() as conn:
        data = outbox.blob_data(conn, a["sha256"])
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
