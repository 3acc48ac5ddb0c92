"""Target adapters: where records are delivered (see ``base`` for the terminology)."""

from __future__ import annotations

from bridge.config import TargetConfig
from bridge.errors import ConfigError
from bridge.targets.base import Target


def make_target(cfg: TargetConfig) -> Target:
    if cfg.kind == "http":
        from bridge.targets.http import HttpTarget

        assert cfg.url and cfg.key and cfg.secret
        return HttpTarget(cfg.name, cfg.url, cfg.key, cfg.secret.reveal(), timeout=cfg.timeout)
    raise ConfigError(f"target.kind: target kind {cfg.kind!r} is not available in this version")
