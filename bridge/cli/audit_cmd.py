"""``bridge audit``: read, follow, verify and export the hash-chained audit trail."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.audit import AuditEvent, verify_chain
from bridge.cli import App, echo
from bridge.logs import escape_controls
from bridge.state import admin_queries, audit_log
from bridge.state.audit_log import AuditFilter
from bridge.state.db import Database

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
            echo(
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
        echo("no audit events match")
        return
    table = Table(show_lines=False)
    for col in ("id", "time (Asia/Shanghai)", "event", "actor", "item / source", "details"):
        table.add_column(col, overflow="fold")
    for e in events:
        cells = (e.actor, e.item or e.source or "-", _short_details(e))
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

    With --file, check a day's export from `bridge audit export` without the
    state store: every row's hash is recomputed, every row must link to the one
    before (the first to the digest's prev_hash), and the file must match the
    sha256, ids and count in its digest.

    \b
    Examples:
      bridge audit verify
      bridge audit verify --file exports/audit-2026-11-27.jsonl
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
    unbroken piece of the chain. `bridge audit verify --file` checks it offline;
    the digest's hashes can be compared with the live trail. The export itself
    is audited (audit.exported).

    \b
    Example:
      bridge audit export --date 2026-11-27 --out /srv/audit-exports
    """
    db = app.db(create=False)
    jsonl, digest = export_day(db, day.date(), out, actor=app.actor)
    echo(
        f"wrote {jsonl} ({digest['count']} events"
        + (f", ids {digest['first_id']}–{digest['last_id']}" if digest["count"] else "")
        + f") and {out / digest_name(jsonl.name)}"
    )


# --- export files ----------------------------------------------------------------------------

EXPORT_FORMAT = "bridge-audit-export/1"


def digest_name(jsonl_name: str) -> str:
    return jsonl_name.removesuffix(".jsonl") + ".digest.json"


def _row(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.ts.isoformat(),
        "actor": e.actor,
        "event": e.event,
        "source": e.source,
        "item": e.item,
        "run_id": e.run_id,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_day(db: Database, day: date, out: Path, *, actor: str) -> tuple[Path, dict[str, Any]]:
    """Write ``audit-DAY.jsonl`` and its digest; returns the file and the digest."""
    start = datetime.combine(day, dtime.min, LOCAL)
    end = start + timedelta(days=1)
    with db.read() as s:  # one read transaction: slice and head from the same snapshot
        head = audit_log.head(s)
        span = admin_queries.day_slice(s, start, end)
        if span is None:
            events: list[AuditEvent] = []
            prev = audit_log.previous_hash(s, admin_queries.last_id_before(s, start) + 1)
        else:
            events = admin_queries.events_between(s, *span)
            prev = audit_log.previous_hash(s, span[0])
    data = b"".join(json.dumps(_row(e), ensure_ascii=False).encode() + b"\n" for e in events)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"audit-{day.isoformat()}.jsonl"
    now = datetime.now(UTC)
    digest: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "date": day.isoformat(),
        "timezone": "Asia/Shanghai",
        "complete": end <= now,
        "file": jsonl.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "count": len(events),
        "first_id": events[0].id if events else None,
        "last_id": events[-1].id if events else None,
        "prev_hash": prev,
        "last_hash": events[-1].hash if events else prev,
        "head": {"id": head[0], "hash": head[1]},
        "exported_at": now.isoformat(timespec="seconds"),
        "exported_by": actor,
    }
    _write_atomic(jsonl, data)
    text = json.dumps(digest, ensure_ascii=False, indent=2) + "\n"
    _write_atomic(out / digest_name(jsonl.name), text.encode())
    with db.write() as s:
        audit_log.append(
            s,
            admin_queries.AUDIT_EXPORTED,
            actor=actor,
            details={k: digest[k] for k in ("date", "count", "first_id", "last_id", "sha256")},
        )
    return jsonl, digest


def verify_export(path: Path) -> tuple[bool, str]:
    """Check an export and its digest offline; (ok, message naming the first bad row)."""
    if path.name.endswith(".digest.json"):
        digest_path = path
    else:
        digest_path = path.with_name(digest_name(path.name))
    try:
        digest = json.loads(digest_path.read_text(encoding="utf-8"))
        data = (digest_path.parent / digest["file"]).read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"cannot read the export and its digest ({digest_path}): {exc}"
    events: list[AuditEvent] = []
    for n, raw in enumerate(data.splitlines(), 1):
        try:
            r = json.loads(raw)
            events.append(AuditEvent(r["id"], datetime.fromisoformat(r["ts"]), r["actor"],
                                     r["event"], r["source"], r["item"], r["run_id"],
                                     r["details"], r["prev_hash"], r["hash"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return False, f"audit export broken at line {n}: not an exported event"
    result = verify_chain(events, start_prev=digest.get("prev_hash", ""))
    if not result.ok:
        if events and result.first_bad_id == events[0].id and "does not follow" in result.message:
            return False, (
                f"audit export broken at row {events[0].id}: it does not follow the digest's "
                "prev_hash (a row before it was deleted, inserted or reordered)"
            )
        return False, result.message.replace("audit chain", "audit export", 1)
    first = events[0].id if events else None
    last = events[-1].id if events else None
    if (first, last, len(events)) != (
        digest.get("first_id"),
        digest.get("last_id"),
        digest.get("count"),
    ):
        return False, (
            f"audit export broken: the digest names rows {digest.get('first_id')}–"
            f"{digest.get('last_id')} ({digest.get('count')} events), the file holds rows "
            f"{first}–{last} ({len(events)}): rows were removed or added"
        )
    if events and events[-1].hash != digest.get("last_hash"):
        return False, f"audit export broken at row {last}: its hash is not the digest's last_hash"
    if hashlib.sha256(data).hexdigest() != digest.get("sha256"):
        return False, "audit export broken: the file does not match the sha256 in its digest"
    span = f" (rows {first}–{last})" if events else ""
    return True, (
        f"audit export intact: {len(events)} events{span} of {digest.get('date')} verified; "
        "the file matches its digest"
    )


COMMANDS = [audit]
