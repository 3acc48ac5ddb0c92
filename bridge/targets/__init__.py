"""Target adapters: where records are delivered (see ``base`` for the terminology)."""

from __future__ import annotations

from bridge.config import (
    ExchangeDbConfig,
    ExchangeDirConfig,
    HttpTargetConfig,
    MemoryTargetConfig,
    TargetConfig,
)
from bridge.targets.base import Target


def make_target(cfg: TargetConfig) -> Target:
    """The adapter for ``cfg``'s kind (each kind's config class holds the keys it needs)."""
    if isinstance(cfg, ExchangeDbConfig):
        from bridge.targets.exchange_db import ExchangeDbTarget

        return ExchangeDbTarget(cfg.name, cfg.db_url.reveal(), table=cfg.db_table)
    if isinstance(cfg, ExchangeDirConfig):
        from bridge.targets.exchange_dir import ExchangeDirTarget

        return ExchangeDirTarget(cfg.name, cfg.directory)
    if isinstance(cfg, MemoryTargetConfig):
        from bridge.targets.memory import MemoryTarget

        return MemoryTarget(cfg.name)
    if isinstance(cfg, HttpTargetConfig):
        from bridge.targets.http import HttpTarget

        return HttpTarget(cfg.name, cfg.url, cfg.key, cfg.secret.reveal(), timeout=cfg.timeout,
                          allow_insecure_http=cfg.allow_insecure_http)  # fmt: skip
    raise TypeError(f"no target adapter for {type(cfg).__name__}")
