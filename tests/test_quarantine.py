"""Quarantine: a record that fails validation is held with its reason, never delivered, and
released by a resync after the operator fixes the config (issue 4 item 7)."""

from __future__ import annotations

import json
import re

import pytest

from bridge.sandbox.site import load_manifest

pytestmark = pytest.mark.slow


def strip_detail_charsets(root) -> int:
    """The bureau's detail template lost its <meta charset>: GBK bytes, nothing declared."""
    n = 0
    for page in root.glob("xxgk/*/??????/t*.html"):
        data = page.read_bytes()
        bare = re.sub(rb"<meta[^>]*charset[^>]*>", b"", data, flags=re.I)
        if bare != data:
            page.write_bytes(bare)
            n += 1
    return n


def test_a_guessed_charset_is_quarantined_then_released_after_the_fix(sandbox, write_config, cli):
    box = sandbox(items=12, seed=71, encoding="gbk")
    assert strip_detail_charsets(box.root) == 12
    config = write_config(box)  # charset = "utf-8": wrong for this site

    first = cli("--config", str(config), "sync", "--once")
    assert first.code == 1
    assert "12 quarantined" in first.out
    assert box.portal.store.count() == 0  # never delivered

    status = cli("--config", str(config), "status", "--format", "json")
    held = json.loads(status.out)["quarantined"]
    assert len(held) == 12
    for q in held:
        assert q["url"].startswith(box.site_url)
        assert [(p["field"], p["rule"]) for p in q["problems"]] == [("body", "body.charset")]
        assert (
            "set the source's charset in the config, then run xxgk-bridge resync"
            in q["problems"][0]["message"]
        )
    assert json.loads(status.out)["sources"][0]["quarantined"] == 12
    table = cli("--config", str(config), "status")
    assert "quarantined yyedu:" in table.out and "body.charset" in table.out
    audit = cli(
        "--config", str(config), "audit", "--event", "record.quarantined", "--format", "jsonl"
    )
    assert len(audit.out.splitlines()) == 12

    # A second cycle does not re-announce the same quarantine.
    again = cli("--config", str(config), "sync", "--once")
    assert "0 fetched" in again.out
    audit = cli(
        "--config", str(config), "audit", "--event", "record.quarantined", "--format", "jsonl"
    )
    assert len(audit.out.splitlines()) == 12

    config.write_text(config.read_text().replace('charset = "utf-8"', 'charset = "gbk"'))
    fixed = cli("--config", str(config), "resync", "--reason", "charset fixed")
    assert fixed.code == 0, fixed.both
    assert "12 new" in fixed.out
    manifest = load_manifest(box.root)
    assert {r["title"] for r in box.portal.store.items()} == {i.title for i in manifest.items}
    released = cli(
        "--config", str(config), "audit", "--event", "record.released", "--format", "jsonl"
    )
    assert len(released.out.splitlines()) == 12
    after = json.loads(cli("--config", str(config), "status", "--format", "json").out)
    assert after["quarantined"] == [] and after["sources"][0]["quarantined"] == 0
