"""Source claims and leader election on PostgreSQL and SQLite (bridge.state.cluster)."""

from __future__ import annotations

import threading

import pytest

from bridge.state import cluster
from bridge.state.db import open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 's.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    database = open_database(url)
    yield database
    database.dispose()


def claim(db, owner: str, *, min_gap: float = 0.0, alive=lambda o: True) -> bool:
    with db.write() as s:
        return cluster.claim_source(s, "yyedu", owner, lease=30, min_gap=min_gap, alive=alive)


def test_one_claim_at_a_time(db):
    assert claim(db, "host:1")
    assert not claim(db, "host:2")
    assert claim(db, "host:1")  # the holder may claim again
    with db.write() as s:
        cluster.release_source(s, "yyedu", "host:1")
    assert claim(db, "host:2")


def test_a_dead_holder_loses_its_claim_at_once(db):
    assert claim(db, "host:1")
    assert claim(db, "host:2", alive=lambda owner: owner != "host:1")


def test_min_gap_spaces_crawls_of_several_workers(db):
    assert claim(db, "host:1", min_gap=60)
    with db.write() as s:
        cluster.release_source(s, "yyedu", "host:1")
    assert not claim(db, "host:2", min_gap=60)
    assert claim(db, "host:2", min_gap=0)


def test_concurrent_claims_from_eight_threads_give_exactly_one_holder(db):
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        results.append(claim(db, f"host:{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
