"""Revalidation cost: what asking known detail pages again with conditional GET
(bridge.crawl.revalidate) adds to a poll cycle in which nothing changed, at 1,000 and 100,000
items in the store.

The site and the seeded store are bench.poll's (20 columns, served by nginx). Each store
copy is brought to the steady state of a daemon that has run for weeks:

- every item's detail page has its validators stored (nginx's ETag and Last-Modified, as a
  backfill keeps them), so an unchanged page is answered 304;
- the old items' last checks are spread evenly over the last ``revalidate_all`` (none is
  overdue), and before every cycle the source's previous revalidation is set to
  ``--interval`` ago: each cycle checks the share a daemon polling at that interval checks,
  ``ceil(n_old × interval / revalidate_all)``;
- every item active (the seed's copies of a template's 索引号 are held as duplicates);
- publication dates: the generated site's own (shifted so that its newest item was
  published now; how many fall within ``revalidate_recent`` is printed), and a realistic
  mix in which only ``--recent`` items (a few a day over 30 days) are recent.

Three settings alternate in the same run, in separate processes, several cycles each: off
(``revalidate_recent = revalidate_all = 0``), and on (the defaults: 30 d recent, 7 d all)
with each date mix. Reported: requests, CPU ms and wall ms of a steady cycle (every cycle
but the first of a process), and the difference against off.

    python -m bench.poll_revalidate
    python -m bench.poll_revalidate --sizes 1000 --rounds 2 --cycles 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import END_DATE, PYTHON
from bench.harness import sqlite_url, workdir, write_config
from bench.poll import REVALIDATION_OFF, cycles_of, prepared_state
from bench.procs import run_measured
from bench.results import machine, median, publish, save, spread, table
from bench.servers import Nginx, Portal
from bridge import defaults

DAY = 86400.0


def nginx_validators(path: Path) -> tuple[str, str]:
    """The ETag and Last-Modified nginx sends for a static file."""
    st = path.stat()
    return f'"{int(st.st_mtime):x}-{st.st_size:x}"', formatdate(int(st.st_mtime), usegmt=True)


def steady_store(
    cached: Path, target: Path, root: Path, base: str, recent: int | None
) -> dict[str, Any]:
    """A copy of bench.poll's seeded store in a long-running daemon's steady state (see the
    module doc); ``recent`` None keeps the site's own dates. Returns the date mix."""
    from sqlalchemy import select, update

    from bridge.sandbox.site_model import load_manifest
    from bridge.state.db import open_database
    from bridge.state.models import FetchCacheRow, ItemRow

    shutil.copyfile(cached, target)
    now = datetime.now(UTC)
    shift = now - datetime.combine(END_DATE, datetime.max.time(), UTC)
    published = {i.id: i.published.replace(tzinfo=UTC) + shift for i in load_manifest(root).live()}
    if recent is not None:  # the newest ``recent`` within 30 days, the others older
        newest = sorted(published, key=published.__getitem__, reverse=True)
        step = timedelta(seconds=defaults.REVALIDATE_RECENT / max(recent, 1) * 0.95)
        for k, article in enumerate(newest):
            cap = now - timedelta(seconds=defaults.REVALIDATE_RECENT + DAY)
            published[article] = now - step * (k + 0.5) if k < recent else min(
                published[article], cap
            )  # fmt: skip
    since = now - timedelta(seconds=defaults.REVALIDATE_RECENT)
    db = open_database(sqlite_url(target))
    with db.write() as s:
        rows = s.execute(select(ItemRow.id, ItemRow.article_id, ItemRow.url)).all()
        period = defaults.REVALIDATE_ALL - 3600  # none overdue within the next hour
        updates, cache = [], []
        for k, row in enumerate(rows):
            path = "/" + row.url.split("/", 3)[3]
            url = base.rstrip("/") + path
            updates.append(
                {
                    "id": row.id,
                    "url": url,
                    "published_at": published.get(row.article_id),
                    "checked_at": now - timedelta(seconds=period * (k + 1) / len(rows)),
                }
            )
            etag, modified = nginx_validators(root / path.lstrip("/"))
            cache.append({"url": url, "etag": etag, "last_modified": modified})
        s.execute(update(ItemRow), updates)
        s.execute(FetchCacheRow.__table__.insert(), cache)
    with db.read() as s:
        n_recent = sum(1 for u in updates if u["published_at"] and u["published_at"] >= since)
    db.dispose()
    url = urlsplit(cache[0]["url"])
    conn = http.client.HTTPConnection(url.netloc, timeout=10)
    conn.request("GET", url.path, headers={"If-None-Match": cache[0]["etag"]})
    if (status := conn.getresponse().status) != 304:
        raise RuntimeError(f"nginx answered {status} to the stored validators of {url.path}")
    conn.close()
    return {"items": len(rows), "recent": n_recent, "old": len(rows) - n_recent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="items in the state store")
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="processes per size and setting")
    parser.add_argument("--cycles", type=int, default=4, help="cycles per process")
    parser.add_argument("--recent", type=int, default=100, help="recent items in the mix")
    parser.add_argument(
        "--interval", type=float, default=defaults.SOURCE_INTERVAL, help="poll interval, s"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = {
        "off": (None, REVALIDATION_OFF),
        "on, site's dates": (None, ""),
        f"on, {args.recent} recent": (args.recent, ""),
    }
    m = machine()
    runs: dict[tuple[int, str], dict[str, Any]] = {}
    with workdir("poll-revalidate", keep=args.keep) as work:
        portal = Portal(work / "portal.db", work / "portal.log")
        servers: list[Nginx] = []
        try:
            portal.start()
            for n in sizes:
                root, cols, _how, cached = prepared_state(n, args.columns, work)
                site = Nginx(root, work / f"nginx-{n}.log")
                servers.append(site)
                site.start()
                for name, (recent, extra) in settings.items():
                    slug = f"{n}-{len(runs)}"
                    print(f"steady store: {n:,} items, {name} …", flush=True)
                    mix = steady_store(cached, work / f"state-{slug}.db", root, site.url, recent)
                    config = write_config(
                        work / f"s{slug}",
                        state_url=sqlite_url(work / f"state-{slug}.db"),
                        site_url=site.url,
                        portal_url=portal.url,
                        columns=cols,
                        source_extra=extra,
                    )
                    runs[n, name] = {"config": config, "mix": mix, "processes": []}
                    # one cycle unmeasured: the list pages' validators (the port changed)
                    cycles_of(config, work / f"warm-{slug}.log", 1, 0.0)
            names = list(settings)
            for r in range(args.rounds):
                for n in sizes:
                    for name in names[r % 3 :] + names[: r % 3]:
                        print(f"round {r + 1}/{args.rounds}: {n:,} items, {name} …", flush=True)
                        slug = f"{n}-{names.index(name)}-{r}"
                        got = cycles_after(
                            runs[n, name]["config"], work / f"cycles-{slug}.log",
                            args.cycles, args.interval,
                        )  # fmt: skip
                        runs[n, name]["processes"].append(got)
        finally:
            for site in servers:
                site.stop()
            portal.stop()
        if args.keep:
            print(f"scratch folder kept: {work}")
    body, summary = report(sizes, names, runs, args)
    payload = {
        "benchmark": "poll_revalidate",
        "machine": m,
        "params": vars(args),
        "summary": summary,
        "runs": {f"{n} {name}": {k: v for k, v in r.items() if k != "config"}
                 for (n, name), r in runs.items()},
    }  # fmt: skip
    path = save("poll-revalidate", payload)
    publish("Revalidation: what it adds to a no-change poll cycle", m, body, path)


def cycles_after(config: Path, log: Path, cycles: int, interval: float) -> list[dict[str, Any]]:
    """bench.poll's cycles in one child process, each ``interval`` after the previous
    revalidation (``bench.poll_cycle --revalidation-elapsed``)."""
    cmd = [PYTHON, "-m", "bench.poll_cycle", "--config", str(config), "--cycles", str(cycles)]
    cmd += ["--revalidation-elapsed", str(interval)]
    usage = run_measured(cmd, log=log)
    if usage.returncode != 0:
        raise RuntimeError(f"poll cycles exited {usage.returncode}; see {log}")
    out: list[dict[str, Any]] = json.loads(log.with_suffix(".out").read_text().splitlines()[-1])
    return out


def report(
    sizes: list[int],
    names: list[str],
    runs: dict[tuple[int, str], dict[str, Any]],
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any]]:
    """The markdown table and the JSON summary."""
    rows, summary = [], {}
    for n in sizes:
        off: dict[str, float] = {}
        for name in names:
            r = runs[n, name]
            steady = [c for p in r["processes"] for c in p[1:]]
            s = {
                key: median([c[key] for c in steady])
                for key in ("requests", "cpu_ms", "wall_ms", "revalidated")
            }
            s["not_modified"] = median([c["revalidated_not_modified"] for c in steady])
            s["cpu_range"] = spread([c["cpu_ms"] for c in steady])
            s["unexpected"] = [
                c for c in steady if c["new"] or c["changed"] or c["delivered"]
            ]  # a no-change cycle: nothing new, nothing changed, nothing sent
            s["mix"] = r["mix"]
            if name == "off":
                off = s
            added = [s[k] - off[k] for k in ("requests", "cpu_ms", "wall_ms")]
            summary[f"{n} {name}"] = {**s, "added": added}
            recent = "" if name == "off" else f"{r['mix']['recent']:,}"
            rows.append(
                (
                    f"{n:,}",
                    name,
                    recent,
                    s["revalidated"],
                    s["requests"],
                    s["cpu_ms"],
                    s["cpu_range"],
                    s["wall_ms"],
                    "" if name == "off" else f"+{added[1]:.0f} ms CPU, +{added[0]:.0f} req",
                )
            )
    headers = ["items", "revalidation", "recent items", "pages revalidated", "requests"]
    headers += ["CPU ms", "CPU range", "wall ms", "added vs off"]
    body = table(headers, rows)
    body += (
        f"\n\n{args.columns} columns served by nginx; a no-change cycle (list pages and revalidated "
        f"detail pages answered 304); each cycle as one {args.interval:.0f} s after the previous "
        f"(old items checked per cycle: ceil(old × {args.interval:.0f} s / 7 d)); "
        f"{args.rounds} processes per size and setting, {args.cycles} cycles each, settings "
        "alternating; steady = every cycle but the first of each process; medians. "
        "\"site's dates\": the generated site's publication dates, shifted so that its newest "
        "item was published now."
    )
    bad = {k: v["unexpected"] for k, v in summary.items() if v["unexpected"]}
    if bad:
        body += f"\n\n**Not a no-change cycle**: {bad}"
    return body, summary


if __name__ == "__main__":
    main()
