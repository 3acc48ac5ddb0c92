"""Source adapters: one module per CMS family (see ``base`` for the terminology)."""

from __future__ import annotations

from bridge.config import HanwebSourceConfig, SelectorsSourceConfig, SourceConfig
from bridge.sources.base import Source
from bridge.sources.fetch import Fetcher


def make_source(cfg: SourceConfig, *, fetcher: Fetcher | None = None) -> Source:
    """The adapter for ``cfg``'s kind, with a polite fetcher of its own (or ``fetcher``, made
    for the same source: ``bridge probe`` reads a page it fetched already)."""
    if fetcher is None:
        fetcher = Fetcher(
            cfg.fetch,
            base_url=cfg.base_url,
            allowed_hosts=cfg.allowed_hosts,
            default_charset=cfg.charset,
        )
    if isinstance(cfg, HanwebSourceConfig):
        from bridge.sources.hanweb import HanwebSource

        return HanwebSource(cfg, fetcher)
    if isinstance(cfg, SelectorsSourceConfig):
        from bridge.sources.selectors import SelectorsSource

        return SelectorsSource(cfg, fetcher)
    from bridge.sources.trs import TrsSource

    return TrsSource(cfg, fetcher)
