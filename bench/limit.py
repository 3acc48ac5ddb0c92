"""The limit: how fast the static server itself answers on loopback, so the bridge's
throughput can be stated as a fraction of it.

nginx serves the cached 10,000-item site; the clients ask for its detail pages in turn
(4–6 KB each, a few thousand different files), over keep-alive connections:

- ``wrk`` (if installed; Debian: ``apt-get install -y wrk``) with 1 connection and with
  ``--concurrency`` connections: the server's ceiling with a client that costs nothing;
- a Python loop with the bridge's HTTP client (``bridge.net.client``: urllib3), sequential;
- the same loop parsing each page with ``lxml.html`` (the bridge's parser).

Rounds alternate; medians are reported. The bridge's figures (the newest saved
``backfill`` and ``crawl`` results) are then stated as fractions of these ceilings.

    python -m bench.limit
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.harness import workdir
from bench.results import latest, machine, median, publish, save, spread, table
from bench.servers import Nginx
from bench.sites import cached_site

WRK_SCRIPT = """\
paths = {{{paths}}}
i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def detail_paths(root: Path, count: int) -> list[str]:
    """URL paths of ``count`` detail pages of the site, spread over its columns."""
    found = sorted(root.glob("xxgk/*/*/t*.html"))
    step = max(1, len(found) // count)
    return ["/" + p.relative_to(root).as_posix() for p in found[::step][:count]]


def wrk(url: str, script: Path, connections: int, seconds: float) -> float:
    """Requests per second that wrk reached."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(m.group(1))


def python_loop(base: str, paths: list[str], seconds: float, parse: bool) -> float:
    """Requests per second of the bridge's HTTP client in a loop (optionally parsing each
    page)."""
    import lxml.html

    from bridge.net.client import HttpClient

    client = HttpClient({"User-Agent": "bench.limit"})
    done = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            r = client.request("GET", base + paths[done % len(paths)].lstrip("/"), timeout=10)
            if r.status_code != 200:
                raise RuntimeError(f"{paths[done % len(paths)]} answered {r.status_code}")
            if parse:
                lxml.html.document_fromstring(r.content)
            done += 1
    finally:
        client.close()
    return done / (time.perf_counter() - started)


def fractions(ceilings: dict[str, float]) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The newest saved bridge figures, in requests per second, as shares of the ceilings."""
    rows: list[tuple[Any, ...]] = []
    figures: dict[str, Any] = {}
    backfill = latest("backfill")
    if backfill:
        runs = [r for r in backfill["runs"] if r.get("site_requests")]
        if runs:
            rate = median([r["site_requests"] / r["wall_s"] for r in runs])
            label = (
                f"backfill end to end, {runs[0]['items']:,} items "
                f"({backfill['machine']['date'][:16]})"
            )
            rows.append((label, rate))
            figures["backfill_requests_per_s"] = rate
    crawl = latest("crawl")
    if crawl:
        for reg in crawl["regimes"]:
            if reg["regime"] != "loopback":
                continue
            for t in reg["summary"]:
                rate = t["items_per_s"] * t["requests"] / reg["items"]
                label = f"crawl bench (loopback), {t['tool']} ({crawl['machine']['date'][:16]})"
                rows.append((label, rate))
                figures[f"crawl_{t['tool']}_requests_per_s"] = rate
    out = []
    for label, value in rows:
        shares = [f"{100 * value / c:.1f}%" for c in ceilings.values()]
        out.append((label, round(value, 1), *shares))
    return out, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="the cached site to serve")
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--paths", type=int, default=2000, help="different pages asked for")
    args = parser.parse_args()
    m = machine()
    root = cached_site(args.items)
    paths = detail_paths(root, args.paths)
    has_wrk = shutil.which("wrk") is not None
    clients = []
    if has_wrk:
        clients += ["wrk, 1 connection", f"wrk, {args.concurrency} connections"]
    clients += [
        "Python (bridge's HTTP client), sequential",
        "Python (bridge's HTTP client) + lxml parse",
    ]
    got: dict[str, list[float]] = {c: [] for c in clients}
    with workdir("limit") as work, Nginx(root, work / "nginx.log") as site:
        script = work / "paths.lua"
        script.write_text(WRK_SCRIPT.format(paths=", ".join(f'"{p}"' for p in paths)))
        for r in range(args.rounds):
            order = clients[r % len(clients) :] + clients[: r % len(clients)]
            for client in order:
                print(f"round {r + 1}/{args.rounds}: {client} …", end="", flush=True)
                if client.startswith("wrk"):
                    conns = 1 if "1 connection" in client else args.concurrency
                    rate = wrk(site.url, script, conns, args.seconds)
                else:
                    rate = python_loop(site.url, paths, args.seconds, parse="lxml" in client)
                got[client].append(rate)
                print(f" {rate:,.0f} requests/s", flush=True)
    ceilings = {c: median(v) for c, v in got.items()}
    rows = [(c, ceilings[c], spread(got[c])) for c in clients]
    body = table(["client → nginx (1 worker), detail pages", "requests/s", "range"], rows)
    if not has_wrk:
        body += "\n\nwrk is not installed (Debian: apt-get install -y wrk); Python clients only."
    frac_rows, figures = fractions(ceilings)
    if frac_rows:
        body += "\n\nThe newest saved figures (requests per second) as shares of each ceiling:\n\n"
        body += table(["figure (when measured)", "requests/s", *clients], frac_rows)
    body += (
        f"\n\n{args.rounds} rounds of {args.seconds:.0f} s per client, alternating; "
        f"{len(paths):,} different detail pages in turn; nginx with one worker process."
    )
    payload = {
        "benchmark": "limit",
        "machine": m,
        "params": vars(args),
        "ceilings": ceilings,
        "rounds": got,
        "bridge": figures,
    }
    path = save("limit", payload)
    publish("The limit: the static server's own ceiling on loopback", m, body, path)


if __name__ == "__main__":
    main()
