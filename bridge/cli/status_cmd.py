"""``status``: each source's last run, lag, queue counts and the target's state; or one item."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.cli import App, echo, invoked_as
from bridge.logs import escape_controls
from bridge.provenance import field_rows
from bridge.service import status as status_view
from bridge.state import items


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


COMMANDS = [status]
