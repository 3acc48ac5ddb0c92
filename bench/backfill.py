"""Backfill: a whole TRS site into an empty state store and an empty portal, end to end.

``bridge sync --once`` runs as a child process against a cached sandbox site (10,000 items
by default) served by nginx, delivering to the sandbox portal (another child process,
no added latency). Measured: items per second end to end (crawl, normalize, dedup,
record, audit, push), CPU seconds per item and peak RSS of the bridge process alone
(``os.wait4``), the split between the crawl-and-record phase and the delivery phase
(from the bridge's log timestamps), and what the servers spent.

With ``--floor`` each round also runs ``bench/floor.py``, the same work written directly
(same requests, fields, SQLite durability, audit chain and signed PUTs, one thread): the
floor the bridge's CPU per item is read against (bridge ÷ floor). With ``--scrapy`` each
round also runs the plain Scrapy spider, crawl only (attachment links only); with
``--scrapy-files`` the same spider downloading and hashing every attachment too, which
makes the bridge's requests. The runs of a round alternate, the
order rotating. The bridge's CPU is split between its sync process and the children it
reaped (the delivery process with ``--delivery-process``), read from /proc before reaping.

    python -m bench.backfill                 # 10,000 items, one round
    python -m bench.backfill --delivery-process --floor --scrapy --scrapy-files --rounds 3
    python -m bench.backfill --profile       # and a cProfile of one more run
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import profiling
from bench.harness import bridge_cmd, sqlite_url, workdir, write_config
from bench.peers import floor_once, index_numbers, ratios, scrapy_once
from bench.procs import Usage, run_measured
from bench.results import machine, median, publish, save, spread, table
from bench.servers import Nginx, Portal, default_server, static_server
from bench.sites import cached_site, columns_for

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def log_times(log: Path, state: Path) -> tuple[float | None, list[float]]:
    """When the bridge logged its first line, and when it recorded each item (the items'
    ``first_seen`` in the state store: the per-item log lines are DEBUG, off in a run)."""
    first = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := _STAMP.match(line):
            first = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            break
    with contextlib.closing(sqlite3.connect(state)) as db:
        rows = db.execute("SELECT first_seen FROM items ORDER BY first_seen").fetchall()
    new = [datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp() for r in rows]
    return first, new


def phases(first: float | None, new: list[float], started: float, ended: float) -> dict[str, float]:
    """Seconds of start-up, crawl-and-record (to the last item recorded), and delivery."""
    if first is None or not new:
        return {}
    return {
        "startup_s": round(first - started, 2),
        "crawl_record_s": round(new[-1] - first, 2),
        "deliver_s": round(ended - new[-1], 2),
    }


def outcome(summary: Path) -> dict[str, int]:
    """The counts on ``bridge sync``'s summary line (new, quarantined …)."""
    text = summary.read_text(encoding="utf-8")
    counts = {k: 0 for k in ("fetched", "new", "quarantined")}
    for key in counts:
        m = re.search(rf"(\d+) {key}", text)
        if m:
            counts[key] = int(m.group(1))
    return counts


def progress(
    samples: list[tuple[float, float]], new: list[float], started: float
) -> list[tuple[float, int, float]]:
    """RSS samples as (seconds, items recorded by then, MB): memory against progress."""
    return [(t, bisect.bisect_right(new, started + t), mb) for t, mb in samples]


def per_process(usage: Usage, items: int) -> dict[str, float | None]:
    """CPU ms per item of the sync process itself and of the children it reaped (the
    delivery process, with ``delivery.process = true``; with ``false`` it is nothing)."""
    own, children = usage.own_cpu, usage.children_cpu
    return {
        "sync_cpu_ms_per_item": None if own is None else round(1000 * own / items, 2),
        "delivery_cpu_ms_per_item": None if children is None else round(1000 * children / items, 2),
    }


