"""Configuration: one TOML file, environment overrides, secrets from several places.

Every key is read through a ``_Table`` reader that knows its type and default, marks
secrets, and collects problems instead of raising at the first one, so ``bridge config
check`` can report everything that is wrong at once (file, key, what is wrong).

Secrets (the portal secret; passwords inside database URLs) are wrapped in ``Secret``,
whose ``str`` and ``repr`` never show the value. A secret is looked up in this order:

1. the environment variable named for it (``BRIDGE_TARGET_SECRET``);
2. the file named by the ``*_file`` key (``secret_file = "/etc/bridge/portal.secret"``);
3. systemd credentials: ``$CREDENTIALS_DIRECTORY/<credential name>``;
4. the key itself in the config file (fine for the sandbox, not for production).

Any scalar key of the ``[bridge]``, ``[fetch]``, ``[target]``, ``[delivery]``, ``[daemon]``
and ``[admin]`` tables can be overridden by ``BRIDGE_<TABLE>_<KEY>`` (upper case);
``BRIDGE_STATE_URL`` is the short form for ``bridge.state_url``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bridge import defaults
from bridge.catalog import CATEGORIES, NormalizeProfile, org_code_problem
from bridge.errors import ConfigError, Problem

SOURCE_KINDS = ("trs", "hanweb", "selectors")
TARGET_KINDS = ("http", "exchange-db", "exchange-dir")
_MISSING: Any = object()


class Secret:
    """A value that must never be printed. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value", "is_url", "origin")

    def __init__(self, value: str, origin: str, *, is_url: bool = False) -> None:
        self._value = value
        self.origin = origin  # where it came from, e.g. "environment variable BRIDGE_..."
        self.is_url = is_url  # a URL is shown with only its password hidden

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and ``config show``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@dataclass(frozen=True)
class ColumnConfig:
    key: str
    path: str
    name: str
    category: str  # one of CATEGORIES, or "mixed" for the fallback rules


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str
    respect_robots: bool = defaults.RESPECT_ROBOTS
    rate_limit: float = defaults.RATE_LIMIT
    concurrency: int = defaults.CONCURRENCY
    connect_timeout: float = defaults.CONNECT_TIMEOUT
    read_timeout: float = defaults.READ_TIMEOUT
    max_page_bytes: int = defaults.MAX_PAGE_BYTES
    max_attachment_bytes: int = defaults.MAX_ATTACHMENT_BYTES


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    base_url: str
    publisher: str
    org_code: str
    columns: tuple[ColumnConfig, ...]
    fetch: FetchConfig
    charset: str = defaults.SITE_CHARSET
    allowed_hosts: tuple[str, ...] = ()
    interval: float = defaults.SOURCE_INTERVAL
    cron: str | None = None
    overlap_pages: int = defaults.OVERLAP_PAGES
    withdrawals: bool = defaults.WITHDRAWALS_ENABLED
    max_withdraw_share: float = defaults.MAX_WITHDRAW_SHARE
    topic: str = defaults.TOPIC

    def profile(self) -> NormalizeProfile:
        return NormalizeProfile(
            source=self.name,
            publisher=self.publisher,
            org_code=self.org_code,
            column_categories={c.key: c.category for c in self.columns},
            topic=self.topic,
        )

    def column(self, key: str) -> ColumnConfig:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


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


