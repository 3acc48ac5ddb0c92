"""The outbox as a state machine: versions recorded, claimed by several senders, sent,
failed, withdrawn, their claimers crashing, time passing (an injected clock).

Whatever Hypothesis makes of it: per item, deliveries are confirmed in order (an older
version never after a newer one), no delivery is confirmed twice, and once every sender
drains with time advanced, nothing is lost: every delivery is done, dead, or superseded by
a newer one of its item, and each item's newest delivery is done or dead.

A real SQLite store with the real outbox functions; a template store is created once and
copied for each example (creating one runs the migrations).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_record
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text

from bridge.normalize.hashing import content_hash
from bridge.state import items, outbox, recording
from bridge.state.db import Database, open_database
from bridge.state.models import DeliveryRow, utcnow

TARGET = "portal"
LEASE = 60.0  # seconds
DELAY = 5.0  # seconds before a failed delivery is due again
MAX_ATTEMPTS = 3
ITEMS = ("a1", "a2", "a3")
SENDERS = ("h:1/0", "h:1/1", "h:2/0")  # the last as if of another process


class Outbox(RuleBasedStateMachine):
    template: Path  # a fresh store, copied for each example
    workdir: Path

    def __init__(self) -> None:
        super().__init__()
        Outbox.examples += 1
        path = Outbox.workdir / f"outbox-{Outbox.examples}.db"
        shutil.copyfile(Outbox.template, path)
        self.db = Database(f"sqlite:///{path}")
        self.advanced = timedelta(0)  # the clock: the real one, moved on by `advance`
        with self.db.write() as s:
            self.source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
        self.recorded: dict[str, int] = {}  # item → versions recorded so far
        self.held: dict[str, list[outbox.Claimed]] = {s: [] for s in SENDERS}
        self.confirmed: list[tuple[str, int]] = []  # (item, delivery id), in order
        self.crashed = 0

    examples = 0

    def now(self) -> datetime:
        # Never behind the real clock: recording stamps new deliveries with the real one.
        return utcnow() + self.advanced

    # --- the crawl -------------------------------------------------------------------------

    @rule(item=st.sampled_from(ITEMS))
    def record_a_new_version(self, item: str) -> None:
        n = self.recorded.get(item, 0) + 1
        rec = make_record(
            f"yyedu:{item}",
            f"关于{item}的通知（第{n}稿）",
            published=datetime(2026, 11, 2, tzinfo=UTC),
        )
        with self.db.write() as s:
            (outcome,) = recording.record_versions(
                s, source_id=self.source_id, source_name="yyedu",
                recordings=[recording.Recording(rec, content_hash(rec.to_json()), "")],
                target=TARGET, actor="test", run_id=None,
            )  # fmt: skip
        assert outcome.action in ("new", "changed")
        self.recorded[item] = n

    @precondition(lambda self: self.recorded)
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(sorted(self.recorded)))
        with self.db.write() as s:
            items.withdraw(
                s, external_id=f"yyedu:{item}", source_name="yyedu", target=TARGET,
                actor="test", run_id=None, reason="gone from the site",
            )  # fmt: skip

    # --- the senders -----------------------------------------------------------------------

    @rule(sender=st.sampled_from(SENDERS), limit=st.integers(1, 3))
    def claim(self, sender: str, limit: int) -> None:
        with self.db.write() as s:
            got = outbox.claim(
                s, target=TARGET, owner=sender, lease_seconds=LEASE, limit=limit, now=self.now()
            )
        self.held[sender] += got

    @precondition(lambda self: any(self.held.values()))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        sender, c = self._take(data)
        with self.db.write() as s:
            if not outbox.mark_sent(
                s, c, owner=sender, lease_seconds=LEASE, actor="test", target=TARGET,
                now=self.now(),
            ):  # fmt: skip
                return  # another sender retook it after its lease ran out
        with self.db.write() as s:
            answer = {"external_id": c.external_id, "version": c.version, "status": "created"}
            if outbox.complete(s, c, owner=sender, actor="test", answer=answer, now=self.now()):
                self.confirmed.append((c.external_id, c.id))

    @precondition(lambda self: any(self.held.values()))
    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        sender, c = self._take(data)
        with self.db.write() as s:
            outbox.retry_later(
                s, c, owner=sender, actor="test", error="503 Service Unavailable",
                delay=DELAY, max_attempts=MAX_ATTEMPTS, now=self.now(),
            )  # fmt: skip

    @precondition(lambda self: any(self.held.values()))
    @rule(sender=st.sampled_from(SENDERS))
    def crash(self, sender: str) -> None:
        """The sender vanishes with what it held: only its leases running out free it."""
        self.crashed += len(self.held[sender])
        self.held[sender] = []

    @rule(seconds=st.sampled_from((1.0, DELAY + 1, LEASE + 1)))
    def advance(self, seconds: float) -> None:
        self.advanced += timedelta(seconds=seconds)

    def _take(self, data: st.DataObject) -> tuple[str, outbox.Claimed]:
        sender = data.draw(st.sampled_from([s for s in SENDERS if self.held[s]]))
        return sender, self.held[sender].pop(0)  # a sender sends its batch in turn

    # --- what must hold --------------------------------------------------------------------

    @invariant()
    def confirmed_in_order_and_once(self) -> None:
        ids = [d for _item, d in self.confirmed]
        assert len(ids) == len(set(ids)), f"a delivery confirmed twice: {self.confirmed}"
        for item in ITEMS:
            mine = [d for i, d in self.confirmed if i == f"yyedu:{item}"]
            assert mine == sorted(mine), f"{item}: confirmed out of order: {mine}"

    @invariant()
    def at_most_one_delivery_of_an_item_in_flight(self) -> None:
        with self.db.read() as s:
            busy = s.execute(
                select(DeliveryRow.item_id)
                .where(DeliveryRow.status == "inflight", DeliveryRow.lease_until >= self.now())
                .group_by(DeliveryRow.item_id)
                .having(func.count() > 1)
            ).all()
        assert busy == [], "two deliveries of one item under a live lease at once"

    def teardown(self) -> None:
        try:
            self._drain_everything()
            with self.db.read() as s:
                rows = s.execute(
                    text("SELECT item_id, id, status FROM deliveries ORDER BY item_id, id")
                ).all()
            newest: dict[int, str] = {}
            for item_id, _id, status in rows:
                assert status in ("done", "dead", "superseded"), (item_id, _id, status)
                newest[item_id] = status
            assert all(status in ("done", "dead") for status in newest.values()), newest
            assert len(newest) == len(self.recorded)  # every recorded item has deliveries
            self.confirmed_in_order_and_once()
        finally:
            self.db.dispose()

    def _drain_everything(self) -> None:
        """A sender that never fails, with time moving on: what the daemon does forever."""
        for _round in range(100):
            self.advanced += timedelta(seconds=LEASE + DELAY + 1)
            with self.db.write() as s:
                batch = outbox.claim(
                    s, target=TARGET, owner="h:9/0", lease_seconds=LEASE, limit=100, now=self.now()
                )
            if not batch:
                return
            for c in batch:
                with self.db.write() as s:
                    assert outbox.mark_sent(
                        s, c, owner="h:9/0", lease_seconds=LEASE, actor="test", target=TARGET,
                        now=self.now(),
                    )  # fmt: skip
                    answer = {"external_id": c.external_id, "version": c.version}
                    assert outbox.complete(s, c, owner="h:9/0", actor="test", answer=answer)
                self.confirmed.append((c.external_id, c.id))
        raise AssertionError("the outbox never drained")


def test_the_outbox_delivers_every_item_s_versions_in_order_once_and_loses_none(
    state_url: str, tmp_path: Path
) -> None:
    if not state_url.startswith("sqlite"):
        pytest.skip("the machine copies a template SQLite store for each example")
    open_database(state_url).dispose()  # the template: migrated once
    Outbox.template = Path(state_url.removeprefix("sqlite:///"))
    Outbox.workdir = tmp_path
    Outbox.examples = 0
    run_state_machine_as_test(
        Outbox,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
