"""``bridge audit``: read, follow and verify the hash-chained audit trail."""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import date, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from bridge.audit import AuditEvent, verify_chain
from bridge.cli import App
from bridge.state import audit_log
from bridge.state.audit_log import AuditFilter

LOCAL = ZoneInfo("Asia/Shanghai")


def parse_when(text: str, *, end: bool = False) -> datetime:
    """A date or date-time; naive values are Asia/Shanghai, the bureau's clock.

    A bare date as ``--until`` means the end of that day.
    """
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            value = datetime.combine(d, dtime.max if end else dtime.min)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date (2026-11-28) or a date-time (2026-11-28T09:30)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL)


def _local(ts: datetime) -> str:
    return ts.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def _short_details(e: AuditEvent, width: int = 90) -> str:
    d = e.details_dict()
    text = ", ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))
    return text if len(text) <= width else text[: width - 1] + "…"


def _emit(events: list[AuditEvent], fmt: str, writer: csv.writer | None = None) -> None:  # type: ignore[valid-type]
    if fmt == "json":
        for e in events:
            click.echo(json.dumps(e.as_json(), ensure_ascii=False))
    elif fmt == "csv":
        assert writer is not None
        for e in events:
            writer.writerow(
                [
                    e.id,
                    e.ts.isoformat(),
                    e.actor,
                    e.event,
                    e.source or "",
                    e.item or "",
                    e.run_id or "",
                    e.details,
                    e.prev_hash,
                    e.hash,
                ]
            )
        sys.stdout.flush()
    else:
        for e in events:
            click.echo(
                f"{e.id:>6}  {_local(e.ts)}  {e.event:<20} {e.actor:<14} "
                f"{e.item or e.source or '-'}  {_short_details(e)}"
            )


@click.group(invoke_without_command=True)
@click.option(
    "--since",
    metavar="WHEN",
    help="From this date or date-time (Asia/Shanghai unless an offset is given).",
)
@click.option(
    "--until", metavar="WHEN", help="Up to this date (inclusive) or date-time (exclusive)."
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="NAME",
    help="Only this event, e.g. delivery.dead, or a family: delivery (repeatable).",
)
@click.option("--item", metavar="ID", help="Only events of this item (external id).")
@click.option("--source", metavar="NAME", help="Only events of this source.")
@click.option("--limit", type=click.IntRange(1), help="At most this many events (the newest).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they are appended.")
@click.pass_context
def audit(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    events: tuple[str, ...],
    item: str | None,
    source: str | None,
    limit: int | None,
    fmt: str,
    follow: bool,
) -> None:
    """Read the audit trail (oldest first), or check it with `bridge audit verify`.

    \b
    Examples:
      bridge audit --since 2026-11-01 --event delivery.dead
      bridge audit --item yyedu:t20261120_100045 --format json
      bridge audit verify
    """
    if ctx.invoked_subcommand is not None:
        return
    app: App = ctx.obj
    db = app.db(create=False)
    f = AuditFilter(
        since=parse_when(since) if since else None,
        until=parse_when(until, end=True) if until else None,
        events=events,
        item=item,
        source=source,
    )
    with db.read() as s:
        found = audit_log.query(s, f, limit=limit, newest_first=limit is not None)
    found.sort(key=lambda e: e.id)
    writer = None
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            [
                "id",
                "ts",
                "actor",
                "event",
                "source",
                "item",
                "run_id",
                "details",
                "prev_hash",
                "hash",
            ]
        )
    if fmt == "table" and not follow:
        _table(found)
    else:
        _emit(found, fmt, writer)
    if not follow:
        return
    last = found[-1].id if found else _last_id(app)
    while True:
        time.sleep(1.0)
        with db.read() as s:
            new = audit_log.query(
                s, AuditFilter(events=events, item=item, source=source, after_id=last)
            )
        if new:
            _emit(new, fmt, writer)
            last = new[-1].id


def _last_id(app: App) -> int:
    with app.db().read() as s:
        return audit_log.head(s)[0]


def _table(events: list[AuditEvent]) -> None:
    if not events:
        click.echo("no audit events match")
        return
    table = Table(show_lines=False)
    for col in ("id", "time (Asia/Shanghai)", "event", "actor", "item / source", "details"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            str(e.id), _local(e.ts), e.event, e.actor, e.item or e.source or "-", _short_details(e)
        )
    Console(soft_wrap=False).print(table)


@audit.command()
@click.pass_obj
def verify(app: App) -> None:
    """Check the hash chain; exit 1 naming the first row where it breaks.

    \b
    Example:
      bridge audit verify
    """
    db = app.db(create=False)
    with db.read() as s:
        result = verify_chain(audit_log.iter_chain(s), head=audit_log.head(s))
    if result.ok:
        click.echo(result.message)
        return
    click.echo(f"bridge: {result.message}", err=True)
    raise SystemExit(1)


COMMANDS = [audit]
