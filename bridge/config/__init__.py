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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge import __version__, defaults
from bridge.config.dburl import check_db_url, check_state_url, redact_url
from bridge.config.notify import NOTIFY_EVENTS, NOTIFY_KINDS, NotifyConfig, build_notify
from bridge.config.reader import (
    Secret,
    Table,
    check_choice,
    check_http_url,
    check_positive,
    parse_duration,
)
from bridge.config.sources import (
    SOURCE_KINDS,
    ColumnConfig,
    FetchConfig,
    HanwebConfig,
    SelectorsConfig,
    SourceConfig,
    build_fetch,
    build_sources,
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
    "FetchConfig",
    "HanwebConfig",
    "NotifyConfig",
    "Secret",
    "SelectorsConfig",
    "Settings",
    "SourceConfig",
    "StatusConfig",
    "TargetConfig",
    "load",
    "parse_duration",
    "redact_url",
    "resolve_path",
    "warnings",
]

TARGET_KINDS = ("http", "exchange-db", "exchange-dir")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")  # admin binds only this machine can reach


@dataclass(frozen=True)
class TargetConfig:
    kind: str
    name: str
    url: str | None = None
    key: str | None = None
    secret: Secret | None = field(default=None, repr=False)
    timeout: float = defaults.TARGET_TIMEOUT
    index_no: str = defaults.INDEX_NO_MINTING
    db_url: Secret | None = field(default=None, repr=False)
    db_table: str = "gov_disclosure_exchange"
    directory: str | None = None
    allow_insecure_http: bool = defaults.ALLOW_INSECURE_HTTP


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = defaults.MAX_ATTEMPTS
    backoff_initial: float = defaults.BACKOFF_INITIAL
    backoff_max: float = defaults.BACKOFF_MAX
    retry_after_cap: float = defaults.RETRY_AFTER_CAP
    lease_seconds: float = defaults.LEASE_SECONDS
    batch: int = defaults.DRAIN_BATCH
    circuit_threshold: int = defaults.CIRCUIT_THRESHOLD
    circuit_cooldown: float = defaults.CIRCUIT_COOLDOWN
    concurrency: int = defaults.DELIVERY_CONCURRENCY
    process: bool | str = defaults.DELIVERY_PROCESS  # True, False or "auto"


@dataclass(frozen=True)
class DaemonConfig:
    drain_interval: float = defaults.DRAIN_INTERVAL
    resync_poll: float = defaults.RESYNC_POLL
    shutdown_timeout: float = defaults.SHUTDOWN_TIMEOUT
    misfire_grace_time: float = defaults.MISFIRE_GRACE_TIME
    jitter: float = defaults.SCHEDULE_JITTER
    health_intervals: int = defaults.HEALTH_INTERVALS
    housekeeping_interval: float = defaults.HOUSEKEEPING_INTERVAL
    lease: float = defaults.WORKER_LEASE
    parallel_sources: int = defaults.PARALLEL_SOURCES


@dataclass(frozen=True)
class StatusConfig:
    # seconds without a successful run before a source needs attention; None: the
    # source's daemon.health_intervals poll intervals (see bridge.service.status)
    max_lag: float | None = defaults.STATUS_MAX_LAG


@dataclass(frozen=True)
class AdminConfig:
    enabled: bool = True
    host: str = defaults.ADMIN_HOST
    port: int = defaults.ADMIN_PORT
    token: Secret | None = field(default=None, repr=False)
    basic_user: str | None = None
    basic_password: Secret | None = field(default=None, repr=False)
    # Host header values answered besides the bind address, localhost and the loopback
    # addresses (the names a reverse proxy or the operator's browser uses)
    hosts: tuple[str, ...] = ()


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
        return _shown(self)

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


