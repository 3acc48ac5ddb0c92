"""Workers (issue 9): delivery throughput of 1, 2 and 3 ``bridge run`` workers on one
PostgreSQL state store, against a sandbox portal that adds 50 ms to every API answer.

Only delivery is measured: a throwaway PostgreSQL (pgserver) gets a template database
filled once by a real ``bridge sync --once --no-deliver`` of a cached TRS site (so every
item is recorded with its pending delivery, attachments included). Each run copies the
template (``CREATE DATABASE … TEMPLATE``), starts a fresh portal and N workers (their
source is polled once a year at an address where nothing listens, so after one failed
attempt at start-up they only drain the outbox), and takes the portal's request
log: items per second from the first to the last PUT, and the time from the workers'
start until the last one. Then it checks that every item arrived exactly once (portal:
``created`` = items, no repeated PUT; state: every delivery done). Worker counts
alternate over the rounds; medians are reported.

    python -m bench.workers
    python -m bench.workers --items 300 --workers 1,2,3,4 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from bench.harness import bridge_cmd, workdir, write_config
from bench.procs import bench_env, machine_cpu, process_cpu, reap, run_measured, tree_cpu
from bench.results import machine, median, publish, save, spread, table
from bench.servers import Nginx, Portal
from bench.sites import cached_site, columns_for

DAEMON = """
[daemon]
drain_interval = "0.5s"
jitter = 0.0
"""
# Once a year, at an address nothing listens on: these workers only deliver. (A cron
# source would be the natural choice, but `bridge run` fails on one: CronTrigger's
# from_crontab() takes no jitter in APScheduler 3.)
NEVER = 'interval = "365d"'


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL server (pgserver): ``get_uri()``, ``get_pid()``."""
    import shutil

    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database_url(admin: str, name: str) -> str:
    base, _, query = admin.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def sql(admin: str, statement: str) -> Any:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else None


