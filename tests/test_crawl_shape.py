"""How a cycle uses the site and the store: a poll reads from the store only what it
lists (its cost does not grow with history), and a complete read keeps the site's
allowed requests in flight across list-page boundaries. Run in-process, against the real
sandbox servers and a real state store, so the store's lookups can be counted."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import cycle_context
from sqlalchemy import text

from bridge.crawl.run import RunOptions, run_once
from bridge.sandbox.site import columns_toml, load_manifest, publish
from bridge.state import items, recording, runs

pytestmark = pytest.mark.slow


def counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Rows each call of ``module.name`` returned."""
    sizes: list[int] = []
    real: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        sizes.append(len(result))
        return result

    monkeypatch.setattr(module, name, wrapper)
    return sizes


@pytest.mark.parametrize("items_on_site", [100, 600])
def test_a_no_change_poll_reads_only_what_its_pages_list(
    sandbox, write_config, monkeypatch, items_on_site
):
    box = sandbox(items=items_on_site, seed=71, columns=20)
    path = write_config(box, extra_source="overlap_pages = 1", columns=columns_toml(box.root))
    ctx = cycle_context(path)
    try:
        assert run_once(ctx).exit_code == 0  # the backfill
        with ctx.db.write() as s:  # the daily complete listing is not due
            runs.set_cursor(s, "yyedu", "last_full_listing", "2999-01-01T00:00:00+00:00")
        whole_store = counted(monkeypatch, items, "known_items")
        validators = counted(monkeypatch, runs, "validators_under")
        looked_up = counted(monkeypatch, items, "known_by_external_id")
        summary = run_once(ctx)
    finally:
        ctx.db.dispose()
    stats = summary.sources[0].stats
    assert (stats.pages, stats.pages_not_modified, stats.fetched) == (20, 20, 0)
    # Every first page answered 304: nothing listed, so nothing looked up, whatever the
    # store holds; no call loads a whole source's items or validators.
    assert (whole_store, validators, looked_up) == ([], [], [])


def test_a_poll_that_finds_a_new_page_looks_up_that_page_only(sandbox, write_config, monkeypatch):
    box = sandbox(items=300, seed=73)
    path = write_config(box, extra_source="overlap_pages = 1")
    ctx = cycle_context(path)
    try:
        assert run_once(ctx).exit_code == 0
        with ctx.db.write() as s:
            runs.set_cursor(s, "yyedu", "last_full_listing", "2999-01-01T00:00:00+00:00")
        (added,) = publish(box.root, 1)
        whole_store = counted(monkeypatch, items, "known_items")
        looked_up = counted(monkeypatch, items, "known_by_external_id")
        summary = run_once(ctx)
    finally:
        ctx.db.dispose()
    stats = summary.sources[0].stats
    assert stats.new == 1
    assert whole_store == []
    # Six first pages; one changed, so its column's second page is read too (the listing
    # shifted by one): one lookup per page read, each returning that page's known entries
    # (the first page's less the new one, then the second page's). Which column gets the
    # new item depends on the day the test runs: the second page's size is read off it.
    manifest = load_manifest(box.root)
    size = len(manifest.live(added.column))
    page = manifest.page_size
    assert size > page  # the column has a second page (this site's columns all have)
    second = min(size, 2 * page) - page
    assert (stats.pages, stats.pages_not_modified, stats.entries) == (7, 5, page + second)
    assert looked_up == [page - 1, second]


def test_the_next_list_page_is_fetched_while_this_pages_items_are(sandbox, write_config):
    box = sandbox(items=240, seed=79)
    box.site.delay = 0.02
    manifest = load_manifest(box.root)
    sizes = {
        key: sum(1 for i in manifest.items if i.column == key) for key, _, _ in manifest.columns
    }
    key = max(sizes, key=lambda k: sizes[k])
    assert sizes[key] > 40
    path = write_config(box)
    ctx = cycle_context(path)
    try:
        assert run_once(ctx, RunOptions(columns=[key])).exit_code == 0
    finally:
        ctx.db.dispose()
    column = next(p for k, p, _ in manifest.columns if k == key)
    log = [r.path for r in box.site.requests if r.path != "/robots.txt"]
    assert log[0] == f"{column}index.html"
    second = log.index(f"{column}index_1.html")
    first_page_items = [p for p in log[:second] if p.startswith(column) and "/t" in p]
    # index_1.html was served before the first page's 20 detail pages were (one page at
    # a time, all 20 and their attachments would come first).
    assert len(first_page_items) < 20, log[: second + 1]
    assert len(box.portal.store.items()) == sizes[key]