def _table(data: Mapping[str, Any], key: str, problems: list[Problem]) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        problems.append(Problem(key, f"must be a table ([{key}])"))
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
    for key in data:
        if key not in top.used:
            problems.append(Problem(key, "unknown table"))

    b = Table(_table(data, "bridge", problems), "bridge", problems)
    state_url = b.get("state_url", str, defaults.STATE_URL, check_state_url)
    operator = b.get("operator", str, "unconfigured operator")
    log_level = b.get("log_level", str, "INFO", check_choice(("DEBUG", "INFO", "WARNING", "ERROR")))
    log_format = b.get("log_format", str, defaults.LOG_FORMAT, check_choice(("text", "json")))
    b.finish()

    f = Table(_table(data, "fetch", problems), "fetch", problems)
    user_agent = defaults.USER_AGENT.format(version=__version__, operator=operator)
    fetch = build_fetch(f, None, user_agent)
    f.finish()

    sources = build_sources(data.get("sources", []), fetch, problems)
    target = _build_target(_table(data, "target", problems), problems, environ)

    d = Table(_table(data, "delivery", problems), "delivery", problems)
    delivery = DeliveryConfig(
        max_attempts=d.get("max_attempts", int, defaults.MAX_ATTEMPTS, check_positive),
        backoff_initial=d.duration("backoff_initial", defaults.BACKOFF_INITIAL),
        backoff_max=d.duration("backoff_max", defaults.BACKOFF_MAX),
        retry_after_cap=d.duration("retry_after_cap", defaults.RETRY_AFTER_CAP),
        lease_seconds=d.duration("lease_seconds", defaults.LEASE_SECONDS),
        batch=d.get("batch", int, defaults.DRAIN_BATCH, check_positive),
        circuit_threshold=d.get(
            "circuit_threshold", int, defaults.CIRCUIT_THRESHOLD, check_positive
        ),
        circuit_cooldown=d.duration("circuit_cooldown", defaults.CIRCUIT_COOLDOWN),
        concurrency=d.get("concurrency", int, defaults.DELIVERY_CONCURRENCY, check_positive),
        # any value, so that every wrong one gets the message that lists the choices
        process=d.get("process", (bool, object), defaults.DELIVERY_PROCESS, _check_process),
    )
    d.finish()

    dm = Table(_table(data, "daemon", problems), "daemon", problems)
    daemon = DaemonConfig(
        drain_interval=dm.duration("drain_interval", defaults.DRAIN_INTERVAL),
        resync_poll=dm.duration("resync_poll", defaults.RESYNC_POLL),
        shutdown_timeout=dm.duration("shutdown_timeout", defaults.SHUTDOWN_TIMEOUT),
        misfire_grace_time=dm.duration("misfire_grace_time", defaults.MISFIRE_GRACE_TIME),
        jitter=dm.get(
            "jitter",
            float,
            defaults.SCHEDULE_JITTER,
            lambda v: None if v >= 0 else "must be 0 or more",
        ),
        health_intervals=dm.get("health_intervals", int, defaults.HEALTH_INTERVALS, check_positive),
        housekeeping_interval=dm.duration("housekeeping_interval", defaults.HOUSEKEEPING_INTERVAL),
        lease=dm.duration("lease", defaults.WORKER_LEASE),
        parallel_sources=dm.get("parallel_sources", int, defaults.PARALLEL_SOURCES, check_positive),
    )
    dm.finish()

    st = Table(_table(data, "status", problems), "status", problems)
    status = StatusConfig(
        max_lag=st.duration("max_lag", 1.0) if "max_lag" in st.data else defaults.STATUS_MAX_LAG
    )
    st.finish()

    ad = Table(_table(data, "admin", problems), "admin", problems, environ)
    admin = AdminConfig(
        enabled=ad.get("enabled", bool, True),
        host=ad.get("host", str, defaults.ADMIN_HOST),
        port=ad.get(
            "port",
            int,
            defaults.ADMIN_PORT,
            lambda v: None if 0 <= v < 65536 else "must be a port number",
        ),
        token=ad.secret(
            "token", env="BRIDGE_ADMIN_TOKEN", credential="admin_token", required=False
        ),
        basic_user=ad.get("basic_user", str, None),
        hosts=tuple(ad.get("hosts", list, [], _check_host_names)),
        basic_password=ad.secret(
            "basic_password",
            env="BRIDGE_ADMIN_BASIC_PASSWORD",
            credential="admin_basic_password",
            required=False,
        ),
    )
    if (admin.basic_user is None) != (admin.basic_password is None):
        ad.problem("basic_user", "basic_user and basic_password go together")
    if admin.enabled and admin.host not in LOOPBACK_HOSTS and not (admin.token or admin.basic_user):
        ad.problem(
            "host",
            f"binding the admin pages to {admin.host} needs a token or basic_user/basic_password",
        )
    short = admin_token_problem(admin.host, admin.token) if admin.enabled else None
    if short:
        ad.problem("token", short)
    ad.finish()

    notify = build_notify(data.get("notify"), problems, environ)

    return Settings(
        path=path,
        state_url=Secret(state_url or defaults.STATE_URL, _state_url_origin(environ), is_url=True),
        operator=operator or "",
        log_level=log_level or "INFO",
        sources=sources,
        target=target,
        delivery=delivery,
        daemon=daemon,
        admin=admin,
        notify=notify,
        status=status,
        log_format=log_format or defaults.LOG_FORMAT,
    )


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


