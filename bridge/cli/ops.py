"""Operating commands: sync, resync, status, retry."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.cli import App, echo, fail, invoked_as
from bridge.cli.config_wait import settings_when_valid
from bridge.cli.progress import Display
from bridge.context import Context
from bridge.crawl.run import RunOptions, RunSummary, SourceResult, run_once
from bridge.logs import escape_controls
from bridge.provenance import field_rows
from bridge.service import pause
from bridge.service import status as status_view
from bridge.service.lock import foreground_guard
from bridge.service.progress import Tally
from bridge.state import items, outbox
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


def status_data(app: App) -> dict[str, Any]:
    """The status snapshot (bridge.service.status) as the JSON ``bridge status`` prints."""
    return view_data(status_view.read(app.settings(), app.db()))


def view_data(view: status_view.StatusView) -> dict[str, Any]:
    t = view.target
    refusal = t.refusal
    return {
        "sources": [
            {
                "source": s.name,
                "last_run": s.last_run.isoformat() if s.last_run else None,
                "result": s.result,
                "message": s.message,
                "last_success": s.last_success.isoformat() if s.last_success else None,
                "lag_seconds": round(s.lag_seconds) if s.lag_seconds is not None else None,
                "max_lag_seconds": round(s.max_lag_seconds),
                "items": s.active + s.withdrawn,
                "pending": s.pending,
                "failed": s.failed,
                "dead": s.dead,
                "quarantined": s.quarantined,
                "layout_alarm": s.layout_alarm,
                "crawled_by": s.crawled_by,
                "last_crawled_by": s.last_crawled_by,
                "paused": s.paused,
                "revalidation": s.revalidation,
            }
            for s in view.sources
        ],
        "target": {
            "name": t.name,
            "circuit": t.circuit,
            "circuit_failures": t.circuit_failures,
            "circuit_last_error": t.circuit_last_error,
            "credentials_refused": {
                "since": refusal.since.isoformat(),
                "status": refusal.status,
                "message": refusal.message,
            }
            if refusal
            else None,
        },
        "quarantined": view.quarantined,
        "dead_letters": view.dead_letters,
        "workers": view.workers,
        "problems": view.problems,
        "attention": view.attention,
    }


SOURCE_COLUMNS = (
    ("source", "source"), ("last run", "last_run"), ("result", "result"), ("lag", "lag"),
    ("items", "items"), ("pending", "pending"), ("failed", "failed"), ("dead", "dead"),
    ("quarantined", "quarantined"), ("alarm", "alarm"),
)  # fmt: skip


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--item",
    "item_id",
    metavar="ID",
    help="One item instead: each catalog field, its value and where it came from.",
)
@click.pass_obj
def status(app: App, fmt: str, item_id: str | None) -> None:
    """Show each source's last run, lag, queue counts, quarantine and the target's state.

    Exits 0 when all is well, 1 when something needs attention (a dead letter, a
    quarantined item, a layout alarm, a source past its maximum lag, the circuit open,
    the portal refusing our credentials; each is named), 2 on a config or state error.
    Piped or in a narrow terminal, nothing is cut: one line per source when piped.

    With --item, one item: its status, 索引号 and every catalog field of its newest
    version with the field's provenance (page:发文机关 — the page's label, meta:ArticleTitle,
    body, list, config, default, derived:published …), remarks and quarantine reasons.

    \b
    Examples:
      xxgk-bridge status --format json
      xxgk-bridge status || echo "needs attention"
      xxgk-bridge status --item yyedu:t20261120_100045
    """
    if item_id is not None:
        item_status(app, item_id, fmt)
        return
    data = status_data(app)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_status(data)
    raise SystemExit(1 if data["attention"] else 0)


def _print_status(data: dict[str, Any]) -> None:
    rows = [
        {
            **{k: str(v) for k, v in s.items()},
            "last_run": _local(s["last_run"]),
            "lag": _duration(s["lag_seconds"]),
            "alarm": "LAYOUT ALARM" if s["layout_alarm"] else "-",
        }
        for s in data["sources"]
    ]
    console = Console(soft_wrap=True)
    if console.is_terminal:  # a narrow terminal folds a long value; it never cuts it
        table = Table(title="bridge status")
        for title, _ in SOURCE_COLUMNS:
            table.add_column(title, overflow="fold")
        for r in rows:
            table.add_row(*(Text(escape_controls(r[key])) for _, key in SOURCE_COLUMNS))
        console.print(table)
    else:  # piped: one whole line per source, for grep and for mail
        for r in rows:
            echo(
                f"{r['source']}: last run {r['last_run']}, result {r['result']}, lag {r['lag']}, "
                f"{r['items']} items, {r['pending']} pending, {r['failed']} failed, "
                f"{r['dead']} dead, {r['quarantined']} quarantined, alarm {r['alarm']}"
            )
    t = data["target"]
    echo(
        f"target {t['name']}: circuit {t['circuit']}"
        + (
            f" ({t['circuit_failures']} failures; last: {t['circuit_last_error']})"
            if t["circuit_failures"]
            else ""
        )
    )
    if t["credentials_refused"]:
        r = t["credentials_refused"]
        echo(
            f"target {t['name']}: CREDENTIALS REFUSED since {_local(r['since'])} "
            f"({r['status']} {r['message']}): check target.key and the target secret"
        )
    for s in data["sources"]:
        if s["paused"]:
            p = s["paused"]
            why = f" ({p['reason']})" if p.get("reason") else ""
            echo(
                f"{s['source']}: paused since {_local(p['at'])} by {p['actor']}{why}: "
                f"`{invoked_as()} resume {s['source']}` to read it again"
            )
        if s["message"] and s["result"] != "ok":
            echo(f"{s['source']}: {s['message']}")
        if r := s["revalidation"]:
            echo(
                f"{s['source']}: revalidated {r['checked']} detail page(s) in the last cycle "
                f"({r['not_modified']} not modified, {r['unchanged']} unchanged, "
                f"{r['changed']} changed, {r['gone']} gone); every old item checked by "
                f"{_local(r['full_by']) if r.get('full_by') else '-'}"
            )
    for q in data["quarantined"]:
        problems = "; ".join(
            f"{p['field']}: {p['message']} ({p['rule']})" for p in q.get("problems", [])
        )
        echo(f"quarantined {q['item']}: {problems} [{q.get('url')}]")
    for d in data["dead_letters"]:
        echo(f"dead letter {d['item']} (delivery {d['delivery']}): {d['error']}")
    for w in data["workers"]:
        role = "leader" if w["leader"] else "worker"
        crawling = ", ".join(w["sources"]) or "-"
        echo(
            f"{role} {w['worker']}: heartbeat {w['heartbeat_age_seconds']}s ago; crawling {crawling}"
        )
    if data["attention"]:
        echo(f"needs attention ({len(data['attention'])}):")
        for reason in data["attention"]:
            echo(f"  {reason}")
    else:
        echo("all well")


def item_data(app: App, item_id: str) -> dict[str, Any] | None:
    with app.db().read() as s:
        row = items.get_item(s, item_id)
        if row is None:
            return None
        record = items.latest_record(s, row.id) or {}
        source = items.source_name(s, row.source_id)
    quarantine = json.loads(row.quarantine) if row.quarantine else None
    return {
        "item": row.external_id,
        "source": source,
        "url": row.url,
        "status": row.status,
        "version": row.version,
        "index_no": row.index_no,
        "fields": [
            {"field": f, "name": label, "value": value, "from": how}
            for f, label, value, how in field_rows(record, row.index_no)
        ],
        "remarks": record.get("remarks", []),
        "quarantine": quarantine.get("problems", []) if quarantine else [],
    }


def item_status(app: App, item_id: str, fmt: str) -> None:
    data = item_data(app, item_id)
    if data is None:
        raise click.UsageError(f"no item {item_id!r} in the state store (give its external id)")
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    echo(
        f"{data['item']} ({data['source']}): {data['status']}, version {data['version']}, "
        f"{data['url']}"
    )
    if data["version"]:
        table = Table(title=f"version {data['version']}")
        for col in ("field", "", "value", "from"):
            table.add_column(col)
        for f in data["fields"]:
            value = f["value"] if len(f["value"]) <= 60 else f["value"][:59] + "…"
            table.add_row(
                f["field"], f["name"], Text(escape_controls(value)), f["from"]
            )  # never markup
        Console(soft_wrap=True).print(table)
    for remark in data["remarks"]:
        echo(f"remark: {remark}")
    for p in data["quarantine"]:
        echo(f"quarantined: {p['field']}: {p['message']} ({p['rule']})")


def _local(iso: str | None) -> str:
    if not iso:
        return "-"
    from zoneinfo import ZoneInfo

    return (
        datetime.fromisoformat(iso)
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .strftime("%Y-%m-%d %H:%M:%S")
    )


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


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


COMMANDS = [run, sync, status, retry]
