"""Leases judged by an injected clock: a lease holds until its time and not a moment past it,
and a renewal moves it on (the source claims of bridge.state.cluster and the delivery
leases of bridge.state.outbox, which take the time as ``now``), without waiting for real time to pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import make_record

from bridge.normalize.hashing import content_hash
from bridge.state import cluster, items, outbox, recording
from bridge.state.db import open_database

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.start = self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> Clock:
        self.now = self.start + timedelta(seconds=seconds)
        return self


def test_a_source_claim_lapses_at_its_lease_and_a_renewal_moves_it_on(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    clock = Clock()

    def claim(owner: str, at: float) -> bool:
        with db.write() as s:
            return cluster.claim_source(s, "yyedu", owner, lease=30, min_gap=0, clock=clock.at(at))

    try:
        assert claim("host:1", 0)
        assert not claim("host:2", 29.999)
        with db.write() as s:
            assert cluster.renew(s, "host:1", 30, clock=clock.at(20)) == 1  # until 50 s
        assert not claim("host:2", 49.999)
        assert claim("host:2", 50.001)
        assert not claim("host:1", 60)  # the lease moved with the claim
    finally:
        db.dispose()


def test_a_delivery_lease_lapses_at_its_time_and_a_renewal_moves_it_on(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    clock = Clock(datetime.now(UTC) + timedelta(days=1))  # the delivery is due by then

    def claim(owner: str, at: float) -> list[outbox.Claimed]:
        with db.write() as s:
            return outbox.claim(
                s, target="portal", owner=owner, lease_seconds=60, limit=5, now=clock.at(at)()
            )

    try:
        with db.write() as s:
            source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
            rec = make_record("yyedu:x1", "关于做好冬季校园安全工作的通知", published=T0)
            recording.record_versions(
                s, source_id=source_id, source_name="yyedu",
                recordings=[recording.Recording(rec, content_hash(rec.to_json()), "")],
                target="portal", actor="test", run_id=None,
            )  # fmt: skip
        (held,) = claim("h:1/0", 0)
        assert claim("h:2/0", 59.999) == []
        with db.write() as s:
            assert outbox.renew_lease(
                s, held, owner="h:1/0", lease_seconds=60, now=clock.at(30)()
            )  # until 90 s
        assert claim("h:2/0", 89.999) == []
        (retaken,) = claim("h:2/0", 90.001)
        assert (retaken.id, retaken.external_id) == (held.id, "yyedu:x1")
        with db.write() as s:  # the first sender lost it: it cannot renew any more
            assert not outbox.renew_lease(
                s, held, owner="h:1/0", lease_seconds=60, now=clock.at(91)()
            )
    finally:
        db.dispose()