def _check_host_names(entries: list[Any]) -> str | None:
    for entry in entries:
        if not isinstance(entry, str) or not entry or any(c in entry for c in "/\\@ \t"):
            return f"must be a list of host names (optionally host:port), not {entry!r}"
    return None


def _check_process(value: object) -> str | None:
    if isinstance(value, bool) or value == "auto":
        return None
    return f'must be true, false or "auto", not {value!r}'


def _build_target(
    data: dict[str, Any], problems: list[Problem], environ: Mapping[str, str]
) -> TargetConfig:
    t = Table(data, "target", problems, environ)
    kind = t.get("kind", str, "http", check_choice(TARGET_KINDS))
    name = t.get("name", str, "portal")
    timeout = t.duration("timeout", defaults.TARGET_TIMEOUT)
    index_no = t.get("index_no", str, defaults.INDEX_NO_MINTING, check_choice(("portal", "bridge")))
    url = key = directory = None
    secret = db_url = None
    db_table = "gov_disclosure_exchange"
    allow_insecure_http = t.get("allow_insecure_http", bool, defaults.ALLOW_INSECURE_HTTP)
    if kind == "http":
        url = t.get("url", str, check=check_http_url)
        if url and not url.endswith("/"):
            url += "/"
        if url and not allow_insecure_http and (exposed := plain_http_exposed(url)):
            t.problem(
                "url",
                f"plain http to {exposed}: {UNSIGNED_UPLOAD_HEADERS}; use https, or set "
                "allow_insecure_http = true on a trusted network",
            )
        key = t.get("key", str)
        secret = t.secret(
            "secret", env="BRIDGE_TARGET_SECRET", credential="target_secret", required=True
        )
    elif kind == "exchange-db":
        db_url = t.secret(
            "db_url",
            env="BRIDGE_TARGET_DB_URL",
            credential="target_db_url",
            required=True,
            is_url=True,
        )
        problem = check_db_url(db_url.reveal()) if db_url is not None else None
        if db_url is not None and problem:
            t.problem("db_url", f"{problem} (from {db_url.origin})")
            db_url = None
        db_table = t.get("db_table", str, db_table)
    elif kind == "exchange-dir":
        directory = t.get("directory", str)
    t.used.update(
        ("url", "key", "secret", "secret_file", "db_url", "db_url_file", "db_table", "directory")
    )
    t.finish()
    return TargetConfig(
        kind=kind or "http",
        name=name or "portal",
        url=url,
        key=key,
        secret=secret,
        timeout=timeout,
        index_no=index_no or "portal",
        db_url=db_url,
        db_table=db_table,
        directory=directory,
        allow_insecure_http=bool(allow_insecure_http),
    )


def warnings(settings: Settings) -> list[Problem]:
    """What the settings allow that is unsafe; ``config check`` prints each, exit 0."""
    where = str(settings.path) if settings.path else "config"
    found = []
    target = settings.target
    if target.kind == "http" and target.url and (exposed := plain_http_exposed(target.url)):
        found.append(
            Problem(
                f"{where}: target.url",
                f"plain http to {exposed}, allowed by allow_insecure_http = true: "
                f"{UNSIGNED_UPLOAD_HEADERS}",
            )
        )
    return found


def _shown(value: Any) -> Any:
    if isinstance(value, Secret):
        if value.is_url:
            return redact_url(value.reveal())
        return f"*** (from {value.origin})"
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: _shown(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_shown(v) for v in value]
    return value


def resolve_path(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file: ``--config``, else ``BRIDGE_CONFIG``, else config/bridge.toml."""
    environ = os.environ if environ is None else environ
    return Path(cli_value or environ.get("BRIDGE_CONFIG") or defaults.CONFIG_PATH)
