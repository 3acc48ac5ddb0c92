"""Freshness: how soon the portal holds what the site publishes, with the daemon running.

A fresh sandbox site (dated today, so its newest items are recent) and the sandbox portal run
as servers on loopback; the real daemon (``xxgk-bridge run``, SQLite state, poll interval
``--interval``, schedule jitter 0) syncs one into the other. Once the daemon has filed the
whole site, a publisher acts on the site for ``--minutes``, at random moments (two Poisson
processes, seeded): it publishes new items (``--rate`` a minute) and appends a 更正 sentence
to the body of an item published in the last 30 days that the portal already holds
(``--edit-rate`` a minute), with the sandbox's own CMS functions (``publish``, ``edit``),
as ``xxgk-bridge sandbox site publish / edit`` do. The site server reads its files on every
request, so each change is on the site when the function returns; the publisher reads the
page back to make sure (``not_visible`` counts the times it was not).

Measured (bench.freshness_figures): publication → the portal storing the item, and edit →
the portal storing a new version whose body has the appended sentence, from the portal's
own per-version timestamps. After the last change the daemon gets a grace of one interval
plus 10 s (the goal's bound); what the portal has not taken by then is reported as missed.

    python -m bench.freshness                      # 5 minutes at a 30 s interval
    python -m bench.freshness --minutes 10 --interval 60 --rate 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import PYTHON
from bench.freshness_figures import SLACK, Change, PortalView, collect, report_table, summarize
from bench.harness import sqlite_url, workdir, write_config
from bench.procs import bench_env, reap
from bench.results import machine, publish, save
from bench.servers import Portal, SandboxSite

SOURCE = "yyedu"  # the source name bench.common's config gives the sandbox site
RECENT_DAYS = 30  # an edit goes to an item published within this many days


def daemon_command(config: Path) -> list[str]:
    """``xxgk-bridge run`` from the virtualenv this runs in (``python -m bridge`` without it)."""
    script = Path(PYTHON).parent / "xxgk-bridge"
    head = [str(script)] if script.exists() else [PYTHON, "-m", "bridge"]
    return [*head, "--config", str(config), "run"]


def schedule(minutes: float, rate: float, edit_rate: float, seed: int) -> list[tuple[float, str]]:
    """(seconds after the start, "new" or "edit"), in time order: two Poisson processes."""
    span = minutes * 60
    moments: list[tuple[float, str]] = []
    for kind, per_minute in (("new", rate), ("edit", edit_rate)):
        rng = random.Random(f"bench-freshness:{seed}:{kind}")
        t = 0.0
        while per_minute > 0:
            t += rng.expovariate(per_minute / 60)
            if t >= span:
                break
            moments.append((t, kind))
    return sorted(moments)


def shows(url: str, text: str) -> bool:
    """Does the page at ``url`` contain ``text`` (read as a client would, no validators)?"""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (our loopback URL)
            return text in answer.read().decode("utf-8", "replace")
    except OSError:
        return False


class Publisher:
    """Acts on the site as its editors would, and records when each change was visible."""

    def __init__(
        self, root: Path, site_url: str, portal: PortalView, seed: int, columns: dict[str, str]
    ) -> None:
        self.root, self.site_url, self.portal = root, site_url, portal
        self.columns = columns  # column key → its listing's path
        self.rng = random.Random(f"bench-freshness:{seed}:targets")
        self.changes: list[Change] = []
        self.skipped_edits = 0  # no recent item held by the portal without an edit pending
        self.not_visible = 0  # a change the site did not show when its function returned

    def new(self) -> None:
        from bridge.sandbox.site import publish as cms_publish

        (item,) = cms_publish(self.root, 1)
        at = time.time()
        self.changes.append(Change("new", item.id, at))
        listing = self.site_url + self.columns[item.column]  # page 1 of its column
        if not shows(listing, Path(item.path).name):
            self.not_visible += 1

    def edit(self) -> None:
        from bridge.sandbox.site import edit as cms_edit
        from bridge.sandbox.site import load_manifest

        held = self.portal.versions()
        pending = {c.item for c in self.changes if c.caught_at is None}
        since = datetime.now() - timedelta(days=RECENT_DAYS)
        pool = sorted(
            i.id
            for i in load_manifest(self.root).live()
            if i.published >= since and i.id in held and i.id not in pending
        )
        if not pool:
            self.skipped_edits += 1
            return
        item_id = self.rng.choice(pool)
        n = sum(c.kind == "edit" for c in self.changes) + 1
        marker = f"更正：本文第{n}处表述有误，现更正为准（{datetime.now():%H时%M分%S秒}）。"
        item = cms_edit(self.root, item_id, body_append=marker)
        at = time.time()
        self.changes.append(Change("edit", item_id, at, marker, held[item_id]))
        if not shows(self.site_url + item.path.lstrip("/"), marker):
            self.not_visible += 1


def sync_cycles(state_db: Path, since: float) -> dict[str, Any]:
    """The daemon's sync runs that started after ``since``: count, median and max seconds."""
    import contextlib
    import sqlite3

    from bench.freshness_figures import _epoch, percentile

    try:
        with contextlib.closing(sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)) as conn:
            rows = conn.execute(
                "SELECT started_at, finished_at, stats FROM runs WHERE kind = 'sync'"
                " AND finished_at IS NOT NULL"
            ).fetchall()
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    mine = [(a, b, json.loads(st or "{}")) for a, b, st in rows if _epoch(a) >= since]
    spans = [_epoch(b) - _epoch(a) for a, b, _ in mine]
    # Detail pages revalidated (a body edit is found so), when the daemon counts them.
    revalidated = {
        key: sum(int(st.get(key) or 0) for _, _, st in mine)
        for key in ("revalidated", "revalidated_not_modified", "revalidated_changed")
    }
    return {
        "cycles": len(spans),
        "p50_s": percentile(spans, 50),
        "max_s": max(spans, default=None),
        **revalidated,
    }


