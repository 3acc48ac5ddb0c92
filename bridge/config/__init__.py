"""Configuration: one TOML file, environment overrides, secrets from several places.

Every key is read through a ``Table`` reader that knows its type and default, marks
secrets, and collects problems instead of raising at the first one, so ``bridge config
check`` can report everything that is wrong at once (file, key, what is wrong).

Secrets (the portal secret; passwords inside database URLs) are wrapped in ``Secret``,
whose ``str`` and ``repr`` never show the value. A secret is looked up in this order:

1. the environment variable named for it (``BRIDGE_TARGET_SECRET``);
2. the file named by the ``*_file`` key (``secret_file = "/etc/bridge/portal.secret"``);
3. systemd credentials: ``$CREDENTIALS_DIRECTORY/<credential name>``;
4. the key itself in the config file (fine for the sandbox, not for production).

Any scalar key of the ``[bridge]``, ``[fetch]``, ``[target]``, ``[delivery]``, ``[daemon]``,
``[status]`` and ``[admin]`` tables can be overridden by ``BRIDGE_<TABLE>_<KEY>`` (upper case);
``BRIDGE_STATE_URL`` is the short form for ``bridge.state_url``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bridge import __version__, defaults
from bridge.config.dburl import check_state_url, redact_url
from bridge.config.keys import duration, key, read, secret
from bridge.config.notify import NOTIFY_EVENTS, NOTIFY_KINDS, NotifyConfig, build_notify
from bridge.config.reader import (
    Secret,
    Table,
    check_choice,
    check_positive,
    parse_duration,
)
from bridge.config.show import shown
from bridge.config.sources import (
    SOURCE_KINDS,
    ColumnConfig,
    FetchConfig,
    HanwebConfig,
    HanwebSourceConfig,
    SelectorsConfig,
    SelectorsSourceConfig,
    SourceConfig,
    TrsSourceConfig,
    build_fetch,
    build_sources,
)
from bridge.config.targets import (
    TARGET_KINDS,
    ExchangeDbConfig,
    ExchangeDirConfig,
    HttpTargetConfig,
    MemoryTargetConfig,
    TargetConfig,
    build_target,
)
from bridge.errors import ConfigError, Problem
from bridge.net.client import UNSIGNED_UPLOAD_HEADERS, plain_http_exposed

__all__ = [
    "NOTIFY_EVENTS",
    "NOTIFY_KINDS",
    "SOURCE_KINDS",
    "TARGET_KINDS",
    "AdminConfig",
    "ColumnConfig",
    "DaemonConfig",
    "DeliveryConfig",
    "ExchangeDbConfig",
    "ExchangeDirConfig",
    "FetchConfig",
    "HanwebConfig",
    "HanwebSourceConfig",
    "HttpTargetConfig",
    "MemoryTargetConfig",
    "NotifyConfig",
    "Secret",
    "SelectorsConfig",
    "SelectorsSourceConfig",
    "Settings",
    "SourceConfig",
    "StatusConfig",
    "TargetConfig",
    "TrsSourceConfig",
    "load",
    "parse_duration",
    "redact_url",
    "resolve_path",
    "warnings",
]

T = TypeVar("T")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")  # admin binds only this machine can reach


def _check_process(value: object) -> str | None:
    if isinstance(value, bool) or value == "auto":
        return None
    return f'must be true, false or "auto", not {value!r}'


def _check_host_names(entries: list[Any]) -> str | None:
    for entry in entries:
        if not isinstance(entry, str) or not entry or any(c in entry for c in "/\\@ \t"):
            return f"must be a list of host names (optionally host:port), not {entry!r}"
    return None


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = key(defaults.MAX_ATTEMPTS, check_positive)
    backoff_initial: float = duration(defaults.BACKOFF_INITIAL)
    backoff_max: float = duration(defaults.BACKOFF_MAX)
    retry_after_cap: float = duration(defaults.RETRY_AFTER_CAP)
    lease_seconds: float = duration(defaults.LEASE_SECONDS)
    batch: int = key(defaults.DRAIN_BATCH, check_positive)
    circuit_threshold: int = key(defaults.CIRCUIT_THRESHOLD, check_positive)
    circuit_cooldown: float = duration(defaults.CIRCUIT_COOLDOWN)
    concurrency: int = key(defaults.DELIVERY_CONCURRENCY, check_positive)
    # True, False or "auto"; any TOML value, so that every wrong one gets the message
    # that lists the choices
    process: bool | str = key(defaults.DELIVERY_PROCESS, _check_process, toml=(bool, object))


@dataclass(frozen=True)
class DaemonConfig:
    drain_interval: float = duration(defaults.DRAIN_INTERVAL)
    resync_poll: float = duration(defaults.RESYNC_POLL)
    shutdown_timeout: float = duration(defaults.SHUTDOWN_TIMEOUT)
    misfire_grace_time: float = duration(defaults.MISFIRE_GRACE_TIME)
    jitter: float = key(defaults.SCHEDULE_JITTER, lambda v: None if v >= 0 else "must be 0 or more")
    health_intervals: int = key(defaults.HEALTH_INTERVALS, check_positive)
    housekeeping_interval: float = duration(defaults.HOUSEKEEPING_INTERVAL)
    lease: float = duration(defaults.WORKER_LEASE)
    parallel_sources: int = key(defaults.PARALLEL_SOURCES, check_positive)


@dataclass(frozen=True)
class StatusConfig:
    # seconds without a successful run before a source needs attention; None: the
    # source's daemon.health_intervals poll intervals (see bridge.service.status)
    max_lag: float | None = duration(defaults.STATUS_MAX_LAG)


@dataclass(frozen=True)
class AdminConfig:
    enabled: bool = key(True)
    host: str = key(defaults.ADMIN_HOST)
    port: int = key(
        defaults.ADMIN_PORT, lambda v: None if 0 <= v < 65536 else "must be a port number"
    )
    token: Secret | None = secret(env="BRIDGE_ADMIN_TOKEN", credential="admin_token")
    basic_user: str | None = key(None)
    basic_password: Secret | None = secret(
        env="BRIDGE_ADMIN_BASIC_PASSWORD", credential="admin_basic_password"
    )
    # Host header values answered besides the bind address, localhost and the loopback
    # addresses (the names a reverse proxy or the operator's browser uses)
    hosts: tuple[str, ...] = key((), _check_host_names)


@dataclass(frozen=True)
class BridgeConfig:
    """The ``[bridge]`` table."""

    state_url: str = key(defaults.STATE_URL, check_state_url)
    operator: str = key("unconfigured operator")
    log_level: str = key("INFO", check_choice(("DEBUG", "INFO", "WARNING", "ERROR")))
    log_format: str = key(defaults.LOG_FORMAT, check_choice(("text", "json")))


@dataclass(frozen=True)
class Settings:
    path: Path | None
    state_url: Secret
    operator: str
    log_level: str
    sources: tuple[SourceConfig, ...]
    target: TargetConfig
    delivery: DeliveryConfig
    daemon: DaemonConfig = DaemonConfig()
    admin: AdminConfig = AdminConfig()
    notify: tuple[NotifyConfig, ...] = ()
    status: StatusConfig = StatusConfig()
    log_format: str = defaults.LOG_FORMAT

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError([Problem("--source", f"no source named {name!r} (known: {known})")])

    def shown(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret redacted."""
        return shown(self)

    def sha256(self) -> str:
        """SHA-256 of the effective settings as ``shown()`` gives them (secrets redacted,
        keys sorted): the audit trail tells which config a daemon ran with."""
        text = json.dumps(self.shown(), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# --- reading ---------------------------------------------------------------------------


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``BRIDGE_<TABLE>_<KEY>=value`` replaces a scalar key; the value is read as TOML."""
    if environ.get("BRIDGE_STATE_URL"):
        data.setdefault("bridge", {})["state_url"] = environ["BRIDGE_STATE_URL"]
    for table in ("bridge", "fetch", "target", "delivery", "daemon", "status", "admin"):
        prefix = f"BRIDGE_{table.upper()}_"
        for name, raw in environ.items():
            if not name.startswith(prefix) or name == "BRIDGE_TARGET_SECRET":
                continue
            key = name[len(prefix) :].lower()
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
            data.setdefault(table, {})[key] = value


def load(path: Path | None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, check and return the settings; ``ConfigError`` lists every problem found."""
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    where = str(path) if path else "config"
    if path is not None:
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(
                [Problem(where, "no such file (copy config/bridge.example.toml to start)")]
            ) from None
        except OSError as exc:
            raise ConfigError([Problem(where, f"cannot read: {exc.strerror}")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([Problem(where, f"not valid TOML: {exc}")]) from None
        except UnicodeDecodeError:
            raise ConfigError([Problem(where, "not valid UTF-8")]) from None
    _apply_env_overrides(data, environ)
    settings = _build(data, path, problems, environ)
    if problems:
        raise ConfigError([Problem(f"{where}: {p.where}", p.message) for p in problems])
    return settings


def _table(data: Mapping[str, Any], name: str, problems: list[Problem]) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.append(Problem(name, f"must be a table ([{name}])"))
        return {}
    return value


def _build(
    data: dict[str, Any], path: Path | None, problems: list[Problem], environ: Mapping[str, str]
) -> Settings:
    top = Table(data, "", problems)
    top.used.update(
        (
            "bridge",
            "fetch",
            "sources",
            "target",
            "delivery",
            "daemon",
            "status",
            "admin",
            "notify",
        )
    )
    for name in data:
        if name not in top.used:
            problems.append(Problem(name, "unknown table"))

    t = Table(_table(data, "bridge", problems), "bridge", problems)
    bridge = read(BridgeConfig, t)
    t.finish()
    fetch = build_fetch(
        t := Table(_table(data, "fetch", problems), "fetch", problems),
        None,
        defaults.USER_AGENT.format(version=__version__, operator=bridge.operator),
    )
    t.finish()
    sources = build_sources(data.get("sources", []), fetch, problems)
    target = build_target(_table(data, "target", problems), problems, environ)
    delivery = _read_table(data, "delivery", DeliveryConfig, problems)
    daemon = _read_table(data, "daemon", DaemonConfig, problems)
    status = _read_table(data, "status", StatusConfig, problems)
    t = Table(_table(data, "admin", problems), "admin", problems, environ)
    admin = read(AdminConfig, t)
    _check_admin(admin, t)
    t.finish()
    notify = build_notify(data.get("notify"), problems, environ)
    return Settings(
        path=path,
        state_url=Secret(bridge.state_url, _state_url_origin(environ), is_url=True),
        operator=bridge.operator,
        log_level=bridge.log_level,
        log_format=bridge.log_format,
        sources=sources,
        target=target,
        delivery=delivery,
        daemon=daemon,
        admin=admin,
        notify=notify,
        status=status,
    )


def _read_table(data: dict[str, Any], name: str, cls: type[T], problems: list[Problem]) -> T:
    t = Table(_table(data, name, problems), name, problems)
    value = read(cls, t)
    t.finish()
    return value


def _check_admin(admin: AdminConfig, t: Table) -> None:
    if (admin.basic_user is None) != (admin.basic_password is None):
        t.problem("basic_user", "basic_user and basic_password go together")
    if admin.enabled and admin.host not in LOOPBACK_HOSTS and not (admin.token or admin.basic_user):
        t.problem(
            "host",
            f"binding the admin pages to {admin.host} needs a token or basic_user/basic_password",
        )
    short = admin_token_problem(admin.host, admin.token) if admin.enabled else None
    if short:
        t.problem("token", short)


def admin_token_problem(host: str, token: Secret | None) -> str | None:
    """Why ``token`` is too short to guard the admin pages on ``host`` (never its value)."""
    need = defaults.ADMIN_TOKEN_MIN_CHARS
    if token is None or host in LOOPBACK_HOSTS or len(token.reveal()) >= need:
        return None
    return (
        f"is shorter than {need} characters, too short for admin pages on {host}; make one "
        'with: python -c "import secrets; print(secrets.token_urlsafe(24))"'
    )


def _state_url_origin(environ: Mapping[str, str]) -> str:
    for name in ("BRIDGE_BRIDGE_STATE_URL", "BRIDGE_STATE_URL"):  # the later one wins
        if environ.get(name):
            return f"environment variable {name}"
    return "bridge.state_url"


def warnings(settings: Settings) -> list[Problem]:
    """What the settings allow that is unsafe; ``config check`` prints each, exit 0."""
    where = str(settings.path) if settings.path else "config"
    found = []
    target = settings.target
    if isinstance(target, HttpTargetConfig) and (exposed := plain_http_exposed(target.url)):
        found.append(
            Problem(
                f"{where}: target.url",
                f"plain http to {exposed}, allowed by allow_insecure_http = true: "
                f"{UNSIGNED_UPLOAD_HEADERS}",
            )
        )
    return found


def resolve_path(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file: ``--config``, else ``BRIDGE_CONFIG``, else config/bridge.toml."""
    environ = os.environ if environ is None else environ
    return Path(cli_value or environ.get("BRIDGE_CONFIG") or defaults.CONFIG_PATH)