@dataclass(frozen=True)
class Settings:
    path: Path | None
    state_url: Secret
    operator: str
    log_level: str
    sources: tuple[SourceConfig, ...]
    target: TargetConfig
    delivery: DeliveryConfig

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError([Problem("--source", f"no source named {name!r} (known: {known})")])

    def shown(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret redacted."""
        return _shown(self)


# --- reading ---------------------------------------------------------------------------


class _Table:
    """Reads one TOML table, recording problems under ``where`` instead of raising."""

    def __init__(
        self,
        data: Mapping[str, Any],
        where: str,
        problems: list[Problem],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.data = data
        self.where = where
        self.problems = problems
        self.used: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"{self.where}.{key}" if key else self.where, message))

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = _MISSING,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                self.problem(key, "is required")
                return None
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # bool is an int in Python, but ``rate_limit = true`` is a mistake, not 1.0
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.problem(
                key,
                f"must be {names}, not {_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}",
            )
            return None if default is _MISSING else default
        if check is not None:
            message = check(value)
            if message:
                self.problem(key, message)
                return None if default is _MISSING else default
        return value

    def duration(self, key: str, default: float) -> float:
        raw = self.get(key, (str, float), default)
        if isinstance(raw, float):
            if raw <= 0:
                self.problem(key, f"must be positive, not {raw!r}")
                return default
            return raw
        seconds = parse_duration(raw)
        if seconds is None:
            self.problem(
                key, f"must be a duration such as 30s, 10m, 2h or a number of seconds, not {raw!r}"
            )
            return default
        return seconds

    def secret(
        self, key: str, *, env: str, credential: str, required: bool, is_url: bool = False
    ) -> Secret | None:
        """A secret from the environment, a ``<key>_file``, systemd credentials, or inline."""
        self.used.update((key, f"{key}_file"))
        if self.environ.get(env):
            return Secret(self.environ[env], f"environment variable {env}", is_url=is_url)
        file_key = f"{key}_file"
        if file_key in self.data:
            path = self.data[file_key]
            if not isinstance(path, str):
                self.problem(file_key, "must be a file path")
                return None
            return _read_secret_file(Path(path), f"{self.where}.{file_key}", self.problems, is_url)
        creds = self.environ.get("CREDENTIALS_DIRECTORY")
        if creds and (Path(creds) / credential).is_file():
            return _read_secret_file(
                Path(creds) / credential, f"credential {credential}", self.problems, is_url
            )
        if key in self.data:
            if not isinstance(self.data[key], str) or not self.data[key]:
                self.problem(key, "must be a non-empty string")
                return None
            return Secret(self.data[key], f"{self.where}.{key}", is_url=is_url)
        if required:
            self.problem(
                key,
                f"is required: set {env}, {file_key}, the systemd credential {credential!r}, or {key}",
            )
        return None

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                self.problem(key, "unknown key")


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _read_secret_file(
    path: Path, where: str, problems: list[Problem], is_url: bool = False
) -> Secret | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.append(Problem(where, f"cannot read secret file {path}: {exc.strerror}"))
        return None
    if not value:
        problems.append(Problem(where, f"secret file {path} is empty"))
        return None
    return Secret(value, f"file {path}", is_url=is_url)


def parse_duration(text: str) -> float | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not m or float(m.group(1)) <= 0:
        return None
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return float(m.group(1)) * factor


def _check_http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL, not {value!r}"
    return None


def _check_positive(value: float) -> str | None:
    return None if value > 0 else f"must be positive, not {value!r}"


def _check_share(value: float) -> str | None:
    return None if 0 <= value <= 1 else f"must be between 0 and 1, not {value!r}"


def _check_choice(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, not {value!r}"

    return check


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """``BRIDGE_<TABLE>_<KEY>=value`` replaces a scalar key; the value is read as TOML."""
    if environ.get("BRIDGE_STATE_URL"):
        data.setdefault("bridge", {})["state_url"] = environ["BRIDGE_STATE_URL"]
    for table in ("bridge", "fetch", "target", "delivery", "daemon", "admin"):
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
    top = _Table(data, "", problems)
    top.used.update(("bridge", "fetch", "sources", "target", "delivery", "daemon", "admin"))
    for key in data:
        if key not in top.used:
            problems.append(Problem(key, "unknown table"))

    b = _Table(_table(data, "bridge", problems), "bridge", problems)
    state_url = b.get("state_url", str, defaults.STATE_URL)
    operator = b.get("operator", str, "unconfigured operator")
    log_level = b.get(
        "log_level", str, "INFO", _check_choice(("DEBUG", "INFO", "WARNING", "ERROR"))
    )
    b.finish()

    f = _Table(_table(data, "fetch", problems), "fetch", problems)
    from bridge import __version__

    fetch = FetchConfig(
        user_agent=f.get(
            "user_agent", str, defaults.USER_AGENT.format(version=__version__, operator=operator)
        ),
        respect_robots=f.get("respect_robots", bool, defaults.RESPECT_ROBOTS),
        rate_limit=f.get("rate_limit", float, defaults.RATE_LIMIT, _check_positive),
        concurrency=f.get("concurrency", int, defaults.CONCURRENCY, _check_positive),
        connect_timeout=f.duration("connect_timeout", defaults.CONNECT_TIMEOUT),
        read_timeout=f.duration("read_timeout", defaults.READ_TIMEOUT),
        max_page_bytes=f.get("max_page_bytes", int, defaults.MAX_PAGE_BYTES, _check_positive),
        max_attachment_bytes=f.get(
            "max_attachment_bytes", int, defaults.MAX_ATTACHMENT_BYTES, _check_positive
        ),
    )
    f.finish()

    sources = _build_sources(data.get("sources", []), fetch, problems)
    target = _build_target(_table(data, "target", problems), problems, environ)

    d = _Table(_table(data, "delivery", problems), "delivery", problems)
    delivery = DeliveryConfig(
        max_attempts=d.get("max_attempts", int, defaults.MAX_ATTEMPTS, _check_positive),
        backoff_initial=d.duration("backoff_initial", defaults.BACKOFF_INITIAL),
        backoff_max=d.duration("backoff_max", defaults.BACKOFF_MAX),
        retry_after_cap=d.duration("retry_after_cap", defaults.RETRY_AFTER_CAP),
        lease_seconds=d.duration("lease_seconds", defaults.LEASE_SECONDS),
        batch=d.get("batch", int, defaults.DRAIN_BATCH, _check_positive),
        circuit_threshold=d.get(
            "circuit_threshold", int, defaults.CIRCUIT_THRESHOLD, _check_positive
        ),
        circuit_cooldown=d.duration("circuit_cooldown", defaults.CIRCUIT_COOLDOWN),
    )
    d.finish()

    return Settings(
        path=path,
        state_url=Secret(state_url or defaults.STATE_URL, "bridge.state_url", is_url=True),
        operator=operator or "",
        log_level=log_level or "INFO",
        sources=sources,
        target=target,
        delivery=delivery,
    )


def _build_sources(
    raw: Any, fetch: FetchConfig, problems: list[Problem]
) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("sources", "at least one [[sources]] table is required"))
        return ()
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"sources[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(where, "must be a table"))
            continue
        t = _Table(item, where, problems)
        name = t.get(
            "name",
            str,
            check=lambda v: (
                None
                if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", v)
                else f"must be 1-40 lower-case letters, digits, - or _, not {v!r}"
            ),
        )
        if name in seen:
            t.problem("name", f"duplicate source name {name!r}")
        seen.add(name)
        base_url = t.get("base_url", str, check=_check_http_url)
        if base_url and not base_url.endswith("/"):
            base_url += "/"
        columns = _build_columns(item.get("columns"), where, problems)
        t.used.add("columns")
        source_fetch = fetch
        if "fetch" in item:
            ft = _Table(
                item["fetch"] if isinstance(item["fetch"], dict) else {}, f"{where}.fetch", problems
            )
            source_fetch = FetchConfig(
                user_agent=ft.get("user_agent", str, fetch.user_agent),
                respect_robots=ft.get("respect_robots", bool, fetch.respect_robots),
                rate_limit=ft.get("rate_limit", float, fetch.rate_limit, _check_positive),
                concurrency=ft.get("concurrency", int, fetch.concurrency, _check_positive),
                connect_timeout=ft.duration("connect_timeout", fetch.connect_timeout),
                read_timeout=ft.duration("read_timeout", fetch.read_timeout),
                max_page_bytes=ft.get("max_page_bytes", int, fetch.max_page_bytes, _check_positive),
                max_attachment_bytes=ft.get(
                    "max_attachment_bytes", int, fetch.max_attachment_bytes, _check_positive
                ),
            )
            ft.finish()
            t.used.add("fetch")
        source = SourceConfig(
            name=name or f"source{i}",
            kind=t.get("kind", str, "trs", _check_choice(SOURCE_KINDS)),
            base_url=base_url or "http://invalid/",
            publisher=t.get("publisher", str) or "",
            org_code=t.get("org_code", str, check=org_code_problem) or "",
            columns=columns,
            fetch=source_fetch,
            charset=t.get("charset", str, defaults.SITE_CHARSET, _check_charset),
            allowed_hosts=tuple(t.get("allowed_hosts", list, [])),
            interval=t.duration("interval", defaults.SOURCE_INTERVAL),
            cron=t.get("cron", str, None),
            overlap_pages=t.get("overlap_pages", int, defaults.OVERLAP_PAGES, _check_positive),
            withdrawals=t.get("withdrawals", bool, defaults.WITHDRAWALS_ENABLED),
            max_withdraw_share=t.get(
                "max_withdraw_share", float, defaults.MAX_WITHDRAW_SHARE, _check_share
            ),
            topic=t.get("topic", str, defaults.TOPIC),
        )
        t.finish()
        out.append(source)
    return tuple(out)


def _check_charset(value: str) -> str | None:
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        return f"unknown charset {value!r}"
    return None


def _build_columns(raw: Any, where: str, problems: list[Problem]) -> tuple[ColumnConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(
            Problem(f"{where}.columns", "at least one [[sources.columns]] table is required")
        )
        return ()
    out = []
    for j, item in enumerate(raw):
        cw = f"{where}.columns[{j}]"
        if not isinstance(item, dict):
            problems.append(Problem(cw, "must be a table"))
            continue
        t = _Table(item, cw, problems)
        key = t.get("key", str)
        path = t.get(
            "path",
            str,
            check=lambda v: (
                "must be a relative path such as xxgk/zcwj/"
                if v.startswith(("/", "http:", "https:"))
                else None
            ),
        )
        category = t.get(
            "category",
            str,
            "mixed",
            _check_choice((*CATEGORIES, "mixed")),
        )
        name = t.get("name", str, category if category in CATEGORIES else key)
        t.finish()
        if key and path is not None:
            out.append(
                ColumnConfig(
                    key=key,
                    path=path if path.endswith("/") or not path else path + "/",
                    name=name or key,
                    category=category or "mixed",
                )
            )
    return tuple(out)


def _build_target(
    data: dict[str, Any], problems: list[Problem], environ: Mapping[str, str]
) -> TargetConfig:
    t = _Table(data, "target", problems, environ)
    kind = t.get("kind", str, "http", _check_choice(TARGET_KINDS))
    name = t.get("name", str, "portal")
    timeout = t.duration("timeout", defaults.TARGET_TIMEOUT)
    index_no = t.get(
        "index_no", str, defaults.INDEX_NO_MINTING, _check_choice(("portal", "bridge"))
    )
    url = key = directory = None
    secret = db_url = None
    db_table = "gov_disclosure_exchange"
    if kind == "http":
        url = t.get("url", str, check=_check_http_url)
        if url and not url.endswith("/"):
            url += "/"
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
    )


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
