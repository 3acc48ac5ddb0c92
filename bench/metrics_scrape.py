"""/metrics scrape cost of the timeliness histograms, at 1,000 and 100,000 items.

A state store is written with ``bridge.state.recording.record_versions`` (the function a
crawl uses), 1,000 records per transaction: items published over 2025–2026, each with a
生成日期 a few days earlier (one in ten derived, counted apart), nine in ten confirmed by
the portal some hours to weeks later, the column first read before all of them (none is
baseline), each row last written at its publication (a scrape re-reads the rows written in the
last ten minutes before the newest write: right after a seed, that is all of them). Then ``/metrics``' timeliness collector is scraped in this process: the first
scrape (reads every item and newest record), a second with nothing changed, and one after
ten confirmations. CPU and wall milliseconds per scrape.

    python -m bench.metrics_scrape
    python -m bench.metrics_scrape --sizes 1000
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import sqlite_url, workdir
from bench.results import machine, save, table

BATCH = 1000


def seed(path: Path, count: int) -> None:
    from sqlalchemy import update

    from bridge.catalog import CatalogRecord, SourceRef
    from bridge.normalize import content_hash
    from bridge.state import items, recording
    from bridge.state.db import open_database
    from bridge.state.models import ItemRow

    rng = random.Random(1)
    db = open_database(sqlite_url(path))
    with db.write() as s:
        source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")
    start = datetime(2025, 1, 1, 1, tzinfo=UTC)
    for first in range(0, count, BATCH):
        recordings, confirmed = [], []
        for n in range(first, min(first + BATCH, count)):
            published = start + timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
            record = CatalogRecord(
                external_id=f"yyedu:{n}", title=f"关于第{n}项工作的通知", summary="通知",
                publisher="余姚市教育局", created=published.date() - timedelta(rng.randrange(0, 30)),
                published=published, doc_no=None, category="业务工作", topic="科技、教育\\教育",
                genre="通知", body_html="<p>为进一步做好相关工作，现将有关事项通知如下。</p>",
                source=SourceRef("yyedu", "ywgz", f"http://site.example/{n}.html", str(n),
                                 published),
                disclosure="主动公开", validity="有效",
                provenance={"created": "derived:published" if n % 10 == 0 else "page:成文日期"},
            )  # fmt: skip
            recordings.append(recording.Recording(record, content_hash(record.to_json()), ""))
            if n % 10:
                confirmed.append(
                    (f"yyedu:{n}", published + timedelta(hours=rng.expovariate(1 / 48)))
                )
        with db.write() as s:
            recording.record_versions(
                s, source_id=source_id, source_name="yyedu", recordings=recordings,
                target="portal", actor="bench seed", run_id=None,
            )  # fmt: skip
            for xid, at in confirmed:
                s.execute(update(ItemRow).where(ItemRow.external_id == xid)
                          .values(first_confirmed_at=at))  # fmt: skip
    with db.write() as s:  # read first long ago; each row last written when it was published
        s.execute(update(ItemRow).values(first_seen=datetime(2024, 12, 1, tzinfo=UTC),
                                         updated_at=ItemRow.published_at))  # fmt: skip
    db.dispose()


def timed(fn: Any) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def measure(count: int, work: Path) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, generate_latest
    from sqlalchemy import select, update

    from bridge.service.health import TimelinessCollector
    from bridge.state.db import open_database
    from bridge.state.models import ItemRow

    path = work / f"state-{count}.db"
    t0 = time.perf_counter()
    seed(path, count)
    seeded = time.perf_counter() - t0
    db = open_database(sqlite_url(path))
    registry = CollectorRegistry()
    registry.register(TimelinessCollector(db))
    out = {"items": count, "seed_s": round(seeded, 1)}
    out["first"] = timed(lambda: generate_latest(registry))
    out["second"] = timed(lambda: generate_latest(registry))
    with db.write() as s:
        pending = s.execute(select(ItemRow.id).where(ItemRow.first_confirmed_at.is_(None))
                            .limit(10)).scalars().all()  # fmt: skip
        s.execute(update(ItemRow).where(ItemRow.id.in_(pending))
                  .values(first_confirmed_at=datetime.now(UTC)))  # fmt: skip
    out["after_10_confirmed"] = timed(lambda: generate_latest(registry))
    db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    args = parser.parse_args()
    rows, results = [], []
    with workdir("metrics-scrape") as work:
        for count in (int(x) for x in args.sizes.split(",")):
            r = measure(count, work)
            results.append(r)
            for key in ("first", "second", "after_10_confirmed"):
                cpu, wall = r[key]
                rows.append([f"{count:,}", key.replace("_", " "), f"{cpu:.0f}", f"{wall:.0f}"])
            print(f"{count:,} items: seeded in {r['seed_s']} s", flush=True)
    print(table(["items", "scrape", "CPU ms", "wall ms"], rows))
    save("metrics_scrape", {"machine": machine(), "date": date.today().isoformat(),
                            "results": results})  # fmt: skip


if __name__ == "__main__":
    main()
