"""索引号 minted by the bridge (issue 4 item 6) or by the portal, end to end."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_bridge_minted_index_numbers_are_kept_by_the_portal(sandbox, write_config, cli, tmp_path):
    box = sandbox(items=12, seed=4)
    config = write_config(box)
    config.write_text(
        config.read_text().replace(
            '[target]\nkind = "http"', '[target]\nkind = "http"\nindex_no = "bridge"'
        )
    )
    assert cli("--config", str(config), "sync", "--once").code == 0
    held = box.portal.store.items()
    assert len(held) == 12
    by_year: dict[str, list[int]] = {}
    for record in held:
        m = re.fullmatch(r"002949236/(\d{4})-(\d{5})", record["index_no"])
        assert m, record["index_no"]
        assert m.group(1) == record["created"][:4]  # the 成文 year, not the upload year
        by_year.setdefault(m.group(1), []).append(int(m.group(2)))
    for serials in by_year.values():
        assert sorted(serials) == list(range(1, len(serials) + 1))  # contiguous per year
    minted = cli("--config", str(config), "audit", "--event", "index_no.minted", "--format", "json")
    assert len(minted.out.splitlines()) == 12


def test_index_number_never_changes_after_an_edit(sandbox, write_config, cli):
    from bridge.sandbox.site import edit, load_manifest

    box = sandbox(items=6, seed=8)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    before = {r["external_id"]: r["index_no"] for r in box.portal.store.items()}
    item = load_manifest(box.root).items[0]
    edit(box.root, item.id, title=item.title + "（修订）")
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    assert "1 changed" in result.out and "1 updated" in result.out
    after = {r["external_id"]: (r["index_no"], r["version"]) for r in box.portal.store.items()}
    assert {k: v[0] for k, v in after.items()} == before
    assert after[f"yyedu:{item.id}"][1] == 2
