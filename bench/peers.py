"""What ``bench.backfill`` runs beside the bridge, in the same rounds: the floor
(``bench/floor.py``, the same work written directly) and the plain Scrapy spider (crawl
only), and the check both the bridge and the floor must pass (the pages' own 索引号 kept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import PYTHON
from bench.procs import run_measured
from bench.servers import Nginx, Portal, static_server
from bench.sites import columns_for


def index_numbers(root: Path, portal_db: Path) -> dict[str, int]:
    """The portal's 索引号 against the site's pages: how many pages show one, how many portal
    records carry exactly that number, and how many records of pages without one were minted.
    Issue 18's guarantee at full size: ``kept == shown``."""
    import contextlib
    import sqlite3

    from bridge.sandbox.site import load_manifest

    on_page = {item.id: item.index_no for item in load_manifest(root).live()}
    with contextlib.closing(sqlite3.connect(portal_db)) as conn:
        filed = {
            external_id.split(":", 1)[1]: index_no
            for external_id, index_no in conn.execute("SELECT external_id, index_no FROM items")
        }
    shown = {i: n for i, n in on_page.items() if n}
    return {
        "shown": len(shown),
        "kept": sum(filed.get(i) == n for i, n in shown.items()),
        "minted": sum(1 for i in on_page if i not in shown and filed.get(i)),
    }


def floor_once(root: Path, work: Path, *, items: int, server: str) -> dict[str, Any]:
    """One run of the floor (``bench/floor.py``: the same work written directly) of the
    whole site into a fresh SQLite file and a fresh portal, served as the bridge is."""
    from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET

    work.mkdir(parents=True, exist_ok=True)
    columns, _how = columns_for(root, 6)
    site = static_server(server, root, work / "site.log", access_log=True)
    portal = Portal(work / "portal.db", work / "portal.log")
    with site, portal:
        cmd = [PYTHON, "-m", "bench.floor", "--base", site.url, "--portal", portal.url]
        cmd += ["--key", SANDBOX_KEY, "--secret", SANDBOX_SECRET, "--db", str(work / "floor.db")]
        cmd += ["--columns", ",".join(":".join(c) for c in columns)]
        usage = run_measured(cmd, log=work / "floor.log", sample_rss=1.0)
        held = portal.count()
        site_requests = site.access_lines() if isinstance(site, Nginx) else None
    if usage.returncode != 0:
        raise RuntimeError(f"the floor exited {usage.returncode}; see {work / 'floor.log'}")
    done = json.loads((work / "floor.out").read_text().strip().splitlines()[-1])
    if held != items or done["items"] != items:
        raise RuntimeError(f"the floor left {held} items in the portal, {done}; see {work}")
    numbers = index_numbers(root, work / "portal.db")
    if numbers["kept"] != numbers["shown"]:
        raise RuntimeError(f"the portal re-numbered pages' own 索引号: {numbers}; see {work}")
    assert portal.usage is not None
    return {
        "items": items,
        "wall_s": round(usage.wall, 2),
        "items_per_s": round(items / usage.wall, 1),
        "cpu_s": round(usage.cpu, 2),
        "cpu_ms_per_item": round(1000 * usage.cpu / items, 2),
        "peak_rss_mb": round(usage.max_rss_mb, 1),
        "portal_cpu_s": round(portal.usage.cpu, 2),
        "site_requests": site_requests,
        "uploads": done["uploads"],
        "index_no": numbers,
    }


def scrapy_once(
    root: Path, work: Path, *, items: int, server: str, concurrency: int, files: bool = False
) -> dict[str, Any]:
    """One crawl of the site by the plain Scrapy spider (``bench.crawl``'s, crawl only: no
    store, no delivery); items/s and CPU of its whole process, as for the bridge. With
    ``files`` the spider also downloads and hashes every attachment: the same requests
    as the bridge's."""
    from bench.crawl import run_tool

    columns, _how = columns_for(root, 6)
    tool = "scrapy-files" if files else "scrapy"
    with static_server(server, root, work / "site.log") as site:
        run = run_tool(tool, site.url, columns, work, concurrency=concurrency)
    if run["items"] != items:
        raise RuntimeError(f"Scrapy found {run['items']} items of {items}; see {work}")
    return run | {
        "items_per_s": round(items / run["process_wall_s"], 1),
        "spider_items_per_s": run["items_per_s"],
        "cpu_ms_per_item": run["process_cpu_ms_per_item"],
    }


def ratios(runs: list[dict[str, Any]], floors: list[dict[str, Any]], key: str) -> list[float]:
    """Bridge ÷ floor of ``key``, round by round (the two ran next to each other)."""
    return [round(b[key] / f[key], 2) for b, f in zip(runs, floors, strict=False) if f[key]]