def deliveries(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
    return {status: int(n) for status, n in rows}


def seed(admin: str, root: Path, work: Path, items: int) -> None:
    """The template: every item of the site recorded, its delivery pending."""
    sql(admin, "CREATE DATABASE bench_seed")
    url = database_url(admin, "bench_seed")
    columns, _how = columns_for(root, 6)
    with Nginx(root, work / "seed-nginx.log") as site:
        config = write_config(
            work / "seed",
            state_url=url,
            site_url=site.url,
            portal_url="http://127.0.0.1:9/",
            columns=columns,
            log_level="WARNING",
        )
        usage = run_measured(
            bridge_cmd(config, "sync", "--once", "--no-deliver"), log=work / "seed.log"
        )
    pending = deliveries(url).get("pending", 0)
    if usage.returncode != 0 or pending != items:
        raise RuntimeError(f"seeding recorded {pending} pending deliveries; see {work}/seed.log")


def run_workers(
    pg: Any, n: int, tag: str, work: Path, *, items: int, latency_ms: float
) -> dict[str, Any]:
    """N workers drain a copy of the template into a fresh portal; timeline and checks."""
    admin = pg.get_uri()
    name = f"run_{tag}"
    sql(admin, f"CREATE DATABASE {name} TEMPLATE bench_seed")
    url = database_url(admin, name)
    folder = work / tag
    portal = Portal(folder / "portal.db", folder / "portal.log", latency_ms=latency_ms)
    procs: list[subprocess.Popen[bytes]] = []
    cpu = []
    try:
        portal.start()
        config = write_config(
            folder,
            state_url=url,
            site_url="http://127.0.0.1:9/",
            portal_url=portal.url,
            source_extra=NEVER,
            extra=DAEMON,
        )
        started = time.time()
        portal_cpu, machine = process_cpu(portal.pid), machine_cpu()
        pg_cpu = tree_cpu(pg.get_pid())
        for i in range(n):
            with open(folder / f"worker{i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        bridge_cmd(config, "run"),
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        env=bench_env(),
                    )
                )
        deadline = time.monotonic() + 600
        while portal.count() < items and time.monotonic() < deadline:
            time.sleep(0.1)
        portal_cpu = process_cpu(portal.pid) - portal_cpu
        pg_cpu = tree_cpu(pg.get_pid()) - pg_cpu
        busy, stolen, total = (b - a for a, b in zip(machine, machine_cpu(), strict=True))
        span_all = time.time() - started
        stats = requests.get(portal.url + "sandbox/stats?log=1", timeout=30).json()
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)  # not send_signal: its poll() would reap
        for p in procs:
            reaped = reap(p.pid, 60)
            if reaped is None:
                p.kill()
                reaped = reap(p.pid, None)
            assert reaped is not None
            cpu.append(reaped[1].ru_utime + reaped[1].ru_stime)
        portal.stop()
    states = deliveries(url)
    sql(admin, f"DROP DATABASE {name} WITH (FORCE)")
    puts = sorted(e["time"] for e in stats.get("log", []) if e["method"] == "PUT")
    created = stats["puts_by_status"]["created"]
    repeated = len(puts) - created
    if created != items or states.get("done", 0) != items:
        raise RuntimeError(
            f"{n} worker(s): portal created {created}, deliveries {states}; see {folder}"
        )
    span = puts[-1] - puts[0]
    return {
        "workers": n,
        "items": items,
        "items_per_s": round((len(puts) - 1) / span, 2) if span > 0 else None,
        "first_put_after_s": round(puts[0] - started, 2),
        "all_delivered_after_s": round(puts[-1] - started, 2),
        "puts": len(puts),
        "repeated_puts": repeated,
        "uploads": stats["requests"].get("POST", {}),
        "worker_cpu_s": [round(c, 2) for c in cpu],
        "worker_cpu_ms_per_item": round(1000 * sum(cpu) / items, 1),
        "portal_busy": round(portal_cpu / span_all, 2),  # share of one core
        "postgres_busy": round(pg_cpu / span_all, 2),
        "machine_busy": round(busy / total, 2) if total else None,  # share of all cores
        "machine_stolen": round(stolen / total, 2) if total else None,
        "deliveries": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    from bridge import defaults

    concurrency = getattr(defaults, "DELIVERY_CONCURRENCY", 1)
    m = machine()
    root = cached_site(args.items)
    runs: list[dict[str, Any]] = []
    with workdir("workers") as work, postgres() as pg:
        print(f"recording {args.items:,} items with pending deliveries (template) …", flush=True)
        seed(pg.get_uri(), root, work, args.items)
        for r in range(args.rounds):
            order = counts[r % len(counts) :] + counts[: r % len(counts)]
            for n in order:
                print(f"round {r + 1}/{args.rounds}: {n} worker(s) …", end="", flush=True)
                run = run_workers(
                    pg, n, f"r{r}w{n}", work, items=args.items, latency_ms=args.latency_ms
                )
                run["round"] = r
                runs.append(run)
                print(f" {run['items_per_s']} items/s", flush=True)
    one = median([r["items_per_s"] for r in runs if r["workers"] == counts[0]])
    rows = []
    summary = {}
    for n in counts:
        mine = [r for r in runs if r["workers"] == n]
        rate = median([r["items_per_s"] for r in mine])
        summary[n] = {
            "items_per_s": rate,
            "worker_cpu_ms_per_item": median([r["worker_cpu_ms_per_item"] for r in mine]),
            "portal_busy": median([r["portal_busy"] for r in mine]),
            "postgres_busy": median([r["postgres_busy"] for r in mine]),
            "machine_busy": median([r["machine_busy"] or 0.0 for r in mine]),
            "scaling": round(rate / one, 2) if one else None,
            "all_delivered_after_s": median([r["all_delivered_after_s"] for r in mine]),
            "repeated_puts": sum(r["repeated_puts"] for r in mine),
        }
        rows.append(
            (
                n,
                rate,
                spread([r["items_per_s"] for r in mine]),
                summary[n]["scaling"],
                summary[n]["all_delivered_after_s"],
                summary[n]["repeated_puts"],
                summary[n]["worker_cpu_ms_per_item"],
                f"{100 * summary[n]['portal_busy']:.0f}%",
                f"{100 * summary[n]['postgres_busy']:.0f}%",
                f"{100 * summary[n]['machine_busy']:.0f}%",
            )
        )
    uploads = sum(runs[0]["uploads"].values()) / args.items
    headers = ["workers", "items/s", "range", f"× {counts[0]} worker(s)"]
    headers += ["s until all delivered", "repeated PUTs", "worker CPU ms/item"]
    headers += ["portal CPU", "PostgreSQL CPU", "machine busy (all cores)"]
    body = table(headers, rows)
    body += (
        f"\n\n{args.items:,} items pre-recorded (pending deliveries; {uploads:.0%} of them "
        f"carry an attachment, uploaded before the PUT); portal latency {args.latency_ms:.0f} ms per API request; "
        f"PostgreSQL from pgserver; {args.rounds} rounds, worker counts alternating. items/s is "
        'taken from the first to the last PUT the portal logged; "s until all delivered" '
        "counts from the workers' start (process start-up and the first drain included). "
        f"Each worker sends with delivery.concurrency = {concurrency} (the default). Busy "
        "shares: CPU seconds per second of the run (100% = one core), and the share of both "
        "cores in use; the workers, the portal and PostgreSQL share this machine."
    )
    payload = {
        "benchmark": "workers",
        "machine": m,
        "params": vars(args),
        "runs": runs,
        "summary": summary,
    }
    path = save("workers", payload)
    publish("Workers: delivery throughput on one PostgreSQL store", m, body, path)


if __name__ == "__main__":
    main()
