"""End to end through the real CLI: sandbox site → `bridge sync --once` → sandbox portal."""

from __future__ import annotations

import json
import os

import pytest
import requests
from conftest import REPO, state_execute, state_rows

from bridge.sandbox.portal import SANDBOX_SECRET
from bridge.sandbox.site import load_manifest, publish

pytestmark = pytest.mark.slow


def puts(box) -> dict[str, int]:
    stats = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()
    return stats["requests"].get("PUT", {})


def total_puts(box) -> int:
    return sum(puts(box).values())


def test_sync_moves_every_item_then_only_new_ones(sandbox, write_config, cli, tmp_path):
    box = sandbox(items=55, seed=11)
    config = write_config(box)
    manifest = load_manifest(box.root)
    assert len(manifest.items) == 55

    first = cli("--config", str(config), "sync", "--once")
    assert first.code == 0, first.both
    assert "55 new" in first.out
    assert "55 created" in first.out

    held = {r["external_id"]: r for r in box.portal.store.items()}
    assert set(held) == {f"yyedu:{i.id}" for i in manifest.items}
    for info in manifest.items:
        record = held[f"yyedu:{info.id}"]
        assert record["title"] == info.title
        assert record["doc_no"] == info.doc_no
        assert record["created"] == info.created.isoformat()
        assert record["category"] == info.category
        assert record["publisher"] == "余姚市教育局"
        assert record["status"] == "active"
        assert len(record["body_html"]) > 50
        if info.index_no is not None:  # the page's own 索引号, kept as it shows it
            assert record["index_no"] == info.index_no
        else:  # minted by the portal
            assert record["index_no"].startswith(f"002949236/{info.created.year}-")
        assert [a["sha256"] for a in record["attachments"]] == [
            a["sha256"] for a in info.attachments
        ]
    # the list truncates long titles; the portal must still get the full ones
    assert any(len(i.title) > 24 for i in manifest.items)

    assert total_puts(box) == 55
    # What the state store kept of each confirmed delivery: the answer, when, and the
    # portal's version and index number on the item.
    rows = state_rows(
        config,
        "SELECT i.external_id, i.index_no, i.portal_version, i.first_confirmed_at IS NOT NULL,"
        " i.version, d.status, d.attempts, d.done_at IS NOT NULL, d.lease_owner, d.response"
        " FROM items i JOIN deliveries d ON d.item_id = i.id ORDER BY i.id",
    )
    assert len(rows) == 55
    for (
        external_id,
        index_no,
        portal_version,
        confirmed,
        version,
        status,
        attempts,
        done,
        owner,
        answer,
    ) in rows:
        assert (status, attempts, done, owner, confirmed, version) == (
            "done",
            1,
            True,
            None,
            True,
            1,
        )
        assert index_no == held[external_id]["index_no"]
        assert portal_version == held[external_id]["version"] == 1
        assert json.loads(answer)["index_no"] == index_no
    second = cli("--config", str(config), "sync", "--once")
    assert second.code == 0, second.both
    assert total_puts(box) == 55  # a second sync sends zero PUTs

    publish(box.root, 3)
    third = cli("--config", str(config), "sync", "--once")
    assert third.code == 0, third.both
    assert total_puts(box) == 58  # exactly the three new items
    assert puts(box) == {"201": 58}
    assert box.portal.store.count() == 58

    verified = cli("--config", str(config), "audit", "verify")
    assert verified.code == 0, verified.both
    assert "audit trail intact" in verified.out

    for result in (first, second, third, verified):
        assert SANDBOX_SECRET not in result.both


def test_audit_verify_names_the_edited_row(sandbox, write_config, cli, tmp_path):
    box = sandbox(items=5, seed=3)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    assert cli("--config", str(config), "audit", "verify").code == 0

    [(row_id,)] = state_rows(
        config,
        "SELECT id FROM audit_events WHERE event = 'delivery.confirmed' ORDER BY id LIMIT 1 OFFSET 2",
    )
    state_execute(
        config,
        "UPDATE audit_events SET details = replace(details, 'created', 'updated') WHERE id = :id",
        id=row_id,
    )
    broken = cli("--config", str(config), "audit", "verify")
    assert broken.code == 1
    assert f"audit chain broken at row {row_id}: its content does not match its hash" in broken.err


def test_wrong_secret_is_one_clear_line_and_nothing_is_delivered(
    sandbox, write_config, cli, tmp_path
):
    box = sandbox(items=4, seed=5)
    config = write_config(box, secret="not-the-portal-secret-0123456789")
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 1
    assert "Traceback" not in result.both
    auth_lines = [line for line in result.both.splitlines() if "refused our credentials" in line]
    assert len(auth_lines) == 1
    assert auth_lines[0].startswith("bridge: upload ") or auth_lines[0].startswith(
        "bridge: PUT yyedu:"
    )
    assert auth_lines[0].endswith("check target.key and the target secret")
    assert "(401 " in auth_lines[0]
    assert box.portal.store.count() == 0
    stats = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()
    assert stats["total"] <= 2  # each of the two senders stops at its first refusal: no storm
    states = dict(state_rows(config, "SELECT status, count(*) FROM deliveries GROUP BY status"))
    assert states == {"pending": 4}
    assert "not-the-portal-secret-0123456789" not in result.both


def test_a_bug_on_one_page_is_one_line_and_the_run_goes_on(sandbox, write_config, cli):
    """A page the bridge cannot handle because of its own bug: that page is an error with
    its URL (the traceback only at DEBUG), every other page is recorded and delivered."""
    box = sandbox(items=12, seed=37)
    path = write_config(box)
    broken = min(i.path for i in load_manifest(box.root).items)  # a detail page's path
    hook = path.parent / "sitecustomize.py"
    hook.write_text(
        "from bridge.sources import trs\n"
        "real = trs.TrsSource.fetch_item\n"
        "def fetch_item(self, entry):\n"
        f"    if entry.url.endswith({broken!r}):\n"
        "        raise KeyError('td')\n"
        "    return real(self, entry)\n"
        "trs.TrsSource.fetch_item = fetch_item\n",
        encoding="utf-8",
    )
    pythonpath = os.pathsep.join([str(path.parent), str(REPO)])
    result = cli("--config", str(path), "sync", "--once", env={"PYTHONPATH": pythonpath})
    assert result.code == 1, result.both
    assert "11 new" in result.out and "11 created" in result.out
    lines = [line for line in result.err.splitlines() if "internal error" in line]
    assert len(lines) == 1
    url = box.site_url.rstrip("/") + broken
    assert lines[0].endswith(
        f"yyedu: internal error on {url}: KeyError: 'td' "
        "(please report it; the traceback is logged at DEBUG)"
    )
    assert "Traceback" not in result.err
