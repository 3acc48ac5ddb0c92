"""Child process: several ``run_once`` cycles in one process, as the daemon runs them;
prints one JSON line with each cycle's requests, CPU and wall time.

    python -m bench.poll_cycle --config FILE --cycles 5 [--listing-age-days 2] [--profile F]
        [--revalidation-elapsed 600]

The cursor that says when the last daily complete listing ran is set to
``--listing-age-days`` ago first: 0 for ordinary polls, 2 to make the first cycle the
daily complete listing (to show what that check costs). ``--revalidation-elapsed S`` sets
the source's previous revalidation to S seconds ago before every cycle, so each cycle
checks the share of old items a daemon polling every S seconds checks (bridge.crawl.revalidate).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import bench_context
from bridge import config
from bridge.cli import setup_logging
from bridge.crawl.run import run_once
from bridge.state import runs
from bridge.state.db import open_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--listing-age-days", type=float, default=0.0)
    parser.add_argument("--profile", type=Path, help="cProfile every cycle but the first")
    parser.add_argument("--revalidation-elapsed", type=float, help="seconds since the last")
    args = parser.parse_args()
    settings = config.load(args.config)
    setup_logging(settings.log_level)
    db = open_database(settings.state_url.reveal())
    name = settings.sources[0].name
    last = datetime.now(UTC) - timedelta(days=args.listing_age_days)
    with db.write() as s:
        runs.set_cursor(s, name, "last_full_listing", last.isoformat())
    ctx, sources = bench_context(settings, db)
    cycles: list[dict[str, Any]] = []
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    for n in range(args.cycles):
        before = len(sources)
        if args.revalidation_elapsed is not None:
            with db.write() as s:
                last = runs.get_cursor(s, name, "revalidation") or {}
                at = datetime.now(UTC) - timedelta(seconds=args.revalidation_elapsed)
                runs.set_cursor(s, name, "revalidation", {**last, "at": at.isoformat()})
        if profiler is not None and n > 0:
            profiler.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_once(ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
        stats = summary.sources[0].stats
        fetchers = [s.fetcher for s in sources[before:]]  # type: ignore[attr-defined]
        cycles.append(
            {
                "cycle": n,
                "wall_ms": round(1000 * wall, 1),
                "cpu_ms": round(1000 * cpu, 1),
                "requests": sum(f.requests_made for f in fetchers),
                "pages": stats.pages,
                "not_modified": stats.pages_not_modified,
                "fetched": stats.fetched,
                "new": stats.new,
                "changed": stats.changed,
                "status": summary.sources[0].status,
                "delivered": summary.delivery.sent if summary.delivery else 0,
                "revalidated": stats.revalidated,
                "revalidated_not_modified": stats.revalidated_not_modified,
                "revalidated_unchanged": stats.revalidated_unchanged,
                "revalidated_changed": stats.revalidated_changed,
                "revalidated_gone": stats.revalidated_gone,
            }
        )
    ctx.target.close()
    db.dispose()
    if profiler is not None:  # the main thread's CPU (the delivery thread has nothing to do)
        profiler.dump_stats(args.profile)
        steady = cycles[1:]
        totals = {
            "cpu_s": sum(c["cpu_ms"] for c in steady) / 1000,
            "wall_s": sum(c["wall_ms"] for c in steady) / 1000,
        }
        Path(str(args.profile) + ".json").write_text(json.dumps(totals))
    print(json.dumps(cycles))


if __name__ == "__main__":
    main()
