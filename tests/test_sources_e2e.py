"""Real bureau sites, through the real HTTP server and the real CLI (issue 3's Done-when)."""

from __future__ import annotations

import json
import time

import pytest
import requests
from conftest import state_rows

from bridge.sandbox.site import columns_toml, edit, load_manifest, publish, relayout

pytestmark = pytest.mark.slow


def portal_stats(box) -> dict:
    return requests.get(box.portal_url + "sandbox/stats?log=0", timeout=10).json()


def site_log(box) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in box.site.requests]


@pytest.mark.parametrize(
    ("style", "encoding"),
    [("trs", "utf-8"), ("trs", "gbk"), ("hanweb", "utf-8"), ("hanweb", "gbk")],
)
def test_both_styles_and_encodings_extract_every_item_exactly(
    sandbox, write_config, cli, style, encoding
):
    box = sandbox(
        items=45, seed=41, style=style, encoding=encoding, pinned=True, cross_listed=True,
        offsite_links=True, volatile=True, list_dates="mixed", cn_dates=True, cn_filenames=True,
    )  # fmt: skip
    # GBK sites declare their charset only in a <meta>; the config says nothing of it.
    config = write_config(box, kind=style)
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    manifest = load_manifest(box.root)
    held = {r["external_id"]: r for r in box.portal.store.items()}
    assert set(held) == {f"yyedu:{i.id}" for i in manifest.items}  # cross-listed: one item
    for info in manifest.items:
        record = held[f"yyedu:{info.id}"]
        assert record["title"] == info.title  # never the truncated list text
        assert record["doc_no"] == info.doc_no
        assert record["created"] == info.created.isoformat()
        assert record["published"][:10] == info.published.date().isoformat()
        assert [(a["name"], a["sha256"]) for a in record["attachments"]] == [
            (a["name"], a["sha256"]) for a in info.attachments
        ]
        text = json.dumps(record, ensure_ascii=False)
        assert "\ufffd" not in text
        assert "浏览次数" not in record["body_html"] and "页面生成时间" not in record["body_html"]
    assert "replacement" not in result.err


def test_pinned_item_does_not_stop_paging_and_one_cycle_finds_30_new(sandbox, write_config, cli):
    # Four entries a page: the 30 new items (about five a column) spread over the first
    # two pages of every column, below a pinned older item on top of page 1.
    box = sandbox(items=60, seed=43, pinned=True, page_size=4)
    config = write_config(box, extra_source="overlap_pages = 1")
    assert cli("--config", str(config), "sync", "--once").code == 0
    before = box.portal.store.count()
    new = publish(box.root, 30)
    per_column: dict[str, int] = {}
    for item in new:
        per_column[item.column] = per_column.get(item.column, 0) + 1
    assert max(per_column.values()) > 4  # at least one column's news spans two pages
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    assert "30 new" in result.out
    assert box.portal.store.count() == before + 30


def test_an_edited_title_is_one_update_and_page_views_are_none(sandbox, write_config, cli):
    box = sandbox(items=30, seed=47, volatile=True)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    item = load_manifest(box.root).items[5]
    # 100 page views move the visit counter and the generated-at stamp
    for _ in range(100):
        requests.get(box.site_url.rstrip("/") + item.path, timeout=10)
    views = cli("--config", str(config), "resync")  # re-reads every detail page
    assert views.code == 0, views.both
    assert "0 changed" in views.out
    assert portal_stats(box)["puts_by_status"]["updated"] == 0

    edit(box.root, item.id, title=item.title + "（第二次修订）")
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    assert "1 changed" in result.out and "1 updated" in result.out
    assert portal_stats(box)["puts_by_status"]["updated"] == 1
    assert box.portal.store.get(f"yyedu:{item.id}")["title"] == item.title + "（第二次修订）"


def test_a_no_change_poll_of_20_columns_reads_only_the_overlap_pages_and_gets_304s(
    sandbox, write_config, cli
):
    box = sandbox(items=400, seed=53, columns=20)
    manifest = load_manifest(box.root)
    assert len(manifest.columns) == 20
    # the listing alone: revalidation of detail pages (its own 304s) is tests/test_revalidate
    listing_only = (
        'overlap_pages = 1\n[sources.fetch]\nrevalidate_recent = "0"\nrevalidate_all = "0"'
    )
    config = write_config(box, extra_source=listing_only, columns=columns_toml(box.root))
    assert cli("--config", str(config), "sync", "--once").code == 0
    box.site.requests.clear()
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    seen = [r for r in site_log(box) if r[1] != "/robots.txt"]
    assert sorted(seen) == sorted(
        ("GET", f"{path}index.html", 304) for _, path, _ in manifest.columns
    )
    assert "20 list page(s) (20 not modified), 0 fetched" in result.out


def test_a_relayout_is_a_layout_alarm_with_no_delivery(sandbox, write_config, cli, tmp_path):
    box = sandbox(items=30, seed=59)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    before = portal_stats(box)["total"]
    relayout(box.root)
    publish(box.root, 2)
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 1
    assert "Traceback" not in result.both
    alarm = [line for line in result.err.splitlines() if "layout alarm" in line]
    assert len(alarm) == 1
    assert "the listing parsed to zero items where it had" in alarm[0]
    assert portal_stats(box)["total"] == before  # zero deliveries of any kind
    status = json.loads(cli("--config", str(config), "status", "--format", "json").out)
    assert status["sources"][0]["layout_alarm"] is True
    assert status["sources"][0]["result"] == "alarm"
    events = cli("--config", str(config), "audit", "--event", "layout.alarm", "--format", "jsonl")
    assert len(events.out.splitlines()) == 1
    assert state_rows(config, "SELECT count(*) FROM items WHERE status = 'withdrawn'") == [(0,)]
    resync = cli("--config", str(config), "resync")
    assert resync.code == 1  # still an alarm: a resync never withdraws on an empty listing


def test_robots_txt_disallowing_a_column_skips_it_with_a_warning(sandbox, write_config, cli):
    box = sandbox(items=40, seed=61, robots_disallow=["/xxgk/tjsj/"])
    config = write_config(box)
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both  # a warning, not a failure: the site said no
    warnings = [line for line in result.err.splitlines() if "column tjsj skipped" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]
    assert "robots.txt disallows" in warnings[0] and "/xxgk/tjsj/index.html" in warnings[0]
    assert not any(p.startswith("/xxgk/tjsj/") for _, p, _ in site_log(box))
    manifest = load_manifest(box.root)
    expected = {f"yyedu:{i.id}" for i in manifest.items if i.column != "tjsj"}
    assert {r["external_id"] for r in box.portal.store.items()} == expected


def test_a_rate_limit_holds_over_a_100_request_crawl(sandbox, write_config, cli):
    """The gate's spacing is checked exactly with a fake clock (tests/sources/test_host_gate.py);
    end to end, the bound that cannot flake is the crawl's own duration: every request
    passes the one host's gate, which gives the k-th request its turn no earlier than
    (k - 1) intervals after the first, and the process ends after the last request began,
    so the command takes at least (n - 1) / rate, whatever the load (a loaded machine only
    makes it longer). Without the limit the crawl takes a few seconds."""
    box = sandbox(items=90, seed=67)
    config = write_config(box)
    config.write_text(config.read_text().replace("rate_limit = 1000.0", "rate_limit = 50.0"))
    started = time.monotonic()
    result = cli("--config", str(config), "sync", "--once", timeout=400)
    took = time.monotonic() - started
    assert result.code == 0, result.both
    n = len(box.site.requests)
    assert n >= 100
    assert took >= (n - 1) / 50.0
