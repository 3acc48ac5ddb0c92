"""What one cycle works with: the settings, the store, the target, who acts.

Its own module, apart from the pipeline, so that a delivery process (``bridge.delivery.process``)
can hold one without importing the crawl: the sources, lxml, the sanitizer and the
robots.txt parser are memory a process that only sends does not need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.owner import Owner

if TYPE_CHECKING:
    from bridge.config import Settings, SourceConfig
    from bridge.sources.base import Source
    from bridge.state.db import Database
    from bridge.targets.base import Target


def _make_source(config: SourceConfig) -> Source:
    """The source adapter for ``config`` (imported when a cycle first crawls)."""
    from bridge.sources import make_source

    return make_source(config)


@dataclass
class Context:
    """Everything one cycle needs; built once by the CLI or the daemon."""

    settings: Settings
    db: Database
    target: Target
    actor: str
    source_factory: Callable[[SourceConfig], Source] = _make_source
    owner: str = field(default_factory=lambda: str(Owner.this_process()))  # host:pid
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[str, dict[str, Any]], None] | None = None

    def report(self, what: str, **info: Any) -> None:
        if self.progress is not None:
            self.progress(what, info)
