"""bench/scrapy_spider.py, the peer ``bench.backfill --scrapy`` and ``--scrapy-files`` read
the bridge's items/s against: it must read every item, and with ``--files`` make the
bridge's requests (every attachment downloaded), or the ratio means nothing. A 50-item
sandbox site on loopback; the spider runs as ``bench.crawl`` runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import END_DATE, SEED
from bench.servers import SandboxSite
from bench.sites import columns_for
from bridge.sandbox.site import generate_site, load_manifest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("files", [False, True], ids=["links-only", "with-files"])
def test_the_spider_reads_every_item_and_with_files_every_attachment(tmp_path, files):
    root = tmp_path / "site"
    generate_site(root, items=50, seed=SEED, end_date=END_DATE)
    columns, _how = columns_for(root, 6)
    manifest = load_manifest(root)
    live = manifest.live()
    assert len(live) == 50
    links = sum(len(i.attachments) for i in live)
    files_on_site = {a["path"] for i in live for a in i.attachments}
    assert links > 10  # the site has attachments to download, or the test proves nothing
    list_pages = sum(-(-len(manifest.live(c[0])) // 20) or 1 for c in columns)

    with SandboxSite(root, tmp_path / "site.log") as site:
        cmd = [sys.executable, "-m", "bench.scrapy_spider", "--base", site.url]
        cmd += ["--concurrency", "4", "--columns", ",".join(p for _, p, _ in columns)]
        cmd += ["--files"] if files else []
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])

    assert counts["items"] == 50
    assert counts["fields"]["title"] == counts["fields"]["body"] == 50
    assert counts["fields"]["attachment_links"] == links
    # robots.txt, the list pages, the detail pages, and with --files each attachment once:
    # the requests bench/floor.py and the bridge make (tests/bench/test_floor.py)
    downloads = len(files_on_site) if files else 0
    assert counts["requests"] == 1 + list_pages + 50 + downloads
