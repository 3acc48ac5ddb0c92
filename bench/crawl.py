"""Crawl vs Scrapy: the same TRS site crawled by a plain Scrapy spider and by the bridge.

Two regimes, each measured in the same run with the tools alternating (the order rotates
every round), three rounds by default, medians reported:

- **loopback**: nginx on loopback, no added latency; parsing CPU is the limit, so CPU
  milliseconds per item are reported too;
- **latency**: every response delayed by 50 ms (the sandbox site's ``--delay-ms``: nginx
  cannot delay), where requests in flight are what count.

Both tools may keep the same number of requests in flight per host (Scrapy's
``CONCURRENT_REQUESTS_PER_DOMAIN`` = the bridge's ``fetch.concurrency``). The bridge is
measured as it is: ``run_once`` fetches a list page's detail pages ``fetch.concurrency``
at a time on threads and records them one by one in listing order, while a second
thread delivers what is recorded.

Tools: ``scrapy`` (extracts the fields, attachment links only), ``scrapy-files`` (also
downloads and hashes every attachment, as the bridge must), ``adapter`` (the bridge's TRS
source alone: listing + detail fetch + parse + attachments, threads as in ``run_once``),
``adapter-seq`` (the same, one page at a time: what the threads give or cost),
``pipeline`` (``run_once`` with delivery off: + normalize, plan, record), ``backfill``
(``run_once``: + delivery to a sandbox portal without latency — the end-to-end figure
the goal compares), ``backfill-process`` (the same with ``delivery.process = true``: the
delivery in a second process, CPU counted for both).

    python -m bench.crawl
    python -m bench.crawl --regimes loopback --rounds 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import PYTHON
from bench.harness import sqlite_url, workdir, write_config
from bench.procs import run_measured
from bench.results import machine, median, publish, save, spread, table
from bench.servers import Portal, Service, default_server, static_server
from bench.sites import cached_site, columns_for

TOOLS = (
    "scrapy",
    "scrapy-files",
    "adapter",
    "adapter-seq",
    "pipeline",
    "backfill",
    "backfill-process",
)
LATENCY_MS = 50.0


def run_tool(
    tool: str,
    site_url: str,
    columns: list[tuple[str, str, str]],
    work: Path,
    *,
    concurrency: int,
) -> dict[str, Any]:
    """One crawl by one tool in a child process; its own figures plus the process's."""
    work.mkdir(parents=True, exist_ok=True)
    portal: Service | None = None
    if tool.startswith("scrapy"):
        cmd = [
            PYTHON,
            "-m",
            "bench.scrapy_spider",
            "--base",
            site_url,
            "--concurrency",
            str(concurrency),
            "--columns",
            ",".join(p for _, p, _ in columns),
        ]
        if tool == "scrapy-files":
            cmd.append("--files")
    else:
        portal_url = "http://127.0.0.1:9/"  # never called without delivery
        if tool.startswith("backfill"):
            portal = Portal(work / "portal.db", work / "portal.log")
            portal_url = portal.start()
        config = write_config(
            work,
            state_url=sqlite_url(work / "state.db"),
            site_url=site_url,
            portal_url=portal_url,
            columns=columns,
            concurrency=concurrency,
            delivery_process=tool == "backfill-process",
        )
        mode = "backfill" if tool.startswith("backfill") else tool
        cmd = [PYTHON, "-m", "bench.bridge_crawl", mode, "--config", str(config)]
    try:
        usage = run_measured(cmd, log=work / f"{tool}.log", sample_rss=0.5)  # tree RSS
    finally:
        if portal is not None:
            portal.stop()
    if usage.returncode != 0:
        raise RuntimeError(f"{tool} exited {usage.returncode}; see {work / f'{tool}.log'}")
    lines = (work / f"{tool}.out").read_text().strip().splitlines()
    result = json.loads(lines[-1])
    items = result["items"]
    return {
        "tool": tool,
        "items": items,
        "requests": result["requests"],
        "wall_s": round(result["wall"], 3),
        "items_per_s": round(items / result["wall"], 1),
        "cpu_ms_per_item": round(1000 * result["cpu"] / items, 2),
        "process_wall_s": round(usage.wall, 2),
        "process_cpu_ms_per_item": round(1000 * usage.cpu / items, 2),
        "peak_rss_mb": round(usage.max_rss_mb, 1),
        "fields": result.get("fields"),
        "delivered": result.get("delivered"),
        "portal_cpu_s": round(portal.usage.cpu, 2) if portal and portal.usage else None,
    }


def regime(
    name: str,
    *,
    items: int,
    rounds: int,
    tools: list[str],
    server: str,
    concurrency: int,
    work: Path,
) -> dict[str, Any]:
    """All rounds of one regime against one server; tools alternate, order rotating."""
    root = cached_site(items)
    columns, _how = columns_for(root, 6)
    delay = LATENCY_MS if name == "latency" else 0.0
    site = static_server(server, root, work / f"{name}-site.log", delay_ms=delay)
    runs: list[dict[str, Any]] = []
    with site:
        for r in range(rounds):
            order = tools[r % len(tools) :] + tools[: r % len(tools)]
            for tool in order:
                print(f"  {name} round {r + 1}/{rounds}: {tool} …", end="", flush=True)
                run = run_tool(
                    tool, site.url, columns, work / f"{name}-r{r}-{tool}", concurrency=concurrency
                )
                run["round"] = r
                runs.append(run)
                print(f" {run['items_per_s']} items/s", flush=True)
    assert site.usage is not None
    served_by = "nginx" if delay == 0 and server == "nginx" else "sandbox site (Python)"
    return {
        "regime": name,
        "items": items,
        "delay_ms": delay,
        "server": served_by,
        "server_cpu_s": round(site.usage.cpu, 2),
        "runs": runs,
        "summary": summarize(runs, tools),
    }


