"""bench/floor.py, the direct script ``bench.backfill --floor`` measures the bridge against:
it must do the bridge's work for real, or the ratio means nothing. A 50-item sandbox site
and the sandbox portal on loopback; the script runs as ``bench.backfill`` runs it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bench import floor
from bench.common import END_DATE, SEED
from bench.servers import Portal, SandboxSite
from bench.sites import columns_for
from bridge.audit import GENESIS, chain_hash
from bridge.normalize import sanitize
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.sandbox.site import generate_site, load_manifest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_allowlist_is_the_bridges():
    """The floor copies nh3's allowlist (importing bridge.normalize costs 0.2 s a run)."""
    assert set(sanitize.ALLOWED_TAGS) == floor.ALLOWED_TAGS
    assert set(sanitize.DROPPED_WITH_CONTENT) == floor.DROPPED_WITH_CONTENT
    assert floor.ALLOWED_ATTRIBUTES == sanitize.ALLOWED_ATTRIBUTES
    assert set(sanitize.URL_SCHEMES) == floor.URL_SCHEMES
    assert floor.LINK_REL == sanitize.LINK_REL


def test_floor_delivers_every_item_as_the_site_shows_it(tmp_path):
    root = tmp_path / "site"
    generate_site(root, items=50, seed=SEED, end_date=END_DATE)
    columns, _how = columns_for(root, 6)
    work = tmp_path / "work"
    with (
        SandboxSite(root, work / "site.log") as site,
        Portal(work / "portal.db", work / "portal.log") as portal,
    ):
        cmd = [sys.executable, "-m", "bench.floor", "--base", site.url, "--portal", portal.url]
        cmd += ["--key", SANDBOX_KEY, "--secret", SANDBOX_SECRET, "--db", str(work / "f.db")]
        cmd += ["--columns", ",".join(":".join(c) for c in columns)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])

    live = {i.id: i for i in load_manifest(root).live()}
    assert len(live) == 50
    attachments = {a["name"] for i in live.values() for a in i.attachments}
    assert counts["items"] == counts["created"] == 50
    assert counts["uploads"] == len({a["sha256"] for i in live.values() for a in i.attachments})
    list_pages = sum(-(-len(load_manifest(root).live(c[0])) // 20) or 1 for c in columns)
    assert counts["requests"] == 1 + list_pages + 50 + counts["uploads"]
    with contextlib.closing(sqlite3.connect(work / "portal.db")) as conn:
        filed = {
            xid.split(":", 1)[1]: (index_no, json.loads(record))
            for xid, index_no, record in conn.execute(
                "SELECT external_id, index_no, record FROM items"
            )
        }
        files = {name for (name,) in conn.execute("SELECT name FROM files")}
    assert filed.keys() == live.keys()
    for item_id, item in live.items():
        index_no, record = filed[item_id]
        assert record["title"] == item.title
        # created and doc_no are read more simply than the bridge does (a date written in
        # Chinese numerals at a body's head is missed): not asserted.
        assert [a["sha256"] for a in record["attachments"]] == [
            a["sha256"] for a in item.attachments
        ]
        if item.index_no:  # the page's own; the others the portal minted
            assert index_no == record["index_no"] == item.index_no
    assert files == attachments

    with contextlib.closing(sqlite3.connect(work / "f.db")) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM items GROUP BY status"))
        blobs = conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
        pages = conn.execute("SELECT count(*) FROM pages WHERE etag IS NOT NULL").fetchone()[0]
        events = conn.execute("SELECT * FROM audit ORDER BY id").fetchall()
    assert statuses == {"delivered": 50}
    assert blobs == counts["uploads"]
    assert pages == list_pages + 50  # validators of every page read, as the bridge keeps them
    assert len(events) == 4 * 50
    prev = GENESIS
    for id_, ts, actor, event, source, item, details, prev_hash, digest in events:
        assert prev_hash == prev
        assert digest == chain_hash(
            prev, id_, datetime.fromisoformat(ts), actor, event, source, item, None, details
        )
        prev = digest
    assert [e[3] for e in events[:3]] == ["item.discovered", "record.changed", "delivery.sent"]
    assert events[-1][3] == "delivery.confirmed"
