"""The audit trail: event names, the hash chain, and its verification.

Each event row carries ``prev_hash`` (the hash of the row before it) and ``hash`` =
SHA-256 over ``prev_hash`` and the row's own fields. Editing a row breaks its own hash;
deleting, inserting or reordering rows breaks the link of the row after; deleting rows
at the end is caught by the chain head (a one-row table updated with every append).
Writing is in ``bridge.state.audit_log``; this module is pure.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

GENESIS = "0" * 64

# Event names, one per outcome an administrator or auditor asks about.
RUN_STARTED = "run.started"
RUN_FINISHED = "run.finished"
RUN_SKIPPED = "run.skipped"  # overlapping or missed scheduled run
CONFIG_LOADED = "config.loaded"  # details: config_sha256 of the effective settings
CONFIG_REFUSED = "config.refused"  # a reload (SIGHUP) kept the running config: problems
ITEM_DISCOVERED = "item.discovered"
RECORD_CHANGED = "record.changed"
RECORD_QUARANTINED = "record.quarantined"
RECORD_RELEASED = "record.released"  # a quarantined item normalized cleanly again
ITEM_WITHDRAWN = "item.withdrawn"
INDEX_NO_MINTED = "index_no.minted"
RECORD_FLAGGED = "record.flagged"  # a value kept as the page shows it, with remarks
DELIVERY_SENT = "delivery.sent"  # a claimed batch's deliveries, in the claim's transaction
DELIVERY_RETURNED = "delivery.returned"  # announced as sent, given back to the queue unsent
DELIVERY_CONFIRMED = "delivery.confirmed"
DELIVERY_FAILED = "delivery.failed"
DELIVERY_DEAD = "delivery.dead"
DELIVERY_RETRIED = "delivery.retried"
DELIVERY_RESUMED = "delivery.resumed"  # the target accepts again after refusing credentials
CIRCUIT_OPENED = "circuit.opened"
CIRCUIT_CLOSED = "circuit.closed"
LAYOUT_ALARM = "layout.alarm"
RESYNC_REQUESTED = "resync.requested"
DB_UPGRADED = "db.upgraded"
DAEMON_FAILED = "daemon.failed"  # the daemon stops on an error (its next start ends that)
SOURCE_PAUSED = "source.paused"  # bridge pause: nothing of the source is read until resumed
SOURCE_RESUMED = "source.resumed"

EVENTS = (
    RUN_STARTED,
    RUN_FINISHED,
    RUN_SKIPPED,
    CONFIG_LOADED,
    CONFIG_REFUSED,
    ITEM_DISCOVERED,
    RECORD_CHANGED,
    RECORD_QUARANTINED,
    RECORD_RELEASED,
    ITEM_WITHDRAWN,
    INDEX_NO_MINTED,
    RECORD_FLAGGED,
    DELIVERY_SENT,
    DELIVERY_RETURNED,
    DELIVERY_CONFIRMED,
    DELIVERY_FAILED,
    DELIVERY_DEAD,
    DELIVERY_RETRIED,
    DELIVERY_RESUMED,
    CIRCUIT_OPENED,
    CIRCUIT_CLOSED,
    LAYOUT_ALARM,
    RESYNC_REQUESTED,
    DB_UPGRADED,
    DAEMON_FAILED,
    SOURCE_PAUSED,
    SOURCE_RESUMED,
)

DAEMON = "daemon"


def cli_actor() -> str:
    """The person behind a CLI command: the sudo caller if any, else the login name."""
    user = os.environ.get("SUDO_USER")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid{os.getuid()}"
    return f"cli:{user}"


# Encoders made once: json.dumps with options builds a new encoder per call, and a
# backfill hashes four events per item.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def canonical_details(details: dict[str, Any] | None) -> str:
    return _CANONICAL(details or {})


@dataclass(frozen=True)
class AuditEvent:
    id: int
    ts: datetime
    actor: str
    event: str
    source: str | None
    item: str | None
    run_id: int | None
    details: str  # canonical JSON, exactly as stored and hashed
    prev_hash: str
    hash: str

    def details_dict(self) -> dict[str, Any]:
        value = json.loads(self.details)
        return value if isinstance(value, dict) else {"value": value}

    def details_text(self) -> str:
        """The details as an operator reads them: ``title=…, key=value, …`` (see
        ``readable_details``)."""
        return readable_details(self.details_dict())

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "event": self.event,
            "source": self.source,
            "item": self.item,
            "run_id": self.run_id,
            "details": self.details_dict(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _readable_value(value: Any) -> str:
    if isinstance(value, str):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:12] + "…"  # a SHA-256: its start tells it apart; JSON has it whole
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def readable_details(details: dict[str, Any]) -> str:
    """``key=value, …`` with the title first, empty values left out, plain text for text
    and numbers and JSON (never a Python repr) for nested values."""
    keys = sorted(details, key=lambda k: (k != "title", 0))
    return ", ".join(
        f"{k}={_readable_value(details[k])}" for k in keys if details[k] not in (None, "", [], {})
    )


# --- CSV (``bridge audit --format csv`` and the admin page's /audit.csv) ----------------------

LOCAL = ZoneInfo("Asia/Shanghai")
CSV_HEADER = ["id", "time", "actor", "event", "source", "item", "run_id", "title", "details",
              "details_json", "prev_hash", "hash"]  # fmt: skip


def local_iso(ts: datetime) -> str:
    """The time on the bureau's clock with its offset: ``…T09:30:00+08:00``."""
    return ts.astimezone(LOCAL).isoformat(timespec="seconds")


