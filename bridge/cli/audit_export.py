"""The files of ``bridge audit export``, and their offline check (``verify --file``)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge.audit import AuditEvent, verify_chain
from bridge.state import admin_queries, audit_log, audit_queries
from bridge.state.db import Database

LOCAL = ZoneInfo("Asia/Shanghai")

EXPORT_FORMAT = "bridge-audit-export/1"


def digest_name(jsonl_name: str) -> str:
    return jsonl_name.removesuffix(".jsonl") + ".digest.json"


def _row(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.ts.isoformat(),
        "actor": e.actor,
        "event": e.event,
        "source": e.source,
        "item": e.item,
        "run_id": e.run_id,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_day(db: Database, day: date, out: Path, *, actor: str) -> tuple[Path, dict[str, Any]]:
    """Write ``audit-DAY.jsonl`` and its digest; returns the file and the digest."""
    start = datetime.combine(day, dtime.min, LOCAL)
    end = start + timedelta(days=1)
    with db.read() as s:  # one read transaction: slice and head from the same snapshot
        head = audit_log.head(s)
        span = audit_queries.day_slice(s, start, end)
        if span is None:
            events: list[AuditEvent] = []
            prev = audit_log.previous_hash(s, audit_queries.last_id_before(s, start) + 1)
        else:
            events = audit_queries.events_between(s, *span)
            prev = audit_log.previous_hash(s, span[0])
    data = b"".join(json.dumps(_row(e), ensure_ascii=False).encode() + b"\n" for e in events)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"audit-{day.isoformat()}.jsonl"
    now = datetime.now(UTC)
    digest: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "date": day.isoformat(),
        "timezone": "Asia/Shanghai",
        "complete": end <= now,
        "file": jsonl.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "count": len(events),
        "first_id": events[0].id if events else None,
        "last_id": events[-1].id if events else None,
        "prev_hash": prev,
        "last_hash": events[-1].hash if events else prev,
        "head": {"id": head[0], "hash": head[1]},
        "exported_at": now.isoformat(timespec="seconds"),
        "exported_by": actor,
    }
    _write_atomic(jsonl, data)
    text = json.dumps(digest, ensure_ascii=False, indent=2) + "\n"
    _write_atomic(out / digest_name(jsonl.name), text.encode())
    with db.write() as s:
        audit_log.append(
            s,
            admin_queries.AUDIT_EXPORTED,
            actor=actor,
            details={k: digest[k] for k in ("date", "count", "first_id", "last_id", "sha256")},
        )
    return jsonl, digest


def verify_export(path: Path) -> tuple[bool, str]:
    """Check an export and its digest offline; (ok, message naming the first bad row)."""
    if path.name.endswith(".digest.json"):
        digest_path = path
    else:
        digest_path = path.with_name(digest_name(path.name))
    try:
        digest = json.loads(digest_path.read_text(encoding="utf-8"))
        data = (digest_path.parent / digest["file"]).read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"cannot read the export and its digest ({digest_path}): {exc}"
    events: list[AuditEvent] = []
    for n, raw in enumerate(data.splitlines(), 1):
        try:
            r = json.loads(raw)
            events.append(AuditEvent(r["id"], datetime.fromisoformat(r["ts"]), r["actor"],
                                     r["event"], r["source"], r["item"], r["run_id"],
                                     r["details"], r["prev_hash"], r["hash"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return False, f"audit export broken at line {n}: not an exported event"
    result = verify_chain(events, start_prev=digest.get("prev_hash", ""))
    if not result.ok:
        if events and result.first_bad_id == events[0].id and "does not follow" in result.message:
            return False, (
                f"audit export broken at row {events[0].id}: it does not follow the digest's "
                "prev_hash (a row before it was deleted, inserted or reordered)"
            )
        return False, result.message.replace("audit chain", "audit export", 1)
    first = events[0].id if events else None
    last = events[-1].id if events else None
    if (first, last, len(events)) != (
        digest.get("first_id"),
        digest.get("last_id"),
        digest.get("count"),
    ):
        return False, (
            f"audit export broken: the digest names rows {digest.get('first_id')}–"
            f"{digest.get('last_id')} ({digest.get('count')} events), the file holds rows "
            f"{first}–{last} ({len(events)}): rows were removed or added"
        )
    if events and events[-1].hash != digest.get("last_hash"):
        return False, f"audit export broken at row {last}: its hash is not the digest's last_hash"
    if hashlib.sha256(data).hexdigest() != digest.get("sha256"):
        return False, "audit export broken: the file does not match the sha256 in its digest"
    span = f" (rows {first}–{last})" if events else ""
    return True, (
        f"audit export intact: {len(events)} events{span} of {digest.get('date')} verified; "
        "the file matches its digest"
    )
