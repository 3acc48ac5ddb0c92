"""`reconcile --fix` and `resync` withdraw the same items from the same site state.

Two sandboxes generated from one seed are the same site; each has its own portal and
state store. The same items are withdrawn on both sites, then one store is put right by
`reconcile --fix --yes` and the other by `resync`: the portals must get the same DELETEs.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import requests
from conftest import config_text

from bridge.crawl.withdraw_rule import WithdrawalShare, held
from bridge.sandbox.site import load_manifest, withdraw

pytestmark = pytest.mark.slow


def deleted(box) -> list[str]:
    log = requests.get(box.portal_url + "sandbox/stats", timeout=10).json()["log"]
    return sorted(
        unquote(e["path"].split("?")[0].rsplit("/", 1)[-1])
        for e in log
        if e["method"] == "DELETE" and e["status"] == 200
    )


def twins(sandbox, tmp_path, cli, gone: int):
    """Two identical synced sandboxes, the first ``gone`` items of their smallest column
    of at least three withdrawn on both sites; returns the boxes, configs and ids."""
    boxes = [sandbox(items=20, seed=8), sandbox(items=20, seed=8)]
    configs = []
    for n, box in enumerate(boxes):  # a state store each
        config = tmp_path / f"bridge{n}.toml"
        config.write_text(config_text(tmp_path / f"state{n}.db", box.site_url, box.portal_url))
        configs.append(str(config))
    for config in configs:
        assert cli("--config", config, "sync", "--once").code == 0
    live = load_manifest(boxes[0].root).live()
    sizes = {c: sum(i.column == c for i in live) for c in {i.column for i in live}}
    column = min((c for c in sizes if sizes[c] >= 3), key=lambda c: (sizes[c], c))
    doomed = [i.id for i in live if i.column == column][:gone]
    for box in boxes:
        for article in doomed:
            withdraw(box.root, article)
    return boxes, configs, column, sizes[column], sorted(f"yyedu:{a}" for a in doomed)


def test_one_item_gone_is_withdrawn_by_both(sandbox, tmp_path, cli):
    boxes, configs, _column, n, doomed = twins(sandbox, tmp_path, cli, gone=1)
    assert 1 / n > 0.10  # more than the default max_withdraw_share: only "one may go" lets it

    fixed = cli("--config", configs[0], "reconcile", "--fix", "--yes")
    assert fixed.code == 0, fixed.both
    assert "fixed: 0 re-sent, 1 withdrawn" in fixed.out
    resynced = cli("--config", configs[1], "resync")
    assert resynced.code == 0, resynced.both
    assert "1 withdrawn" in resynced.out

    assert deleted(boxes[0]) == deleted(boxes[1]) == doomed


def test_two_items_gone_are_held_by_both_until_forced(sandbox, tmp_path, cli):
    boxes, configs, column, n, doomed = twins(sandbox, tmp_path, cli, gone=2)
    assert int(0.10 * n) < 2
    why = f"2 of {n} items of column {column!r} are gone ({2 / n:.0%}, more than max_withdraw_share 10%)"

    fixed = cli("--config", configs[0], "reconcile", "--fix", "--yes")
    assert fixed.code == 1
    assert f"held: {why}; --force sends them" in fixed.out
    resynced = cli("--config", configs[1], "resync")
    assert resynced.code == 1
    assert f"yyedu: {why}; nothing was withdrawn" in resynced.out
    assert deleted(boxes[0]) == deleted(boxes[1]) == []

    assert cli("--config", configs[0], "reconcile", "--fix", "--yes", "--force").code == 0
    assert cli("--config", configs[1], "resync", "--force").code == 0
    assert deleted(boxes[0]) == deleted(boxes[1]) == doomed


@pytest.mark.parametrize(
    ("gone", "active", "limit", "allowed"),
    [(1, 6, 0.1, True), (2, 6, 0.1, False), (2, 20, 0.1, True), (3, 20, 0.1, False),
     (1, 1, 0.0, True), (5, 10, 0.5, True), (6, 10, 0.5, False)],
)  # fmt: skip
def test_the_rule(gone, active, limit, allowed):
    assert (held(gone, active, limit, force=False) is None) is allowed
    assert held(gone, active, limit, force=True) is None
    assert WithdrawalShare(2, 6, 0.1).describe("zcwj") == (
        "2 of 6 items of column 'zcwj' are gone (33%, more than max_withdraw_share 10%)"
    )
