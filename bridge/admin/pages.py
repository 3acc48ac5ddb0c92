"""The read-only admin pages: status, audit trail, one item's history, last reconcile.

Server-rendered with Jinja2, autoescaping on for every template: titles and bodies come
from a scraped website and may contain markup or script, which must show as text. No
JavaScript: filters are a GET form, paging is links, long details fold in ``<details>``.
A strict Content-Security-Policy (no scripts at all) backs up the escaping.
``mount`` hangs the pages under ``/`` of the daemon's (or ``bridge web``'s) AdminServer,
which already checks the bearer token or basic auth.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bridge import __version__, audit
from bridge.admin import charts
from bridge.admin import text as admin_text
from bridge.admin.diff import record_diff
from bridge.net.query_params import whole_number
from bridge.provenance import field_rows
from bridge.service import status as status_view
from bridge.service.health import PUBLICATION_BUCKETS
from bridge.service.web import AdminServer, Request, Response
from bridge.state import (
    admin_queries,
    admin_stats,
    audit_log,
    audit_queries,
    live_timeliness,
    runs,
)
from bridge.state.audit_log import AuditFilter
from bridge.workdays import BUCKETS, LEGAL_LIMIT, local_date, working_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50  # audit rows per page: one screen of a laptop, a quick page to render
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
EVENT_LABELS = {
    audit.RUN_STARTED: "运行开始", audit.RUN_FINISHED: "运行结束", audit.RUN_SKIPPED: "运行跳过",
    audit.CONFIG_LOADED: "加载配置", audit.CONFIG_REFUSED: "拒绝加载配置（保留原配置）",
    audit.ITEM_DISCOVERED: "发现条目",
    audit.RECORD_CHANGED: "记录新版本", audit.RECORD_QUARANTINED: "隔离（校验未通过）",
    audit.RECORD_RELEASED: "解除隔离", audit.ITEM_WITHDRAWN: "撤销", audit.INDEX_NO_MINTED: "生成索引号",
    audit.DELIVERY_SENT: "发送到平台", audit.DELIVERY_RETURNED: "未发送，退回队列",
    audit.DELIVERY_CONFIRMED: "平台已确认",
    audit.DELIVERY_FAILED: "发送失败（将重试）", audit.DELIVERY_DEAD: "发送失败（死信）",
    audit.DELIVERY_RETRIED: "死信重发", audit.DELIVERY_RESUMED: "恢复发送",
    audit.CIRCUIT_OPENED: "熔断打开",
    audit.CIRCUIT_CLOSED: "熔断关闭", audit.LAYOUT_ALARM: "版式告警", audit.RESYNC_REQUESTED: "请求重新同步",
    audit.DB_UPGRADED: "升级数据库", audit.RECORD_FLAGGED: "按页面原样保留（附备注）",
    audit.DAEMON_FAILED: "守护进程出错停止", audit.SOURCE_PAUSED: "暂停来源",
    audit.SOURCE_RESUMED: "恢复来源", admin_queries.RECONCILE_FIX: "对账修复",
    admin_queries.RECONCILE_FINISHED: "对账完成", admin_queries.AUDIT_EXPORTED: "导出审计日志",
}  # fmt: skip
SYMBOL_LABELS = {"=": "一致", "+": "仅网站有", "-": "仅平台有", "*": "内容不同", "!": "无法判断"}


def _local(value: datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def item_url(external_id: str) -> str:
    return "/items/" + quote(external_id, safe=":")


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bridge", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local=_local, item_url=item_url, pretty=_pretty)
    env.globals.update(
        version=__version__, event_label=lambda e: EVENT_LABELS.get(e, "其他事件"),
        symbols=SYMBOL_LABELS, word=admin_text.word, t=admin_text, note=admin_text.note,
    )  # fmt: skip
    return env


ENV = _environment()


def render(template: str, status: int = 200, **context: Any) -> Response:
    body = ENV.get_template(template).render(**context).encode("utf-8")
    return Response(status, body, "text/html; charset=utf-8", dict(HEADERS))


def not_found(what: str) -> Response:
    return render("not_found.html", 404, active="", what=what)


OVER_LIMIT = tuple(label for label, top in BUCKETS if top < 0)  # the bars past the limit


def _timeliness(db: Any, now: datetime) -> list[live_timeliness.Figures]:
    """Both measures over the whole store, from the figures /metrics keeps current."""
    tallies = live_timeliness.of(db, PUBLICATION_BUCKETS).refresh().values()
    total = live_timeliness.combined(tallies)
    return [total.figures("disclosure", now), total.figures("collection", now)]


# --- pages -----------------------------------------------------------------------------------------


class Pages:
    """The handlers; each opens one read transaction on the server's state store."""

    def __init__(self, server: AdminServer) -> None:
        self.server = server

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            return self.status(request)
        if path == "/audit":
            return self.audit(request)
        if path == "/audit.csv":
            return self.audit_csv(request)
        if path == "/charts":
            return self.charts(request)
        if path.startswith("/items/") and len(path) > len("/items/"):
            external_id = unquote(path[len("/items/") :])
            if not external_id.isprintable():  # no id holds control characters (or NUL,
                return not_found(external_id)  # which PostgreSQL refuses in a parameter)
            return self.item(external_id)
        if path == "/reconcile":
            return self.reconcile(request)
        return not_found(path)

    def status(self, request: Request) -> Response:
        settings = self.server.settings()
        target = settings.target.name
        view = status_view.read(settings, self.server.db)
        quarantined = [(q["item"], q) for q in view.quarantined]
        dead = [(d["item"], d["error"], d["delivery"]) for d in view.dead_letters]
        with self.server.db.read() as s:
            recent = audit_log.query(s, AuditFilter(), limit=15, newest_first=True)
            last_reconcile = runs.get_cursor(
                s, admin_queries.CURSOR_SOURCE, admin_queries.LAST_RECONCILE
            )
            names = admin_queries.known_titles(
                s, [e for e, _, _ in dead] + [e for e, _ in quarantined]
                + [e.item for e in recent if e.item]
            )  # fmt: skip
        sources = [
            {"name": src.name, "started_at": src.last_run, "result": src.result,
             "message": src.message, "lag": _duration(src.lag_seconds),
             "active": src.active, "withdrawn": src.withdrawn, "pending": src.pending,
             "retrying": src.failed, "dead": src.dead, "quarantined": src.quarantined,
             "paused": src.paused,
             "revalidation": src.revalidation
             and admin_text.revalidation_summary(src.revalidation, _local)}
            for src in view.sources
        ]  # fmt: skip
        return render(
            "status.html", active="status", sources=sources, target=target, view=view,
            quarantined=quarantined, dead=dead, names=names, recent=recent,
            last_reconcile=last_reconcile, now=view.at,
        )  # fmt: skip

    def _audit_filter(self, request: Request) -> tuple[dict[str, str], AuditFilter, list[str]]:
        """The /audit form's values, the filter they make, and what is wrong with them."""
        problems: list[str] = []
        form = {k: request.arg(k).strip() for k in ("since", "until", "event", "item", "source")}
        since = _when("起始", form["since"], False, problems)
        until = _when("截止", form["until"], True, problems)
        f = AuditFilter(
            since=since,
            until=until,
            events=(form["event"],) if form["event"] else (),
            item=form["item"] or None,
            source=form["source"] or None,
        )
        return form, f, problems

    def audit_csv(self, request: Request) -> Response:
        """The filtered trail as ``bridge audit --format csv`` writes it, oldest first."""
        _form, f, problems = self._audit_filter(request)
        if problems:
            body = ("请求有误：" + "；".join(problems) + "\n").encode()
            return Response(400, body, "text/plain; charset=utf-8", dict(HEADERS))
        with self.server.db.read() as s:
            events = audit_log.query(s, f)
        out = io.StringIO()
        writer = audit.csv_writer(out)
        for e in sorted(events, key=lambda e: e.id):
            writer.writerow(audit.csv_row(e))
        day = datetime.now(SHANGHAI).strftime("%Y%m%d")
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="audit-{day}.csv"'}
        return Response(200, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", headers)

    def charts(self, request: Request) -> Response:
        now = datetime.now(UTC)
        target = self.server.settings().target.name
        with self.server.db.read() as s:
            backlog = admin_stats.backlog(s, target, now)
            daily = admin_stats.confirmed_per_day(s, now)
            latency = admin_stats.latency(s, now)
        measures = _timeliness(self.server.db, now)
        backlog_points = [(_local(at)[5:13] + "时", n) for at, n in backlog]
        daily_bars = [(d.strftime("%m-%d"), n) for d, n in daily]
        svgs = {
            "backlog": charts.line_chart(
                backlog_points, chart_id="chart-backlog", title="待发送积压（近 7 天）",
                desc=f"每 6 小时一个点，共 {len(backlog)} 个点；最新 {backlog[-1][1]} 条，"
                f"最高 {max(n for _, n in backlog)} 条。", y_label="条", x_label="时间（北京时间）",
                label_every=4,
            ),
            "daily": charts.bar_chart(
                daily_bars, chart_id="chart-daily", title="每日平台确认的发送（近 30 天）",
                desc=f"30 天共 {sum(n for _, n in daily)} 次平台确认。", y_label="次",
                x_label="日期（北京时间）",
            ),
            "latency": charts.bar_chart(
                latency.buckets, chart_id="chart-latency", title="发布到平台确认的用时（近 90 天）",
                desc=f"近 90 天首次确认的 {latency.items} 个条目按用时分组。", y_label="条",
                x_label="从发布日期到平台首次确认",
            ),
        }  # fmt: skip
        for m in measures:
            svgs[m.name] = charts.bar_chart(
                m.buckets, chart_id=f"chart-{m.name}", title=admin_text.MEASURES[m.name],
                desc=f"已完成的 {sum(n for _, n in m.buckets)} 个条目按工作日分组；"
                f"超过 {LEGAL_LIMIT} 个工作日的 {m.late} 个（含尚在等待的）另色标出。",
                y_label="条", x_label="工作日（起算日不计）", over=OVER_LIMIT,
            )  # fmt: skip
        return render(
            "charts.html", active="charts", svgs=svgs, backlog=backlog_points, daily=daily_bars,
            latency=latency, target=target, measures=measures, words=admin_text.MEASURES,
            limit=LEGAL_LIMIT,
        )  # fmt: skip

    def audit(self, request: Request) -> Response:
        form, f, problems = self._audit_filter(request)
        before_id = whole_number(request.query, "before", 0)
        sources = [s.name for s in self.server.settings().sources]
        query = {k: v for k, v in form.items() if v}
        csv_link = "/audit.csv" + ("?" + urlencode(query) if query else "")
        if problems:  # the form again, saying what to correct; no trail filtered half-way
            return render(
                "audit.html", 400, active="audit", events=[], total=0, form=form,
                problems=problems, names=list(audit.EVENTS), sources=sources, older=None,
                newer=None, item_title=None, titles={}, csv_link=None,
            )  # fmt: skip
        with self.server.db.read() as s:
            events, total, more = audit_queries.audit_page(
                s, f, before_id=before_id, limit=PAGE_SIZE
            )
            names = audit_queries.event_names(s)
            named = {e.item for e in events if e.item} | ({f.item} if f.item else set())
            titles = admin_queries.known_titles(s, named)
        older = urlencode({**query, "before": events[-1].id}) if more and events else None
        newer = urlencode(query) if before_id is not None else None
        return render(
            "audit.html", active="audit", events=events, total=total, form=form, problems=problems,
            names=names, sources=sources, older=older, newer=newer,
            item_title=titles.get(f.item) if f.item else None, titles=titles, csv_link=csv_link,
        )  # fmt: skip

    def item(self, external_id: str) -> Response:
        with self.server.db.read() as s:
            history = admin_queries.item_history(s, external_id)
            if history is None:
                return not_found(external_id)
            numbers = audit_queries.version_numbers(
                s, [d.version_id for d in history.deliveries if d.version_id]
            )
        records = [json.loads(v.record) for v in history.versions]
        versions = []
        for i, (v, record) in enumerate(zip(history.versions, records, strict=True)):
            diff = record_diff(records[i - 1], record) if i else []
            versions.append({"row": v, "record": record, "diff": diff})
        item = history.item
        latency = None
        if item.published_at and item.first_confirmed_at:
            latency = working_days(
                local_date(item.published_at), local_date(item.first_confirmed_at)
            )
        title = records[-1].get("title") if records else None
        if not title:  # quarantined before its first version: its audit events name it
            with self.server.db.read() as s:
                title = admin_queries.known_titles(s, [external_id]).get(external_id)
        fields = field_rows(records[-1], item.index_no) if records else []
        remarks = records[-1].get("remarks", []) if records else []
        return render(
            "item.html", active="", item=item, source=history.source, title=title, versions=versions,
            fields=fields, remarks=remarks,
            deliveries=history.deliveries, numbers=numbers, events=history.events,
            latency=latency, quarantine=json.loads(item.quarantine) if item.quarantine else None,
            titles={external_id: title or ""},
        )  # fmt: skip

    def reconcile(self, request: Request) -> Response:
        with self.server.db.read() as s:
            result = runs.get_cursor(s, admin_queries.CURSOR_SOURCE, admin_queries.LAST_RECONCILE)
            lines = (result or {}).get("lines") or []
            titles = {ln["external_id"]: ln.get("title") or "" for ln in lines}
            titles.update(
                admin_queries.known_titles(s, [i for i, title in titles.items() if not title])
            )
        return render("reconcile.html", active="reconcile", result=result, titles=titles)


def _when(name: str, text: str, end: bool, problems: list[str]) -> datetime | None:
    """A date (a whole day; ``end`` means up to its end) or a date-time, Asia/Shanghai."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        else:
            moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
        return moment.astimezone(UTC)  # here, where a year 1 or 9999 cannot be stored
    except (ValueError, OverflowError):
        problems.append(f"{name}：无法识别的时间：{text}（格式 2026-11-28 或 2026-11-28T09:30）")
        return None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.0f} 小时"


def mount(server: AdminServer) -> None:
    """Hang the admin pages under ``/`` (``/healthz`` and ``/metrics`` keep their routes)."""
    server.add("/", Pages(server).route)
