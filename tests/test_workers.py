"""Several `bridge run` workers on one PostgreSQL store (issue 9's Done-when)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, columns_toml
from waiting import wait_for

from bridge.sandbox.content import unit_code
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.sandbox.site import SiteServer, generate_site, load_manifest
from bridge.state import cluster
from bridge.state.db import open_database

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

SITES = 20
ITEMS = 100
LEASE = 10.0
_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code(n: int) -> str:
    """A valid 组织机构代码 (GB 11714 check character) for department n."""
    base = f"{30000000 + n * 7919:08d}"
    check = 11 - sum(int(c) * w for c, w in zip(base, _WEIGHTS, strict=True)) % 11
    return base + {10: "X", 11: "0"}.get(check, str(check))


def config(state_url: str, sites: list[str], portal: str) -> str:
    sources = "".join(
        f"""
[[sources]]
name = "dept{i:02d}"
kind = "trs"
base_url = "{url}"
publisher = "余姚市第{i}教育管理中心"
org_code = "{org_code(i)}"
interval = "5s"
{columns_toml()}
"""
        for i, url in enumerate(sites, 1)
    )
    return f"""
[bridge]
state_url = "{state_url}"
operator = "bridge worker test"
log_level = "INFO"

[fetch]
rate_limit = 1000.0
concurrency = 4
{sources}
[target]
kind = "http"
url = "{portal}"
key = "{SANDBOX_KEY}"
secret = "{SANDBOX_SECRET}"
index_no = "bridge"

[delivery]
backoff_initial = "0.05s"
backoff_max = "0.5s"

[daemon]
drain_interval = "1s"
jitter = 0.0
lease = "{LEASE}s"

[admin]
enabled = false
"""


def test_three_workers_one_killed_deliver_2000_items_exactly_once(tmp_path, pg_url, cli):
    servers = []
    for i in range(SITES):
        root = tmp_path / f"site{i:02d}"
        generate_site(root, items=ITEMS, seed=100 + i, unit_code=unit_code(i))  # units of their own
        servers.append(SiteServer(root))
    urls = [s.start() for s in servers]
    portal = PortalServer(tmp_path / "portal.db")
    portal_url = portal.start()
    path = tmp_path / "bridge.toml"
    path.write_text(config(pg_url, urls, portal_url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {
        "PYTHONPATH": str(REPO)
    }
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(3)]  # noqa: SIM115
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bridge", "--config", str(path), "run"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=logs[i],
        )
        for i in range(3)
    ]
    db = open_database(pg_url)
    try:
        deadline = time.monotonic() + 300
        wait_for(lambda: portal.store.count() >= 600, 300, what="the workers to start delivering")
        with db.read() as s:
            registered = cluster.workers(s)
        assert len(registered) == 3
        leaders = [w for w in registered if w.is_leader]
        assert len(leaders) == 1
        leader_pid = int(leaders[0].id.rsplit(":", 1)[1])
        victim = next(p for p in workers if p.pid == leader_pid)
        killed_at = time.time()
        victim.send_signal(signal.SIGKILL)
        victim.wait()

        def another_leader() -> cluster.WorkerView | None:
            with db.read() as s:
                return next(
                    (w for w in cluster.workers(s) if w.is_leader and w.id != leaders[0].id), None
                )

        new_leader = wait_for(another_leader, 3 * LEASE, what="another worker to lead")
        assert new_leader.leader_since is not None
        moved_after = new_leader.leader_since.timestamp() - killed_at
        assert moved_after <= LEASE, f"leadership moved after {moved_after:.1f} s"

        expected = {
            f"dept{i:02d}:{item.id}"
            for i, s in enumerate(servers, 1)
            for item in load_manifest(s.root).items
        }
        assert len(expected) == SITES * ITEMS
        wait_for(
            lambda: portal.store.count() >= len(expected),
            max(1.0, deadline - time.monotonic()),
            what="every item on the portal",
        )
        held = portal.store.items()
        assert {r["external_id"] for r in held} == expected  # none missing, none foreign
        assert len(held) == len(expected)  # no duplicates
        assert len({r["index_no"] for r in held}) == len(expected)
        for r in held:  # each department numbers its own documents
            department = int(r["external_id"][4:6])
            # its site with its 统一社会信用代码 (the page's number is kept), the bridge the
            # rest with the 组织机构代码 of the config
            assert r["index_no"].startswith(
                (unit_code(department - 1) + "/", org_code(department) + "/")
            )
        stats = portal.stats()
        assert stats["puts_by_status"]["created"] == len(expected)

        status = cli("--config", str(path), "status", "--format", "json")
        data = json.loads(status.out)
        alive = [w for w in data["workers"] if w["worker"] != leaders[0].id]
        assert len(alive) == 2 and sum(w["leader"] for w in alive) == 1
        for worker in workers:
            if worker is not victim:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            if worker is not victim:
                assert worker.wait(timeout=90) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
        db.dispose()
        for s in servers:
            s.stop()
        portal.stop()
    for i in range(3):
        text = Path(tmp_path / f"worker{i}.log").read_text()
        assert "Traceback" not in text
        assert "database is locked" not in text
