"""From audit events to episodes: what opens an alarm, what ends it, and its words.

Pure functions. An *episode* is one alarm from its start to its recovery (a layout alarm
of one source, the target's open circuit …), keyed so that a second event of the same
alarm while it lasts is not a second episode. Events come from the audit trail, so the
notifier sees what any process did (the daemon, ``sync --once``, a delivery process).
Dead letters, quarantined items and lag end by the state of the store, not by an event:
``bridge.service.notify.notifier`` checks those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge import audit

DELIVERY_RESUMED = "delivery.resumed"  # the first delivery accepted after a refusal
CREDENTIALS_REFUSED = "credentials refused"

# The audit events the notifier reads (its query asks for these only).
WATCHED = (
    audit.DELIVERY_FAILED,
    DELIVERY_RESUMED,
    audit.DELIVERY_DEAD,
    audit.CIRCUIT_OPENED,
    audit.CIRCUIT_CLOSED,
    audit.LAYOUT_ALARM,
    audit.RUN_FINISHED,
    audit.RECORD_QUARANTINED,
    audit.DAEMON_FAILED,
    audit.CONFIG_LOADED,
)

# event: (title while it lasts, title of its recovery)
TITLES = {
    "credentials_refused": ("门户拒绝了同步凭据（密钥或 key 错误）", "门户重新接受同步凭据"),
    "circuit_open": ("门户连续发送失败，已暂停发送（熔断）", "门户恢复，熔断已关闭"),
    "dead_letter": ("有记录多次发送失败，已转入死信", "死信已全部处理"),
    "layout_alarm": ("网站版式告警：栏目页面无法解析", "网站版式告警已解除"),
    "quarantine": ("有记录因校验未通过被隔离", "隔离的记录已全部解除"),
    "lag": ("同步滞后：长时间没有成功的同步", "同步恢复正常"),
    "daemon_failed": ("同步守护进程因错误停止", "同步守护进程已重新启动"),
}


@dataclass(frozen=True)
class Change:
    """An episode opened (``opened``) or ended (``opened=False``) by one audit event."""

    key: str
    event: str
    source: str | None
    opened: bool
    detail: str = ""


def _details(e: audit.AuditEvent) -> dict[str, Any]:
    try:
        return e.details_dict()
    except ValueError:
        return {}


def change_of(e: audit.AuditEvent, target: str) -> Change | None:
    """What ``e`` does to an episode, or None when it is not an alarm or its end."""
    d = _details(e)
    name = e.event
    if name == audit.DELIVERY_FAILED and d.get("reason") == CREDENTIALS_REFUSED:
        return Change(f"credentials_refused:{target}", "credentials_refused", target, True,
                      _text(d.get("error")))  # fmt: skip
    if name == DELIVERY_RESUMED and d.get("after") == CREDENTIALS_REFUSED:
        return Change(f"credentials_refused:{target}", "credentials_refused", target, False)
    if name == audit.CIRCUIT_OPENED:
        t = str(d.get("target") or target)
        return Change(f"circuit_open:{t}", "circuit_open", t, True, _text(d.get("last_error")))
    if name == audit.CIRCUIT_CLOSED:
        t = str(d.get("target") or target)
        return Change(f"circuit_open:{t}", "circuit_open", t, False)
    if name == audit.DELIVERY_DEAD:
        return Change(f"dead_letter:{target}", "dead_letter", target, True,
                      f"{e.item or ''} {_text(d.get('error'))}".strip())  # fmt: skip
    if name == audit.LAYOUT_ALARM and e.source:
        return Change(f"layout_alarm:{e.source}", "layout_alarm", e.source, True,
                      _text(d.get("message")))  # fmt: skip
    if name == audit.RUN_FINISHED and e.source and d.get("status") == "ok":
        return Change(f"layout_alarm:{e.source}", "layout_alarm", e.source, False)
    if name == audit.RECORD_QUARANTINED and e.source:
        problems = d.get("problems")
        shown = "；".join(map(str, problems)) if isinstance(problems, list) else ""
        return Change(f"quarantine:{e.source}", "quarantine", e.source, True,
                      f"{e.item or ''} {shown}".strip())  # fmt: skip
    if name == audit.DAEMON_FAILED:
        return Change("daemon_failed", "daemon_failed", None, True, _text(d.get("error")))
    if name == audit.CONFIG_LOADED and e.actor.startswith(audit.DAEMON) and not d.get("reload"):
        return Change("daemon_failed", "daemon_failed", None, False)
    return None


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())[:500]


def message(event: str, state: str, source: str | None, detail: str, since: str) -> str:
    """The Chinese text of a notice (``state``: opened, reminder, recovered)."""
    lasting, recovered = TITLES[event]
    where = f"【{source}】" if source else ""
    if state == "recovered":
        return f"{where}{recovered}（自 {since} 起的告警已结束）"
    text = f"{where}{lasting}"
    if state == "reminder":
        text += f"，自 {since} 起仍未解决"
    if detail:
        text += f"。详情：{detail}"
    return text
