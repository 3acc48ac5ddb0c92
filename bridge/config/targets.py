"""The ``[target]`` table: one class per kind of portal side, each with its own keys.

``kind`` picks the class; the keys every kind reads are on ``TargetConfig``. The keys of the
other kinds are accepted and ignored, as they always were (switching ``kind`` back and forth
on a test machine leaves them in the file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridge import defaults
from bridge.config.dburl import check_db_url
from bridge.config.keys import duration, key, names, read, required, secret
from bridge.config.reader import Secret, Table, check_choice, check_http_url
from bridge.errors import Problem
from bridge.net.client import UNSIGNED_UPLOAD_HEADERS, plain_http_exposed


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """What every kind of target reads."""

    kind: ClassVar[str]
    name: str = key("portal")
    timeout: float = duration(defaults.TARGET_TIMEOUT)
    index_no: str = key(defaults.INDEX_NO_MINTING, check_choice(("portal", "bridge")))
    allow_insecure_http: bool = key(defaults.ALLOW_INSECURE_HTTP)

    def checked(self, t: Table) -> TargetConfig:
        """Itself, after the checks that take more than one key (problems go to ``t``)."""
        return self


@dataclass(frozen=True, kw_only=True)
class HttpTargetConfig(TargetConfig):
    """The portal's HTTP API (v1): signed requests with a key and a secret."""

    kind: ClassVar[str] = "http"
    url: str = field(metadata=required(check_http_url))
    key: str = field(metadata=required())
    secret: Secret = secret(env="BRIDGE_TARGET_SECRET", credential="target_secret", required=True)

    def checked(self, t: Table) -> TargetConfig:
        if not self.url:
            return self
        url = self.url if self.url.endswith("/") else self.url + "/"
        if not self.allow_insecure_http and (exposed := plain_http_exposed(url)):
            t.problem(
                "url",
                f"plain http to {exposed}: {UNSIGNED_UPLOAD_HEADERS}; use https, or set "
                "allow_insecure_http = true on a trusted network",
            )
        return dataclasses.replace(self, url=url)


@dataclass(frozen=True, kw_only=True)
class ExchangeDbConfig(TargetConfig):
    """The exchange database (中间库) the portal reads from."""

    kind: ClassVar[str] = "exchange-db"
    db_url: Secret = secret(
        env="BRIDGE_TARGET_DB_URL", credential="target_db_url", required=True, is_url=True
    )
    db_table: str = key("gov_disclosure_exchange")

    def checked(self, t: Table) -> TargetConfig:
        problem = check_db_url(self.db_url.reveal()) if self.db_url is not None else None
        if problem:
            t.problem("db_url", f"{problem} (from {self.db_url.origin})")
            return dataclasses.replace(self, db_url=None)  # type: ignore[arg-type]
        return self


@dataclass(frozen=True, kw_only=True)
class ExchangeDirConfig(TargetConfig):
    """The exchange folder (前置机) the portal's loader picks files from."""

    kind: ClassVar[str] = "exchange-dir"
    directory: str = field(metadata=required())


@dataclass(frozen=True, kw_only=True)
class MemoryTargetConfig(TargetConfig):
    """A portal in memory (tests, demo); not a kind a config file can name."""

    kind: ClassVar[str] = "memory"
    name: str = "memory"


KINDS: dict[str, type[TargetConfig]] = {
    c.kind: c for c in (HttpTargetConfig, ExchangeDbConfig, ExchangeDirConfig)
}
TARGET_KINDS = tuple(KINDS)

# ``config show`` lists every kind's keys, those of other kinds at their default (None
# when required), in this order: its output, and the config hash, stay as they were
SHOWN = ("kind", "name", "url", "key", "secret", "timeout", "index_no", "db_url", "db_table",
         "directory", "allow_insecure_http")  # fmt: skip
_SHOWN_DEFAULTS = {
    f.name: None if f.default is dataclasses.MISSING else f.default
    for c in KINDS.values()
    for f in dataclasses.fields(c)
}


def build_target(
    data: dict[str, Any], problems: list[Problem], environ: Mapping[str, str]
) -> TargetConfig:
    t = Table(data, "target", problems, environ)
    kind = t.get("kind", str, "http", check_choice(TARGET_KINDS))
    cfg = read(KINDS.get(kind, HttpTargetConfig), t).checked(t)
    for cls in KINDS.values():
        t.used.update(names(cls))
    t.finish()
    return cfg


def shown_target(cfg: TargetConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k, _SHOWN_DEFAULTS.get(k)) for k in SHOWN}
