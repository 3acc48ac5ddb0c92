"""The daemon's parts, built as the daemon builds them, on a real state store: the lease
renewer's own timer, and every job scheduled with its misfire settings (a cron source
included: it must get a first run time, not be added paused)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from conftest import config_text

from bridge import config
from bridge.service.crew import Crew
from bridge.service.daemon import Daemon
from bridge.service.leases import Leadership, LeaseRenewer
from bridge.state import cluster
from bridge.state.db import open_database
from bridge.state.models import SourceClaimRow


def _daemon(tmp_path: Path, state_url: str, extra_source: str = "") -> Daemon:
    path = tmp_path / "bridge.toml"
    path.write_text(
        config_text(state_url, "http://127.0.0.1:1/", "http://127.0.0.1:2/",
                    extra_source=extra_source),
        encoding="utf-8",
    )  # fmt: skip
    return Daemon(path, config.load(path))


def _lease_until(crew: Crew, source: str) -> object:
    with crew.db.read() as s:
        row = s.get(SourceClaimRow, source)
        assert row is not None
        return row.lease_until


def test_a_held_claim_is_renewed_on_a_timer_of_its_own_and_the_renewer_stops(tmp_path, state_url):
    d = _daemon(tmp_path, state_url)
    settings = replace(d.settings, daemon=replace(d.settings.daemon, lease=0.6))
    db = open_database(settings.state_url.reveal())
    crew = Crew.open(db, settings, d.config_path, d.stopping)
    try:
        assert crew.claim("yyedu", min_gap=0.0)
        first = _lease_until(crew, "yyedu")
        renewer = LeaseRenewer(crew)
        with renewer:  # no crawl reports progress here: the timer alone renews
            deadline = time.monotonic() + 10
            while _lease_until(crew, "yyedu") == first and time.monotonic() < deadline:
                d.stopping.wait(0.05)  # polls a condition with a deadline
            renewed = _lease_until(crew, "yyedu")
        assert renewed > first  # type: ignore[operator]
        assert not renewer._thread.is_alive()
        crew.release(["yyedu"])
        with db.read() as s:
            assert cluster.claims(s)[0].owner is None
    finally:
        crew.close()
        db.dispose()


def test_every_job_is_scheduled_with_explicit_misfire_settings_and_a_cron_source_runs(
    tmp_path, state_url
):
    d = _daemon(tmp_path, state_url, extra_source='cron = "*/5 * * * *"')
    db = open_database(d.settings.state_url.reveal())
    crew = Crew.open(db, d.settings, d.config_path, d.stopping)
    leadership = Leadership(crew)
    scheduler = d._build_scheduler(crew, leadership)
    started = threading.Event()
    scheduler.add_listener(lambda e: started.set(), 1)  # EVENT_SCHEDULER_STARTED
    thread = threading.Thread(target=scheduler.start, kwargs={"paused": True}, daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        found = {j.id: j for j in scheduler.get_jobs()}
        assert sorted(found) == [
            "drain", "heartbeat", "housekeeping", "notify", "resync", "source:yyedu",
        ]  # fmt: skip
        grace = int(d.settings.daemon.misfire_grace_time)
        for job in found.values():
            assert (job.func_ref, job.misfire_grace_time, job.coalesce, job.max_instances) == (
                "bridge.service.jobs:run", grace, True, 1,
            )  # fmt: skip
        assert found["source:yyedu"].next_run_time is not None  # a cron source is not paused
        assert found["source:yyedu"].name == "sync yyedu"
    finally:
        scheduler.shutdown(wait=False)
        thread.join(10)
        leadership.close()
        crew.close()
        db.dispose()
