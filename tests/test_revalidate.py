"""Revalidation of known detail pages (bridge.crawl.revalidate): a body-only correction reaches
the portal without a resync, old items within ``revalidate_all``, and an unchanged site
costs 304s and no PUT. Real sandbox site and portal on loopback, the real CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import run_cycle, state_rows

from bridge.sandbox import site_server
from bridge.sandbox.site import edit, load_manifest, publish
from bridge.sources import parse

pytestmark = pytest.mark.slow

CORRECTION = "更正：第三段所称日期应为2026年12月1日。"


def total_puts(box) -> int:
    stats = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()
    return sum(stats["requests"].get("PUT", {}).values())


def portal_item(box, external_id: str) -> dict:
    return next(r for r in box.portal.store.items() if r["external_id"] == external_id)


def detail_requests(box, since: int = 0) -> list[tuple[str, int]]:
    paths = {"/" + i.path.lstrip("/") for i in load_manifest(box.root).items}
    return [(r.path, r.status) for r in box.site.stats()[since:] if r.path in paths]


def recent_ids(config) -> list[str]:
    since = datetime.now(UTC) - timedelta(days=30)
    rows = state_rows(config, "SELECT external_id, published_at FROM items")
    return sorted(e for e, p in rows if datetime.fromisoformat(str(p)).replace(tzinfo=UTC) >= since)


def status_json(cli, config) -> dict:
    out = cli("--config", str(config), "status", "--format", "json")
    return next(s for s in json.loads(out.out)["sources"] if s["source"] == "yyedu")


def test_body_edit_of_a_recent_item_reaches_the_portal_at_the_next_sync(sandbox, write_config, cli):
    box = sandbox(items=20, seed=3)
    fresh = publish(box.root, 2)  # dated today: within revalidate_recent
    config = write_config(box)
    first = cli("--config", str(config), "sync", "--once")
    assert first.code == 0, first.both
    assert total_puts(box) == 22
    external_id = f"yyedu:{fresh[0].id}"
    assert portal_item(box, external_id)["version"] == 1

    edit(box.root, fresh[0].id, body_append=CORRECTION)  # the listing does not change
    second = cli("--config", str(config), "sync", "--once")
    assert second.code == 0, second.both
    record = portal_item(box, external_id)
    assert record["version"] == 2
    assert CORRECTION in record["body_html"]
    assert total_puts(box) == 23  # the corrected item only
    shown = status_json(cli, config)["revalidation"]
    # every recent item, and one old one (the seconds since the last cycle, as a share of
    # 7 days, round up to one item)
    recent = len(recent_ids(config))
    assert (shown["recent"], shown["old"], shown["old_total"]) == (recent, 1, 22 - recent)
    assert (shown["checked"], shown["changed"], shown["not_modified"]) == (recent + 1, 1, recent)
    assert shown["full_by"] is not None


def test_a_cycle_without_changes_sends_nothing_and_parses_no_detail_page(
    sandbox, write_config, cli, monkeypatch
):
    box = sandbox(items=20, seed=4)
    publish(box.root, 3)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    puts = total_puts(box)
    recent = recent_ids(config)
    assert len(recent) >= 3
    before = len(box.site.stats())

    parsed: list[str] = []
    document = parse.document
    monkeypatch.setattr(
        parse, "document", lambda text, url: parsed.append(url) or document(text, url)
    )
    summary = run_cycle(config)
    assert summary.exit_code == 0
    assert total_puts(box) == puts
    st = summary.sources[0].stats
    checked = len(recent) + 1  # and one old item, its share of 7 days rounded up
    assert (st.revalidated, st.revalidated_not_modified, st.revalidated_changed) == (
        checked,
        checked,
        0,
    )
    answers = detail_requests(box, before)
    assert len(answers) == checked
    assert {status for _, status in answers} == {304}
    assert parsed == []  # list pages 304 too: nothing parsed at all
    human = cli("--config", str(config), "status")
    assert (
        f"yyedu: revalidated {checked} detail page(s) in the last cycle "
        f"({checked} not modified, 0 unchanged, 0 changed, 0 gone)"
    ) in human.out


def test_an_old_item_edit_is_caught_within_revalidate_all_a_share_per_cycle(
    sandbox, write_config, cli
):
    box = sandbox(items=24, seed=5)
    period = 8.0
    config = write_config(box)
    text = config.read_text(encoding="utf-8").replace(
        "concurrency = 4\n",
        f'concurrency = 4\nrevalidate_recent = "0"\nrevalidate_all = "{period:g}s"\n',
        1,
    )
    config.write_text(text, encoding="utf-8")
    first = run_cycle(config)
    assert first.exit_code == 0
    assert first.sources[0].stats.revalidated == 0  # just read: the schedule starts now
    oldest = min(load_manifest(box.root).items, key=lambda i: i.published)
    external_id = f"yyedu:{oldest.id}"
    edit(box.root, oldest.id, body_append=CORRECTION)

    # Cycles half a second apart: each checks its share of the 24 (24 × the seconds since
    # the last one / 8 s), the items checked longest ago first, so the edited item comes
    # up before every item has been checked once, however long the cycles take here.
    shares: list[int] = []
    while portal_item(box, external_id)["version"] == 1:
        assert sum(shares) < 24, f"every item checked once, the edit not caught: {shares}"
        time.sleep(0.5)  # the time that makes a share, not a synchronization
        summary = run_cycle(config)
        assert summary.exit_code == 0
        shares.append(summary.sources[0].stats.revalidated)
    assert all(n >= 1 for n in shares), shares
    assert len(shares) >= 2, shares  # a share, never the 24 at once
    record = portal_item(box, external_id)
    assert record["version"] == 2 and CORRECTION in record["body_html"]
    # the items checked longest ago went first: no item twice before every item once
    checked = state_rows(config, "SELECT COUNT(*) FROM items WHERE checked_at > first_seen")
    assert checked[0][0] == min(24, sum(shares))


class _NoValidators(site_server._Handler):
    """A bureau server that sends neither ETag nor Last-Modified (and never a 304)."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword not in ("ETag", "Last-Modified"):
            super().send_header(keyword, value)

    def _not_modified(self, etag: str, mtime: float | None) -> bool:
        return False


