"""Poll cost: a cycle in which nothing changed, over 20 columns, with 1,000 and with 100,000
items already in the state store. The cost must not grow with history.

Per size, a cached TRS site with 20 columns (``generate_site(columns=20)``; symlinked
copies of the six columns on a sandbox without that option) is served by nginx, and a
state store that already holds every item of it is prepared once and cached:

- every column's listing is read with the bridge's TRS source (so each item's list
  fingerprint is exactly what the next poll will see);
- one detail page per column is fetched and normalized, and each item's record is made
  from its column's record with the item's own id, title, URL and column;
- those records are written with ``bridge.state.recording.record_versions`` (the function a
  crawl uses), 1,000 per transaction; then every delivery is marked done, and each
  column's "listing read to its end" cursor is set, as after a finished backfill.

The measured cycles run in child processes (``bench.poll_cycle``), several per process as
the daemon runs them, the two sizes alternating. Reported per size: requests, CPU and wall
milliseconds of a steady no-change cycle (list pages answered 304), of the first cycle in
a fresh process, and of the very first cycle (no validators stored yet: pages answered
200); and, for scale, the daily complete listing, which reads every list page.
Revalidation of detail pages is switched off here (``bench.poll_revalidate`` measures it).

    python -m bench.poll
    python -m bench.poll --sizes 1000,10000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import profiling
from bench.common import CACHE, PYTHON
from bench.harness import sqlite_url, workdir, write_config
from bench.procs import run_measured
from bench.results import machine, median, publish, save, spread, table
from bench.servers import Nginx, Portal
from bench.sites import cached_site, columns_for

BATCH = 1000  # records per write transaction while seeding
# The cycles measured here are the listing's cost alone: revalidation of detail pages
# (on by default) is switched off; bench.poll_revalidate measures what it adds.
REVALIDATION_OFF = 'fetch = { revalidate_recent = "0", revalidate_all = "0" }'


def seed_state(
    root: Path, columns: list[tuple[str, str, str]], target: Path, work: Path
) -> dict[str, Any]:
    """Write a state store holding every item of the site, as after a finished backfill."""
    from sqlalchemy import update

    from bridge import config
    from bridge.normalize import QuarantineError, content_hash, normalize
    from bridge.raw import ListEntry, RawItem
    from bridge.sources import make_source
    from bridge.state import items, recording, runs
    from bridge.state.db import open_database
    from bridge.state.models import DeliveryRow, utcnow

    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with Nginx(root, work / "seed-nginx.log") as site:
        config_path = write_config(
            work / "seed",
            state_url=sqlite_url(tmp),
            site_url=site.url,
            portal_url="http://127.0.0.1:9/",
            columns=columns,
            log_level="WARNING",
        )
        settings = config.load(config_path)
        scfg = settings.sources[0]
        source = make_source(scfg)
        entries: dict[str, ListEntry] = {}
        for column in source.columns():
            for page in source.list_pages(column, conditional=False):
                for entry in page.entries:
                    entries.setdefault(entry.article_id, entry)
        templates = {}
        for entry in entries.values():
            if entry.column not in templates:
                raw = source.fetch_item(entry)
                assert isinstance(raw, RawItem)
                try:
                    record = normalize(raw, scfg.profile())
                except QuarantineError:
                    continue  # a page the bridge would hold back is no template
                templates[entry.column] = replace(record, attachments=())
        source.close()
        db = open_database(sqlite_url(tmp))
        with db.write() as s:
            source_id = items.ensure_source(s, scfg.name, scfg.kind, scfg.base_url)
        todo = list(entries.values())
        for start in range(0, len(todo), BATCH):
            recordings = []
            for entry in todo[start : start + BATCH]:
                t = templates[entry.column]
                record = replace(
                    t,
                    external_id=f"{scfg.name}:{entry.article_id}",
                    # The template's 索引号 is its page's own: copied, it would make every
                    # other item a duplicate that recording quarantines. Minted instead.
                    index_no=None,
                    title=entry.list_title or t.title,
                    source=replace(
                        t.source,
                        article_id=entry.article_id,
                        column=entry.column,
                        url=entry.url,
                    ),
                )
                recordings.append(
                    recording.Recording(record, content_hash(record.to_json()), entry.fingerprint)
                )
            with db.write() as s:
                recording.record_versions(
                    s,
                    source_id=source_id,
                    source_name=scfg.name,
                    recordings=recordings,
                    target=settings.target.name,
                    actor="bench seed",
                    run_id=None,
                )
        with db.write() as s:
            s.execute(update(DeliveryRow).values(status="done", attempts=1, done_at=utcnow()))
            for key, _path, _category in columns:
                runs.set_cursor(s, scfg.name, f"listing_complete:{key}", True)
        db.dispose()  # the last connection to close checkpoints the WAL into the file
    tmp.rename(target)
    return {"items": len(entries)}


SEED_FORM = "v2"  # v1 copied one page's 索引号 to every item: 82 % of them were quarantined


def prepared_state(
    items: int, columns: int, work: Path
) -> tuple[Path, list[tuple[str, str, str]], str, Path]:
    """(site root, its columns, how they were made, cached seeded state store)."""
    root = cached_site(items, columns=columns)
    cols, how = columns_for(root, columns)
    cached = CACHE / f"poll-state-{root.name}-{SEED_FORM}.db"
    if not cached.exists():
        for old in CACHE.glob(f"poll-state-trs-{items}-*-c{columns}-*.db"):
            old.unlink()
        print(f"seeding a state store with the {items:,} items of {root.name} (cached) …")
        seed_state(root, cols, cached, work)
    return root, cols, how, cached


def cycles_of(
    config: Path, log: Path, cycles: int, age_days: float = 0.0, profile: Path | None = None
) -> list[dict[str, Any]]:
    """Cycles in one child process (see bench.poll_cycle), each one's figures."""
    cmd = [PYTHON, "-m", "bench.poll_cycle", "--config", str(config)]
    cmd += ["--cycles", str(cycles), "--listing-age-days", str(age_days)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    usage = run_measured(cmd, log=log)
    if usage.returncode != 0:
        raise RuntimeError(f"poll cycles exited {usage.returncode}; see {log}")
    out: list[dict[str, Any]] = json.loads(log.with_suffix(".out").read_text().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="items in the state store")
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="processes per size")
    parser.add_argument("--cycles", type=int, default=5, help="cycles per process")
    parser.add_argument(
        "--no-full-listing", action="store_true", help="skip the daily complete listing"
    )
    parser.add_argument(
        "--profile", action="store_true", help="and cProfile the largest size's cycles"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    profile: dict[str, Any] | None = None
    m = machine()
    per_size: dict[int, dict[str, Any]] = {}
    with workdir("poll", keep=args.keep) as work:
        portal = Portal(work / "portal.db", work / "portal.log")
        servers: list[Nginx] = []
        try:
            portal.start()
            for n in sizes:
                root, cols, how, cached = prepared_state(n, args.columns, work)
                state = work / f"state-{n}.db"
                shutil.copyfile(cached, state)
                site = Nginx(root, work / f"nginx-{n}.log")
                servers.append(site)
                site.start()
                config = write_config(
                    work / f"s{n}",
                    state_url=sqlite_url(state),
                    site_url=site.url,
                    portal_url=portal.url,
                    columns=cols,
                    source_extra=REVALIDATION_OFF,
                )
                per_size[n] = {"config": config, "columns": how, "processes": []}
            for r in range(args.rounds):
                order = sizes[r % len(sizes) :] + sizes[: r % len(sizes)]
                for n in order:
                    print(f"round {r + 1}/{args.rounds}: {n:,} items …", flush=True)
                    got = cycles_of(per_size[n]["config"], work / f"poll-{n}-{r}.log", args.cycles)
                    per_size[n]["processes"].append(got)
            if args.profile:
                n = max(sizes)
                print(f"profiled cycles: {n:,} items …", flush=True)
                out = work / "poll.prof"
                cycles_of(per_size[n]["config"], work / "prof.log", args.cycles, profile=out)
                profile = profiling.summarize(out)
            if not args.no_full_listing:
                for n in sizes:
                    print(f"daily complete listing: {n:,} items …", flush=True)
                    got = cycles_of(per_size[n]["config"], work / f"full-{n}.log", 1, 2.0)
                    per_size[n]["full_listing"] = got[0]
        finally:
            for site in servers:
                site.stop()
            portal.stop()
        if args.keep:
            print(f"scratch folder kept: {work}")

    rows = []
    summary: dict[str, Any] = {}
    for n in sizes:
        procs = per_size[n]["processes"]
        steady = [c for p in procs for c in p[1:]]
        first_in_process = [p[0] for p in procs[1:]] or [procs[0][0]]
        cold = procs[0][0]
        full = per_size[n].get("full_listing")
        s = {
            "steady_cpu_ms": median([c["cpu_ms"] for c in steady]),
            "steady_cpu_range": spread([c["cpu_ms"] for c in steady]),
            "steady_wall_ms": median([c["wall_ms"] for c in steady]),
            "steady_requests": median([c["requests"] for c in steady]),
            "steady_not_modified": median([c["not_modified"] for c in steady]),
            "first_in_process_cpu_ms": median([c["cpu_ms"] for c in first_in_process]),
            "first_in_process_wall_ms": median([c["wall_ms"] for c in first_in_process]),
            "no_validators_cpu_ms": cold["cpu_ms"],
            "no_validators_wall_ms": cold["wall_ms"],
            "no_validators_requests": cold["requests"],
            "full_listing": full,
            "unexpected": [c for p in procs for c in p if c["new"] or c["changed"] or c["fetched"]],
        }
        summary[str(n)] = s
        rows.append(
            (
                f"{n:,}",
                "steady (304s)",
                s["steady_requests"],
                s["steady_cpu_ms"],
                s["steady_cpu_range"],
                s["steady_wall_ms"],
            )
        )
        rows.append(
            (
                f"{n:,}",
                "first cycle of a process",
                s["steady_requests"],
                s["first_in_process_cpu_ms"],
                "",
                s["first_in_process_wall_ms"],
            )
        )
        rows.append(
            (
                f"{n:,}",
                "no validators stored (200s)",
                s["no_validators_requests"],
                s["no_validators_cpu_ms"],
                "",
                s["no_validators_wall_ms"],
            )
        )
        if full:
            rows.append(
                (
                    f"{n:,}",
                    "daily complete listing",
                    full["requests"],
                    full["cpu_ms"],
                    "",
                    full["wall_ms"],
                )
            )
    body = table(["items in store", "cycle", "requests", "CPU ms", "CPU range", "wall ms"], rows)
    if len(sizes) == 2:
        a, b = (summary[str(n)] for n in sizes)
        growth = b["steady_cpu_ms"] / a["steady_cpu_ms"] if a["steady_cpu_ms"] else float("nan")
        body += (
            f"\n\nSteady no-change cycle CPU at {sizes[1]:,} ÷ at {sizes[0]:,} items: "
            f"**{growth:.2f}×**."
        )
    body += (
        f"\n\n{args.columns} columns ({per_size[sizes[0]]['columns']}), served by nginx; "
        f"{args.rounds} processes per size, {args.cycles} cycles each, sizes alternating; "
        "steady = every cycle but the first of each process. CPU is the whole cycle "
        "(listing, planning, state store, drain of an empty outbox) in the child process; "
        "revalidation of detail pages off (see bench.poll_revalidate)."
    )
    if profile is not None:
        body += f"\n\nProfile of {args.cycles - 1} steady cycles at {max(sizes):,} items:\n\n"
        body += profiling.tables(profile)
    payload = {
        "benchmark": "poll",
        "profile": profile,
        "machine": m,
        "params": vars(args),
        "sizes": {str(n): {k: v for k, v in per_size[n].items() if k != "config"} for n in sizes},
        "summary": summary,
    }
    path = save("poll", payload)
    publish("Poll cost: a no-change cycle over 20 columns", m, body, path)


if __name__ == "__main__":
    main()
