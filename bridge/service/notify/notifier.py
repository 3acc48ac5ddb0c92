"""One notifier pass: read the audit trail after a stored cursor, keep episodes, send.

The audit trail already records every alarm and its end, whichever process met it, so
the notifier needs no hook in the crawl or delivery code: it reads the watched events
after its cursor, opens and ends episodes (``bridge.service.notify.episodes``), checks what ends
by the state of the store (no dead letter left, no item quarantined, lag), and sends one
notice per episode to each channel that chose its event, a reminder at most every
``repeat`` while it lasts, and one when it ends.

The cursor and the episodes are kept in the state store (the ``cursors`` table, under a
name no source can have), decided and written in one write transaction *before* sending,
so two passes never send the same notice and a restart sends nothing again. A channel
that did not accept an opening notice after a few quick tries is marked, and offered it
again after ``NOTIFY_RETRY_UNSENT``. A pass never raises: a sync is never held up by it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bridge import defaults
from bridge.config import NotifyConfig, Settings
from bridge.service.notify.channels import Notice, SendFailed, send
from bridge.service.notify.episodes import WATCHED, change_of, message
from bridge.service.status import max_lag
from bridge.state import audit_log, outbox, runs
from bridge.state.db import Database
from bridge.state.models import RunRow

log = logging.getLogger(__name__)

STATE_SOURCE = "@notify"  # a cursors row of no source: source names cannot hold "@"
STATE_KEY = "state"
TZ = ZoneInfo("Asia/Shanghai")
BATCH = 5000


def local(ts: datetime) -> str:
    return ts.astimezone(TZ).isoformat(timespec="seconds")


def channel_id(i: int, channel: NotifyConfig) -> str:
    """Stable while the channel's place and address stay (a hash: no key is stored)."""
    digest = hashlib.sha256(channel.address().encode()).hexdigest()[:12]
    return f"{i}:{channel.kind}:{digest}"


@dataclass(frozen=True)
class Outgoing:
    channel: int
    key: str
    notice: Notice


@dataclass
class PassResult:
    sent: int = 0
    failed: int = 0


def run_pass(settings: Settings, db: Database, *, now: datetime | None = None) -> PassResult:
    """One pass; logs and swallows every error (a notifier never fails its caller)."""
    if not settings.notify:
        return PassResult()
    try:
        return _run(settings, db, now or datetime.now(UTC))
    except Exception as exc:  # the sync that called us must go on whatever happens here
        log.exception("notifier pass failed: %s", type(exc).__name__)
        return PassResult()


def _run(settings: Settings, db: Database, now: datetime) -> PassResult:
    with db.write() as s:
        outgoing = _decide(settings, s, now)
    result = PassResult()
    failed: list[Outgoing] = []
    for out in outgoing:
        channel = settings.notify[out.channel]
        try:
            _send_with_retries(channel, out.notice)
        except SendFailed as exc:
            result.failed += 1
            log.error(
                "notification %s (%s) to %s not sent after %d attempt(s): %s",
                out.notice.event, out.notice.state, channel.label,
                defaults.NOTIFY_ATTEMPTS, exc,
            )  # fmt: skip
            if out.notice.state != "recovered":
                failed.append(out)
        else:
            result.sent += 1
            log.info(
                "notified %s: %s (%s) %s",
                channel.label, out.notice.event, out.notice.state, out.notice.source or "-",
            )  # fmt: skip
    if failed:
        with db.write() as s:
            state = runs.get_cursor(s, STATE_SOURCE, STATE_KEY) or {}
            episodes = state.get("episodes", {})
            for out in failed:
                cid = channel_id(out.channel, settings.notify[out.channel])
                if out.key in episodes:
                    episodes[out.key]["sent"][cid] = {"at": now.isoformat(), "ok": False}
            runs.set_cursor(s, STATE_SOURCE, STATE_KEY, state)
    return result


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    channel = state.args[0] if state.args else None
    log.warning(
        "notification to %s failed (%s); trying again",
        getattr(channel, "label", "?"), exc,
    )  # fmt: skip


@retry(
    retry=retry_if_exception_type(SendFailed),
    stop=stop_after_attempt(defaults.NOTIFY_ATTEMPTS),
    wait=wait_exponential(
        multiplier=defaults.NOTIFY_RETRY_WAIT, max=4 * defaults.NOTIFY_RETRY_WAIT
    ),
    before_sleep=_log_retry,
    reraise=True,
)
def _send_with_retries(channel: NotifyConfig, notice: Notice) -> None:
    send(channel, notice)


# --- deciding ------------------------------------------------------------------------------


