"""Operating commands: run (the daemon), sync, retry; and the cycle output ``resync`` shares.

``status`` is in bridge.cli.status_cmd, ``resync`` in bridge.cli.resync_cmd.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from bridge.cli import App, echo, fail, invoked_as
from bridge.cli.config_wait import settings_when_valid
from bridge.cli.progress import Display
from bridge.context import Context
from bridge.crawl.run import RunOptions, RunSummary, SourceResult, run_once
from bridge.service import pause
from bridge.service.lock import foreground_guard
from bridge.service.progress import Tally
from bridge.state import outbox
from bridge.state import resync as resync_queue
from bridge.targets import make_target


def make_context(app: App) -> Context:
    settings = app.settings()
    return Context(
        settings=settings, db=app.db(), target=make_target(settings.target), actor=app.actor
    )


def print_summary(summary: RunSummary, *, dry_run: bool = False) -> None:
    print_sources([source_json(r) for r in summary.sources])
    d = summary.delivery
    if d is not None:
        echo(d.summary())
        if d.auth_error:
            echo(f"bridge: {d.auth_error}", err=True)
    if dry_run:
        echo("dry run: nothing was changed")


def source_json(r: SourceResult) -> dict[str, Any]:
    """One source's result as a queued resync's result stores it (and prints it)."""
    return {"source": r.source, "status": r.status, "message": r.message,
            "stats": asdict(r.stats), "plan": [list(p) for p in r.plan]}  # fmt: skip


PLAN_WORDS = {"add": "would add", "update": "would update", "withdraw": "would withdraw",
              "quarantine": "would quarantine"}  # fmt: skip


def print_sources(sources: list[dict[str, Any]]) -> None:
    """Each source's line and, for a dry run, its plan: the same for a cycle run here and
    for one a daemon ran."""
    for r in sources:
        s = r["stats"]
        line = (
            f"{r['source']}: {r['status']}; {s['pages']} list page(s) "
            f"({s['pages_not_modified']} not modified), {s['fetched']} fetched, {s['new']} new, "
            f"{s['changed']} changed, {s['unchanged']} unchanged, {s['quarantined']} quarantined, "
            f"{s['withdrawn']} withdrawn"
        )
        if s["skipped"] or s["errors"]:
            line += f", {s['skipped']} skipped, {s['errors']} error(s)"
        if s["gone"]:
            line += f", {s['gone']} listed but gone"
        if s["columns_skipped"]:
            line += f", {s['columns_skipped']} column(s) skipped by robots.txt"
        echo(line)
        if r.get("message"):
            echo(f"  {r['message']}")
        for action, external_id, title in r.get("plan") or []:
            words = PLAN_WORDS.get(action, f"would {action}")
            echo(f"  {words}: {title or '(no title)'} ({external_id})")


def pending_deliveries(ctx: Context, sources: list[str] | None = None) -> int:
    """Deliveries of ``sources`` (all when None) still to send: pending or in flight."""
    with ctx.db.read() as s:
        counts = resync_queue.deliveries(s, target=ctx.settings.target.name, sources=sources)
    return counts.get("pending", 0) + counts.get("inflight", 0)


def show_progress(ctx: Context, sources: list[str] | None) -> Display:
    """The progress display of a cycle run here (see bridge.cli.progress)."""
    tally = Tally()
    ctx.progress = tally.report
    return Display(tally.snapshot, lambda: pending_deliveries(ctx, sources))


@click.command()
@click.option(
    "--wait-for-config",
    is_flag=True,
    envvar="BRIDGE_WAIT_FOR_CONFIG",
    help="On a config error at start, say what is wrong and wait for the config file to "
    "change instead of exiting 2 (for containers: a restart policy cannot spare exit 2). "
    "Also BRIDGE_WAIT_FOR_CONFIG=1.",
)
@click.pass_obj
def run(app: App, wait_for_config: bool) -> None:
    """Run the daemon: poll every source on its schedule and deliver continuously.

    Sends READY/WATCHDOG/STATUS/STOPPING to systemd when run as a Type=notify
    service. SIGTERM finishes the item in hand and exits 0; SIGHUP reloads the
    config. One daemon per state store: a second one exits 2 naming the first.

    \b
    Example:
      xxgk-bridge --config /etc/bridge/bridge.toml run
    """
    from bridge.service.daemon import Daemon

    settings = settings_when_valid(app) if wait_for_config else app.settings()
    raise SystemExit(Daemon(app.config_path, settings).run())


@click.command()
@click.option(
    "--once",
    is_flag=True,
    required=True,
    help="Run one cycle and exit (the only mode; `xxgk-bridge run` is the daemon).",
)
@click.option(
    "--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option("--no-deliver", is_flag=True, help="Record changes but leave them in the outbox.")
@click.option("--force", is_flag=True, help="Accept a listing that suddenly parses empty.")
@click.option(
    "--deliver-for",
    type=click.FloatRange(0),
    default=0.0,
    metavar="SECONDS",
    help="Keep delivering up to SECONDS, waiting for retries and circuit cooldowns.  [default: 0]",
)
@click.pass_obj
def sync(
    app: App,
    once: bool,
    sources: tuple[str, ...],
    no_deliver: bool,
    force: bool,
    deliver_for: float,
) -> None:
    """Run one cycle in the foreground, then exit (for cron-style use).

    Reads the newest list pages of every source, records new and changed items,
    and delivers everything waiting in the outbox. Refuses to run beside a daemon
    on the same state store (use `xxgk-bridge resync` to ask the daemon instead).

    \b
    Example:
      xxgk-bridge --config config/sandbox.toml sync --once
    """
    ctx = make_context(app)
    chosen = _unpaused(app, list(sources), refuse=False)
    if not chosen:
        echo(f"every source chosen is paused: nothing read (`{invoked_as()} resume SOURCE`)")
        return
    lease = ctx.settings.daemon.lease
    lock = foreground_guard(
        ctx.db, lease, f"{invoked_as()} sync ({app.actor})", "cannot run a cycle here"
    )
    try:
        with show_progress(ctx, chosen):
            summary = run_once(
                ctx,
                RunOptions(
                    sources=chosen, deliver=not no_deliver, force=force, deliver_for=deliver_for
                ),
            )
    finally:
        if lock is not None:
            lock.release()
    print_summary(summary)
    from bridge.service.notify import run_pass

    run_pass(ctx.settings, ctx.db)  # logs what it could not send; never changes the exit code
    raise SystemExit(summary.exit_code)


def _unpaused(app: App, sources: list[str], *, refuse: bool) -> list[str]:
    """The chosen sources (all when none is named) less the paused ones, each of which is
    named on stdout; with ``refuse``, naming a paused source is an error (exit 1)."""
    names = sources or [s.name for s in app.settings().sources]
    held = pause.paused(app.db(), names)
    for name, info in held.items():
        if refuse and name in sources:
            fail(f"{pause.describe(name, info)}; run `{invoked_as()} resume {name}` first", 1)
        echo(f"{pause.describe(name, info)}: nothing read")
    return [n for n in names if n not in held]


@click.command()
@click.option("--item", "item", metavar="ID", help="Only this item's dead letters (external id).")
@click.option("--all", "all_", is_flag=True, help="Every dead letter.")
@click.option(
    "--no-deliver", is_flag=True, help="Only queue them again; the next cycle sends them."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def retry(app: App, item: str | None, all_: bool, no_deliver: bool, fmt: str) -> None:
    """Send dead-lettered deliveries again after the cause was fixed.

    \b
    Examples:
      xxgk-bridge retry --item yyedu:t20261120_100045
      xxgk-bridge retry --all --format json
    """
    if bool(item) == all_:
        raise click.UsageError("give exactly one of --item ID or --all")
    ctx = make_context(app)
    with ctx.db.write() as s:
        n = outbox.retry_dead(s, target=ctx.settings.target.name, actor=app.actor, external_id=item)
    summary = None
    if n and not no_deliver:
        from bridge.delivery.drain import drain

        summary = RunSummary([], drain(ctx))
    if fmt == "json":
        d = summary.delivery if summary else None
        data = {
            "queued": n,
            "delivery": d.counts() if d else None,
            "exit_code": summary.exit_code if summary else 0,
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        echo(f"{n} dead letter(s) queued again")
        if summary is not None:
            print_summary(summary)
    raise SystemExit(summary.exit_code if summary else 0)


COMMANDS = [run, sync, retry]
