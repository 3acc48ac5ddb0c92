"""``config show``: the effective settings as plain data, every secret redacted.

A target, source or notify channel is shown with every kind's keys in one fixed order,
those of other kinds at their default, as when one flat class held them all: the output,
and the config hash in the audit trail, do not change with the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.config.dburl import redact_url
from bridge.config.notify import NotifyConfig, shown_notify
from bridge.config.reader import Secret
from bridge.config.sources import SourceConfig, shown_source
from bridge.config.targets import TargetConfig, shown_target


def shown(value: Any) -> Any:
    if isinstance(value, Secret):
        if value.is_url:
            return redact_url(value.reveal())
        return f"*** (from {value.origin})"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, TargetConfig):
        return {k: shown(v) for k, v in shown_target(value).items()}
    if isinstance(value, SourceConfig):
        return {k: shown(v) for k, v in shown_source(value).items()}
    if isinstance(value, NotifyConfig):
        return {k: shown(v) for k, v in shown_notify(value).items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: shown(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [shown(v) for v in value]
    return value
