"""The admin pages' words: Chinese for every state, result and reconcile note.

The pipeline, the CLI and the logs speak English (operators grep them); the admin pages
are read by the bureau's staff, so every machine word they show goes through here. A
word this module does not know is shown as it is, inside ``<code>`` (a machine value, not
prose), so nothing English reads as if it were a sentence of the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

RUN_RESULTS = {"ok": "正常", "failed": "失败", "alarm": "版式告警", "running": "运行中",
               "never run": "从未运行"}  # fmt: skip
CIRCUIT = {"closed": "关闭（正常）", "open": "打开（暂停发送）", "half-open": "半开（试探发送）"}
DELIVERY_STATUS = {"pending": "待发送", "inflight": "发送中", "done": "已完成", "dead": "死信",
                   "superseded": "已被新版本取代", "failed": "失败"}  # fmt: skip
ITEM_STATUS = {"active": "在网", "withdrawn": "已撤销", "quarantined": "隔离", "absent": "无",
               "-": "—"}  # fmt: skip
SITE_SIDE = {"listed": "在列", "missing": "已下线", "unknown": "未知"}
PORTAL_SIDE = {"active": "在网", "withdrawn": "已撤销", "absent": "无", "unknown": "未知",
               "-": "—"}  # fmt: skip
FIXES = {"put": "重新发送", "withdraw": "撤销", "drain": "等待发送", "held": "暂缓撤销",
         "delete": "撤销"}  # fmt: skip
ANSWERS = {"created": "新建", "updated": "更新", "unchanged": "未变", "withdrawn": "已撤销",
           "deleted": "已撤销"}  # fmt: skip

MEASURES = {"disclosure": "公开时效（生成日期→网站发布）",
            "collection": "归集时效（网站发布→平台确认）"}  # fmt: skip
BASELINE = "存量"


def word(table: Mapping[str, str], value: Any) -> str:
    """The Chinese word for a machine value; ``"—"`` for none, ``"其他"`` for an unknown one
    (the page shows the value itself next to it, in ``<code>``)."""
    if value is None or value == "":
        return "—"
    return table.get(str(value), "其他")


def _waiting(text: str) -> str:
    """``pending #12`` → ``待发送 #12``; ``dead #9: 422 …`` → ``死信 #9：422 …``."""
    m = re.fullmatch(r"(\w[\w-]*) #(\d+)(?:: (.*))?", text, re.S)
    if not m:
        return text
    out = f"{DELIVERY_STATUS.get(m[1], m[1])} #{m[2]}"
    return out + (f"：{m[3]}" if m[3] else "")


_WHY = {
    "not on the portal": "平台上没有",
    "withdrawn on the portal": "平台上已撤销",
    "the portal holds other content than the current version": "平台上的内容与当前版本不同",
}
_WHY_RE = "|".join(re.escape(w) for w in _WHY)

