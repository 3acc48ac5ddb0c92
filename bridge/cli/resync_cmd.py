"""``resync``: here in the foreground, or queued to the running daemon and followed."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import click

from bridge import audit
from bridge.cli import App, echo, fail, invoked_as
from bridge.cli.ops import (
    _unpaused,
    make_context,
    print_sources,
    print_summary,
    show_progress,
)
from bridge.cli.progress import Display, duration
from bridge.crawl.run import RunOptions, run_once
from bridge.delivery.drain import DeliveryStats
from bridge.service.lock import foreground_guard
from bridge.state import audit_log
from bridge.state import resync as resync_queue
from bridge.state.db import Database

POLL = 0.5  # seconds between looks at a queued request
WAIT_FOR_DELIVERIES = 600.0  # seconds `--wait` waits for deliveries once the crawl is done


@click.command()
@click.option(
    "--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option(
    "--column", "columns", multiple=True, metavar="KEY", help="Only this column (repeatable)."
)
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="Only items listed on or after DATE."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (would add / update / withdraw) and change nothing; with a daemon "
    "running, wait for its plan.",
)
@click.option("--force", is_flag=True, help="Accept an empty listing or a large withdrawal.")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@click.option(
    "--wait",
    is_flag=True,
    help="With a daemon running: show its progress and wait until the resync's deliveries "
    "are made.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=WAIT_FOR_DELIVERIES,
    show_default=True,
    metavar="SECONDS",
    help="With --wait: how long to wait for the deliveries once the daemon read everything.",
)
@click.pass_obj
def resync(
    app: App,
    sources: tuple[str, ...],
    columns: tuple[str, ...],
    since: datetime | None,
    dry_run: bool,
    force: bool,
    reason: str,
    wait: bool,
    timeout: float,
) -> None:
    """Re-read every list and detail page, re-normalize, and deliver what differs.

    Use it after an outage, a site redesign, or a config fix that should release
    quarantined items. With a daemon running, the request is queued and the
    daemon takes it within seconds (--wait follows it to its last delivery; a dry
    run always waits for the plan); otherwise it runs here.

    \b
    Examples:
      xxgk-bridge resync --source yyedu --since 2026-01-01 --dry-run
      xxgk-bridge resync --reason "portal outage on 11-20" --wait
    """
    from bridge.service.lock import LockHeld, WorkersRunning

    settings = app.settings()
    for name in sources:
        settings.source(name)  # an unknown source is a clear error now, not in the daemon
    chosen = _unpaused(app, list(sources), refuse=True)
    if not chosen:
        fail(f"every source is paused: nothing to resync (`{invoked_as()} resume SOURCE` first)", 1)
    params = {
        "sources": chosen if len(chosen) < len(settings.sources) else list(sources),
        "columns": list(columns),
        "since": since.date().isoformat() if since else None,
        "dry_run": dry_run,
        "force": force,
    }
    lease = settings.daemon.lease
    try:
        lock = foreground_guard(
            app.db(), lease, f"{invoked_as()} resync ({app.actor})", "cannot resync here"
        )
    except LockHeld as held:
        if held.holder.get("role") != "daemon":
            raise  # another command's foreground cycle: try again when it is done
        _queue_resync(app, params, reason, wait or dry_run, timeout)
        return
    except WorkersRunning:
        _queue_resync(app, params, reason, wait or dry_run, timeout)
        return
    try:
        ctx = make_context(app)
        if not dry_run:
            with ctx.db.write() as s:
                audit_log.append(
                    s,
                    audit.RESYNC_REQUESTED,
                    actor=app.actor,
                    details={**params, "reason": reason, "mode": "foreground"},
                )
        with show_progress(ctx, chosen):
            summary = run_once(
                ctx,
                RunOptions(
                    sources=chosen,
                    columns=list(columns) or None,
                    full=True,
                    since=since.date() if since else None,
                    dry_run=dry_run,
                    force=force,
                    kind="resync",
                ),
            )
    finally:
        if lock is not None:
            lock.release()
    print_summary(summary, dry_run=dry_run)
    raise SystemExit(summary.exit_code)


def _queue_resync(
    app: App, params: dict[str, Any], reason: str, wait: bool, timeout: float
) -> None:
    db = app.db()
    with db.write() as s:
        request_id = resync_queue.enqueue(s, actor=app.actor, reason=reason, params=params)
    echo(f"resync #{request_id} queued for the running daemon")
    if not wait:
        return
    follow = _Follow(db, request_id, app.settings().target.name, params)
    with Display(follow.progress, follow.pending) as display:
        display.note = f"resync #{request_id}: waiting for the daemon to take it"
        request = follow.until_finished(display)
        result = request.result or {}
        code = request.exit_code or 0
        if "error" not in result and not params["dry_run"]:
            # Its deliveries are waited for here: how they end decides, not a failed
            # attempt the daemon's retries have since made good.
            display.note = f"resync #{request_id}: read; waiting for its deliveries"
            code = max(_reading_code(result), follow.deliveries(timeout))
    print_sources(result.get("sources", []))
    if result.get("delivery"):
        echo(DeliveryStats(**result["delivery"]).summary())
    if "error" in result:
        echo(f"bridge: {result['error']}", err=True)
    if params["dry_run"]:
        echo("dry run: nothing was changed")
    for line in follow.outcome:
        echo(line, err=code != 0)
    raise SystemExit(code)


def _reading_code(result: dict[str, Any]) -> int:
    """The exit code of a queued run's reading alone (as ``RunSummary.exit_code`` judges
    its sources), its deliveries left out."""
    for r in result.get("sources", []):
        st = r.get("stats", {})
        if (
            r.get("status") != "ok"
            or st.get("errors")
            or st.get("quarantined")
            or st.get("skipped")
        ):
            return 1
    return 0


class _Follow:
    """A queued request as the daemon works on it, then its deliveries."""

    def __init__(self, db: Database, request_id: int, target: str, params: dict[str, Any]):
        self.db, self.id, self.target = db, request_id, target
        self.sources: list[str] | None = params.get("sources") or None
        self.dry_run = bool(params.get("dry_run"))
        self.request: resync_queue.ResyncRequest | None = None
        self.outcome: list[str] = []

    def progress(self) -> dict[str, Any] | None:
        return self.request.progress if self.request else None

    def counts(self) -> dict[str, int]:
        r = self.request
        with self.db.read() as s:
            return resync_queue.deliveries(
                s, target=self.target, sources=self.sources,
                since=r.started_at if r else None, until=r.finished_at if r else None,
            )  # fmt: skip

    def pending(self) -> int | None:
        if self.dry_run or self.request is None or self.request.started_at is None:
            return None
        counts = self.counts()
        return counts.get("pending", 0) + counts.get("inflight", 0)

    def until_finished(self, display: Display) -> resync_queue.ResyncRequest:
        while True:
            with self.db.read() as s:
                request = resync_queue.get(s, self.id)
            assert request is not None
            self.request = request
            if request.status == "running":
                display.note = f"resync #{self.id}: the daemon is reading"
            if request.status in ("done", "failed"):
                return request
            time.sleep(POLL)

    def deliveries(self, timeout: float) -> int:
        """Wait until the run's deliveries are made; the exit code it leaves."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            left = counts.get("pending", 0) + counts.get("inflight", 0)
            if not left:
                break
            if time.monotonic() >= deadline:
                self.outcome.append(
                    f"resync #{self.id}: gave up waiting after {duration(timeout)}: "
                    f"{left} delivery(ies) still pending; the daemon keeps sending them "
                    f"(`{invoked_as()} status` shows why they wait)"
                )
                return 1
            time.sleep(POLL)
        made = counts.get("done", 0)
        dead = counts.get("dead", 0)
        if dead:
            self.outcome.append(
                f"resync #{self.id}: {made} delivery(ies) made, {dead} dead "
                f"(`{invoked_as()} status` says why; `{invoked_as()} retry --all` sends them again)"
            )
            return 1
        self.outcome.append(f"resync #{self.id}: all {made} delivery(ies) made")
        return 0


COMMANDS = [resync]
