"""Issue 19, finding 6: a listing that never ends is read a bounded number of times.

A hostile or broken TRS site states a million pages (``createPageHTML(1000000, …)``):
before, when every ``index_N.html`` answered the same page, the preset read 861 list
pages in 40 s before it was stopped. Now a page that brings nothing new ends the listing,
and a site that brings something new on every page forever stops at ``max_list_pages``.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest

from bridge.sources import make_source
from tests.sources.pageserver import PageServer, serving, source_config

MILLION = '<script type="text/javascript">createPageHTML(1000000, 0, "index", "html");</script>'


def _page(serials: range) -> bytes:
    items = "".join(
        f'<li><a href="./202501/t20250101_{n}.html" title="通知{n}">通知{n}</a>'
        '<span class="date">2025-01-01</span></li>'
        for n in serials
    )
    html = f'<html><head><meta charset="utf-8"></head><body><ul class="list">{items}</ul>{MILLION}'
    return (html + "</body></html>").encode()


def _listing(server: PageServer, max_list_pages: int | None = None) -> list[int]:
    cfg = source_config(server.url, "trs", [("tzgg", "xxgk/tzgg/")])
    if max_list_pages is not None:
        cfg = dataclasses.replace(
            cfg, fetch=dataclasses.replace(cfg.fetch, max_list_pages=max_list_pages)
        )
    source = make_source(cfg)
    try:
        return [len(page.entries) for page in source.list_pages("tzgg", conditional=False)]
    finally:
        source.close()


def _route(body: bytes):
    return lambda request: (200, "text/html; charset=utf-8", body)


@pytest.fixture
def server():
    with serving("trs") as s:
        yield s


def test_a_million_pages_that_all_repeat_the_first_are_read_twice(server, caplog):
    same = _page(range(1, 21))
    for n in range(0, 1000):
        server.routes[f"/xxgk/tzgg/index{'' if n == 0 else f'_{n}'}.html"] = _route(same)
    with caplog.at_level(logging.WARNING):
        assert _listing(server) == [20]
    assert server.requests("GET") == ["/xxgk/tzgg/index.html", "/xxgk/tzgg/index_1.html"]
    assert "index_1.html repeats earlier entries; the listing ends here" in caplog.text


def test_a_listing_new_on_every_page_stops_at_max_list_pages(server, caplog):
    for n in range(0, 1000):
        path = f"/xxgk/tzgg/index{'' if n == 0 else f'_{n}'}.html"
        server.routes[path] = _route(_page(range(20 * n + 1, 20 * n + 21)))
    with caplog.at_level(logging.WARNING):
        assert _listing(server, max_list_pages=5) == [20] * 5
    assert len(server.requests("GET")) == 6  # the sixth is read, then refused
    assert (
        "index_5.html is list page 6: the listing stops at max_list_pages = 5 (raise it in "
        "[fetch] if the column really has more)"
    ) in caplog.text


def test_max_list_pages_defaults_to_2000():
    cfg = source_config("http://127.0.0.1:1/", "trs", [("tzgg", "xxgk/tzgg/")])
    assert cfg.fetch.max_list_pages == 2000
