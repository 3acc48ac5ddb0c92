"""Draining the outbox: ``delivery.concurrency`` senders claim due deliveries and send them.

Each sender (``bridge.delivery.send.Sender``) runs in a thread of its own under a lease
owner of its own (``host:pid/n``), claims a few deliveries at a time and sends them in
turn. What each answer means, and the backoff, are the sender's; the per-target circuit
breaker (``bridge.delivery.breaker``) stops all sending after ``circuit_threshold``
consecutive failures and lets one probe through after the cooldown. To run the drain in a
process of its own while a crawl goes on: ``bridge.delivery.process``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge import logs
from bridge.delivery.breaker import Breaker
from bridge.delivery.send import Outcome, Sender, backoff_delay
from bridge.delivery.stats import DeliveryStats
from bridge.owner import Owner
from bridge.state import outbox
from bridge.state.models import utcnow

if TYPE_CHECKING:
    from bridge.context import Context

__all__ = ["Breaker", "DeliveryStats", "backoff_delay", "drain"]

log = logging.getLogger(__name__)

IDLE_CLAIM_INTERVAL = 0.2  # seconds between claims while a crawl records and none is due


def drain(
    ctx: Context, *, wait: float = 0.0, while_running: threading.Event | None = None
) -> DeliveryStats:
    """Send due deliveries until none is left, ``delivery.concurrency`` at a time.

    With ``wait`` > 0, also wait up to that many seconds for retries and circuit
    cooldowns that fall due. With ``while_running``, keep going while that event is set
    (a crawl still recording new versions), so delivery overlaps discovery.
    """
    me = Owner.parse(ctx.owner)
    if me is not None:
        with ctx.db.write() as s:
            freed = outbox.release_dead_owners(s, me.host)
        if freed:
            log.info(
                "%d delivery(ies) left in flight by a process that died are queued again", freed
            )
    run = _Drain(ctx, deadline=time.monotonic() + wait, while_running=while_running)
    workers = max(1, ctx.settings.delivery.concurrency)
    if workers == 1:
        _send_until_done(run, Sender(ctx, _sender_owner(ctx)))
        return run.stats
    threads = [
        threading.Thread(
            target=_send_until_done,
            name=f"deliver-{n}",
            daemon=True,
            args=(run, Sender(ctx, _sender_owner(ctx))),
        )
        for n in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return run.stats


_SENDERS = itertools.count()  # numbers the senders of this process, across its drains


def _sender_owner(ctx: Context) -> str:
    """The lease owner of one sender: ``host:pid/n``, unique in the process (a daemon runs
    a drain per job, several at once), so a lease tells which sender holds it."""
    return f"{ctx.owner}/{next(_SENDERS)}"


@dataclass
class _Drain:
    """One drain, as its senders share it."""

    ctx: Context
    deadline: float  # time.monotonic() after which no sender waits for a retry to fall due
    while_running: threading.Event | None  # set while a crawl still records new versions
    stats: DeliveryStats = field(default_factory=DeliveryStats)  # all senders' counts
    lock: threading.Lock = field(default_factory=threading.Lock)
    troubles: int = 0  # failures so far: a change sends every sender back to the breaker

    def crawling(self) -> bool:
        return self.while_running is not None and self.while_running.is_set()


def _send_until_done(run: _Drain, sender: Sender) -> None:
    """One sender's thread: claim a few due deliveries, send them in turn, until there
    are none.

    Several senders share the outbox safely: a claim takes rows under a lease held by
    the sender's owner, the rest of a batch is renewed before a quarter of its lease has
    gone, and an item never has two claimable deliveries at once (per-item order holds)."""
    ctx, breaker, own = run.ctx, sender.breaker, sender.stats
    cfg = ctx.settings.delivery
    try:
        while not ctx.stop.is_set() and not run.stats.auth_error:
            allowed, pause, state = breaker.check()
            if not allowed:
                if time.monotonic() + pause <= run.deadline:
                    ctx.stop.wait(min(pause, 1.0))
                    continue
                own.circuit_open = state == "open"  # this drain ends with the circuit open
                break
            one_at_a_time = state == "half-open" or breaker.refused
            announced = not breaker.refused  # a probe's "sent" row waits for its answer
            limit = 1 if one_at_a_time else max(1, cfg.batch // max(1, cfg.concurrency))
            with ctx.db.write() as s:
                batch = outbox.claim_to_send(
                    s,
                    target=breaker.target,
                    owner=sender.owner,
                    lease_seconds=cfg.lease_seconds,
                    limit=limit,
                    actor=ctx.actor,
                    announce=announced,
                )
            if not batch:
                if run.crawling():
                    _await_more(run)  # the crawl is still recording
                    continue
                if not _wait_for_due(run, breaker.target):
                    break
                continue
            _send_batch(run, sender, batch, announced=announced)
            if len(batch) < limit and run.crawling():
                # The queue is empty and the crawl records a few items at a time: let
                # it record more, so the next claim (and breaker check) serves a fuller
                # batch instead of one per item or two.
                _await_more(run)
    except Exception as exc:  # a bug or the store going away: one line, the rest stay queued
        logs.internal_error(log, "delivery sender stopped", exc)
        own.stopped += 1
    finally:
        with run.lock:
            run.stats.merge(own)


def _send_batch(
    run: _Drain, sender: Sender, batch: list[outbox.Claimed], *, announced: bool
) -> None:
    """Send a claimed batch in turn; what is left when the target is in trouble (or a
    stop is asked) goes back to the queue."""
    troubles = run.troubles

    def held_up() -> bool:
        # Another sender's failure (a 429 with Retry-After, an outage) holds every
        # sender: back to the breaker before the next request.
        return bool(run.ctx.stop.is_set() or run.stats.auth_error or run.troubles != troubles)

    outcome = sender.send_batch(batch, announced=announced, held_up=held_up)
    if outcome is Outcome.AUTH:
        with run.lock:
            run.stats.auth_error = sender.stats.auth_error
    if outcome is not None and outcome.holds_the_batch:
        with run.lock:
            run.troubles += 1


def _wait_for_due(run: _Drain, target: str) -> bool:
    """Wait (a second at most) for the next retry to fall due; False when none will before
    the drain's deadline."""
    with run.ctx.db.read() as s:
        due = outbox.next_due(s, target)
    if due is None:
        return False
    until_due = (due - utcnow()).total_seconds()
    if time.monotonic() + until_due > run.deadline:
        return False
    run.ctx.stop.wait(min(max(until_due, 0.05), 1.0))
    return True


def _await_more(run: _Drain) -> None:
    """Wait for the crawl to record more: up to ``IDLE_CLAIM_INTERVAL`` between claims
    (each is a write transaction), but back at once when the crawl ends or a stop is
    asked, so what it recorded last goes out without a pause."""
    deadline = time.monotonic() + IDLE_CLAIM_INTERVAL
    while run.crawling() and not run.ctx.stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)  # the flag may be another process's: no waiting on it
