"""Reconcile's judgement: the line each item gets from what the three sides say, and the
report those lines make. Pure: no reads, no writes, so every rule is tested alone
(tests/admin/test_reconcile_rules.py); :mod:`bridge.admin.reconcile` reads the sides and
applies the plan.

The symbols follow ``rclone check --combined``; see :mod:`bridge.admin.reconcile`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bridge.state.admin_queries import StateEntry
from bridge.targets.base import Listed

SYMBOLS = {"=": "same", "+": "on the site only", "-": "on the portal only",
           "*": "different content", "!": "error"}  # fmt: skip


@dataclass
class Line:
    """One item (or one failed listing) and what the three sides say about it."""

    symbol: str
    external_id: str
    source: str | None
    column: str | None
    title: str
    site: str  # listed | missing | unknown
    state: str  # active | withdrawn | quarantined | absent
    portal: str  # active | withdrawn | absent
    state_hash: str | None = None
    portal_hash: str | None = None
    note: str = ""
    fix: str | None = None  # put | withdraw | drain
    url: str | None = None


@dataclass
class Report:
    generated_at: str
    actor: str
    sources: list[str]
    lines: list[Line] = field(default_factory=list)
    applied: dict[str, Any] | None = None

    @property
    def differences(self) -> list[Line]:
        return [line for line in self.lines if line.symbol != "="]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SYMBOLS, 0)
        for line in self.lines:
            out[line.symbol] += 1
        return out

    def plan(self) -> list[Line]:
        return [line for line in self.lines if line.fix in ("put", "withdraw", "drain")]

    def summary(self) -> str:
        c = self.counts()
        n = len(self.differences)
        text = (
            f"{n} difference{'s' if n != 1 else ''}: {c['+']} on the site only (+), "
            f"{c['-']} on the portal only (-), {c['*']} different (*), {c['!']} error(s) (!); "
            f"{c['=']} the same (=)"
        )
        foreign = sum(1 for line in self.lines if line.note.startswith("foreign"))
        return text + (f"; {foreign} foreign item(s) left alone" if foreign else "")

    def as_json(self, *, with_same: bool = True) -> dict[str, Any]:
        lines = self.lines if with_same else self.differences
        return {
            "generated_at": self.generated_at,
            "actor": self.actor,
            "sources": self.sources,
            "counts": self.counts(),
            "differences": len(self.differences),
            "summary": self.summary(),
            "lines": [asdict(line) for line in lines],
            "plan": [
                {"action": line.fix, "external_id": line.external_id, "reason": line.note}
                for line in self.plan()
            ],
            "applied": self.applied,
        }


def classify(
    external_id: str, *, ours: bool, on_site: str, entry: StateEntry | None, listed: Listed | None
) -> Line | None:
    """The line for one item, or None when nothing is wrong and nothing is there.

    ``ours``: the id has the prefix of a source being compared; ``on_site``: listed,
    missing (from a complete listing) or unknown (its column's listing failed).
    """
    on_portal = "absent" if listed is None else listed.status
    active = on_portal == "active"
    line = Line(
        "=", external_id, external_id.split(":", 1)[0] if ours else None,
        entry.column if entry else None, "", on_site, entry.status if entry else "absent",
        on_portal, state_hash=entry.content_hash if entry else None,
        portal_hash=listed.content_hash if listed else None, url=entry.url if entry else None,
    )  # fmt: skip
    if entry is not None and entry.status == "quarantined" and not active:
        if on_site != "listed":
            return None
        line.symbol, line.note = "!", "quarantined: never sent; see `xxgk-bridge status` for why"
        return line
    if on_site == "missing" and not active:
        return None  # gone everywhere (the state store may still say active: resync tidies)
    if not ours and active:
        line.symbol = "-"
        line.note = "foreign: no configured source makes this id; reconcile never withdraws it"
        return line
    if on_site == "missing":
        line.symbol, line.fix = "-", "withdraw"
        line.note = "gone from the site's complete listing, still active on the portal"
        if entry is None:
            line.note += "; unknown to the state store"
        return line
    if not active:
        if on_site == "unknown":
            line.symbol = "!"
            line.note = f"not on the portal, and the listing of column {line.column} failed"
            return line
        line.symbol = "+"
        return _resend(
            line, entry, "not on the portal" if listed is None else "withdrawn on the portal"
        )
    if entry is None or entry.status != "active" or entry.content_hash is None:
        line.symbol = "!"
        line.note = (
            "on the portal but not in the state store: `xxgk-bridge resync` records it"
            if entry is None
            else f"{entry.status} in the state store but active on the portal: "
            "`xxgk-bridge resync` settles it"
        )
        return line
    if entry.content_hash == listed.content_hash:  # type: ignore[union-attr]
        if entry.quarantine:
            line.note = "its newest version is quarantined"
        return line
    line.symbol = "*"
    return _resend(line, entry, "the portal holds other content than the current version")


def _resend(line: Line, entry: StateEntry | None, why: str) -> Line:
    if entry is None:
        line.note = f"{why}; not in the state store yet: the next sync fetches it"
    elif entry.status != "active" or entry.version == 0:
        line.note = f"{why}; {entry.status} in the state store: `xxgk-bridge resync` settles it"
    elif entry.waiting and not entry.waiting.startswith("dead"):
        line.note, line.fix = f"{why}; delivery {entry.waiting} will send it", "drain"
    else:
        line.fix = "put"
        line.note = f"{why}: re-send version {entry.version}"
        if entry.waiting:
            line.note += f" (last delivery {entry.waiting})"
    return line
