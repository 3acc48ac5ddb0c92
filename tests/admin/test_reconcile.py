"""`bridge reconcile`: site ↔ state ↔ portal through the real CLI and the sandbox servers."""

from __future__ import annotations

import json

import pytest
from admin_helpers import foreign_record, portal_alter_title, portal_delete_row, signed_put

from bridge.sandbox.site import load_manifest, withdraw

pytestmark = pytest.mark.slow


def lines_of(out: str) -> list[tuple[str, str]]:
    return [(line[0], line.split()[1]) for line in out.splitlines()[:-1]]


def test_reconcile_reports_four_damages_and_fix_repairs_them(sandbox, write_config, cli):
    box = sandbox(items=60, seed=21)
    config = str(write_config(box))
    assert cli("--config", config, "sync", "--once").code == 0

    clean = cli("--config", config, "reconcile")
    assert clean.code == 0, clean.both
    assert clean.out == (
        "0 differences: 0 on the site only (+), 0 on the portal only (-), 0 different (*), "
        "0 error(s) (!); 60 the same (=)\n"
    )

    live = load_manifest(box.root).live()
    column = max({i.column for i in live}, key=lambda c: sum(i.column == c for i in live))
    big = [i for i in live if i.column == column]
    assert len(big) >= 10  # one withdrawal stays within max_withdraw_share (10 %)
    deleted, altered, gone = f"yyedu:{live[0].id}", f"yyedu:{live[1].id}", big[-1]
    store = box.portal.store
    portal_delete_row(store.db_path, deleted)
    portal_alter_title(store.db_path, altered, "被平台管理员改过的标题")
    foreign_id = "yyedu:t20990101_999999"
    answer = signed_put(
        box.portal_url,
        foreign_record(
            store.get(altered),
            foreign_id,
            "不是本局网站发布的条目",
            box.site_url + "xxgk/ywgz/209901/t20990101_999999.html",
        ),
    )
    assert answer.status_code == 201, answer.text
    withdraw(box.root, gone.id)

    found = cli("--config", config, "reconcile")
    assert found.code == 1, found.both
    assert sorted(lines_of(found.out)) == sorted(
        [("+", deleted), ("*", altered), ("-", foreign_id), ("-", f"yyedu:{gone.id}")]
    )
    by_id = {line.split()[1]: line for line in found.out.splitlines()[:-1]}
    assert "(not on the portal: re-send version 1)" in by_id[deleted]
    assert (
        "(the portal holds other content than the current version: re-send version 1)"
        in by_id[altered]
    )
    assert "不是本局网站发布的条目" in by_id[foreign_id]
    assert by_id[f"yyedu:{gone.id}"].endswith(
        "(gone from the site's complete listing, still active on the portal; its page answers 404)"
    )
    assert by_id[foreign_id].endswith(
        "(gone from the site's complete listing, still active on the portal; "
        "unknown to the state store; its page answers 404)"
    )
    assert found.out.splitlines()[-1] == (
        "4 differences: 1 on the site only (+), 2 on the portal only (-), 1 different (*), "
        "0 error(s) (!); 57 the same (=)"
    )

    plan = cli("--config", config, "reconcile", "--fix")
    assert plan.code == 1
    assert "plan: re-send 2 item(s), withdraw 2 item(s)" in plan.out
    assert plan.out.rstrip().endswith(
        "nothing changed: run again with --fix --yes to apply this plan"
    )
    assert store.get(deleted) is None  # nothing was sent

    fixed = cli("--config", config, "reconcile", "--fix", "--yes")
    assert fixed.code == 0, fixed.both
    assert (
        "fixed: 2 re-sent, 2 withdrawn; delivery: 4 sent, 1 created, 1 updated, 0 unchanged, 2 withdrawn, 0 failed, 0 dead"
        in fixed.out
    )

    assert store.get(deleted)["status"] == "active"
    assert store.get(altered)["title"] == next(i.title for i in live if f"yyedu:{i.id}" == altered)
    assert store.get(foreign_id)["status"] == "withdrawn"
    assert store.get(f"yyedu:{gone.id}")["status"] == "withdrawn"

    again = cli("--config", config, "reconcile")
    assert again.code == 0, again.both
    assert again.out.startswith("0 differences:")

    fixes = cli("--config", config, "audit", "--event", "reconcile.fix", "--format", "jsonl")
    events = [json.loads(line) for line in fixes.out.splitlines()]
    assert sorted(
        (e["item"], e["details"]["action"], e["details"]["symbol"]) for e in events
    ) == sorted(
        [
            (deleted, "put", "+"),
            (altered, "put", "*"),
            (foreign_id, "withdraw", "-"),
            (f"yyedu:{gone.id}", "withdraw", "-"),
        ]
    )
    assert {e["actor"] for e in events} == {events[0]["actor"]}
    assert events[0]["actor"].startswith("cli:")
    assert cli("--config", config, "audit", "verify").code == 0


