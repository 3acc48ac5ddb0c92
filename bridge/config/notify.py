"""The ``[[notify]]`` tables: where alarms and their recoveries are sent.

Each table is one channel: ``kind`` (webhook, email, wecom, dingtalk) and its settings,
``events`` (default: all) and ``repeat`` (the reminder interval while an episode lasts).
A webhook URL of a group robot carries its key, so every URL is read as a secret (from
the environment, a ``url_file``, a systemd credential, or the key itself) and shown only
without its query; the signing secret and the SMTP password likewise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bridge import defaults
from bridge.config.reader import Secret, Table, check_choice, check_http_url
from bridge.errors import Problem

NOTIFY_KINDS = ("webhook", "email", "wecom", "dingtalk")
# What can be chosen in ``events``; each has its recovery (see bridge.service.notify.episodes).
NOTIFY_EVENTS = (
    "credentials_refused",
    "circuit_open",
    "dead_letter",
    "layout_alarm",
    "quarantine",
    "lag",
    "daemon_failed",
)


@dataclass(frozen=True)
class NotifyConfig:
    kind: str
    where: str  # "notify[0]": names the channel in logs without its URL
    events: tuple[str, ...] = NOTIFY_EVENTS
    repeat: float = defaults.NOTIFY_REPEAT
    timeout: float = defaults.NOTIFY_TIMEOUT
    url: Secret | None = field(default=None, repr=False)
    endpoint: str | None = None  # the URL without query or credentials: safe to show and log
    secret: Secret | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    starttls: bool = False
    sender: str | None = None
    to: tuple[str, ...] = ()
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How logs name the channel: kind, table and endpoint, never a key."""
        shown = self.endpoint or (f"smtp://{self.smtp_host}:{self.smtp_port}")
        return f"{self.kind} {self.where} ({shown})"


def shown_endpoint(url: str) -> str:
    """``url`` without user info, query or fragment (a robot's key is in its query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _check_events(value: list[Any]) -> str | None:
    for name in value:
        if name not in NOTIFY_EVENTS:
            return f"unknown event {name!r} (known: {', '.join(NOTIFY_EVENTS)})"
    return None


def _check_addresses(value: list[Any]) -> str | None:
    if not value:
        return "must name at least one address"
    for entry in value:
        if not isinstance(entry, str) or "@" not in entry or any(c in entry for c in "\r\n,"):
            return f"must be a list of e-mail addresses, not {entry!r}"
    return None


def _check_address(value: str) -> str | None:
    if "@" not in value or any(c in value for c in "\r\n"):
        return f"must be an e-mail address, not {value!r}"
    return None


def build_notify(
    raw: Any, problems: list[Problem], environ: Mapping[str, str]
) -> tuple[NotifyConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem("notify", "must be a list of tables ([[notify]])"))
        return ()
    out = []
    for i, item in enumerate(raw):
        where = f"notify[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(where, "must be a table ([[notify]])"))
            continue
        built = _build_one(Table(item, where, problems, environ), i)
        if built is not None:
            out.append(built)
    return tuple(out)


def _build_one(t: Table, i: int) -> NotifyConfig | None:
    kind = t.get("kind", str, check=check_choice(NOTIFY_KINDS))
    events = tuple(t.get("events", list, list(NOTIFY_EVENTS), _check_events))
    repeat = t.duration("repeat", defaults.NOTIFY_REPEAT)
    timeout = t.duration("timeout", defaults.NOTIFY_TIMEOUT)
    env = f"BRIDGE_NOTIFY_{i}_"
    cfg: dict[str, Any] = {}
    if kind in ("webhook", "wecom", "dingtalk"):
        url = t.secret("url", env=env + "URL", credential=f"notify_{i}_url", required=True)
        if url is not None and check_http_url(url.reveal()):
            # not check_http_url's message: it quotes the value, which may hold a robot's key
            t.problem("url", f"must be an http:// or https:// URL (from {url.origin})")
            url = None
        cfg["url"] = url
        cfg["endpoint"] = shown_endpoint(url.reveal()) if url is not None else None
        if kind != "wecom":
            cfg["secret"] = t.secret(
                "secret", env=env + "SECRET", credential=f"notify_{i}_secret", required=False
            )
    elif kind == "email":
        cfg["smtp_host"] = t.get("smtp_host", str)
        cfg["smtp_port"] = t.get(
            "smtp_port", int, 25, lambda v: None if 0 < v < 65536 else "must be a port number"
        )
        cfg["starttls"] = t.get("starttls", bool, False)
        cfg["sender"] = t.get("from", str, check=_check_address)
        cfg["to"] = tuple(t.get("to", list, [], _check_addresses) or ())
        if not cfg["to"] and "to" not in t.data:
            t.problem("to", "is required")
        cfg["username"] = t.get("username", str, None)
        cfg["password"] = t.secret(
            "password", env=env + "PASSWORD", credential=f"notify_{i}_password", required=False
        )
        if (cfg["username"] is None) != (cfg["password"] is None):
            t.problem("username", "username and password go together")
    # keys of the other kinds are reported as not belonging to this one
    t.finish()
    if kind is None:
        return None
    return NotifyConfig(
        kind=kind, where=t.where, events=events, repeat=repeat, timeout=timeout, **cfg
    )
