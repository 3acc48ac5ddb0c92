"""Target adapters: where records are delivered (see ``base`` for the terminology)."""

from __future__ import annotations

from bridge.config import TargetConfig
from bridge.targets.base import Target


def make_target(cfg: TargetConfig) -> Target:
    """The adapter for ``cfg.kind``; the config check guarantees its required keys."""
    if cfg.kind == "exchange-db":
        from bridge.targets.exchange_db import ExchangeDbTarget

        assert cfg.db_url is not None
        return ExchangeDbTarget(cfg.name, cfg.db_url.reveal(), table=cfg.db_table)
    if cfg.kind == "exchange-dir":
        from bridge.targets.exchange_dir import ExchangeDirTarget

        assert cfg.directory is not None
        return ExchangeDirTarget(cfg.name, cfg.directory)
    from bridge.targets.http import HttpTarget

    assert cfg.url and cfg.key and cfg.secret
    return HttpTarget(
        cfg.name,
        cfg.url,
        cfg.key,
        cfg.secret.reveal(),
        timeout=cfg.timeout,
        allow_insecure_http=cfg.allow_insecure_http,
    )