def test_a_foreign_item_is_reported_but_never_withdrawn(sandbox, write_config, cli):
    box = sandbox(items=12, seed=5)
    config = str(write_config(box))
    assert cli("--config", config, "sync", "--once").code == 0
    template = box.portal.store.items()[0]
    record = foreign_record(
        template, "othersys:A-1001", "其他系统报送的条目", "http://other.example/a/1001.html"
    )
    assert signed_put(box.portal_url, record).status_code == 201

    found = cli("--config", config, "reconcile", "--format", "csv")
    assert found.code == 1
    rows = found.out.splitlines()
    assert (
        rows[0]
        == "symbol,external_id,source,column,title,site,state,portal,state_hash,portal_hash,note,fix"
    )
    foreign = [r for r in rows if "othersys:A-1001" in r]
    assert foreign == [
        "-,othersys:A-1001,,,其他系统报送的条目,missing,absent,active,,"
        f"{box.portal.store.get('othersys:A-1001')['content_hash']},"
        "foreign: no configured source makes this id; reconcile never withdraws it,"
    ]
    assert sum(1 for r in rows[1:] if r.startswith("=,")) == 12

    fixed = cli("--config", config, "reconcile", "--fix", "--yes")
    assert fixed.code == 1  # the difference remains: reconcile does not touch other systems' items
    assert "leave     othersys:A-1001" in fixed.out
    assert box.portal.store.get("othersys:A-1001")["status"] == "active"

    only_ours = cli("--config", config, "reconcile", "--source", "yyedu", "--format", "json")
    assert only_ours.code == 0, only_ours.both
    data = json.loads(only_ours.out)
    assert data["counts"] == {"=": 12, "+": 0, "-": 0, "*": 0, "!": 0}
    assert data["sources"] == ["yyedu"]


def test_withdrawals_beyond_the_share_are_held_until_forced(sandbox, write_config, cli):
    box = sandbox(items=20, seed=8)
    config = str(write_config(box))
    assert cli("--config", config, "sync", "--once").code == 0
    live = load_manifest(box.root).live()
    column = max({i.column for i in live}, key=lambda c: sum(i.column == c for i in live))
    gone = [i for i in live if i.column == column][:2]
    for info in gone:
        withdraw(box.root, info.id)
    n = sum(i.column == column for i in live)

    held = cli("--config", config, "reconcile", "--fix", "--yes")
    assert held.code == 1
    assert (
        f"held: 2 of {n} items of column {column!r} are gone ({2 / n:.0%}, "
        "more than max_withdraw_share 10%); --force sends them" in held.out
    )
    assert "fixed: 0 re-sent, 0 withdrawn" in held.out
    assert all(box.portal.store.get(f"yyedu:{i.id}")["status"] == "active" for i in gone)

    forced = cli("--config", config, "reconcile", "--fix", "--yes", "--force")
    assert forced.code == 0, forced.both
    assert "fixed: 0 re-sent, 2 withdrawn" in forced.out
    assert all(box.portal.store.get(f"yyedu:{i.id}")["status"] == "withdrawn" for i in gone)
    assert cli("--config", config, "reconcile").code == 0


def test_a_column_that_parses_empty_is_an_error_not_a_mass_withdrawal(sandbox, write_config, cli):
    box = sandbox(items=20, seed=3)
    config = str(write_config(box))
    assert cli("--config", config, "sync", "--once").code == 0
    for page in (box.root / "xxgk" / "zcwj").glob("index*.html"):  # a redesign of one column
        page.write_text("<html><body><div class='new-list'></div></body></html>", "utf-8")
    n = sum(i.column == "zcwj" for i in load_manifest(box.root).live())

    result = cli("--config", config, "reconcile", "--fix", "--yes")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == (
        f"! yyedu/zcwj  (layout alarm: the listing parsed to zero items where the state store "
        f"has {n} active)"
    )
    assert lines[1].startswith("1 difference: 0 on the site only (+), 0 on the portal only (-)")
    assert "fixed: 0 re-sent, 0 withdrawn" in result.out
    assert box.portal.store.count(include_withdrawn=False) == 20