def csv_row(e: AuditEvent) -> list[object]:
    d = e.details_dict()
    title = d.get("title") if isinstance(d.get("title"), str) else ""
    rest = {k: v for k, v in d.items() if k != "title"}
    return [e.id, local_iso(e.ts), e.actor, e.event, e.source or "", e.item or "",
            e.run_id or "", title, readable_details(rest), e.details, e.prev_hash,
            e.hash]  # fmt: skip


def csv_writer(out: TextIO) -> Any:
    """A writer on ``out`` that has written the BOM (Excel reads UTF-8, and so Chinese
    titles, only with one) and the header; write rows with ``csv_row``."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    return writer


def chain_hash(
    prev_hash: str,
    id: int,
    ts: datetime,
    actor: str,
    event: str,
    source: str | None,
    item: str | None,
    run_id: int | None,
    details: str,
) -> str:
    return chain_hash_at(prev_hash, id, ts.isoformat(), actor, event, source, item, run_id, details)


def chain_hash_at(
    prev_hash: str,
    id: int,
    iso_ts: str,
    actor: str,
    event: str,
    source: str | None,
    item: str | None,
    run_id: int | None,
    details: str,
) -> str:
    """``chain_hash`` with the time given as ``ts.isoformat()``: the events of one append
    share one time, written out once."""
    body = _COMPACT([id, iso_ts, actor, event, source, item, run_id, details])
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def row_hash(e: AuditEvent) -> str:
    return chain_hash(
        e.prev_hash, e.id, e.ts, e.actor, e.event, e.source, e.item, e.run_id, e.details
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    message: str = ""


def verify_chain(
    events: Iterable[AuditEvent],
    *,
    head: tuple[int, str] | None = None,
    start_prev: str = GENESIS,
) -> VerifyResult:
    """Check the chain in id order; report the first row where it breaks.

    ``head`` is (last id, last hash) as the store's chain head records them; ``start_prev``
    lets an export of one day be checked from the hash it starts after.
    """
    expected_prev = start_prev
    last_id = 0
    n = 0
    for e in events:
        n += 1
        if e.prev_hash != expected_prev:
            return VerifyResult(
                False,
                n,
                e.id,
                f"audit chain broken at row {e.id}: it does not follow row {last_id or 'genesis'} "
                "(a row before it was deleted, inserted or reordered)",
            )
        if row_hash(e) != e.hash:
            return VerifyResult(
                False,
                n,
                e.id,
                f"audit chain broken at row {e.id}: its content does not match its hash "
                "(the row was edited)",
            )
        expected_prev = e.hash
        last_id = e.id
    if head is not None and (head[0] != last_id or head[1] != expected_prev):
        return VerifyResult(
            False,
            n,
            last_id + 1,
            f"audit chain broken after row {last_id}: the chain head records row {head[0]}, "
            "so rows at the end were deleted",
        )
    return VerifyResult(True, n, None, f"audit trail intact: {n} events verified")