def _ratio(runs: list[dict[str, Any]], mine: list[dict[str, Any]], peer: str) -> float | None:
    """The median of per-round ratios of ``mine`` to ``peer`` in the same round."""
    ratios = []
    for run in mine:
        other = next((p for p in runs if p["tool"] == peer and p["round"] == run["round"]), None)
        if other:
            ratios.append(run["items_per_s"] / other["items_per_s"])
    return round(median(ratios), 2) if ratios else None


def summarize(runs: list[dict[str, Any]], tools: list[str]) -> list[dict[str, Any]]:
    """Per tool: medians, and its ratios to Scrapy (and to Scrapy downloading the
    attachments too, the peer making the same requests) taken round by round, then the
    median."""
    out = []
    for tool in tools:
        mine = [r for r in runs if r["tool"] == tool]
        out.append(
            {
                "tool": tool,
                "items_per_s": median([r["items_per_s"] for r in mine]),
                "items_per_s_range": spread([r["items_per_s"] for r in mine]),
                "ratio_to_scrapy": _ratio(runs, mine, "scrapy"),
                "ratio_to_scrapy_files": _ratio(runs, mine, "scrapy-files"),
                "cpu_ms_per_item": median([r["cpu_ms_per_item"] for r in mine]),
                "process_cpu_ms_per_item": median([r["process_cpu_ms_per_item"] for r in mine]),
                "requests": mine[0]["requests"],
                "peak_rss_mb": median([r["peak_rss_mb"] for r in mine]),
                "fields": mine[0]["fields"],
            }
        )
    return out


LABELS = {
    "scrapy": "Scrapy (links only)",
    "scrapy-files": "Scrapy + attachment downloads",
    "adapter": "bridge: source adapter (list + fetch + parse)",
    "adapter-seq": "bridge: source adapter, one page at a time",
    "pipeline": "bridge: run_once, deliveries off",
    "backfill": "bridge: run_once end to end (→ portal)",
    "backfill-process": "bridge: end to end, delivery.process = true",
}


def report(result: dict[str, Any], concurrency: int, rounds: int) -> str:
    s = result["summary"]
    main = table(
        [
            "tool",
            "items/s",
            "range",
            "× Scrapy",
            "× Scrapy + attachments",
            "CPU ms/item",
            "(whole process)",
            "requests",
            "peak RSS MB",
        ],
        [
            (
                LABELS[t["tool"]],
                t["items_per_s"],
                t["items_per_s_range"],
                t["ratio_to_scrapy"] if t["ratio_to_scrapy"] is not None else "",
                t["ratio_to_scrapy_files"] if t["ratio_to_scrapy_files"] is not None else "",
                t["cpu_ms_per_item"],
                t["process_cpu_ms_per_item"],
                t["requests"],
                t["peak_rss_mb"],
            )
            for t in s
        ],
    )
    names = ["title", "date", "published", "doc_no", "meta_table", "body", "attachment_links"]
    fields = table(
        ["tool (items with the field)", *names],
        [(LABELS[t["tool"]], *(t["fields"].get(n, 0) for n in names)) for t in s if t["fields"]],
    )
    delay = f"{result['delay_ms']:.0f} ms added to every response"
    return (
        f"### {result['regime']}: {result['items']:,} items, "
        f"{delay if result['delay_ms'] else 'no added latency'}, served by {result['server']}"
        f"\n\n{main}\n\nMedians of {rounds} rounds, tools alternating; × Scrapy (and × Scrapy "
        "+ attachments, the spider making the same requests) is the median of per-round ratios. CPU ms/item is measured around the crawl inside the child; "
        "(whole process) adds interpreter start-up and imports. Requests in flight per host: "
        f"at most {concurrency} for both tools.\n\nFields extracted (first round):\n\n{fields}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default="loopback,latency")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--loopback-items", type=int, default=2_000)
    parser.add_argument("--latency-items", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--server",
        choices=("nginx", "sandbox"),
        default=default_server(),
        help="loopback regime's server (the latency regime needs the sandbox)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    if "scrapy" not in tools:
        tools.insert(0, "scrapy")  # the peer every ratio is taken against
    m = machine()
    results = []
    with workdir("crawl", keep=args.keep) as work:
        for name in [r for r in args.regimes.split(",") if r]:
            items = args.loopback_items if name == "loopback" else args.latency_items
            print(f"{name}: {items:,} items, {args.rounds} rounds", flush=True)
            results.append(
                regime(
                    name,
                    items=items,
                    rounds=args.rounds,
                    tools=tools,
                    server=args.server,
                    concurrency=args.concurrency,
                    work=work,
                )
            )
        if args.keep:
            print(f"scratch folder kept: {work}")
    body = "\n\n".join(report(r, args.concurrency, args.rounds) for r in results)
    path = save(
        "crawl", {"benchmark": "crawl", "machine": m, "params": vars(args), "regimes": results}
    )
    publish("Crawl vs Scrapy", m, body, path)


if __name__ == "__main__":
    main()
