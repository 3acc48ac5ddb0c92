"""The outbox as a state machine: versions recorded, claimed by several senders, sent,
answered, failed, withdrawn, their claimers crashing, time passing (an injected clock).

Sending is two steps, as it is for a real sender: ``send`` renews the lease
(``mark_sent``) and the request reaches the portal (a model of the sandbox portal: a PUT
of the content it holds is "unchanged", a new version otherwise; a DELETE withdraws); the
answer comes back later (``answer``: ``complete``; or a timeout: ``retry_later``). Between
the two the lease may run out and another sender claim and send the same delivery: the
first one's late answer must then be refused and leave no trace.

Whatever Hypothesis makes of it: per item, deliveries are confirmed in order (an older
version never after a newer one), no delivery is confirmed twice, the portal stores each
version at most once and in order, and once every sender drains with time advanced,
nothing is lost: every delivery is done, dead, or superseded by a newer one of its item,
each item's newest delivery is done or dead, and where it is done the portal holds it.

The real outbox functions on one migrated store (SQLite, or PostgreSQL with
``--state-backend=postgresql``), its tables emptied between examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import make_record
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, inspect, select, text

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


@dataclass
class PortalItem:
    version: int | None  # the bridge version whose content the portal holds
    active: bool = True
    stored: list[int] = field(default_factory=list)  # bridge versions, as stored: its versions


class Portal:
    """The sandbox portal's idempotence (``PortalStore.put``/``withdraw``): a PUT of the
    content an active item already holds changes nothing ("unchanged"); any other PUT
    stores a new version; a DELETE withdraws (twice is harmless; unknown: 404)."""

    def __init__(self) -> None:
        self.items: dict[str, PortalItem] = {}
        self.history: dict[str, list[tuple[str, int | None]]] = {}  # what each item went through

    def request(self, c: outbox.Claimed) -> dict[str, Any]:
        item = self.items.get(c.external_id)
        if c.action == "delete":
            if item is None:
                return {"status": "absent"}
            if item.active:
                item.active = False
                self.history.setdefault(c.external_id, []).append(("withdrawn", None))
            return {
                "external_id": c.external_id,
                "version": len(item.stored),
                "status": "withdrawn",
            }
        assert c.version is not None
        if item is not None and item.active and item.version == c.version:
            return {
                "external_id": c.external_id,
                "version": len(item.stored),
                "status": "unchanged",
            }
        status = "created" if item is None else "updated"
        if item is None:
            item = self.items[c.external_id] = PortalItem(c.version)
        item.version, item.active = c.version, True
        item.stored.append(c.version)
        self.history.setdefault(c.external_id, []).append(("stored", c.version))
        return {"external_id": c.external_id, "version": len(item.stored), "status": status}


@dataclass(frozen=True)
class InFlight:
    c: outbox.Claimed
    answer: dict[str, Any] | None  # None: the request never reached the portal (a 503)


class Store:
    """One migrated store for all examples: each starts from its tables emptied (cheaper
    than migrating, and on PostgreSQL than creating a database)."""

    def __init__(self, url: str) -> None:
        open_database(url).dispose()  # migrated once
        self.db = Database(url)
        with self.db.read() as s:
            names = inspect(s.get_bind()).get_table_names()
            counts = {t: s.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in names}
            self.head = [dict(r._mapping) for r in s.execute(text("SELECT * FROM audit_head"))]
        self.empty = sorted(t for t, n in counts.items() if n == 0)
        assert set(counts) - set(self.empty) == {"alembic_version", "audit_head"}, counts

    def reset(self) -> None:
        with self.db.write() as s:
            if self.db.is_sqlite:
                for t in self.empty:
                    s.execute(text(f'DELETE FROM "{t}"'))
            else:
                s.execute(text(f"TRUNCATE {', '.join(self.empty)} RESTART IDENTITY CASCADE"))
            for row in self.head:
                s.execute(
                    text("UPDATE audit_head SET last_id = :last_id, last_hash = :last_hash,"
                         " count = :count WHERE id = :id"),
                    row,
                )  # fmt: skip


class Outbox(RuleBasedStateMachine):
    store: Store

    def __init__(self) -> None:
        super().__init__()
        Outbox.store.reset()
        self.db = Outbox.store.db
        self.advanced = timedelta(0)  # the clock: the real one, moved on by `advance`
        with self.db.write() as s:
            self.source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
        self.recorded: dict[str, int] = {}  # item → versions recorded so far
        self.held: dict[str, list[outbox.Claimed]] = {s: [] for s in SENDERS}
        self.in_flight: dict[str, InFlight | None] = dict.fromkeys(SENDERS)  # one at a time
        self.confirmed: list[tuple[str, int]] = []  # (item, delivery id), in order
        self.refused_late = 0  # answers refused because another sender had the delivery
        self.portal = Portal()

    def now(self) -> datetime:
        # Never behind the real clock: recording stamps new deliveries with the real one.
        return utcnow() + self.advanced

    # --- the crawl -------------------------------------------------------------------------

    @initialize()
    def record_every_item(self) -> None:
        for item in ITEMS:
            self.record_a_new_version(item)

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

    @precondition(lambda self: any(self.held[s] and not self.in_flight[s] for s in SENDERS))
    @rule(data=st.data(), reaches=st.booleans())
    def send(self, data: st.DataObject, reaches: bool) -> None:
        ready = [s for s in SENDERS if self.held[s] and not self.in_flight[s]]
        self.send_next(data.draw(st.sampled_from(ready)), reaches=reaches)

    def send_next(self, sender: str, *, reaches: bool = True) -> None:
        """The sender's next delivery: its lease renewed, then the request to the portal
        (``reaches``: the portal takes it; else it answers 503 without looking)."""
        c = self.held[sender].pop(0)  # a sender sends its batch in turn
        with self.db.write() as s:
            if not outbox.mark_sent(
                s, c, owner=sender, lease_seconds=LEASE, actor="test", target=TARGET,
                now=self.now(),
            ):  # fmt: skip
                return  # another sender retook it after its lease ran out: never sent
        self.in_flight[sender] = InFlight(c, self.portal.request(c) if reaches else None)

    @precondition(lambda self: any(self.in_flight.values()))
    @rule(data=st.data(), lost=st.booleans())
    def answer(self, data: st.DataObject, lost: bool) -> None:
        waiting = [s for s in SENDERS if self.in_flight[s]]
        self.answer_comes(data.draw(st.sampled_from(waiting)), lost=lost)

    def answer_comes(self, sender: str, *, lost: bool = False) -> None:
        """The portal's answer is stored (``lost``: it never came, the request timed out;
        a request that never reached the portal got a 503): done, or due again later."""
        flight = self.in_flight[sender]
        assert flight is not None
        self.in_flight[sender] = None
        c, before = flight.c, self._trace(flight.c)
        still_held = before[0][:2] == ("inflight", sender)
        with self.db.write() as s:
            if flight.answer is None or lost:
                error = "503 Service Unavailable" if flight.answer is None else "timed out"
                kept = outbox.retry_later(
                    s, c, owner=sender, actor="test", error=error, delay=DELAY,
                    max_attempts=MAX_ATTEMPTS, now=self.now(),
                ) != "lost"  # fmt: skip
            else:
                kept = outbox.complete(
                    s, c, owner=sender, actor="test", answer=flight.answer, now=self.now()
                )
                if kept:
                    self.confirmed.append((c.external_id, c.id))
        assert kept == still_held, f"{sender}: {c.id} held {still_held}, answer kept {kept}"
        if not kept:  # another sender has it by now: this answer changes nothing
            assert self._trace(c) == before, f"a refused answer left a trace on {c.id}"
            self.refused_late += 1

    @precondition(lambda self: any(self.in_flight.values()))
    @rule(data=st.data())
    def take_over(self, data: st.DataObject) -> None:
        """A request in flight outlives its lease, and another sender claims meanwhile
        (the case a sender's late answer must not spoil)."""
        waiting = data.draw(st.sampled_from([s for s in SENDERS if self.in_flight[s]]))
        other = data.draw(st.sampled_from([s for s in SENDERS if s != waiting]))
        self.advance(LEASE + 1)
        self.claim(other, 3)

    @precondition(lambda self: any(self.held.values()) or any(self.in_flight.values()))
    @rule(sender=st.sampled_from(SENDERS))
    def crash(self, sender: str) -> None:
        """The sender vanishes with what it held and sent: only its leases running out free
        them (a request it sent may have reached the portal)."""
        self.held[sender] = []
        self.in_flight[sender] = None

    @rule(seconds=st.sampled_from((1.0, DELAY + 1, LEASE + 1)))
    def advance(self, seconds: float) -> None:
        self.advanced += timedelta(seconds=seconds)

    def _trace(self, c: outbox.Claimed) -> tuple[Any, ...]:
        """What an answer could change: the delivery, its item, the audit log."""
        with self.db.read() as s:
            delivery = s.execute(
                text("SELECT status, lease_owner, lease_until, attempts, next_attempt_at,"
                     " last_error FROM deliveries WHERE id = :id"),
                {"id": c.id},
            ).one()  # fmt: skip
            item = s.execute(
                text("SELECT index_no, first_confirmed_at FROM items WHERE id = :id"),
                {"id": c.item_id},
            ).one()
            audit = s.execute(text("SELECT count(*) FROM audit_events")).scalar()
        return tuple(delivery), tuple(item), audit

    # --- what must hold --------------------------------------------------------------------

    @invariant()
    def confirmed_in_order_and_once(self) -> None:
        ids = [d for _item, d in self.confirmed]
        assert len(ids) == len(set(ids)), f"a delivery confirmed twice: {self.confirmed}"
        for item in ITEMS:
            mine = [d for i, d in self.confirmed if i == f"yyedu:{item}"]
            assert mine == sorted(mine), f"{item}: confirmed out of order: {mine}"

    @invariant()
    def the_portal_stores_each_version_once_in_order(self) -> None:
        for item, stored in self.portal.history.items():
            versions = [v for what, v in stored if what == "stored" and v is not None]
            # Strictly increasing: none twice, never an older one after a newer (nor after
            # a withdrawal: only a newer version brings the item back).
            assert versions == sorted(set(versions)), f"{item}: the portal stored {stored}"

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
        self._drain_everything()
        with self.db.read() as s:
            rows = s.execute(
                text(
                    "SELECT i.external_id, d.id, d.status, d.action, v.version FROM deliveries d"
                    " JOIN items i ON i.id = d.item_id"
                    " LEFT JOIN item_versions v ON v.id = d.version_id ORDER BY d.item_id, d.id"
                )
            ).all()
        newest: dict[str, tuple[str, str, int | None]] = {}
        for external_id, _id, status, action, version in rows:
            assert status in ("done", "dead", "superseded"), (external_id, _id, status)
            newest[external_id] = (status, action, version)
        assert len(newest) == len(self.recorded)  # every recorded item has deliveries
        for external_id, (status, action, version) in newest.items():
            assert status in ("done", "dead"), (external_id, status)
            if status == "done":  # the portal holds the item's newest state
                held = self.portal.items.get(external_id)
                if action == "put":
                    assert held is not None, external_id
                    assert (held.active, held.version) == (True, version), (external_id, held)
                else:  # withdrawn, or never there
                    assert held is None or not held.active, (external_id, held)
        self.confirmed_in_order_and_once()
        self.the_portal_stores_each_version_once_in_order()

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
                    answer = self.portal.request(c)
                    assert outbox.complete(s, c, owner="h:9/0", actor="test", answer=answer)
                self.confirmed.append((c.external_id, c.id))
        raise AssertionError("the outbox never drained")


def test_the_outbox_delivers_every_item_s_versions_in_order_once_and_loses_none(
    state_url: str,
) -> None:
    Outbox.store = Store(state_url)
    try:
        run_state_machine_as_test(
            Outbox,
            settings=settings(
                # PostgreSQL commits cost more: fewer examples keep it near 30 s when loaded.
                max_examples=40 if Outbox.store.db.is_sqlite else 15,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        Outbox.store.db.dispose()


def test_a_sender_s_answer_after_another_took_its_delivery_is_refused_and_leaves_no_trace(
    state_url: str,
) -> None:
    """A claims and sends; its lease runs out while the request is in flight; B claims
    the same delivery and sends it (the portal: unchanged); then A's answer comes back:
    refused (B holds the lease), nothing changed; B's answer is stored; the portal stored
    the version once."""
    Outbox.store = Store(state_url)
    try:
        m = Outbox()
        a, b = SENDERS[0], SENDERS[2]
        m.record_a_new_version("a1")
        m.claim(a, 1)
        m.send_next(a)
        m.advance(LEASE + 1)
        m.claim(b, 1)
        assert [c.id for c in m.held[b]] == [m.in_flight[a].c.id]  # type: ignore[union-attr]
        m.send_next(b)
        m.answer_comes(a)  # while B's request is in flight: B holds the lease
        m.answer_comes(b)
        assert m.refused_late == 1
        assert m.portal.history == {"yyedu:a1": [("stored", 1)]}
        assert m.confirmed == [("yyedu:a1", 1)]
        m.record_a_new_version("a1")  # the next version goes out after it, once
        m.teardown()
        assert m.portal.history == {"yyedu:a1": [("stored", 1), ("stored", 2)]}
    finally:
        Outbox.store.db.dispose()
