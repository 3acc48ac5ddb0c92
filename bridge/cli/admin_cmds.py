"""Commands for the people who answer for disclosure: reconcile, report, web."""

from __future__ import annotations

import csv
import importlib
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from bridge.admin import reconcile as rec
from bridge.admin.reconcile_rules import Report
from bridge.admin.report import build as annual
from bridge.admin.report import text as report_text
from bridge.admin.report.document import ReportDocument
from bridge.admin.report.parts import build_document
from bridge.cli import App, echo, fail, invoked_as
from bridge.cli.ops import make_context
from bridge.config import LOOPBACK_HOSTS, admin_token_problem
from bridge.delivery.drain import DeliveryStats
from bridge.state import report_queries

CSV_FIELDS = ["symbol", "external_id", "source", "column", "title", "site", "state", "portal",
              "state_hash", "portal_hash", "note", "fix"]  # fmt: skip


def _print_lines(report: Report, fmt: str, verbose: bool) -> None:
    if fmt == "csv":
        w = csv.DictWriter(sys.stdout, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for line in report.lines:
            w.writerow(asdict(line))
        return
    shown = report.lines if verbose else report.differences
    width = max((len(line.external_id) for line in shown), default=0)
    for line in shown:
        text = "  ".join(p for p in (line.title, f"({line.note})" if line.note else "") if p)
        echo(f"{line.symbol} {line.external_id:<{width}}  {text}".rstrip())
    echo(report.summary())


def _print_plan(report: Report, err: bool) -> None:
    plan = report.plan()
    puts = sum(1 for line in plan if line.fix == "put")
    withdrawals = sum(1 for line in plan if line.fix == "withdraw")
    queued = len(plan) - puts - withdrawals
    text = f"plan: re-send {puts} item(s), withdraw {withdrawals} item(s)"
    echo(text + (f", deliver {queued} already queued" if queued else ""), err=err)
    for line in plan:
        echo(f"  {line.fix:<9} {line.external_id}  {line.title}", err=err)
    for line in report.differences:
        if line.fix not in ("put", "withdraw", "drain"):
            echo(f"  {'leave':<9} {line.external_id}  ({line.note})", err=err)


def _delivery_line(stats: DeliveryStats) -> str:
    return stats.summary() + (f"; {stats.auth_error}" if stats.auth_error else "")


@click.command()
@click.option(
    "--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
    show_default=True, help="json and csv list every item, the same ones too.",
)  # fmt: skip
@click.option("--verbose", "-v", is_flag=True, help="Also show the items that are the same (=).")
@click.option("--fix", is_flag=True, help="Show the plan that repairs the portal side.")
@click.option("--yes", is_flag=True, help="With --fix: apply the plan (queue, audit, deliver).")
@click.option("--force", is_flag=True, help="Allow withdrawals beyond max_withdraw_share.")
@click.pass_obj
def reconcile(
    app: App, sources: tuple[str, ...], fmt: str, verbose: bool, fix: bool, yes: bool, force: bool
) -> None:
    """Compare the site, the state store and the portal; one line per difference.

    \b
    Reads the complete listing of every column (list pages only), the state store,
    and the portal's list API, and marks each item like `rclone check`:
      =  the same (shown with --verbose)
      +  on the site only: missing or withdrawn on the portal
      -  on the portal only: gone from the site, or foreign
      *  different content: the portal's hash is not the current version's
      !  cannot be decided: a listing failed, quarantined, unknown to the store
    Exit 0 when there is no difference, 1 otherwise.

    \b
    --fix shows the plan: re-send the current version of `+` and `*` items and
    send a withdrawal for `-` items gone from the site (after checking that
    their page is gone). --fix --yes applies it: outbox rows, each audited as
    reconcile.fix, then one delivery drain. A foreign item (an id no configured
    source makes, i.e. without a "<source>:" prefix) is reported but never
    withdrawn; an id with our prefix that the store does not know is ours and is
    withdrawn when it is gone from the site. Withdrawals obey the source's
    `withdrawals` switch and `max_withdraw_share` (--force goes beyond it).
    The result is kept for the admin page (/reconcile).

    \b
    Example:
      xxgk-bridge reconcile
      xxgk-bridge reconcile --source yyedu --format csv > reconcile.csv
      xxgk-bridge reconcile --fix            # show the plan
      xxgk-bridge reconcile --fix --yes      # apply it
    """
    if yes and not fix:
        raise click.UsageError("--yes applies a --fix plan: give --fix --yes")
    settings = app.settings()
    for name in sources:
        settings.source(name)
    ctx = make_context(app)
    report = rec.compare(ctx, list(sources) or None, force=force)
    quiet = fmt != "table"  # messages go to stderr so stdout stays one document
    if fmt != "json":
        _print_lines(report, fmt, verbose)
    code = 1 if report.differences else 0
    if fix and report.differences:
        _print_plan(report, quiet)
        if not yes:
            echo("nothing changed: run again with --fix --yes to apply this plan", err=quiet)
        else:
            stats = rec.apply(ctx, report)
            applied = report.applied or {}
            echo(
                f"fixed: {len(applied.get('put', []))} re-sent, "
                f"{len(applied.get('withdraw', []))} withdrawn; {_delivery_line(stats)}",
                err=quiet,
            )
            unfixed = [d for d in report.differences if d.fix not in ("put", "withdraw", "drain")]
            code = 0 if stats.clean and not unfixed and not applied.get("skipped") else 1
            echo(f"run `{invoked_as()} reconcile` again to confirm", err=quiet)
    rec.remember(ctx, report, fix=fix and yes)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    raise SystemExit(code)


REPORT_FORMATS = ("md", "csv", "json", "xlsx", "docx")
BINARY_FORMATS = ("xlsx", "docx")


def _office_writer(fmt: str) -> Callable[[ReportDocument, Path], None]:
    """``bridge.admin.report.office.write_xlsx`` or ``write_docx``, imported only when asked for:
    they need openpyxl / python-docx, which md, csv and json do not."""
    try:
        office = importlib.import_module("bridge.admin.report.office")
    except ImportError as exc:
        fail(f"--format {fmt} is not available in this installation ({exc})")
    writer: Callable[[ReportDocument, Path], None] = getattr(office, f"write_{fmt}")
    return writer


@click.command()
@click.option("--year", type=click.IntRange(2004, 2100), required=True, help="Calendar year.")
@click.option("--source", metavar="NAME", help="Only this source.")
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), default="md", show_default=True,
    help="md, csv (UTF-8 with BOM) and json print to stdout; xlsx and docx need --out.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout."
)
@click.pass_obj
def report(app: App, year: int, source: str | None, fmt: str, out: Path | None) -> None:
    """The annual report (政府信息公开工作年度报告) in the six parts of
    国办公开办函〔2021〕30号, with the figures the bridge knows filled in.

    \b
    The parts, in the official order and wording:
      一、总体情况                 the year's items and both timeliness measures;
                                   a place marked 【待填写】 for the bureau's text
      二、主动公开政府信息情况     the four official tables (行政规范性文件 row
                                   filled: 政策文件 with a 文号, to be checked by
                                   hand; 规章, 行政许可, 行政处罚, 行政强制 and
                                   收费 left to the offices), items per 组配分类
                                   and month, 公开时效 with its chart
      三、收到和处理政府信息公开申请情况   the official table, empty: the bridge
      四、政府信息公开行政复议、行政诉讼情况 never sees 依申请 requests or appeals
      五、存在的主要问题及改进情况 late items, pages lacking catalog fields
      六、其他需要报告的事项       for the bureau (信息处理费 and the rest)
    An appendix gives the counting rules, 归集时效, and the late, pending,
    counted-apart and baseline (存量) items one by one.

    \b
    Timeliness, in working days of the official calendar (holidays off,
    make-up working days on weekends count; the start day is not counted;
    more than 20 is late):
      - 公开时效: 生成日期 to 发布日期 (条例第二十六条); a 生成日期 the page
        does not show is counted apart, never judged;
      - 归集时效: 发布日期 to the portal's confirmation, also in hours;
      - 存量: items on the site before the bridge first read their column are
        listed and counted, never measured and never late.

    \b
    Formats: md (headings ## 一、总体情况 …), csv (UTF-8 with BOM, CRLF, one
    row per table row: table key, title, cells), json (the document and the
    figures), xlsx (one sheet per table) and docx (a Word document); xlsx and
    docx are written only with --out.

    \b
    Example:
      xxgk-bridge report --year 2025 > 2025年度报告.md
      xxgk-bridge report --year 2025 --format docx --out 2025年度报告.docx
      xxgk-bridge report --year 2025 --source yyedu --format csv --out 2025.csv
    """
    if fmt in BINARY_FORMATS and out is None:
        raise click.UsageError(f"--format {fmt} writes a file: give --out FILE.{fmt}")
    settings = app.settings()
    chosen = [settings.source(source)] if source else list(settings.sources)
    with app.db(create=False).read() as s:
        found = report_queries.report_items(s, source)
    result = annual.build(found, year, [c.name for c in chosen])
    publisher = "、".join(dict.fromkeys(c.publisher for c in chosen))
    doc = build_document(result, publisher)
    summary = (
        f"{result.total} items, {len(result.disclosure.late)} late in 公开时效, "
        f"{len(result.collection.late)} in 归集时效, {len(result.baseline)} baseline"
    )
    if fmt in BINARY_FORMATS:
        assert out is not None
        _office_writer(fmt)(doc, out)
        echo(f"wrote {out} ({summary})")
        return
    if fmt == "json":
        text = report_text.to_json(doc, result.as_json())
    elif fmt == "csv":
        text = report_text.to_csv(doc)
    else:
        text = report_text.to_markdown(doc)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8", newline="")
        echo(f"wrote {out} ({summary})")


