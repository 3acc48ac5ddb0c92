"""Delivery against a misbehaving portal: retries, Retry-After, circuit breaker, dead letters."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests
from conftest import cycle_context, run_cycle, run_out_leases
from sqlalchemy import text
from waiting import wait_for

from bridge.crawl.run import RunOptions, run_once
from bridge.delivery import send
from bridge.delivery.drain import DeliveryStats, drain
from bridge.sandbox.portal_faults import Faults
from bridge.sandbox.site import load_manifest
from bridge.state import outbox
from bridge.state.db import Database

pytestmark = pytest.mark.slow


def stats(box) -> dict:
    return requests.get(box.portal_url + "sandbox/stats", timeout=10).json()


def no_duplicates(box, expected: int) -> None:
    held = box.portal.store.items()
    assert len(held) == expected
    assert len({r["external_id"] for r in held}) == expected
    assert len({r["index_no"] for r in held}) == expected


def each_sent_row_is_answered(cli, config) -> Counter[str]:
    """Every ``delivery.sent`` row of the trail is followed, for its delivery, by exactly
    one row saying what became of it before that delivery is sent again: confirmed,
    failed, dead, or returned to the queue unsent (a claim announces a whole batch).
    Returns how many of each ended a sending."""
    trail = cli("--config", str(config), "audit", "--format", "jsonl")
    assert trail.code == 0, trail.both
    ends = {"delivery.confirmed", "delivery.failed", "delivery.dead", "delivery.returned"}
    open_: dict[int, bool] = {}
    ended: Counter[str] = Counter()
    for line in trail.out.splitlines():
        event = json.loads(line)
        if not event["event"].startswith("delivery."):
            continue
        delivery = event["details"].get("delivery_id")
        if event["event"] == "delivery.sent":
            assert not open_.get(delivery), f"delivery {delivery} sent twice without an end"
            open_[delivery] = True
        elif event["event"] in ends:
            assert open_.get(delivery), f"{event['event']} of delivery {delivery} never sent"
            open_[delivery] = False
            ended[event["event"]] += 1
    assert not any(open_.values()), {d for d, o in open_.items() if o}
    return ended


# A backfill delivers from a second process on a machine with two cores (``"auto"``), from
# a thread on one core or when told: both ways go through the faults.
MODES = pytest.mark.parametrize("process", ["true", "false"], ids=["process", "thread"])


@MODES
def test_every_item_arrives_through_errors_timeouts_and_429_bursts(
    sandbox, write_config, cli, process
):
    box = sandbox(items=40, seed=17)
    config = write_config(box, extra=f"process = {process}")
    text = config.read_text().replace(
        'key = "bridge-sandbox"', 'key = "bridge-sandbox"\ntimeout = "1s"'
    )
    # One sender: with several, a request already in flight when a 429 goes out arrives
    # after it, and the portal could not tell it from one that ignored the Retry-After.
    text = text.replace(
        "[delivery]", "[delivery]\nmax_attempts = 30\ncircuit_threshold = 8\nconcurrency = 1"
    )
    config.write_text(text)
    box.portal.faults = Faults(
        error_rate=0.30, timeout_rate=0.10, hang_seconds=3, rate_limit_burst=3, retry_after=1,
        retry_after_form="http-date", seed=11,
    )  # fmt: skip
    result = cli("--config", str(config), "sync", "--once", "--deliver-for", "240", timeout=400)
    assert result.code == 0, result.both
    no_duplicates(box, 40)
    s = stats(box)
    assert (
        s["faults"]["errors"] > 0 and s["faults"]["timeouts"] > 0 and s["faults"]["throttled"] >= 3
    )
    assert s["faults"]["too_early"] == 0  # never a request before the Retry-After had passed
    audit = cli("--config", str(config), "audit", "verify")
    assert audit.code == 0


def test_429_with_retry_after_in_seconds_is_honoured(sandbox, write_config, cli):
    box = sandbox(items=6, seed=2)
    config = write_config(box, extra="concurrency = 1")  # see the test above
    box.portal.faults = Faults(rate_limit_burst=2, retry_after=2, retry_after_form="seconds")
    result = cli("--config", str(config), "sync", "--once", "--deliver-for", "60", timeout=120)
    assert result.code == 0, result.both
    no_duplicates(box, 6)
    log = stats(box)["log"]
    throttled = [e for e in log if e["status"] == 429]
    assert len(throttled) == 2
    after = [e for e in log if e["time"] > throttled[-1]["time"]]
    assert after and after[0]["time"] - throttled[-1]["time"] >= 2.0
    assert stats(box)["faults"]["too_early"] == 0


class FromFirstRequest:
    """The portal's fault clock, standing still until its first API request once armed and
    real time from then on: a 6 s outage then meets the deliveries however long the
    delivery process takes to start on a busy machine."""

    START = 1_765_000_000.0

    def __init__(self) -> None:
        self.armed = False
        self.started: float | None = None

    def __call__(self) -> float:
        if not self.armed:
            return self.START
        if self.started is None:
            self.started = time.monotonic()
        return self.START + time.monotonic() - self.started


def test_outage_opens_the_circuit_instead_of_a_request_storm(sandbox, write_config, cli):
    clock = FromFirstRequest()
    box = sandbox(items=30, seed=5, portal_clock=clock)
    config = write_config(box)
    config.write_text(
        config.read_text()
        .replace("[delivery]", "[delivery]\nmax_attempts = 50\ncircuit_threshold = 3\n")
        .replace('circuit_cooldown = "0.5s"', 'circuit_cooldown = "1s"')
    )
    # Everything recorded first, so that the outage meets the deliveries however long
    # the crawl and a delivery process take to start (on a busy machine, 6 s and more).
    recorded = cli("--config", str(config), "sync", "--once", "--no-deliver", timeout=200)
    assert recorded.code == 0, recorded.both
    # Connections reset, no Retry-After to go by: only the circuit breaker holds back.
    box.portal.set_faults(outage_mode="reset", outage_until=FromFirstRequest.START + 6)
    clock.armed = True  # the window opens at the next API request
    result = cli("--config", str(config), "sync", "--once", "--deliver-for", "120", timeout=200)
    assert result.code == 0, result.both
    no_duplicates(box, 30)
    s = stats(box)
    # 3 failures open the circuit; then one probe per cooldown (1 s): a 6 s outage costs
    # about ten requests, not 30 items x retries.
    assert 3 <= s["faults"]["outage"] <= 12, s["faults"]
    events = cli("--config", str(config), "audit", "--event", "circuit", "--format", "jsonl")
    assert events.code == 0, events.both + str(s)
    names = [json.loads(line)["event"] for line in events.out.splitlines()]
    # One outage, one opening: each failed probe (one per cooldown) keeps it open
    assert names == ["circuit.opened", "circuit.closed"], names
    # The batches the outage cut short went back to the queue, and the trail says so.
    ended = each_sent_row_is_answered(cli, config)
    assert ended["delivery.confirmed"] == 30 and ended["delivery.returned"] > 0, ended
    confirmed = cli("--config", str(config), "audit", "--event", "delivery.confirmed",
                    "--format", "json")  # fmt: skip
    titles = {e["item"]: e["details"]["title"] for e in json.loads(confirmed.out)}
    assert titles == {r["external_id"]: r["title"] for r in box.portal.store.items()}


@MODES
def test_applied_then_dropped_writes_never_duplicate(sandbox, write_config, cli, process):
    box = sandbox(items=30, seed=9)
    config = write_config(box, extra=f"process = {process}")
    box.portal.faults = Faults(drop_after_write_rate=0.3, seed=3)
    result = cli("--config", str(config), "sync", "--once", "--deliver-for", "120", timeout=200)
    assert result.code == 0, result.both
    no_duplicates(box, 30)
    s = stats(box)
    assert s["faults"]["dropped_after_write"] > 0
    assert s["puts_by_status"]["created"] == 30
    assert s["puts_by_status"]["unchanged"] > 0  # the repeats after a lost answer
    assert each_sent_row_is_answered(cli, config)["delivery.confirmed"] >= 30


def test_422_goes_to_the_dead_letter_with_the_portal_message_and_retry_delivers(
    sandbox, write_config, cli
):
    box = sandbox(items=10, seed=13)
    config = write_config(box)
    titles = sorted(r.title for r in load_manifest(box.root).items)
    limit = sorted(len(t) for t in titles)[-3] - 1  # the longest titles exceed the vendor's limit
    box.portal.store.max_title_length = limit
    first = cli("--config", str(config), "sync", "--once")
    assert first.code == 1
    too_long = [t for t in titles if len(t) > limit]
    assert f"{len(too_long)} dead" in first.out
    assert box.portal.store.count() == 10 - len(too_long)

    status = cli("--config", str(config), "status", "--format", "json")
    dead = json.loads(status.out)["dead_letters"]
    assert len(dead) == len(too_long)
    assert all(f"title: is {len(t)} characters; this portal accepts at most {limit}" in " ".join(d["error"] for d in dead)
               for t in too_long)  # fmt: skip
    table = cli("--config", str(config), "status")
    assert "dead letter yyedu:" in table.out and f"this portal accepts at most {limit}" in table.out
    audit = cli("--config", str(config), "audit", "--event", "delivery.dead", "--format", "jsonl")
    assert Counter(
        json.loads(x)["details"]["errors"][0]["field"] for x in audit.out.splitlines()
    ) == {"title": len(too_long)}

    box.portal.store.max_title_length = None  # the vendor lifts the limit
    item = dead[0]["item"]
    one = cli("--config", str(config), "retry", "--item", item)
    assert one.code == 0, one.both
    assert one.out.splitlines()[0] == "1 dead letter(s) queued again"
    assert box.portal.store.count() == 10 - len(too_long) + 1
    rest = cli("--config", str(config), "retry", "--all", "--format", "json")
    assert rest.code == 0, rest.both
    data = json.loads(rest.out)
    left = len(too_long) - 1
    assert (data["queued"], data["exit_code"]) == (left, 0)
    assert (data["delivery"]["sent"], data["delivery"]["created"], data["delivery"]["dead"]) == (
        left, left, 0,
    )  # fmt: skip
    assert box.portal.store.count() == 10
    retried = cli(
        "--config", str(config), "audit", "--event", "delivery.retried", "--format", "jsonl"
    )
    assert len(retried.out.splitlines()) == len(too_long)


def test_a_half_open_circuit_lets_exactly_one_sender_probe(state_url):
    """Two senders (threads of one drain, or two workers) share the circuit in the store:
    when the cooldown is over, one probes and the other waits for the outcome."""
    from types import SimpleNamespace

    from bridge.config import DeliveryConfig
    from bridge.delivery.drain import Breaker
    from bridge.state.db import open_database

    db = open_database(state_url)
    cfg = DeliveryConfig(circuit_threshold=2, circuit_cooldown=0.0, lease_seconds=60)
    ctx = SimpleNamespace(
        db=db, settings=SimpleNamespace(target=SimpleNamespace(name="portal"), delivery=cfg),
        actor="test",
    )  # fmt: skip
    try:
        one, two = Breaker(ctx), Breaker(ctx)  # type: ignore[arg-type]
        one.failure("reset", None)
        two.failure("reset", None)  # the threshold: open, with a cooldown already over
        assert one.check()[::2] == (True, "half-open")
        allowed, wait, state = two.check()
        assert (allowed, state) == (False, "half-open") and 59 < wait <= 60
        one.failure("reset again", None)  # the probe failed: open again, cooldown only
        assert two.check()[::2] == (True, "half-open")
        assert one.check()[0] is False
        two.success()  # the probe went through: closed for everyone
        assert one.check() == (True, 0.0, "closed")
    finally:
        db.dispose()


def test_one_write_transaction_per_batch_and_the_trail_in_order(sandbox, write_config):
    """A batch's "sent" events go into the transaction that claims it, its answers and
    the files it uploaded into one that stores them all: two writes per batch, and
    still, per item, sent before confirmed."""

    box = sandbox(items=30, seed=31)
    path = write_config(box, extra="concurrency = 1")
    ctx = cycle_context(path)
    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0
        writes: list[str] = []
        real = Database.write

        def counted(self: Database) -> Any:
            writes.append("write")
            return real(self)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Database, "write", counted)
            stats = drain(ctx)
        with ctx.db.read() as s:
            trail = s.execute(
                text("SELECT item, event FROM audit_events WHERE item IS NOT NULL ORDER BY id")
            ).all()
            uploads = s.execute(text("SELECT count(*) FROM uploads")).scalar_one()
    finally:
        ctx.db.dispose()
    assert stats.created == 30
    assert uploads == stats.uploaded > 0
    # Freeing dead senders' leases, the target's circuit row (made at its first check),
    # the claim of all 30 with their "sent" events, their answers, the claim that finds
    # none left: 5 (it was 1 per delivery, and before that 2 per delivery, 1 per
    # uploaded file and 1 per circuit check).
    assert len(writes) == 1 + 1 + 1 + 1 + 1
    events: dict[str, list[str]] = {}
    for item, event in trail:
        events.setdefault(item, []).append(event)
    assert len(events) == 30
    assert set(map(tuple, events.values())) == {
        ("item.discovered", "record.changed", "delivery.sent", "delivery.confirmed")
    }


def test_while_the_crawl_records_a_short_batch_waits_for_more_before_the_next_claim(
    sandbox, write_config, monkeypatch
):
    """A claim that finds the queue short while the crawl records lets the crawl record
    more before the next claim (fuller batches, fewer claims); the crawl's end goes on at
    once."""
    from bridge.delivery import drain as drain_module

    box = sandbox(items=30, seed=32)
    ctx = cycle_context(write_config(box, extra="concurrency = 1"))
    crawling = threading.Event()
    crawling.set()
    steps: list[object] = []
    claim, await_more = outbox.claim_to_send, drain_module._await_more

    def claimed(*args: Any, **kwargs: Any) -> list[outbox.Claimed]:
        batch = claim(*args, **kwargs)
        steps.append(len(batch))
        return batch

    def waited(run: Any) -> None:
        steps.append("wait")
        if steps.count("wait") == 3:
            crawling.clear()  # the crawl is over
        await_more(run)

    monkeypatch.setattr(outbox, "claim_to_send", claimed)
    monkeypatch.setattr(drain_module, "_await_more", waited)
    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0
        started = time.monotonic()
        stats = drain(ctx, while_running=crawling)
        took = time.monotonic() - started
    finally:
        ctx.db.dispose()
    assert stats.created == 30
    # The batch of 30 (short of the 50 asked), then a wait before the next claim; the
    # claims that find none wait too; after the crawl's end, the last claim finds none
    # and the drain ends.
    assert steps == [30, "wait", 0, "wait", 0, "wait", 0]
    assert took < 2.0


def test_a_batch_that_outlasts_its_lease_is_never_sent_twice(sandbox, write_config):
    """A claim leases a batch at once; a slow portal makes the batch outlast that lease,
    and the other sender, out of work, takes the rest. The rest of a batch is renewed
    before a quarter of its lease has gone, so the first sender sees what was taken and
    leaves it."""

    box = sandbox(items=30, seed=33)
    # 40 per claim shared by 2 senders: one takes 20, the other 10; at 0.1 s per PUT
    # the first's last leases (0.3 s) have long run out when the second is done.
    path = write_config(box, extra='batch = 40\nlease_seconds = "0.3s"')
    ctx = cycle_context(path)
    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0
        box.portal.faults = Faults(latency=0.1)
        stats = drain(ctx)
        with ctx.db.read() as s:
            confirmed = s.execute(
                text("SELECT item, count(*) FROM audit_events "
                     "WHERE event = 'delivery.confirmed' GROUP BY item")
            ).all()  # fmt: skip
            states = dict(
                s.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status")).all()
            )
    finally:
        ctx.db.dispose()
    assert stats.created == 30 and stats.sent == 30
    assert states == {"done": 30}
    # A delivery the other sender took over is announced ("sent") by both claims, once
    # the batch's own and once the take-over's; it is sent and confirmed once.
    assert len(confirmed) == 30 and {n for _, n in confirmed} == {1}
    puts = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()["requests"]["PUT"]
    assert puts == {"201": 30}  # not one PUT repeated
    no_duplicates(box, 30)


def test_a_bug_in_a_sender_is_one_line_a_failed_run_and_nothing_lost(
    sandbox, write_config, monkeypatch, caplog
):
    """An exception nobody raised on purpose (here: the store failing as a batch's
    answers are stored) stops that sender with one ERROR line, the traceback at DEBUG;
    the run fails, since its records wait queued; the next run delivers them."""

    box = sandbox(items=20, seed=35)
    # The fault is patched in this process: the first sync must deliver from a thread.
    # A lease far longer than the test: it runs out only where the test ages it. Small
    # batches: the store fails with the third.
    path = write_config(
        box, extra='concurrency = 1\nbatch = 3\nlease_seconds = "1h"\nprocess = false'
    )
    real = outbox.complete_all
    calls: list[int] = []  # the batches' answers the store was given

    def breaks_on_the_third(session: Any, answered: list[Any], **kwargs: Any) -> Any:
        if not answered:
            return real(session, answered, **kwargs)
        calls.append(len(answered))
        if len(calls) == 3:
            raise RuntimeError("the store went away")
        return real(session, answered, **kwargs)

    ctx = cycle_context(path)
    caplog.set_level(logging.DEBUG, logger="bridge.delivery.drain")
    try:
        with monkeypatch.context() as mp:
            mp.setattr(outbox, "complete_all", breaks_on_the_third)
            first = run_once(ctx)
        # The leases of the deliveries the stopped sender had in hand run out.
        ran_out = run_out_leases(ctx.db)
    finally:
        ctx.db.dispose()
    lost_batch = calls[2]
    assert ran_out == lost_batch >= 1
    assert first.delivery is not None
    assert (first.delivery.stopped, first.delivery.created) == (1, calls[0] + calls[1])
    assert first.exit_code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "delivery sender stopped: RuntimeError: the store went away "
        "(please report it; the traceback is logged at DEBUG)"
    ]
    (traced,) = [r for r in caplog.records if r.exc_info]
    assert traced.levelno == logging.DEBUG and traced.exc_info[1].args == ("the store went away",)

    second = run_cycle(path)
    assert second.exit_code == 0
    no_duplicates(box, 20)
    # The third batch's PUTs went through before the store failed: sent again, unchanged.
    assert stats(box)["requests"]["PUT"] == {"201": 20, "200": lost_batch}


def test_two_drains_of_one_process_never_send_the_same_delivery(sandbox, write_config, monkeypatch):
    """A daemon runs a drain per job, several at once: their senders hold leases under
    names of their own, so one drain cannot take over a lease that another's sender
    still works under (both were "host:pid/0"). Here the first drain stalls after its
    claim for longer than its leases; the second takes the batch over; the first, back
    while the second still sends, renews before its request, finds the lease taken and
    sends nothing."""

    box = sandbox(items=30, seed=39)
    path = write_config(box, extra='concurrency = 1\nbatch = 30\nlease_seconds = "0.5s"')
    ctx = cycle_context(path)
    stalled, resume = threading.Event(), threading.Event()
    real = send._prepare

    def stalls_in_the_first_drain(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first" and not stalled.is_set():
            stalled.set()
            resume.wait(30)
        return real(*args, **kwargs)

    drains: dict[str, DeliveryStats] = {}
    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0
        box.portal.faults = Faults(latency=0.05)
        monkeypatch.setattr(send, "_prepare", stalls_in_the_first_drain)
        first = threading.Thread(
            target=lambda: drains.setdefault("first", drain(ctx)), name="first"
        )
        first.start()
        wait_for(stalled.is_set, what="the first drain's claim")
        time.sleep(0.6)  # its leases run out
        # The first drain comes back while the second sends what it took over.
        waker = threading.Thread(
            target=lambda: (wait_for(lambda: box.portal.store.count() >= 5), resume.set())
        )
        waker.start()
        drains["second"] = drain(ctx)
        waker.join()
        first.join()
        with ctx.db.read() as s:
            confirmed = s.execute(
                text("SELECT count(*), count(DISTINCT item) FROM audit_events "
                     "WHERE event = 'delivery.confirmed'")
            ).one()  # fmt: skip
    finally:
        resume.set()
        ctx.db.dispose()
    assert (drains["first"].created, drains["second"].created) == (0, 30)
    assert tuple(confirmed) == (30, 30)
    assert stats(box)["requests"]["PUT"] == {"201": 30}
    no_duplicates(box, 30)


def test_a_lease_that_ran_out_during_uploads_sends_no_put(sandbox, write_config, monkeypatch):
    """Before its PUT, a delivery whose uploads took more than a quarter of the lease
    renews the lease; when that fails (another sender has it), it sends nothing more,
    and the file ids it got are kept."""

    box = sandbox(items=20, seed=41)
    path = write_config(box, extra='concurrency = 1\nlease_seconds = "0.4s"')
    ctx = cycle_context(path)
    renewals: list[str] = []
    real = outbox.renew_lease

    def taken_over(session: Any, c: Any, **kwargs: Any) -> bool:
        if sys._getframe(1).f_code.co_name != "deliver_one":
            return real(session, c, **kwargs)  # the renewal as its turn comes
        renewals.append(c.external_id)
        return False  # the one before the PUT: as if another sender had retaken it

    try:
        assert run_once(ctx, RunOptions(deliver=False)).exit_code == 0
        box.portal.faults = Faults(latency=0.15)  # one upload: more than 0.4 s / 4
        with monkeypatch.context() as mp:
            mp.setattr(outbox, "renew_lease", taken_over)
            first = drain(ctx)
        with ctx.db.read() as s:
            remembered = s.execute(text("SELECT count(*) FROM uploads")).scalar_one()
    finally:
        ctx.db.dispose()
    with_files = len(renewals)
    assert with_files == len(set(renewals)) > 0
    # Each of them was left, retaken once its lease ran out, and sent then, its files
    # already uploaded: one PUT per item, none under a lost lease, no file sent twice.
    assert first.sent == 20 + with_files and first.created == 20
    assert stats(box)["requests"]["PUT"] == {"201": 20}
    assert remembered == first.uploaded > 0


def test_a_stopped_sender_makes_a_drain_unclean_and_says_so():
    assert DeliveryStats(sent=3, created=3).clean
    stopped = DeliveryStats(sent=2, created=1, stopped=1)
    assert not stopped.clean  # `bridge reconcile --fix --yes` exits 1 on it (it said 0)
    assert stopped.summary() == (
        "delivery: 2 sent, 1 created, 0 updated, 0 unchanged, 0 withdrawn, 0 failed, 0 dead; "
        "a sender stopped on an error (see the log): the rest stay queued"
    )


def test_a_drain_that_cannot_start_is_one_line_and_a_failed_run(
    sandbox, write_config, monkeypatch, caplog
):
    """The store failing before any sender starts (freeing dead senders' leases) used to
    end the delivery thread with a traceback on stderr and the run with exit code 0."""

    box = sandbox(items=5, seed=43)
    path = write_config(box, extra="process = false")  # the fault is patched in this process

    def store_gone(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(outbox, "release_dead_owners", store_gone)
    summary = run_cycle(path)
    assert summary.sources[0].stats.new == 5  # the crawl recorded everything
    assert summary.delivery is not None and summary.delivery.stopped == 1
    assert summary.exit_code == 1
    assert "delivery stopped: RuntimeError: disk I/O error (please report it" in caplog.text
    assert box.portal.store.count() == 0
