"""Selectors proposed for a site of no known family (bridge/discover/propose.py), tried on
the real-page corpus through the real ``selectors`` source: every list page's entries
(count, first title, first link, first date as expected.json has them) and the body of
every detail page whose summary the corpus gives (its first words are in the body read)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.discover.propose import propose_body, propose_selectors
from bridge.raw import ListEntry
from bridge.sources import parse
from bridge.text import compact

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sources"))
import realpages

PAGES, SITES = realpages.load()
LISTS = sorted(n for n, e in PAGES.items() if e["kind"] != "detail")
DETAILS = sorted(n for n, e in PAGES.items() if e["kind"] == "detail" and e.get("summary_start"))
NO_PROPOSAL = {
    "10_handan_trs_list.html": "one entry: fewer than three dated links are no listing",
    "11_dingxi_hanweb_list.xml": "a Hanweb datastore in a script: no entries in the markup",
    "b07_nantongzfcg_list_col31685.xml": "a Hanweb datastore in a script",
    "c08_pingtan_list_dfxfgzfgzh.html": "filled by script: the page lists nothing",
}


@pytest.fixture  # not module-wide: its http_proxy would carry other modules' requests made
def proxy() -> Iterator[realpages.CorpusProxy]:  # by the same xdist worker in between
    with realpages.proxied(PAGES) as running:
        yield running


def _doc(name: str) -> Any:
    return parse.document(realpages.page_body(name).decode("utf-8"), PAGES[name]["url"])


def test_every_list_page_is_either_read_right_or_known_unreadable() -> None:
    assert set(NO_PROPOSAL) <= set(LISTS)
    for name in NO_PROPOSAL:
        assert propose_selectors(_doc(name)) is None, name


@pytest.mark.parametrize("name", [n for n in LISTS if n not in NO_PROPOSAL])
def test_proposed_list_selectors_read_the_entries(proxy: realpages.CorpusProxy, name: str) -> None:
    entry = PAGES[name]
    sel = propose_selectors(_doc(name), entry["url"])
    assert sel is not None
    site = {**SITES[entry["site"]], "kind": "selectors", "selectors": dataclasses.asdict(sel)}
    listing = realpages.read_list(name, entry, site)
    checks = realpages.Scores().list_checks(listing, entry)
    checks.pop("page count", None)  # paging is not proposed (a commented hint in the config)
    assert checks == {k: True for k in checks}, (sel, listing.entries[:1])
    assert len(listing.entries) == entry["entries"] - (entry.get("entries_off_site") or 0)


def test_the_listing_is_the_block_of_dated_links_not_a_side_box() -> None:
    """a07: a marquee of 便民公告 (twelve dated links) sits above the 24 entries; b04 spreads
    its 75 entries over three lists of one template."""
    a07 = propose_selectors(_doc("a07_zhangshu_list_zhxx.html"))
    b04 = propose_selectors(_doc("b04_pingtan_list_gzjzqk.html"))
    assert a07 is not None and b04 is not None
    assert b04.list_item == "div.list_base > div > div > ul > li"
    assert (b04.date, b04.title_attr) == ("span.bf-pass", "title")
    assert "div#mq" not in a07.list_item


@pytest.mark.parametrize("name", DETAILS)
def test_proposed_detail_body_holds_the_article(proxy: realpages.CorpusProxy, name: str) -> None:
    entry = PAGES[name]
    body = propose_body(_doc(name))
    assert body is not None
    site = {
        **SITES[entry["site"]],
        "kind": "selectors",
        "selectors": {"list_item": "li", "detail_body": body},
    }
    source = realpages.source_for(entry, site, listing=False)
    url = realpages.served(entry["url"])
    try:
        fetched = source.fetch_article(ListEntry("c", url, "x", ""))
    finally:
        source.close()
    assert isinstance(fetched, tuple)
    _page, article = fetched
    assert article.body is not None and article.body_from == body
    text = compact(article.body.text_content())
    assert compact(entry["summary_start"])[:12] in text, (body, text[:80])


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("a08_hbggzy_detail_zgys.html", "div#infoContentM"),  # named like a body, in cells
        ("b06_baoding_detail_fbh.html", "table.sj_nr > tr > td"),  # the largest text block
        ("01_govcn_detail_jyzy.html", "td#UCAP-CONTENT"),  # the usual container
        ("13_lianyun_edu_detail.txt", "body"),  # a text capture: paragraphs in <body>
    ],
)
def test_the_body_selector_by_kind_of_page(name: str, want: str) -> None:
    assert propose_body(_doc(name)) == want