@click.command()
@click.option("--host", help="Address to bind.  [default: admin.host, 127.0.0.1]")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port; 0 picks a free one. [default: 8803]"
)
@click.pass_obj
def web(app: App, host: str | None, port: int | None) -> None:
    """Serve the read-only admin pages without the daemon (status, audit trail, item
    history, last reconcile), with the daemon's authentication settings.

    Binding to an address other than loopback needs admin.token or
    admin.basic_user/basic_password in the config. Ctrl-C or SIGTERM stops it.

    \b
    Example:
      xxgk-bridge web --port 8803        # then open http://127.0.0.1:8803/
    """
    from bridge.admin.pages import mount
    from bridge.service.health import Metrics
    from bridge.service.web import AdminServer

    settings = app.settings()
    cfg = replace(
        settings.admin,
        host=host or settings.admin.host,
        port=settings.admin.port if port is None else port,
    )
    if cfg.host not in LOOPBACK_HOSTS and not (cfg.token or cfg.basic_user):
        fail(
            f"serving the audit trail on {cfg.host} needs admin.token or "
            "admin.basic_user/basic_password in the config"
        )
    short = admin_token_problem(cfg.host, cfg.token)
    if short:
        fail(f"admin.token {short}")
    db = app.db(create=False)
    server = AdminServer(cfg, settings=lambda: settings, db=db, metrics=Metrics(settings, db),
                         started_at=datetime.now(UTC))  # fmt: skip
    mount(server)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    url = server.start()
    echo(f"admin pages on {url} (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


COMMANDS = [reconcile, report, web]
