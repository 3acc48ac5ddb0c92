"""The sandbox site with the markup of real sites (``--variants``: 发文机关 labels, titles only
in meta tags, countPage and 共N页 paging, label blocks instead of tables, decree numbers,
pages with their own 索引号), end to end through the real CLI: every portal record carries
what its page shows, with the provenance that says so."""

from __future__ import annotations

import json

import pytest
from conftest import state_rows

from bridge.sandbox.site import column_paging, columns_toml, load_manifest, shown_fields

pytestmark = pytest.mark.slow


def newest_records(config) -> dict[str, dict]:
    rows = state_rows(
        config,
        "SELECT i.external_id, v.record FROM items i JOIN item_versions v"
        " ON v.item_id = i.id AND v.version = i.version",
    )
    return {external_id: json.loads(record) for external_id, record in rows}


@pytest.mark.parametrize(
    ("style", "encoding"), [("trs", "utf-8"), ("trs", "gbk"), ("hanweb", "utf-8")]
)
def test_every_record_carries_what_its_page_shows(sandbox, write_config, cli, style, encoding):
    box = sandbox(
        items=60, seed=3, style=style, encoding=encoding, variants=True, pinned=True,
        volatile=True, cn_dates=True,
    )  # fmt: skip
    if style == "trs":
        assert set(column_paging(box.root).values()) == {
            "createPageHTML", "countPage", "recordCount", "text"
        }  # fmt: skip
    config = write_config(box, kind=style, columns=columns_toml(box.root))
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 0, result.both
    assert "0 quarantined" in result.out
    shown = shown_fields(box.root)
    manifest = {i.id: i for i in load_manifest(box.root).items}
    held = {r["external_id"]: r for r in box.portal.store.items()}
    stored = newest_records(config)
    assert set(held) == {f"yyedu:{i}" for i in shown}
    layouts = {page["metadata_layout"] for page in shown.values()}
    assert layouts == {"none", "xxgk_table", "handan", "govcn", "xxgk_info", "dl"}
    for item_id, page in shown.items():
        xid = f"yyedu:{item_id}"
        record, how = held[xid], stored[xid]["provenance"]
        where = (item_id, page)
        assert record["title"] == page["title"], where
        if page["title_in"] == "meta":  # no heading, no 标题 field: the meta tag
            assert how["title"] == "meta:ArticleTitle", where
        else:
            assert how["title"] in ("page:标题", "page:名称", "meta:ArticleTitle", "page:heading")
        assert record["publisher"] == page["publisher"], where
        assert how["publisher"] == f"page:{page['publisher_label']}", where
        assert record["doc_no"] == (page["doc_no"] or manifest[item_id].doc_no), where
        assert record["created"] == manifest[item_id].created.isoformat(), where
        if page["created"] is not None:
            assert how["created"] == f"page:{page['created_label']}", where
        else:  # the page shows no 生成日期: the body's 落款 date, never a silent copy
            assert how["created"] in ("body", "derived:published"), where
        if page["index_no"] is not None:  # the page's own, as written, never re-minted
            assert (record["index_no"], how["index_no"]) == (page["index_no"], "page:索引号")
        else:
            assert record["index_no"].startswith("002949236/"), where  # minted by the portal
            assert "index_no" not in how
        if page["topic"] is not None:
            assert record["topic"] == page["topic"], where
    flagged = cli(
        "--config", str(config), "audit", "--event", "record.flagged", "--format", "jsonl"
    )
    odd = {i for i, page in shown.items() if page["index_no"] and "/" not in page["index_no"]}
    assert {json.loads(line)["item"] for line in flagged.out.splitlines()} >= {
        f"yyedu:{i}" for i in odd
    }
