"""Memory: peak RSS of a backfill of 10,000 and of 100,000 items. Is it flat?

Each size is one full backfill (``bench.backfill``'s run: ``bridge sync --once`` of a
cached TRS site served by nginx into the sandbox portal), with the bridge's RSS read from
/proc every second and set against the number of items it had recorded by then (from its
log), so the growth per item shows even when the large size cannot be run.

A full backfill takes long. The 10,000-item run goes first; when its rate says the large
size would take longer than ``--budget-minutes``, a scaled size (the largest multiple of
10,000 that fits the budget, at least 20,000) is measured instead, and the large size's
peak RSS and duration are projected from the two measured sizes — marked as projections.

    python -m bench.memory
    python -m bench.memory --sizes 10000,100000 --budget-minutes 120   # the real thing
    python -m bench.memory --delivery-process   # delivering from a second process

With ``--delivery-process`` (``delivery.process = true``) the figures are the sums over the
bridge's two processes, sampled together (the high-water marks of each, added).
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.backfill import backfill_once
from bench.harness import workdir
from bench.results import machine, publish, save, table
from bench.servers import default_server
from bench.sites import cached_site


def slope_mb_per_10k(progress: list[list[float]]) -> float | None:
    """Least-squares growth of RSS per 10,000 recorded items over the crawl's samples."""
    points = [(items, mb) for _t, items, mb in progress if items > 0]
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return round(10_000 * sxy / sxx, 1)


def at_share(progress: list[list[float]], items: int, share: float) -> float | None:
    """RSS when ``share`` of the items had been recorded."""
    for _t, done, mb in progress:
        if done >= share * items:
            return mb
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="small,large")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=15.0,
        help="longest the large run may take before it is scaled down",
    )
    parser.add_argument("--server", choices=("nginx", "sandbox"), default=default_server())
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--delivery-process",
        action="store_true",
        help="delivery.process = true: RSS summed over the bridge's two processes",
    )
    args = parser.parse_args()
    small, large = (int(s) for s in args.sizes.split(","))
    m = machine()
    runs: dict[int, dict[str, Any]] = {}
    projected = None
    with workdir("memory") as work:
        print(f"backfilling {small:,} items …", flush=True)
        runs[small] = backfill_once(
            cached_site(small),
            work / f"n{small}",
            items=small,
            server=args.server,
            concurrency=args.concurrency,
            delivery_process=args.delivery_process,
        )
        rate = runs[small]["items_per_s"]
        measured = large
        if large / rate > 60 * args.budget_minutes:
            measured = max(20_000, int(rate * 60 * args.budget_minutes) // 10_000 * 10_000)
            measured = min(measured, large)
            print(
                f"{large:,} items would take about {large / rate / 60:.0f} min at "
                f"{rate} items/s; measuring {measured:,} instead",
                flush=True,
            )
        print(f"backfilling {measured:,} items …", flush=True)
        runs[measured] = backfill_once(
            cached_site(measured),
            work / f"n{measured}",
            items=measured,
            server=args.server,
            concurrency=args.concurrency,
            delivery_process=args.delivery_process,
        )
        if measured != large:
            a, b = runs[small], runs[measured]
            per_item = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (measured - small)
            projected = {
                "items": large,
                "peak_rss_mb": round(b["peak_rss_mb"] + per_item * (large - measured), 0),
                "wall_min": round(large / b["items_per_s"] / 60, 0),
                "basis": f"linear in items from the {small:,} and {measured:,} runs",
            }
    rows: list[tuple[Any, ...]] = []
    for n, run in sorted(runs.items()):
        p = run["rss_progress"]
        rows.append(
            (
                f"{n:,}",
                "measured",
                run["peak_rss_mb"],
                run.get("peak_pss_mb") or "",
                at_share(p, n, 0.25) or "",
                at_share(p, n, 0.5) or "",
                at_share(p, n, 1.0) or "",
                slope_mb_per_10k(p) or "",
                round(run["wall_s"] / 60, 1),
                run["items_per_s"],
            )
        )
    if projected:
        rows.append(
            (
                f"{large:,}",
                "**projected**",
                projected["peak_rss_mb"],
                "",
                "",
                "",
                "",
                "",
                projected["wall_min"],
                "",
            )
        )
    body = table(
        [
            "items",
            "",
            "peak RSS MB",
            "peak PSS MB",
            "RSS at 25%",
            "at 50%",
            "at 100% crawled",
            "MB per 10k items",
            "minutes",
            "items/s",
        ],
        rows,
    )
    whose = (
        "RSS summed over the bridge's two processes (`bridge sync --once` with "
        "`delivery.process = true`: the crawl and the delivery process); peak is the sum "
        "of their high-water marks (VmHWM)"
        if args.delivery_process
        else "RSS of the bridge process (`bridge sync --once`) alone; peak is its own "
        "high-water mark (VmHWM)"
    )
    body += (
        f"\n\n{whose}; PSS (shared pages shared out) and the rest sampled from /proc every "
        "second and set against the items recorded by then. "
        f"Site served by {args.server}; sandbox portal without latency; SQLite state."
    )
    if projected:
        body += (
            f"\n\n**The {large:,}-item figures are a projection** ({projected['basis']}), not "
            f"a measurement: at the measured rate that run would take about "
            f"{projected['wall_min']:.0f} minutes (`--budget-minutes` to run it for real)."
        )
    payload = {
        "benchmark": "memory",
        "machine": m,
        "params": vars(args),
        "runs": {str(k): v for k, v in runs.items()},
        "projected": projected,
    }
    path = save("memory", payload)
    publish("Memory: peak RSS of a backfill", m, body, path)


if __name__ == "__main__":
    main()