def backfill_once(
    root: Path,
    work: Path,
    *,
    items: int,
    server: str,
    concurrency: int,
    delivery_process: bool = False,
    sample_rss: float = 1.0,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One ``bridge sync --once`` of the whole site into fresh state and a fresh portal."""
    work.mkdir(parents=True, exist_ok=True)
    columns, _how = columns_for(root, 6)
    site = static_server(server, root, work / "site.log", access_log=True)
    portal = Portal(work / "portal.db", work / "portal.log")
    with site, portal:
        config = write_config(
            work,
            state_url=sqlite_url(work / "state.db"),
            site_url=site.url,
            portal_url=portal.url,
            columns=columns,
            concurrency=concurrency,
            delivery_process=delivery_process,
        )
        cmd = bridge_cmd(config, "sync", "--once")
        if profile_to is not None:
            cmd = profiling.profiled(cmd, profile_to)
        started = time.time()
        usage = run_measured(cmd, log=work / "sync.log", sample_rss=sample_rss)
        ended = time.time()
        held = portal.count()
        site_requests = site.access_lines() if isinstance(site, Nginx) else None
    counts = outcome(work / "sync.out")
    # Exit code 1 with quarantined items is the bridge holding pages back, not a failure.
    if usage.returncode not in (0, 1) or (usage.returncode == 1 and not counts["quarantined"]):
        raise RuntimeError(f"bridge sync exited {usage.returncode}; see {work / 'sync.log'}")
    first, new = log_times(work / "sync.log", work / "state.db")
    if held != counts["new"] or counts["new"] + counts["quarantined"] != items:
        raise RuntimeError(f"the portal holds {held} items, {counts}; see {work}")
    numbers = index_numbers(root, work / "portal.db")
    if numbers["kept"] != numbers["shown"]:
        raise RuntimeError(f"the portal re-numbered pages' own 索引号: {numbers}; see {work}")
    assert site.usage is not None and portal.usage is not None
    return {
        "items": items,
        "wall_s": round(usage.wall, 2),
        "items_per_s": round(items / usage.wall, 1),
        "cpu_s": round(usage.cpu, 2),
        "cpu_user_s": round(usage.user, 2),
        "cpu_sys_s": round(usage.sys, 2),
        "cpu_ms_per_item": round(1000 * usage.cpu / items, 2),
        **per_process(usage, items),
        "peak_rss_mb": round(usage.max_rss_mb, 1),
        "peak_pss_mb": round(usage.max_pss_mb, 1) if usage.max_pss_mb is not None else None,
        "rss_progress": progress(usage.rss_samples, new, started),
        "portal_cpu_s": round(portal.usage.cpu, 2),
        "site_cpu_s": round(site.usage.cpu, 2),
        "portal_items": held,
        "site_requests": site_requests,
        "quarantined": counts["quarantined"],
        "index_no": numbers,
        **phases(first, new, started, ended),
    }


def peer_rows(
    runs: list[dict[str, Any]], peers: list[dict[str, Any]], name: str, short: str
) -> list[tuple[str, Any, str]]:
    """A peer's items/s, CPU ms per item and requests, and bridge ÷ it round by round."""
    rate = [r["items_per_s"] for r in peers]
    cpu = [r["cpu_ms_per_item"] for r in peers]
    by_rate = ratios(runs, peers, "items_per_s")
    return [
        (f"{name}: items/s", median(rate), spread(rate)),
        (f"{name}: CPU ms per item", median(cpu), spread(cpu)),
        (f"{name}: requests", median([r["requests"] for r in peers]), ""),
        (f"bridge ÷ {short}, items/s", median(by_rate), spread(by_rate)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--server", choices=("nginx", "sandbox"), default=default_server())
    parser.add_argument("--concurrency", type=int, default=4, help="fetch.concurrency")
    parser.add_argument(
        "--delivery-process",
        action="store_true",
        help="delivery.process = true: deliver from a second process while the crawl goes on",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="and a run of bench/floor.py (the same work written directly) each round, "
        "alternating with the bridge",
    )
    parser.add_argument(
        "--scrapy",
        action="store_true",
        help="and a crawl by the plain Scrapy spider (crawl only) each round, alternating",
    )
    parser.add_argument(
        "--scrapy-files",
        action="store_true",
        help="and a crawl by the same spider downloading and hashing every attachment too "
        "(the bridge's requests) each round, alternating",
    )
    parser.add_argument("--profile", action="store_true", help="and one more run under cProfile")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    m = machine()
    root = cached_site(args.items)
    runs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    scrapys: list[dict[str, Any]] = []
    scrapy_files: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    with workdir("backfill", keep=args.keep) as work:
        for n in range(args.rounds):
            order = (
                ["bridge"]
                + ["floor"] * args.floor
                + ["scrapy"] * args.scrapy
                + ["scrapy-files"] * args.scrapy_files
            )
            for tool in order[n % len(order) :] + order[: n % len(order)]:  # rotating
                print(
                    f"round {n + 1}/{args.rounds}: {tool}, backfilling {args.items:,} items …",
                    flush=True,
                )
                if tool == "floor":
                    run = floor_once(
                        root, work / f"r{n}-floor", items=args.items, server=args.server
                    )
                    floors.append(run)
                elif tool.startswith("scrapy"):
                    run = scrapy_once(
                        root,
                        work / f"r{n}-{tool}",
                        items=args.items,
                        server=args.server,
                        concurrency=args.concurrency,
                        files=tool == "scrapy-files",
                    )
                    (scrapy_files if tool == "scrapy-files" else scrapys).append(run)
                else:
                    run = backfill_once(
                        root,
                        work / f"r{n}",
                        items=args.items,
                        server=args.server,
                        concurrency=args.concurrency,
                        delivery_process=args.delivery_process,
                    )
                    runs.append(run)
                print(f"  {run['items_per_s']} items/s, {run['cpu_ms_per_item']} ms CPU per item")
        if args.profile:
            print("profiled run …", flush=True)
            out = work / "backfill.prof"
            backfill_once(
                root,
                work / "prof",
                items=args.items,
                server=args.server,
                concurrency=args.concurrency,
                profile_to=out,
            )
            profile = profiling.summarize(out)
        if args.keep:
            print(f"scratch folder kept: {work}")

    def col(key: str) -> list[float]:
        return [r[key] for r in runs if r.get(key) is not None]

    pss = col("peak_pss_mb")  # sampled, summed over the bridge's processes
    rows = [
        ("items/s end to end", median(col("items_per_s")), spread(col("items_per_s"))),
        ("wall s", median(col("wall_s")), spread(col("wall_s"))),
        ("  start-up s", median(col("startup_s")), spread(col("startup_s"))),
        ("  crawl + record s", median(col("crawl_record_s")), spread(col("crawl_record_s"))),
        ("  delivery after the last record s", median(col("deliver_s")), spread(col("deliver_s"))),
        ("CPU s (bridge process)", median(col("cpu_s")), spread(col("cpu_s"))),
        ("CPU ms per item", median(col("cpu_ms_per_item")), spread(col("cpu_ms_per_item"))),
        (
            "  sync process",
            median(col("sync_cpu_ms_per_item")),
            spread(col("sync_cpu_ms_per_item")),
        ),
        (
            "  delivery process" if args.delivery_process else "  child processes",
            median(col("delivery_cpu_ms_per_item")),
            spread(col("delivery_cpu_ms_per_item")),
        ),
        ("peak RSS MB (bridge process)", median(col("peak_rss_mb")), spread(col("peak_rss_mb"))),
        ("peak PSS MB (shared pages shared out)", median(pss), spread(pss)),
        ("portal CPU s (not the bridge)", median(col("portal_cpu_s")), ""),
        (f"{args.server} CPU s (not the bridge)", median(col("site_cpu_s")), ""),
    ]
    if floors:
        f_rate = [f["items_per_s"] for f in floors]
        f_cpu = [f["cpu_ms_per_item"] for f in floors]
        f_rss = [f["peak_rss_mb"] for f in floors]
        by_cpu, by_rate = (
            ratios(runs, floors, "cpu_ms_per_item"),
            ratios(floors, runs, "items_per_s"),
        )
        rows += [
            ("floor: items/s end to end", median(f_rate), spread(f_rate)),
            ("floor: CPU ms per item", median(f_cpu), spread(f_cpu)),
            ("floor: peak RSS MB", median(f_rss), spread(f_rss)),
            ("bridge ÷ floor, CPU ms per item", median(by_cpu), spread(by_cpu)),
            ("floor ÷ bridge, items/s", median(by_rate), spread(by_rate)),
        ]
    if scrapys:
        rows += peer_rows(runs, scrapys, "Scrapy, crawl only", "Scrapy")
    if scrapy_files:
        rows += peer_rows(runs, scrapy_files, "Scrapy + attachments", "Scrapy + attachments")
    body = table(["backfill of " + f"{args.items:,} items", "median", "range"], rows)
    kept = runs[-1]["index_no"]
    body += (
        f"\n\n索引号: {kept['shown']:,} pages show their own, {kept['kept']:,} portal records "
        f"carry it as written; {kept['minted']:,} records of pages without one were minted."
    )
    body += (
        f"\n\n{len(runs)} round(s); site served by {args.server}; sandbox portal without "
        f"latency; fetch.concurrency = {args.concurrency}, rate limit lifted; SQLite state."
    )
    if floors:
        body += (
            "\n\nFloor: `bench/floor.py`, the same requests, fields, SQLite durability, audit "
            "chain and signed PUTs written directly in one thread (its docstring says what it "
            "skips). bridge ÷ floor and floor ÷ bridge are medians of per-round ratios."
        )
    if scrapys or scrapy_files:
        body += (
            "\n\nScrapy: `bench/scrapy_spider.py` (as in `bench.crawl`), crawl only: no store, "
            "no delivery; items/s over its whole process, as for the bridge."
        )
    if scrapy_files:
        body += (
            " Scrapy + attachments is the same spider with `--files`: it also downloads and "
            "hashes every attachment, so it makes the bridge's requests."
        )
    if floors or scrapys or scrapy_files:
        body += (
            " The runs of a round alternate, the order rotating. CPU is each whole process "
            "from start to exit (`wait4`); the bridge's split between its sync process and the "
            "children it reaped (its delivery process) is read from /proc before reaping."
        )
    if profile is not None:
        body += "\n\n" + profiling.tables(profile)
    payload = {
        "benchmark": "backfill",
        "machine": m,
        "params": vars(args) | {"site": root.name},
        "runs": runs,
        "floor_runs": floors,
        "scrapy_runs": scrapys,
        "scrapy_files_runs": scrapy_files,
        "summary": {r[0].strip(): r[1] for r in rows},
        "profile": profile,
    }
    path = save("backfill", payload)
    publish(f"Backfill: {args.items:,}-item TRS site → sandbox portal", m, body, path)


if __name__ == "__main__":
    main()
