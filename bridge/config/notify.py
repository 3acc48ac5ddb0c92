"""The ``[[notify]]`` tables: where alarms and their recoveries are sent.

Each table is one channel: ``kind`` (webhook, email, wecom, dingtalk) and its settings,
``events`` (default: all) and ``repeat`` (the reminder interval while an episode lasts).
A webhook URL of a group robot carries its key, so every URL is read as a secret (from
the environment, a ``url_file``, a systemd credential, or the key itself) and shown only
without its query; the signing secret and the SMTP password likewise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from bridge import defaults
from bridge.config.keys import duration, key, names, read, required, secret
from bridge.config.reader import Secret, Table, check_choice, check_http_url
from bridge.errors import Problem

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


@dataclass(frozen=True, kw_only=True)
class NotifyConfig:
    """What every channel reads; ``kind`` picks the subclass, which adds its own keys."""

    kind: ClassVar[str]
    where: str  # "notify[0]": names the channel in logs without its URL
    events: tuple[str, ...] = key(NOTIFY_EVENTS, _check_events)
    repeat: float = duration(defaults.NOTIFY_REPEAT)
    timeout: float = duration(defaults.NOTIFY_TIMEOUT)

    @property
    def label(self) -> str:
        """How logs name the channel: kind, table and endpoint, never a key."""
        return f"{self.kind} {self.where} ({self.shown_address})"

    @property
    def shown_address(self) -> str:
        """Where notices go, safe to log: an endpoint without its query, an SMTP server."""
        raise NotImplementedError

    def address(self) -> str:
        """Where notices go, secrets included: hashed into the channel's id, never shown."""
        raise NotImplementedError

    def checked(self, t: Table) -> NotifyConfig:
        """Itself, after the checks that take more than one key (problems go to ``t``)."""
        return self


def _check_url(url: Secret) -> str | None:
    # not check_http_url's message: it quotes the value, which may hold a robot's key
    if check_http_url(url.reveal()):
        return f"must be an http:// or https:// URL (from {url.origin})"
    return None


@dataclass(frozen=True, kw_only=True)
class UrlNotifyConfig(NotifyConfig):
    """A channel reached by an HTTP POST to its URL (a robot's URL carries its key)."""

    url: Secret = secret(
        env="BRIDGE_NOTIFY_{i}_URL", credential="notify_{i}_url", required=True, check=_check_url
    )

    @property
    def endpoint(self) -> str | None:
        """The URL without query or credentials: safe to show and log."""
        return shown_endpoint(self.url.reveal()) if self.url is not None else None

    @property
    def shown_address(self) -> str:
        return self.endpoint or ""

    def address(self) -> str:
        return self.url.reveal()


@dataclass(frozen=True, kw_only=True)
class SignedNotifyConfig(UrlNotifyConfig):
    """A URL channel whose notices are signed with ``secret`` when it is set."""

    secret: Secret | None = secret(env="BRIDGE_NOTIFY_{i}_SECRET", credential="notify_{i}_secret")


@dataclass(frozen=True, kw_only=True)
class WebhookNotifyConfig(SignedNotifyConfig):
    """A JSON POST, signed (``X-Bridge-Signature``) when a ``secret`` is set."""

    kind: ClassVar[str] = "webhook"


@dataclass(frozen=True, kw_only=True)
class WecomNotifyConfig(UrlNotifyConfig):
    """A 企业微信 group robot: its key is in the URL."""

    kind: ClassVar[str] = "wecom"


@dataclass(frozen=True, kw_only=True)
class DingtalkNotifyConfig(SignedNotifyConfig):
    """A 钉钉 group robot: its access token in the URL, and its 加签 ``secret`` if set."""

    kind: ClassVar[str] = "dingtalk"


def _check_port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number"


@dataclass(frozen=True, kw_only=True)
class EmailNotifyConfig(NotifyConfig):
    """Mail through an SMTP server, with STARTTLS and a login if set."""

    kind: ClassVar[str] = "email"
    smtp_host: str = field(metadata=required())
    smtp_port: int = key(25, _check_port)
    starttls: bool = key(False)
    sender: str = field(metadata=required(_check_address, name="from"))
    to: tuple[str, ...] = field(metadata=required(_check_addresses))
    username: str | None = key(None)
    password: Secret | None = secret(
        env="BRIDGE_NOTIFY_{i}_PASSWORD", credential="notify_{i}_password"
    )

    @property
    def shown_address(self) -> str:
        return f"smtp://{self.smtp_host}:{self.smtp_port}"

    def address(self) -> str:
        return f"{self.smtp_host}{self.to}"

    def checked(self, t: Table) -> NotifyConfig:
        if (self.username is None) != (self.password is None):
            t.problem("username", "username and password go together")
        return self


KINDS: dict[str, type[NotifyConfig]] = {
    c.kind: c
    for c in (WebhookNotifyConfig, EmailNotifyConfig, WecomNotifyConfig, DingtalkNotifyConfig)
}
NOTIFY_KINDS = tuple(KINDS)

# ``config show`` lists every kind's keys, those of other kinds at their default (None when
# required), in this order: its output, and the config hash, stay as they were
SHOWN = ("kind", "where", "events", "repeat", "timeout", "url", "endpoint", "secret",
         "smtp_host", "smtp_port", "starttls", "sender", "to", "username", "password")  # fmt: skip
_SHOWN_DEFAULTS = {
    **{
        f.name: None if f.default is dataclasses.MISSING else f.default
        for c in KINDS.values()
        for f in dataclasses.fields(c)
    },
    "endpoint": None,
    "to": (),  # shown as [] for the channels that have no addresses
}


def shown_notify(cfg: NotifyConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k, _SHOWN_DEFAULTS.get(k)) for k in SHOWN}


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
    cls = KINDS.get(kind)
    if cls is None:  # no kind to read: the common keys are checked all the same
        read(NotifyConfig, t, where=t.where)
        t.finish()
        return None
    cfg = read(cls, t, index=i, where=t.where).checked(t)
    for name in [n for n in t.data if n not in t.used]:
        if users := [f'"{k}"' for k, keys in _OWN_KEYS.items() if name in keys]:
            t.used.add(name)
            said = ", ".join(users[:-1]) + " or " + users[-1] if len(users) > 1 else users[0]
            t.problem(name, f"only used with kind = {said}, not {kind!r}")
    t.finish()
    return cfg


_OWN_KEYS = {kind: set(names(c)) - set(names(NotifyConfig)) for kind, c in KINDS.items()}
