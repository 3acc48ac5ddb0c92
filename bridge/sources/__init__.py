"""Source adapters: one module per CMS family (see ``base`` for the terminology)."""

from __future__ import annotations

from bridge.config import SourceConfig
from bridge.errors import ConfigError
from bridge.sources.base import Source
from bridge.sources.fetch import Fetcher


def make_source(cfg: SourceConfig) -> Source:
    fetcher = Fetcher(
        cfg.fetch,
        base_url=cfg.base_url,
        allowed_hosts=cfg.allowed_hosts,
        default_charset=cfg.charset,
    )
    if cfg.kind == "trs":
        from bridge.sources.trs import TrsSource

        return TrsSource(cfg, fetcher)
    raise ConfigError(
        f"sources.{cfg.name}.kind: source kind {cfg.kind!r} is not available in this version"
    )
