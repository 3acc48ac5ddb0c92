"""索引号 minted by the bridge (issue 4 item 6) or by the portal, end to end."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.slow


def test_bridge_minted_index_numbers_are_kept_by_the_portal(sandbox, write_config, cli, tmp_path):
    """The bridge mints only for items whose page shows no 索引号; a page's own is kept."""
    from bridge.sandbox.site import load_manifest

    box = sandbox(items=12, seed=4)
    config = write_config(box)
    config.write_text(
        config.read_text().replace(
            '[target]\nkind = "http"', '[target]\nkind = "http"\nindex_no = "bridge"'
        )
    )
    assert cli("--config", str(config), "sync", "--once").code == 0
    shown = {f"yyedu:{i.id}": i.index_no for i in load_manifest(box.root).items}
    assert 0 < sum(v is None for v in shown.values()) < 12  # both kinds in this site
    held = box.portal.store.items()
    assert len(held) == 12
    by_year: dict[str, list[int]] = {}
    for record in held:
        if shown[record["external_id"]] is not None:
            assert record["index_no"] == shown[record["external_id"]]
            continue
        m = re.fullmatch(r"002949236/(\d{4})-(\d{5})", record["index_no"])
        assert m, record["index_no"]
        assert m.group(1) == record["created"][:4]  # the 成文 year, not the upload year
        by_year.setdefault(m.group(1), []).append(int(m.group(2)))
    for serials in by_year.values():
        assert sorted(serials) == list(range(1, len(serials) + 1))  # contiguous per year
    minted = cli(
        "--config", str(config), "audit", "--event", "index_no.minted", "--format", "jsonl"
    )
    assert len(minted.out.splitlines()) == sum(v is None for v in shown.values())


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


def _page_index_nos(box, count: int):
    from bridge.sandbox.site import load_manifest
    from bridge.sandbox.site_output import file_for

    shown = [i for i in load_manifest(box.root).items if i.index_no]
    return [(i, file_for(box.root, i.path)) for i in shown[:count]]


def test_a_page_shows_its_own_index_no_in_any_form_kept_and_flagged(sandbox, write_config, cli):
    """A non-standard 索引号 (no org code, as some sites write them) is filed as written and
    flagged in the audit trail with what is not standard about it; nothing is quarantined."""
    box = sandbox(items=8, seed=4)
    ((info, page),) = _page_index_nos(box, 1)
    page.write_text(page.read_text().replace(info.index_no, "YYJYJ-2012-00017"))
    config = write_config(box)
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    held = {r["external_id"]: r["index_no"] for r in box.portal.store.items()}
    assert held[f"yyedu:{info.id}"] == "YYJYJ-2012-00017"
    flagged = cli(
        "--config", str(config), "audit", "--event", "record.flagged", "--format", "jsonl"
    )
    events = [json.loads(line) for line in flagged.out.splitlines()]
    assert [(e["item"], e["details"]["remarks"]) for e in events] == [
        (
            f"yyedu:{info.id}",
            ["索引号 YYJYJ-2012-00017: has no '/' between the org code and the year-serial"],
        )
    ]


def test_two_pages_showing_one_index_no_quarantine_the_newcomer_with_both_urls(
    sandbox, write_config, cli
):
    from bridge.sandbox.site import load_manifest, publish
    from bridge.sandbox.site_output import file_for

    box = sandbox(items=8, seed=4)
    ((first, _),) = _page_index_nos(box, 1)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    publish(box.root, count=3)
    newcomer = next(i for i in load_manifest(box.root).items[-3:] if i.index_no)
    page = file_for(box.root, newcomer.path)
    page.write_text(page.read_text().replace(newcomer.index_no, first.index_no))
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 1, result.both  # a quarantined item is a failure to look at
    held = {r["external_id"]: r["index_no"] for r in box.portal.store.items()}
    assert f"yyedu:{newcomer.id}" not in held
    assert held[f"yyedu:{first.id}"] == first.index_no
    status = cli("--config", str(config), "status", "--format", "json")
    (quarantined,) = json.loads(status.out)["quarantined"]
    assert quarantined["item"] == f"yyedu:{newcomer.id}"
    (problem,) = quarantined["problems"]
    assert problem["rule"] == "index_no.duplicate"
    assert problem["message"] == (
        f"索引号 {first.index_no} is shown by {box.site_url}{newcomer.path.lstrip('/')} and by "
        f"{box.site_url}{first.path.lstrip('/')} (item yyedu:{first.id}, which holds it): one "
        "索引号 names one document, so the site must correct one of the two pages"
    )
    # Fixed at the site, a resync releases it and files it under its own number.
    page.write_text(page.read_text().replace(first.index_no, newcomer.index_no))
    again = cli("--config", str(config), "resync")
    assert again.code == 0, again.both
    held = {r["external_id"]: r["index_no"] for r in box.portal.store.items()}
    assert held[f"yyedu:{newcomer.id}"] == newcomer.index_no


def test_status_item_shows_each_field_with_its_provenance(sandbox, write_config, cli):
    box = sandbox(items=6, seed=4)
    ((info, _),) = _page_index_nos(box, 1)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    shown = cli("--config", str(config), "status", "--item", f"yyedu:{info.id}", "--format", "json")
    assert shown.code == 0, shown.both
    data = json.loads(shown.out)
    fields = {f["field"]: (f["value"], f["from"]) for f in data["fields"]}
    assert fields["index_no"] == (info.index_no, "page:索引号")
    assert fields["title"][0] == info.title and fields["title"][1] in ("page:标题", "page:heading")
    assert fields["publisher"] == ("余姚市教育局", "page:发布机构")
    assert fields["created"] == (info.created.isoformat(), "page:生成日期")
    assert fields["scope"] == ("面向全社会", "default")
    table = cli("--config", str(config), "status", "--item", f"yyedu:{info.id}")
    assert table.code == 0
    assert any(
        line.split()
        == ["│", "index_no", "│", "索引号", "│", info.index_no, "│", "page:索引号", "│"]
        for line in table.out.splitlines()
    ), table.out
    unknown = cli("--config", str(config), "status", "--item", "yyedu:nope")
    assert unknown.code == 2
    assert "no item 'yyedu:nope' in the state store" in unknown.err


def test_status_item_shows_a_title_in_brackets_as_written(sandbox, write_config, cli):
    """Page text is no terminal markup: ``[/]`` would make rich raise, ``[red]`` vanish."""
    from bridge.sandbox.site import edit, load_manifest

    box = sandbox(items=3, seed=4)
    item = load_manifest(box.root).live()[0]
    title = "关于[/]与[red]红头[/red]文件的通知"
    edit(box.root, item.id, title=title)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    table = cli("--config", str(config), "status", "--item", f"yyedu:{item.id}")
    assert table.code == 0, table.both
    assert any(
        line.split() == ["│", "title", "│", "名称", "│", title, "│", "page:标题", "│"]
        or line.split() == ["│", "title", "│", "名称", "│", title, "│", "page:heading", "│"]
        for line in table.out.splitlines()
    ), table.out
