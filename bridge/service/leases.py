"""Leases a worker holds: its source claims while it crawls, and the leadership.

``LeaseRenewer`` renews this worker's claims on a timer of its own, at a third of the lease,
for as long as a crawl holds them: a long crawl keeps its claim whether or not it reports
progress, and whether or not the heartbeat thread gets its turn. ``Leadership`` is who
leads: on SQLite the store's only daemon; on PostgreSQL whoever holds an advisory lock on a
dedicated connection. The leader alone sends notices, forgets dead workers and tidies.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from types import TracebackType

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from bridge.service.crew import Crew
from bridge.state import cluster

log = logging.getLogger(__name__)

RENEW_FRACTION = 1 / 3  # renew a claim when a third of its lease has passed


class LeaseRenewer:
    """``with LeaseRenewer(crew):`` around a crawl that holds a claim."""

    def __init__(self, crew: Crew) -> None:
        self._crew = crew
        self._every = crew.settings.daemon.lease * RENEW_FRACTION
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)

    def __enter__(self) -> LeaseRenewer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _renew(self) -> None:
        crew = self._crew
        while not self._done.wait(self._every):
            try:
                with crew.db.write() as s:
                    cluster.renew(s, crew.worker_id, crew.settings.daemon.lease)
            except DBAPIError as exc:  # the store briefly unreachable: at the next turn
                log.warning("could not renew the source lease: %s", type(exc).__name__)


class Leadership:
    def __init__(self, crew: Crew) -> None:
        self._crew = crew
        self.is_leader = crew.db.is_sqlite  # the store's only daemon
        self._conn: Connection | None = None if crew.db.is_sqlite else crew.db.engine.connect()

    def beat(self) -> None:
        """Try to become the leader (PostgreSQL); record it with the heartbeat, renew this
        worker's claims, and (the leader) forget workers that stopped heartbeating."""
        crew = self._crew
        if self._conn is not None and not self.is_leader:
            try:
                self.is_leader = cluster.try_lead(self._conn)
            except DBAPIError:
                log.warning("leader election: connection lost; trying again")
                self._conn.close()
                self._conn = crew.db.engine.connect()
            if self.is_leader:
                log.info("worker %s is now the leader", crew.worker_id)
        lease = crew.settings.daemon.lease
        with crew.db.write() as s:
            cluster.heartbeat(s, crew.worker_id, is_leader=self.is_leader)
            cluster.renew(s, crew.worker_id, lease)
            if self.is_leader:
                for gone in cluster.forget_dead(s, timedelta(seconds=3 * lease)):
                    log.warning("worker %s stopped heartbeating; removed", gone)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # frees the leader lock for another worker