def test_a_backfill_records_a_page_of_items_per_transaction(sandbox, write_config, monkeypatch):
    box = sandbox(items=120, seed=83)
    path = write_config(box)
    ctx = cycle_context(path)
    transactions: list[int] = []  # the transaction of each recorded item, numbered
    real = recording.record_versions

    def spy(session: Any, **kwargs: Any) -> Any:
        n = session.info.setdefault("n", len(set(transactions)))
        transactions.extend([n] * len(kwargs["recordings"]))
        return real(session, **kwargs)

    monkeypatch.setattr(recording, "record_versions", spy)
    try:
        summary = run_once(ctx, RunOptions(deliver=False))
        with ctx.db.read() as s:
            events = s.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
            head = s.execute(text("SELECT last_id, count FROM audit_head")).one()
    finally:
        ctx.db.dispose()
    stats = summary.sources[0].stats
    assert stats.new == len(transactions) == 120
    # One transaction per list page's worth of items (and one for each column's last
    # detail pages still in the fetch window), not one per item; on both stores.
    columns = len(load_manifest(box.root).columns)
    assert len(set(transactions)) <= stats.pages + columns
    # The chain's head, written once per transaction, still counts every event.
    assert tuple(head) == (events, events)


def test_a_column_started_early_keeps_its_validators_until_its_own_entries_are_in(
    sandbox, write_config, monkeypatch
):
    """A complete read starts the next column's first list page while the column before
    finishes. That page's ETag must be stored with its own column, once its entries are
    recorded, never with the column before: else a stop in between leaves an ETag that
    answers the next poll 304 over an entry nobody recorded."""
    from bridge.crawl import run as pipeline

    box = sandbox(items=150, seed=71)
    path = write_config(box)
    ctx = cycle_context(path)
    try:
        assert run_once(ctx).exit_code == 0  # the backfill: every column read once
        (added,) = publish(box.root, 1)
        keys = [k for k, _, _ in load_manifest(box.root).columns]
        before = next(k for k in keys if k != added.column)
        path = next(p for k, p, _ in load_manifest(box.root).columns if k == added.column)
        page0 = box.site_url.rstrip("/") + path
        with ctx.db.read() as s:
            stored_before = runs.validators_under(s, page0)
        assert page0 + "index.html" in stored_before  # the backfill kept its ETag

        real_look_up = pipeline.SourceRun.look_up
        primed: list[str] = []
        real_prime = pipeline.SourceRun.prime

        def prime(self: Any, column: str | None) -> None:
            real_prime(self, column)
            if self._primed is not None:
                primed.append(self._primed[0])

        def look_up(self: Any, entries: Any) -> None:
            if entries and entries[0].column == added.column:
                self.ctx.stop.set()  # stopped as the column's first page comes in
            real_look_up(self, entries)

        monkeypatch.setattr(pipeline.SourceRun, "prime", prime)
        monkeypatch.setattr(pipeline.SourceRun, "look_up", look_up)
        resync = run_once(ctx, RunOptions(columns=[before, added.column], full=True, deliver=False))
        monkeypatch.undo()
        assert primed == [added.column]
        assert resync.sources[0].stats.new == 0
        with ctx.db.read() as s:
            assert runs.validators_under(s, page0) == stored_before

        ctx.stop.clear()
        poll = run_once(ctx, RunOptions(deliver=False))
    finally:
        ctx.db.dispose()
    assert poll.sources[0].stats.new == 1  # the page was read again, not answered 304


def test_a_slow_site_s_detail_pages_go_out_on_threads_after_the_first_few(
    sandbox, write_config, monkeypatch
):
    """With 20 ms answers a page waits longer than it costs: after at most PROBE_PAGES
    pages fetched one at a time (the measurement; fewer when the first leave no doubt),
    the rest go to the fetch threads, never more requests in flight than the host's cap
    (there is one thread more than that: a thread parsing its page holds no request)."""
    from bridge.crawl import run as pipeline
    from bridge.crawl.pace import PROBE_PAGES
    from bridge.sandbox import site_server

    box = sandbox(items=240, seed=79)
    box.site.delay = 0.02
    manifest = load_manifest(box.root)
    sizes = Counter(i.column for i in manifest.items)
    key = max(sizes, key=lambda k: sizes[k])
    threads: list[str] = []
    real = pipeline.SourceRun.fetch

    def fetch(self: Any, entry: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(self, entry)

    answering, most, lock = 0, 0, threading.Lock()
    real_send = site_server._Handler._send

    def send(self: Any, *args: Any, **kwargs: Any) -> None:  # the delay is inside
        nonlocal answering, most
        with lock:
            answering += 1
            most = max(most, answering)
        try:
            real_send(self, *args, **kwargs)
        finally:
            with lock:
                answering -= 1

    monkeypatch.setattr(pipeline.SourceRun, "fetch", fetch)
    monkeypatch.setattr(site_server._Handler, "_send", send)
    ctx = cycle_context(write_config(box))
    cap = ctx.settings.sources[0].fetch.concurrency
    try:
        assert run_once(ctx, RunOptions(columns=[key])).exit_code == 0
    finally:
        ctx.db.dispose()
    assert len(threads) == sizes[key] > PROBE_PAGES + 20
    alone = next(i for i, name in enumerate(threads) if name != "MainThread")
    assert 1 <= alone <= PROBE_PAGES
    assert all(name.startswith("fetch") for name in threads[alone:])
    assert len(set(threads[alone:])) == cap + pipeline.SPARE_FETCH_THREADS
    assert most == cap  # the host's cap reached, never passed