def _decide(settings: Settings, s: Session, now: datetime) -> list[Outgoing]:
    """Advance the cursor and the episodes; return what to send (already marked sent)."""
    stored = runs.get_cursor(s, STATE_SOURCE, STATE_KEY)
    first = stored is None  # a first pass announces what is wrong now, not past episodes
    state: dict[str, Any] = stored or {"cursor": 0, "episodes": {}}
    episodes: dict[str, dict[str, Any]] = state["episodes"]
    target = settings.target.name
    opened_now: set[str] = set()
    ended: dict[str, dict[str, Any]] = {}

    def open_(key: str, event: str, source: str | None, since: datetime, detail: str) -> None:
        if key not in episodes:
            episodes[key] = {"event": event, "source": source, "since": local(since),
                             "detail": detail, "sent": {}}  # fmt: skip
            opened_now.add(key)

    def end(key: str) -> None:
        if key in episodes:
            ended[key] = episodes.pop(key)

    cursor = int(state.get("cursor", 0))
    while True:
        batch = audit_log.query(
            s, audit_log.AuditFilter(events=WATCHED, after_id=cursor), limit=BATCH
        )
        for e in batch:
            change = change_of(e, target)
            if change is not None and change.opened:
                open_(change.key, change.event, change.source, e.ts, change.detail)
            elif change is not None:
                end(change.key)
            cursor = e.id
        if len(batch) < BATCH:
            break
    state["cursor"] = cursor
    for key in _ended_by_state(settings, s, episodes):
        end(key)
    for source, detail in _lagging(settings, s, now).items():
        if detail is None:
            end(f"lag:{source}")
        else:
            open_(f"lag:{source}", "lag", source, now, detail)

    outgoing: list[Outgoing] = []
    at = local(now)
    for i, channel in enumerate(settings.notify):
        cid = channel_id(i, channel)
        for key, ep in episodes.items():
            if ep["event"] not in channel.events:
                continue
            state_word = _due(ep["sent"].get(cid), channel, now)
            if state_word:
                outgoing.append(_outgoing(i, key, ep, state_word, at))
                ep["sent"][cid] = {"at": now.isoformat(), "ok": True}
        if first:
            continue
        for key, ep in ended.items():
            if ep["event"] not in channel.events:
                continue
            if key in opened_now:  # began and ended since the last pass: say both
                outgoing.append(_outgoing(i, key, ep, "opened", at))
            elif cid not in ep["sent"]:
                continue  # this channel never heard of it
            outgoing.append(_outgoing(i, key, ep, "recovered", at))
    runs.set_cursor(s, STATE_SOURCE, STATE_KEY, state)
    return outgoing


def _due(sent: dict[str, Any] | None, channel: NotifyConfig, now: datetime) -> str | None:
    if sent is None:
        return "opened"
    age = (now - datetime.fromisoformat(sent["at"])).total_seconds()
    if not sent["ok"]:
        return "opened" if age >= defaults.NOTIFY_RETRY_UNSENT else None
    return "reminder" if age >= channel.repeat else None


def _outgoing(i: int, key: str, ep: dict[str, Any], state: str, at: str) -> Outgoing:
    text = message(ep["event"], state, ep["source"], ep.get("detail", ""), ep["since"])
    return Outgoing(i, key, Notice(ep["event"], state, ep["source"], text, at, ep["since"]))


def _ended_by_state(settings: Settings, s: Session, episodes: dict[str, Any]) -> list[str]:
    """Open dead-letter and quarantine episodes whose cause is gone from the store."""
    gone = []
    dead_key = f"dead_letter:{settings.target.name}"
    if dead_key in episodes and not outbox.counts(s, settings.target.name).get("dead", 0):
        gone.append(dead_key)
    if any(k.startswith("quarantine:") for k in episodes):
        counts = runs.item_counts(s)
        for key in [k for k in episodes if k.startswith("quarantine:")]:
            if not counts.get(key.split(":", 1)[1], {}).get("quarantined", 0):
                gone.append(key)
    return gone


def _lagging(settings: Settings, s: Session, now: datetime) -> dict[str, str | None]:
    """Per source with runs: what is late (in words) if it is, else None.

    Too long is ``bridge.service.status.max_lag`` (``[status] max_lag``, else
    ``daemon.health_intervals`` poll intervals), as ``bridge status`` and ``/healthz``
    judge it; a source that never succeeded is judged from its first run."""
    out: dict[str, str | None] = {}
    for source in settings.sources:
        ok = runs.last_success(s, source.name)
        ref = ok.finished_at if ok is not None else None
        what = "最近一次成功同步"
        if ref is None:
            what = "从未成功同步，首次运行"
            ref = s.execute(
                select(func.min(RunRow.started_at)).where(RunRow.source == source.name)
            ).scalar_one_or_none()
            if ref is None:
                continue  # never run: nothing to judge
        window = timedelta(seconds=max_lag(settings, source))
        out[source.name] = f"{what}：{local(ref)}" if now - ref > window else None
    return out
