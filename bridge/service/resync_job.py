"""The resync job: run the next queued ``bridge resync`` request.

A request names sources (all when none), maybe columns, a ``since`` date, ``dry_run`` and
``force``. It is refused when the sources it names are paused; otherwise it takes each
source's local lock (a poll of it waits or is skipped) and each source's claim. On
PostgreSQL another worker may be crawling one of them: the job waits for that claim on the
stop event, so a shutdown ends the wait at once. Its progress is stored at most twice a
second for ``resync --wait``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bridge.errors import ConfigError
from bridge.service import crew as crawl
from bridge.service import pause
from bridge.service.crew import Crew
from bridge.service.leases import LeaseRenewer
from bridge.service.progress import Tally
from bridge.state import resync
from bridge.state.resync import ResyncRequest

log = logging.getLogger(__name__)

CLAIM_RETRY = 1.0  # seconds between tries of a claim another worker holds
PROGRESS_EVERY = 0.5  # seconds between stored progress snapshots


class Resync:
    def __init__(self, crew: Crew) -> None:
        self.crew = crew

    def __call__(self) -> None:
        crew = self.crew
        if crew.stopping.is_set():
            return
        with crew.db.write() as s:
            request = resync.take_next(s, crew.worker_id)
        if request is None:
            return
        names = self._unpaused(request)
        if names is None:
            return
        log.info("resync #%d asked by %s (%s): %s", request.id, request.actor,
                 request.reason or "no reason", request.params)  # fmt: skip
        locks = [crew.lock(n) for n in names]
        for lk in locks:
            lk.acquire()
        try:
            result, code, tally = self._crawl(request, names)
        finally:
            for lk in locks:
                lk.release()
        with crew.db.write() as s:
            resync.set_progress(s, request.id, tally.snapshot())
            resync.finish(s, request.id, result=result, exit_code=code)

    def _unpaused(self, request: ResyncRequest) -> list[str] | None:
        """The request's sources less those paused after it was queued; None when it is
        refused (it names a paused source, or every source is paused)."""
        crew, p = self.crew, request.params
        names = p.get("sources") or [s.name for s in crew.settings.sources]
        held = pause.paused(crew.db, names)
        if held and (p.get("sources") or len(held) == len(names)):
            refused = "; ".join(pause.describe(n, info) for n, info in held.items())
            log.warning("resync #%d refused: %s", request.id, refused)
            with crew.db.write() as s:
                resync.finish(s, request.id, exit_code=1,
                              result={"error": f"refused: {refused}; `xxgk-bridge resume` first"})  # fmt: skip
            return None
        return [n for n in names if n not in held]

    def _claim_all(self, names: list[str]) -> None:
        """Wait for another worker's crawl of the same sources to end (or for a stop)."""
        for n in names:
            while not self.crew.claim(n, min_gap=0.0):
                if self.crew.stopping.wait(CLAIM_RETRY):
                    return

    def _crawl(self, request: ResyncRequest, names: list[str]) -> tuple[dict[str, Any], int, Tally]:
        crew = self.crew
        tally = Tally()  # what `resync --wait` shows
        stored = [0.0]

        def report(what: str, info: dict[str, Any]) -> None:
            tally.report(what, info)
            now = time.monotonic()
            if now - stored[0] > PROGRESS_EVERY or what == "source done":
                stored[0] = now
                with crew.db.write() as s:
                    resync.set_progress(s, request.id, tally.snapshot())

        self._claim_all(names)
        try:
            with LeaseRenewer(crew):
                summary = crawl.resync_crawl(crew.context(progress=report), names, request.params)
            crew.after_run(summary)
            return crawl.summary_json(summary), summary.exit_code, tally
        except ConfigError as exc:
            return {"error": str(exc)}, 2, tally
        finally:
            crew.release(names)