_NOTES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"quarantined: never sent"), lambda m: "隔离中，从未发送"),
    (re.compile(r"see `(?:xxgk-)?bridge status` for why"), lambda m: "原因见状态概览"),
    (re.compile(r"foreign: no configured source makes this id"),
     lambda m: "外来条目：没有哪个已配置的来源生成此标识"),
    (re.compile(r"reconcile never withdraws it"), lambda m: "对账从不撤销它"),
    (re.compile(r"gone from the site's complete listing, still active on the portal"),
     lambda m: "已从网站的完整列表中消失，平台上仍在网"),
    (re.compile(r"unknown to the state store"), lambda m: "状态库中没有它"),
    (re.compile(r"not on the portal, and the listing of column (.*) failed"),
     lambda m: f"平台上没有，且栏目 {m[1]} 的列表读取失败"),
    (re.compile(rf"({_WHY_RE}): re-send version (\d+)(?: \(last delivery (.*)\))?", re.S),
     lambda m: f"{_WHY[m[1]]}：重新发送第 {m[2]} 版"
     + (f"（上次发送 {_waiting(m[3])}）" if m[3] else "")),
    (re.compile(_WHY_RE), lambda m: _WHY[m[0]]),
    (re.compile(r"not in the state store yet: the next sync fetches it"),
     lambda m: "状态库中还没有：下次同步会抓取"),
    (re.compile(r"(\w+) in the state store: `(?:xxgk-)?bridge resync` settles it"),
     lambda m: f"状态库中为{ITEM_STATUS.get(m[1], m[1])}：运行 xxgk-bridge resync 可理顺"),
    (re.compile(r"delivery (.*) will send it", re.S), lambda m: f"发送任务 {_waiting(m[1])} 将发送它"),
    (re.compile(r"on the portal but not in the state store: `(?:xxgk-)?bridge resync` records it"),
     lambda m: "平台上有而状态库中没有：运行 xxgk-bridge resync 可补记"),
    (re.compile(r"(\w+) in the state store but active on the portal: `(?:xxgk-)?bridge resync` settles it"),
     lambda m: f"状态库中为{ITEM_STATUS.get(m[1], m[1])}，平台上却在网：运行 xxgk-bridge resync 可理顺"),
    (re.compile(r"its newest version is quarantined"), lambda m: "它的最新版本被隔离"),
    (re.compile(r"withdrawals are disabled for source (\S+) \(withdrawals = true\)"),
     lambda m: f"来源 {m[1]} 未开启撤销（需 withdrawals = true）"),
    (re.compile(r"its page is not on this site"), lambda m: "它的页面不在本网站"),
    (re.compile(r"not listed on the site, and its page cannot be checked: (.*)", re.S),
     lambda m: f"网站列表中没有，且无法检查它的页面：{m[1]}"),
    (re.compile(r"not listed on the site, but its page still answers: left alone"),
     lambda m: "网站列表中没有，但页面仍可访问：不处理"),
    (re.compile(r"its page answers (\d+)"), lambda m: f"页面返回 {m[1]}"),
    (re.compile(r"held: (\d+) of (\d+) items of column '(.*)' are gone "
                r"\((\d+%), more than max_withdraw_share (\d+%)\)"),
     lambda m: f"暂缓：栏目 {m[3]} 的 {m[2]} 条中有 {m[1]} 条消失（{m[4]}，"
     f"超过 max_withdraw_share {m[5]}）"),
    (re.compile(r"--force sends them"), lambda m: "加 --force 才会撤销"),
]  # fmt: skip


def note(text: str) -> tuple[str, list[str]]:
    """A reconcile note in Chinese, and the pieces it could not translate (error texts of
    a site or the portal, shown as they are)."""
    said, raw = [], []
    for piece in (p for p in (text or "").split("; ") if p):
        for pattern, say in _NOTES:
            m = pattern.fullmatch(piece)
            if m:
                said.append(say(m))
                break
        else:
            raw.append(piece)
    return "；".join(said), raw


def reconcile_summary(result: Mapping[str, Any]) -> str:
    """``共 3 处差异：仅网站有 1 (+)，…；一致 12 (=)`` from a stored reconcile result."""
    c = result.get("counts") or {}
    n = sum(v for k, v in c.items() if k != "=")
    text = (
        f"共 {n} 处差异：仅网站有 {c.get('+', 0)}（+），仅平台有 {c.get('-', 0)}（-），"
        f"内容不同 {c.get('*', 0)}（*），无法判断 {c.get('!', 0)}（!）；一致 {c.get('=', 0)}（=）"
    )
    foreign = sum(
        1 for line in result.get("lines") or [] if str(line.get("note", "")).startswith("foreign")
    )
    return text + (f"；{foreign} 条外来条目不处理" if foreign else "")


def revalidation_summary(cycle: Mapping[str, Any], local: Callable[[str | None], str]) -> str:
    """One source's last revalidation (bridge.crawl.revalidate.RevalidationCycle as stored):
    ``上一轮复核 7 个详情页（未修改 6，…）；全部旧条目在 … 前复核一遍``."""
    text = (
        f"上一轮复核 {cycle.get('checked', 0)} 个详情页（近期 {cycle.get('recent', 0)}，"
        f"旧条目 {cycle.get('old', 0)}）：未修改 {cycle.get('not_modified', 0)}，"
        f"重读无变化 {cycle.get('unchanged', 0)}，有改动 {cycle.get('changed', 0)}，"
        f"已不存在 {cycle.get('gone', 0)}"
    )
    if cycle.get("failed"):
        text += f"，失败 {cycle['failed']}"
    if cycle.get("full_by"):
        text += (
            f"；全部旧条目（{cycle.get('old_total', 0)} 条）在 {local(cycle['full_by'])} 前复核一遍"
        )
    return text + f"（{local(cycle.get('at'))}）"
