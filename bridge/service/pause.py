"""Paused sources (``bridge pause`` / ``bridge resume``), as every runner honours them.

The pause itself lives in the state store (``runs.pause``); this module tells a runner
(``sync --once``, the daemon's poll, a resync) which of its sources it must leave alone,
and says why in one line.
"""

from __future__ import annotations

from typing import Any

from bridge.state import runs
from bridge.state.db import Database


def paused(db: Database, names: list[str]) -> dict[str, dict[str, Any]]:
    """Of these sources, the paused ones: name → {reason, at, actor}."""
    with db.read() as s:
        found = runs.paused(s)
    return {name: found[name] for name in names if name in found}


def describe(name: str, info: dict[str, Any]) -> str:
    """``yyedu: paused since 2026-12-06T21:40:00+00:00 by alice (site maintenance)``."""
    reason = f" ({info['reason']})" if info.get("reason") else ""
    return f"{name}: paused since {info.get('at')} by {info.get('actor')}{reason}"
