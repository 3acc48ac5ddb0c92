"""Applying a column reader's decisions: the recorder, and the planner of a dry run.

``Recorder`` stores them: versions in batches (one write transaction per batch, through
``bridge.state.recording``), quarantines, withdrawals, the pages' validators, the run's
row and its audit events. ``Planner`` takes the same calls in a dry run, stores nothing
and keeps the plan that ``resync --dry-run`` prints. The reader never asks which one it
has: a dry run is this choice, made once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bridge import audit
from bridge.crawl.decisions import Quarantine, Version, Withdraw
from bridge.crawl.withdraw import check_share
from bridge.errors import LayoutAlarm
from bridge.state import admin_queries, audit_log, items, recording, runs
from bridge.text import clean_text

if TYPE_CHECKING:
    from bridge.crawl.reader import SourceRun

log = logging.getLogger("bridge.crawl.run")  # the crawl's one logger, as operators know it

RECORD_BATCH = 50  # items recorded in one transaction at most (a list page holds 20 or so)
RECORD_BATCH_BYTES = 16 << 20  # and attachments held for it at most: memory stays flat


class Recorder:
    """Stores what the reader decided (see the module's docstring)."""

    def __init__(self, run: SourceRun) -> None:
        self.run = run
        self.plan: list[tuple[str, str, str]] = []  # a dry run's only (Planner)
        # Versions not yet recorded: written together at the end of each batch of fetched
        # pages (see flush), never held past it.
        self.unrecorded: list[Version] = []
        self.unrecorded_bytes = 0
        settings = run.ctx.settings
        self.mint = run.scfg.org_code if settings.target.index_no == "bridge" else None
        self.target = settings.target.name

    def start(self, s: Session, kind: str, details: dict[str, Any]) -> None:
        """The run's row, in the caller's transaction (the one that names the source)."""
        self.run.run_id = runs.start(
            s, kind=kind, source=self.run.scfg.name, actor=self.run.ctx.actor, details=details
        )

    def add_version(self, d: Version) -> None:
        """Queue a version for the next batch; its attachments' files go once it is stored."""
        self.unrecorded.append(d)
        self.unrecorded_bytes += sum(a.size for a in d.raw.attachments)
        if len(self.unrecorded) >= RECORD_BATCH or self.unrecorded_bytes >= RECORD_BATCH_BYTES:
            self.flush()

    def quarantine(self, d: Quarantine) -> None:
        run, raw = self.run, d.raw
        problems = [
            {"field": p.field, "rule": p.rule, "message": p.message} for p in d.error.problems
        ]
        with run.ctx.db.write() as s:
            items.quarantine(
                s,
                source_id=run.source_id,
                source_name=run.scfg.name,
                external_id=f"{run.scfg.name}:{raw.article_id}",
                article_id=raw.article_id,
                column=raw.column,
                url=raw.url,
                fingerprint=d.entry.fingerprint,
                problems=problems,
                actor=run.ctx.actor,
                run_id=run.run_id,
                title=clean_text(raw.title or raw.list_title) or None,
            )

    def flush(self) -> None:
        """Record the versions in hand, with their deliveries and audit events, in one
        transaction: per item, the transaction's own cost (the lock, the commit, the
        audit chain's head) was as much as the item's rows."""
        batch, self.unrecorded, self.unrecorded_bytes = self.unrecorded, [], 0
        if not batch:
            return
        run = self.run
        try:
            with run.ctx.db.write() as s:
                outcomes = recording.record_versions(
                    s,
                    source_id=run.source_id,
                    source_name=run.scfg.name,
                    recordings=[
                        recording.Recording(
                            d.record, d.digest, d.entry.fingerprint, d.raw.attachments
                        )
                        for d in batch
                    ],
                    target=self.target,
                    actor=run.ctx.actor,
                    run_id=run.run_id,
                    mint_index_no_for=self.mint,
                )
                # Each detail page's validators, for its revalidation (bridge.crawl.revalidate)
                pages = {d.raw.url: (d.raw.etag, d.raw.last_modified) for d in batch}
                runs.remember_validators(s, {u: v for u, v in pages.items() if any(v)})
        finally:  # stored or not, the attachments' temporary files go
            for d in batch:
                d.raw.discard()
        stats = run.stats
        for d, outcome in zip(batch, outcomes, strict=True):
            setattr(stats, outcome.action, getattr(stats, outcome.action) + 1)
            if outcome.action == "quarantined":  # its 索引号 is another item's
                log.warning(
                    "%s: quarantined %s: its 索引号 %s is another item's",
                    run.scfg.name,
                    d.raw.url,
                    d.record.index_no,
                )
                continue
            run.known[d.raw.article_id] = items.KnownItem(
                outcome.external_id, d.raw.article_id, d.raw.column, d.entry.fingerprint,
                "active", d.digest,
            )  # fmt: skip
            if outcome.action != "unchanged":  # one line per item: 3,000 in a backfill
                log.debug(
                    "%s: %s %s %s", run.scfg.name, outcome.action, outcome.external_id,
                    d.record.title,
                )  # fmt: skip

    def withdraw(self, d: Withdraw) -> None:
        """Withdraw the gone items, unless the share rule holds them."""
        run = self.run
        check_share(run, d)
        for k in d.gone:
            with run.ctx.db.write() as s:
                if (
                    items.withdraw(
                        s,
                        external_id=k.external_id,
                        source_name=run.scfg.name,
                        target=self.target,
                        actor=run.ctx.actor,
                        run_id=run.run_id,
                        reason="gone from the site",
                    )
                    is not None
                ):
                    run.stats.withdrawn += 1

    def keep_validators(self, pages: dict[str, tuple[str | None, str | None]]) -> None:
        """List pages whose every entry is recorded: a 304 next time hides nothing."""
        with self.run.ctx.db.write() as s:
            runs.remember_validators(s, pages)

    def complete_column(self, column: str) -> None:
        """The column's listing was read to its end once, every entry recorded."""
        with self.run.ctx.db.write() as s:
            runs.set_cursor(s, self.run.scfg.name, f"listing_complete:{column}", True)

    def complete_listing(self) -> None:
        """Every column read to its end: the next periodic check is an interval away."""
        with self.run.ctx.db.write() as s:
            runs.set_cursor(
                s, self.run.scfg.name, "last_full_listing", datetime.now(UTC).isoformat()
            )

    def alarm(self, exc: LayoutAlarm) -> None:
        with self.run.ctx.db.write() as s:
            audit_log.append(
                s,
                audit.LAYOUT_ALARM,
                actor=self.run.ctx.actor,
                source=self.run.scfg.name,
                run_id=self.run.run_id,
                details={
                    "column": exc.column,
                    "url": exc.url,
                    "selector": exc.selector,
                    "message": str(exc),
                },
            )

    def finish(self, status: str, message: str | None) -> None:
        run = self.run
        if run.run_id is None:
            return
        with run.ctx.db.write() as s:
            runs.finish(
                s, run.run_id, status=status, stats=asdict(run.stats), message=message,
                actor=run.ctx.actor,
            )  # fmt: skip


class Planner(Recorder):
    """A dry run: the same decisions, counted and kept as the plan; nothing stored."""

    def start(self, s: Session, kind: str, details: dict[str, Any]) -> None:
        pass

    def add_version(self, d: Version) -> None:
        run, raw = self.run, d.raw
        try:
            external_id = f"{run.scfg.name}:{raw.article_id}"
            known = run.known.get(raw.article_id)
            if known is None:  # listed on an earlier page, still in the fetch window
                with run.ctx.db.read_rows() as conn:
                    known = items.known_by_external_id(conn, [external_id]).get(raw.article_id)
            if known is None or known.content_hash is None:
                self.plan.append(("add", external_id, d.record.title))
                run.stats.new += 1
            elif known.content_hash != d.digest:
                self.plan.append(("update", external_id, d.record.title))
                run.stats.changed += 1
            else:
                run.stats.unchanged += 1
        finally:
            raw.discard()

    def quarantine(self, d: Quarantine) -> None:
        # The page's own title, as canonical text (no terminal control sequence).
        external_id = f"{self.run.scfg.name}:{d.raw.article_id}"
        self.plan.append(("quarantine", external_id, clean_text(d.raw.title or d.raw.list_title)))

    def flush(self) -> None:
        pass

    def withdraw(self, d: Withdraw) -> None:
        run = self.run
        check_share(run, d)
        with run.ctx.db.read() as s:  # the title the portal shows: the item's last version's
            titles = admin_queries.titles(s, [k.external_id for k in d.gone])
        for k in d.gone:
            self.plan.append(("withdraw", k.external_id, titles.get(k.external_id, "")))
            run.stats.withdrawn += 1

    def keep_validators(self, pages: dict[str, tuple[str | None, str | None]]) -> None:
        pass

    def complete_column(self, column: str) -> None:
        pass

    def complete_listing(self) -> None:
        pass

    def alarm(self, exc: LayoutAlarm) -> None:
        pass

    def finish(self, status: str, message: str | None) -> None:
        pass