def wait_for_backfill(
    portal: PortalView, expected: int, daemon: subprocess.Popen[bytes], timeout: float
) -> tuple[int, float]:
    """Until the portal holds every item of the site (or ``timeout``); (held, seconds)."""
    started = time.monotonic()
    held = 0
    while time.monotonic() - started < timeout:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited {daemon.returncode} before the first sync")
        held = portal.count()
        if held >= expected:
            break
        time.sleep(0.5)
    return held, time.monotonic() - started


def stop_daemon(daemon: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the daemon finishes the item in hand), then the exit code."""
    if daemon.returncode is not None:
        return daemon.returncode
    os.kill(daemon.pid, signal.SIGTERM)  # not send_signal: its poll() would reap
    reaped = reap(daemon.pid, 60)
    if reaped is None:
        daemon.kill()
        reaped = reap(daemon.pid, None)
    assert reaped is not None
    daemon.returncode = os.waitstatus_to_exitcode(reaped[0])
    return daemon.returncode


def measure(args: argparse.Namespace, work: Path, say: Any) -> dict[str, Any]:
    from bridge.sandbox.site import generate_site

    root = work / "site"
    manifest = generate_site(root, items=args.items, seed=args.seed, end_date=date.today())
    columns = [(k, p.strip("/") + "/", name) for k, p, name in manifest.columns]
    site = SandboxSite(root, work / "site.log")
    portal_server = Portal(work / "portal.db", work / "portal.log")
    portal = PortalView(work / "portal.db", SOURCE)
    daemon: subprocess.Popen[bytes] | None = None
    state_db = work / "bridge.db"
    out: dict[str, Any] = {}
    try:
        site_url, portal_url = site.start(), portal_server.start()
        config = write_config(
            work / "config",
            state_url=sqlite_url(state_db),
            site_url=site_url,
            portal_url=portal_url,
            columns=columns,
            source_extra=f"interval = {float(args.interval)}",
            extra="\n[daemon]\njitter = 0.0\n",
        )
        with open(work / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(
                daemon_command(config), stdout=log, stderr=subprocess.STDOUT, env=bench_env()
            )
        say(f"daemon started (interval {args.interval:g} s); waiting for its first sync …")
        held, took = wait_for_backfill(portal, len(manifest.live()), daemon, args.startup_timeout)
        out["backfill"] = {"site_items": len(manifest.live()), "held": held, "seconds": took}
        say(f"first sync: the portal holds {held} of {len(manifest.live())} items ({took:.0f} s)")

        paths = {key: path for key, path, _ in columns}
        publisher = Publisher(root, site_url, portal, args.seed, paths)
        plan = schedule(args.minutes, args.rate, args.edit_rate, args.seed)
        say(f"publishing for {args.minutes:g} min: {len(plan)} changes planned …")
        start = time.time()
        out["load_before"] = os.getloadavg()
        for offset, kind in plan:
            time.sleep(max(0.0, start + offset - time.time()))
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited {daemon.returncode}; see the log")
            publisher.new() if kind == "new" else publisher.edit()
            collect(portal, publisher.changes, float("inf"))  # what is held, for the next edit
        grace = args.interval + SLACK
        deadline = max(start + args.minutes * 60, time.time()) + grace
        say(f"last change made; waiting up to {grace:g} s for the portal …")
        while time.time() < deadline and daemon.poll() is None:
            collect(portal, publisher.changes, deadline)
            if all(c.caught_at is not None for c in publisher.changes):
                break
            time.sleep(1.0)
        out["load_after"] = os.getloadavg()
        code = stop_daemon(daemon)
        for change in publisher.changes:  # recount against the deadline alone
            change.caught_at = change.version = None
        collect(portal, publisher.changes, deadline)
        out.update(
            daemon_exit=code,
            changes=publisher.changes,
            skipped_edits=publisher.skipped_edits,
            not_visible=publisher.not_visible,
            cycles=sync_cycles(state_db, start),
            summary=summarize(publisher.changes, args.interval),
        )
    finally:
        if daemon is not None and daemon.returncode is None:
            stop_daemon(daemon)
        site.stop()
        portal_server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the site publishes")
    parser.add_argument("--interval", type=float, default=30.0, help="poll interval, seconds")
    parser.add_argument("--rate", type=float, default=4.0, help="new items a minute (Poisson)")
    parser.add_argument("--edit-rate", type=float, default=2.0, help="body edits a minute")
    parser.add_argument("--items", type=int, default=100, help="items on the site at the start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="first sync, s")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-save", action="store_true", help="write no file to bench/results")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.interval <= 0 or args.rate < 0 or args.edit_rate < 0:
        parser.error("--minutes and --interval must be positive, the rates 0 or more")

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    m = machine()
    with workdir("freshness", keep=args.keep) as work:
        out = measure(args, work, say)
        if args.keep:
            say(f"scratch folder kept: {work}")
    summary = out["summary"]
    payload = {"benchmark": "freshness", "machine": m, "params": vars(args), **out}
    path = None if args.no_save else save("freshness", payload)
    if args.json:
        payload["saved"] = str(path) if path else None
        print(json.dumps(payload, ensure_ascii=False, indent=2, default=_plain))
        return 0
    body = report_table(summary, args.interval)
    cycles = out["cycles"]
    load = " / ".join(f"{a:.2f} → {b:.2f}" for a, b in zip(*_loads(out), strict=True))
    body += (
        f"\n\n{args.minutes:g} minutes of publishing ({args.rate:g} new items and "
        f"{args.edit_rate:g} body edits a minute, Poisson, seed {args.seed}) on a "
        f"{out['backfill']['site_items']}-item site; daemon `xxgk-bridge run`, SQLite state, "
        f"poll interval {args.interval:g} s, jitter 0; grace after the last change "
        f"{args.interval + SLACK:g} s. Sync cycles while publishing: {cycles.get('cycles')} "
        f"(p50 {_s(cycles.get('p50_s'))}, max {_s(cycles.get('max_s'))}), detail pages "
        f"revalidated in them: {cycles.get('revalidated', 0)} "
        f"({cycles.get('revalidated_not_modified', 0)} not modified, "
        f"{cycles.get('revalidated_changed', 0)} changed). "
        f"Edits skipped for want of a recent item held by the portal: {out['skipped_edits']}; "
        f"changes not visible on the site at once: {out['not_visible']}; daemon exit "
        f"{out['daemon_exit']}. Load average (1/5/15 min) before → after: {load}."
    )
    for kind in ("new", "edit"):
        if summary[kind]["missed"]:
            body += f"\n\nMissed ({kind}): " + ", ".join(summary[kind]["missed_items"])
    if path is not None:
        publish("Freshness: site → portal with the daemon running", m, body, path)
    else:
        print(body)
    return 0


def _loads(out: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(out.get("load_before", ())), tuple(out.get("load_after", ()))


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} s"


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return {**asdict(value), "latency": value.latency}
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    sys.exit(main())