def test_without_validators_the_content_hash_decides(sandbox, write_config, cli, monkeypatch):
    monkeypatch.setattr(site_server, "_Handler", _NoValidators)
    box = sandbox(items=15, seed=6)
    fresh = publish(box.root, 2)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    puts = total_puts(box)
    recent = recent_ids(config)
    before = len(box.site.stats())
    quiet = run_cycle(config)  # every recent page read whole; the hash finds nothing new
    assert total_puts(box) == puts
    st = quiet.sources[0].stats
    checked = len(recent) + 1  # and one old item, its share of 7 days rounded up
    assert (st.revalidated, st.revalidated_unchanged, st.revalidated_not_modified) == (
        checked,
        checked,
        0,
    )
    assert {s for _, s in detail_requests(box, before)} == {200}
    edit(box.root, fresh[1].id, body_append=CORRECTION)
    changed = run_cycle(config)
    assert changed.sources[0].stats.revalidated_changed == 1
    assert total_puts(box) == puts + 1
    assert CORRECTION in portal_item(box, f"yyedu:{fresh[1].id}")["body_html"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'revalidate_all = "soon"',
            "fetch.revalidate_all: must be a duration such as 30s, 10m, 2h or a number of seconds, "
            "not 'soon'",
        ),
        ("revalidate_recent = -5", "fetch.revalidate_recent: must be positive, not -5.0"),
        ("revalidate_recent = true", "fetch.revalidate_recent: must be"),
    ],
)
def test_bad_revalidation_values_are_one_config_problem(sandbox, write_config, cli, line, message):
    box = sandbox(items=3, seed=8)
    config = write_config(box)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "concurrency = 4\n", f"concurrency = 4\n{line}\n", 1
        ),
        encoding="utf-8",
    )
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 2, result.both
    assert message in result.err
    assert "Traceback" not in result.both


def test_zero_switches_revalidation_off(sandbox, write_config, cli):
    box = sandbox(items=10, seed=9)
    publish(box.root, 2)
    config = write_config(box)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "concurrency = 4\n", 'concurrency = 4\nrevalidate_recent = "0"\nrevalidate_all = 0\n', 1
        ),
        encoding="utf-8",
    )
    assert cli("--config", str(config), "sync", "--once").code == 0
    before = len(box.site.stats())
    summary = run_cycle(config)
    assert summary.sources[0].stats.revalidated == 0
    assert detail_requests(box, before) == []
