"""Child process: one crawl by the bridge, timed from inside; prints one JSON line.

Modes (``python -m bench.bridge_crawl MODE --config FILE``):

- ``adapter``: the TRS source adapter alone — every listing page, every detail page and
  its attachments, parsed into ``RawItem``s and dropped (what Scrapy's spider does); a
  page's detail pages are fetched ``fetch.concurrency`` at a time, as ``run_once`` does;
- ``adapter-seq``: the same, one detail page at a time (to show what the threads give);
- ``pipeline``: ``run_once(deliver=False)``: the same, plus normalize, plan and record in
  the state store (no delivery);
- ``backfill``: ``run_once()``: the whole cycle, delivery to the portal included (the
  config says whether ``delivery.process`` delivers from a second process).

The figures cover the crawl only (not interpreter start-up and imports, which the
parent measures separately for the whole process). CPU time includes a delivery process's
(it is reaped before the crawl returns).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.harness import bench_context
from bridge import config
from bridge.cli import setup_logging
from bridge.config import SourceConfig
from bridge.crawl.run import RunOptions, run_once
from bridge.raw import RawItem
from bridge.sources import make_source
from bridge.state.db import open_database


def fields_of(item: RawItem) -> Counter[str]:
    """Which of the compared fields one item has (to show both tools extract the same)."""
    meta = item.meta
    return Counter(
        {
            "title": bool(item.title),
            "date": bool(meta.get("生成日期") or meta.get("成文日期")),
            "doc_no": bool(meta.get("文号") or meta.get("发文字号")),
            "published": bool(meta.get("发布时间") or item.list_date),
            "meta_table": bool(meta.get("索引号")),
            "body": bool(item.body_html.strip()),
            "attachment_links": len(item.attachments),
        }
    )


def crawl_adapter(scfg: SourceConfig, *, threads: int) -> dict[str, Any]:
    """List and fetch every item of every column with the source adapter alone.

    With ``threads`` > 1 each list page's detail pages are fetched that many at a time and
    taken in listing order, as ``run_once`` does (``SourceRun.fetch``, ``bridge.crawl.listing.Window``); with 1, one
    after the other.
    """
    source = make_source(scfg)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="fetch") if threads > 1 else None
    items = 0
    fields: Counter[str] = Counter()
    try:
        for column in source.columns():
            for page in source.list_pages(column, conditional=False):
                if pool is None:
                    fetched = [source.fetch_item(e) for e in page.entries]
                else:
                    fetched = [
                        f.result()
                        for f in [pool.submit(source.fetch_item, e) for e in page.entries]
                    ]
                for raw in fetched:
                    if isinstance(raw, RawItem):
                        items += 1
                        fields.update(fields_of(raw))
        requests = source.fetcher.requests_made  # type: ignore[attr-defined]
    finally:
        if pool is not None:
            pool.shutdown()
        source.close()
    return {"items": items, "requests": requests, "fields": dict(fields)}


def crawl_pipeline(
    settings: config.Settings, *, deliver: bool, keep_sqlite_open: bool = False
) -> dict[str, Any]:
    """One ``run_once`` on a fresh state store; requests counted by the sources' fetchers."""
    db = open_database(settings.state_url.reveal())
    held = None
    if keep_sqlite_open and db.is_sqlite:
        # What-if: one idle connection stays open, so the per-transaction connections of
        # the NullPool are never the last one to close (which checkpoints the WAL into
        # the database and deletes it, with fsyncs): what pooling connections would save.
        held = db.engine.raw_connection()
    ctx, sources = bench_context(settings, db)
    try:
        summary = run_once(ctx, RunOptions(deliver=deliver))
    finally:
        ctx.target.close()
        if held is not None:
            held.close()
        db.dispose()
    stats = summary.sources[0].stats
    out: dict[str, Any] = {
        "items": stats.new + stats.changed + stats.unchanged,
        "requests": sum(s.fetcher.requests_made for s in sources),  # type: ignore[attr-defined]
        "exit_code": summary.exit_code,
        "stats": vars(stats),
    }
    if summary.delivery is not None:
        out["delivered"] = summary.delivery.confirmed
        out["uploaded"] = summary.delivery.uploaded
    return out


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("adapter", "adapter-seq", "pipeline", "backfill"))
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument(
        "--keep-sqlite-open",
        action="store_true",
        help="what-if experiment: hold one idle SQLite connection for the whole run",
    )
    args = parser.parse_args()
    settings = config.load(args.config)
    setup_logging(settings.log_level)
    wall, cpu = time.perf_counter(), _cpu()
    if args.mode.startswith("adapter"):
        scfg = settings.sources[0]
        threads = 1 if args.mode == "adapter-seq" else scfg.fetch.concurrency
        result = crawl_adapter(scfg, threads=threads)
    else:
        result = crawl_pipeline(
            settings, deliver=args.mode == "backfill", keep_sqlite_open=args.keep_sqlite_open
        )
    result["wall"] = time.perf_counter() - wall
    result["cpu"] = _cpu() - cpu
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
