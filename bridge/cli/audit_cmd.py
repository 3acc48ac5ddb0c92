"""``bridge audit``: read, follow, verify and export the hash-chained audit trail."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import replace
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.audit import AuditEvent, csv_row, csv_writer, verify_chain
from bridge.cli import App, echo
from bridge.cli.audit_export import digest_name, export_day, verify_export
from bridge.logs import escape_controls
from bridge.state import audit_log
from bridge.state.audit_log import AuditFilter

LOCAL = ZoneInfo("Asia/Shanghai")
TABLE_MIN_WIDTH = 100  # columns below which a table would break its values: lines instead


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


def _line(e: AuditEvent) -> str:
    """One event on one line, every value whole (piped output, a narrow terminal)."""
    return (
        f"{e.id}  {_local(e.ts)}  {e.event}  {e.actor}  {e.item or e.source or '-'}  "
        f"{e.details_text()}"
    ).rstrip()


def _emit(events: list[AuditEvent], fmt: str, writer: Any = None) -> None:
    if fmt in ("json", "jsonl"):  # --follow with json: one object per line as they come
        for e in events:
            click.echo(json.dumps(e.as_json(), ensure_ascii=False))
    elif fmt == "csv":
        for e in events:
            writer.writerow(csv_row(e))
        sys.stdout.flush()
    else:
        for e in events:
            echo(_line(e))


def wide_terminal(min_width: int = TABLE_MIN_WIDTH) -> bool:
    """A table only on a terminal wide enough for one; piped or narrow: one line each."""
    return sys.stdout.isatty() and shutil.get_terminal_size((80, 24)).columns >= min_width


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
@click.option(
    "--grep", metavar="TEXT", help="Only events whose title, details, item or event hold TEXT."
)
@click.option("--limit", type=click.IntRange(1), help="At most this many events (the newest).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    default="table",
    show_default=True,
    help="json: one array; jsonl: one object per line; csv: UTF-8 with a BOM (Excel).",
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
    grep: str | None,
    limit: int | None,
    fmt: str,
    follow: bool,
) -> None:
    """Read the audit trail (oldest first), or check it with `xxgk-bridge audit verify`.

    \b
    Piped or in a terminal narrower than 100 columns the table is one event per
    line, every value whole. Times are Asia/Shanghai (CSV: with their offset).

    \b
    Examples:
      xxgk-bridge audit --since 2026-11-01 --event delivery.dead
      xxgk-bridge audit --grep 招生 --format csv > audit.csv
      xxgk-bridge audit --item yyedu:t20261120_100045 --format json
      xxgk-bridge audit verify
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
        grep=grep or None,
    )
    with db.read() as s:
        found = audit_log.query(s, f, limit=limit, newest_first=limit is not None)
    found.sort(key=lambda e: e.id)
    writer = None
    if fmt == "csv":
        writer = csv_writer(sys.stdout)
    if fmt == "json" and not follow:
        click.echo(json.dumps([e.as_json() for e in found], ensure_ascii=False, indent=1))
    elif fmt == "table" and not follow and wide_terminal():
        _table(found)
    elif fmt == "table" and not found and not follow:
        echo("no audit events match")
    else:
        _emit(found, fmt, writer)
    if not follow:
        return
    last = found[-1].id if found else _last_id(app)
    while True:
        time.sleep(1.0)
        with db.read() as s:
            new = audit_log.query(s, replace(f, since=None, until=None, after_id=last))
        if new:
            _emit(new, fmt, writer)
            last = new[-1].id


def _last_id(app: App) -> int:
    with app.db().read() as s:
        return audit_log.head(s)[0]


def _table(events: list[AuditEvent]) -> None:
    if not events:
        echo("no audit events match")
        return
    table = Table(show_lines=False)
    for col in ("id", "time (Asia/Shanghai)", "event"):  # short values: never broken
        table.add_column(col, no_wrap=True)
    for col in ("actor", "item / source", "details"):
        table.add_column(col, overflow="fold")
    for e in events:
        cells = (e.actor, e.item or e.source or "-", e.details_text())
        # Text, never markup: details quote titles and URLs a site chose
        table.add_row(str(e.id), _local(e.ts), e.event, *(Text(escape_controls(c)) for c in cells))
    Console(soft_wrap=False).print(table)


@audit.command()
@click.option(
    "--file",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="EXPORT",
    help="Check an export offline (its .jsonl or .digest.json) instead of the store.",
)
@click.pass_obj
def verify(app: App, export_file: Path | None) -> None:
    """Check the hash chain; exit 1 naming the first row where it breaks.

    With --file, check a day's export from `xxgk-bridge audit export` without the
    state store: every row's hash is recomputed, every row must link to the one
    before (the first to the digest's prev_hash), and the file must match the
    sha256, ids and count in its digest.

    \b
    Examples:
      xxgk-bridge audit verify
      xxgk-bridge audit verify --file exports/audit-2026-11-27.jsonl
    """
    if export_file is not None:
        ok, message = verify_export(export_file)
        if ok:
            echo(message)
            return
        echo(f"bridge: {message}", err=True)
        raise SystemExit(1)
    db = app.db(create=False)
    with db.read() as s:
        result = verify_chain(audit_log.iter_chain(s), head=audit_log.head(s))
    if result.ok:
        echo(result.message)
        return
    echo(f"bridge: {result.message}", err=True)
    raise SystemExit(1)


@audit.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="The day (Asia/Shanghai) to export.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for the two files.",
)
@click.pass_obj
def export(app: App, day: datetime, out: Path) -> None:
    """Write one day's events with their chain hashes, and a digest, for an auditor.

    \b
    Two files in --out:
      audit-DATE.jsonl        one event per line, exactly as hashed (details is
                              the canonical JSON text), with prev_hash and hash
      audit-DATE.digest.json  sha256 of that file, first and last id, count,
                              the hash the slice starts after (prev_hash), its
                              last hash, and the chain head at export time
    The slice is every row between the day's first and last event, so it is one
    unbroken piece of the chain. `xxgk-bridge audit verify --file` checks it offline;
    the digest's hashes can be compared with the live trail. The export itself
    is audited (audit.exported).

    \b
    Example:
      xxgk-bridge audit export --date 2026-11-27 --out /srv/audit-exports
    """
    db = app.db(create=False)
    jsonl, digest = export_day(db, day.date(), out, actor=app.actor)
    echo(
        f"wrote {jsonl} ({digest['count']} events"
        + (f", ids {digest['first_id']}–{digest['last_id']}" if digest["count"] else "")
        + f") and {out / digest_name(jsonl.name)}"
    )


COMMANDS = [audit]
