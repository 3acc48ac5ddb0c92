"""The sandbox bureau site: what it generates, how it serves it, and what its CMS actions do.

Every check goes through a real server on a free loopback port and parses the pages with lxml,
the way the bridge's TRS source will see them.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
from lxml import html as lxml_html

from bridge.catalog import GENRES
from bridge.normalize.docno import doc_no_problem
from bridge.sandbox.content import GENRE_WORDS, SEED_TITLE, Writer
from bridge.sandbox.site import (
    COLUMNS,
    Manifest,
    SiteServer,
    edit,
    generate_site,
    load_manifest,
    publish,
    withdraw,
)

END = date(2026, 11, 20)
PAGE_SIZE = 6
PAGER = re.compile(r'createPageHTML\((\d+), (\d+), "index", "html"\);')
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Site:
    root: Path
    manifest: Manifest
    server: SiteServer
    url: str

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), headers=headers, timeout=10)


def _serve(root: Path, items: int = 60, seed: int = 7) -> Iterator[Site]:
    manifest = generate_site(root, items, seed, page_size=PAGE_SIZE, end_date=END)
    server = SiteServer(root)
    url = server.start()
    yield Site(root, manifest, server, url)
    server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A 60-item site shared by the read-only tests."""
    yield from _serve(tmp_path_factory.mktemp("site") / "root")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Site]:
    """A site of its own for a test that publishes, edits or withdraws."""
    yield from _serve(tmp_path / "root", items=30, seed=3)


@dataclass
class Entry:
    href: str
    title: str
    text: str
    date: str


def listing(site: Site, path: str) -> tuple[list[list[Entry]], int]:
    """Every page of one column, as (entries per page, page count from createPageHTML)."""
    pages: list[list[Entry]] = []
    count = 1
    number = 0
    while number < count:
        name = "index.html" if number == 0 else f"index_{number}.html"
        resp = site.get(path + name)
        assert resp.status_code == 200, name
        doc = lxml_html.fromstring(resp.content)
        lists = doc.xpath('//ul[@class="list"]')
        assert len(lists) == 1
        pages.append(
            [
                Entry(a.get("href"), a.get("title"), a.text_content(), li.xpath("string(span)"))
                for li in lists[0].xpath("li")
                for a in li.xpath("a")
            ]
        )
        match = PAGER.search(resp.text)
        assert match, name
        count, current = int(match[1]), int(match[2])
        assert current == number
        number += 1
    return pages, count


def all_listed(site: Site) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for _key, path, _name in COLUMNS:
        pages, _count = listing(site, path)
        for entry in (e for page in pages for e in page):
            item_id = entry.href.rsplit("/", 1)[1].removesuffix(".html")
            assert item_id not in found
            found[item_id] = entry
    return found


# --- generation ------------------------------------------------------------------------------


def test_exactly_the_generated_items_are_listed_across_all_pages(site: Site) -> None:
    listed = all_listed(site)
    assert len(site.manifest.items) == 60
    assert set(listed) == {i.id for i in site.manifest.items}
    assert {i.column for i in site.manifest.items} == {key for key, _, _ in COLUMNS}


def test_page_count_matches_the_pages_and_entries_are_newest_first(site: Site) -> None:
    for key, path, _name in COLUMNS:
        pages, count = listing(site, path)
        items = site.manifest.live(key)
        assert count == max(1, -(-len(items) // PAGE_SIZE))
        assert [len(p) for p in pages] == [
            len(items[i : i + PAGE_SIZE]) for i in range(0, len(items), PAGE_SIZE)
        ]
        assert site.get(f"{path}index_{count}.html").status_code == 404
        flat = [e for page in pages for e in page]
        assert [e.title for e in flat] == [i.title for i in items]
        assert [e.date for e in flat] == sorted((e.date for e in flat), reverse=True)


def test_list_entries_follow_the_trs_contract(site: Site) -> None:
    by_id = {i.id: i for i in site.manifest.items}
    listed = all_listed(site)
    for item_id, entry in listed.items():
        item = by_id[item_id]
        assert entry.href == "./" + item.path.split("/", 3)[3]
        assert re.fullmatch(r"\./\d{6}/t\d{8}_\d{6}\.html", entry.href)
        assert entry.title == item.title
        shown = item.title if len(item.title) <= 24 else item.title[:24] + "..."
        assert entry.text == shown
        assert entry.date == item.published.strftime("%Y-%m-%d")
    truncated = sum(e.text.endswith("...") for e in listed.values())
    assert truncated * 3 >= len(listed)


def test_titles_are_unique_and_end_in_a_genre_word(site: Site) -> None:
    titles = [i.title for i in site.manifest.items]
    assert len(set(titles)) == len(titles)
    for title in titles:
        assert title.endswith(GENRE_WORDS), title
    assert set(GENRE_WORDS) - set(GENRES) <= {"公报"}  # 公报 (统计公报) is not a catalog genre yet


def test_generation_is_deterministic(tmp_path: Path) -> None:
    def tree(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    generate_site(tmp_path / "a", 40, 5, end_date=END)
    generate_site(tmp_path / "b", 40, 5, end_date=END)
    generate_site(tmp_path / "c", 40, 6, end_date=END)
    first = tree(tmp_path / "a")
    assert first == tree(tmp_path / "b")
    assert first != tree(tmp_path / "c")


def test_generate_refuses_a_non_empty_root_and_the_manifest_round_trips(site: Site) -> None:
    with pytest.raises(ValueError, match="not empty"):
        generate_site(site.root, 10)
    assert load_manifest(site.root) == site.manifest
    dates = [i.published.date() for i in site.manifest.items if i.title != SEED_TITLE]
    assert max(dates) == END
    assert min(dates) >= date(2024, 11, 20)


def test_the_seed_report_is_an_item_with_its_chinese_date(site: Site) -> None:
    seed = next(i for i in site.manifest.items if i.title == SEED_TITLE)
    assert seed.column == "qt" and seed.category == "其他" and seed.genre == "总结"
    assert seed.published.date() == date(2012, 12, 5) and seed.created == date(2012, 12, 3)
    assert seed.id.startswith("t20121205_") and seed.path == f"/xxgk/qt/201212/{seed.id}.html"
    assert (seed.doc_no, seed.has_meta_table, seed.attachments) == (None, False, [])
    assert seed.published == min(i.published for i in site.manifest.items)
    doc = lxml_html.fromstring(site.get(seed.path).content)
    assert doc.xpath('//table[@class="xxgk_table"]') == []
    assert doc.xpath('string(//h1[@class="title"])') == SEED_TITLE
    paras = [p.text_content() for p in doc.xpath('//div[@class="TRS_Editor"]/p')]
    assert paras[:2] == ["余姚市教育局", "（二〇一二年十二月三日）"]
    assert any("教育网后台没有和市政府信息公开网站后台对接" in p for p in paras)
    assert paras[-1] == "（三）充分发挥自建网站的优势，将全局政务公开工作进一步面向社会和群众。"


def test_detail_pages_carry_the_metadata_table_and_the_doc_number(site: Site) -> None:
    items = site.manifest.items
    assert 0 < sum(not i.has_meta_table for i in items) < len(items) // 3
    assert any(i.doc_no for i in items) and any(not i.doc_no for i in items)
    for item in items:
        doc = lxml_html.fromstring(site.get(item.path).content)
        assert doc.xpath('string(//h1[@class="title"])') == item.title
        info = doc.xpath('string(//div[@class="info"])')
        assert info == f"发布时间：{item.published:%Y-%m-%d %H:%M}　来源：余姚市教育局"
        paras = [p.text_content() for p in doc.xpath('//div[@class="TRS_Editor"]/p')]
        if item.doc_no:
            assert re.fullmatch(r"余(教|教发|教办|政办发)〔(\d{4})〕\d+号", item.doc_no)
            assert item.doc_no[item.doc_no.index("〔") + 1 :][:4] == str(item.created.year)
            assert item.doc_no in paras[0]
        if item.title != SEED_TITLE:
            assert 0 <= (item.published.date() - item.created).days <= 5
            assert f"{item.created.year}年{item.created.month}月{item.created.day}日" in paras
        cells = [td.text_content() for td in doc.xpath('//table[@class="xxgk_table"]//td')]
        if not item.has_meta_table:
            assert cells == []
            continue
        assert cells == [
            "索 引 号：", item.index_no, "发布机构：", "余姚市教育局",
            "生成日期：", item.created.isoformat(), "文　　号：", item.doc_no or "",
            "标　　题：", item.title,
            "主题分类：", item.topic, "公开方式：", "主动公开",
        ]  # fmt: skip
        assert item.index_no and item.index_no.startswith(
            f"11330281002949236M/{item.created.year}-"
        )


def test_attachments_are_served_with_their_type_size_and_hash(site: Site) -> None:
    with_files = [i for i in site.manifest.items if i.attachments]
    assert len(with_files) >= 8
    magic = {
        "pdf": b"%PDF-",
        "doc": b"\xd0\xcf\x11\xe0",
        "xls": b"\xd0\xcf\x11\xe0",
        "docx": b"PK\x03\x04",
    }
    for item in with_files:
        doc = lxml_html.fromstring(site.get(item.path).content)
        links = doc.xpath('//div[@class="attachments"]//a')
        assert [(a.get("href"), a.text_content()) for a in links] == [
            ("./" + att["path"].rsplit("/", 1)[1], att["name"]) for att in item.attachments
        ]
        for att in item.attachments:
            resp = site.get(att["path"])
            assert resp.status_code == 200
            assert resp.headers["Content-Type"] == att["media_type"]
            assert len(resp.content) == att["size"] and 2048 <= att["size"] <= 61440 + 512
            assert hashlib.sha256(resp.content).hexdigest() == att["sha256"]
            assert resp.content.startswith(magic[att["name"].rsplit(".", 1)[1]])


# --- serving ---------------------------------------------------------------------------------


def test_html_is_served_without_a_charset_and_answers_conditional_gets(site: Site) -> None:
    first = site.get("/xxgk/zcwj/index.html")
    assert first.headers["Content-Type"] == "text/html"
    assert b'<meta charset="utf-8">' in first.content
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag == '"' + hashlib.sha1(first.content, usedforsecurity=False).hexdigest() + '"'

    by_tag = site.get("/xxgk/zcwj/index.html", **{"If-None-Match": etag})
    assert (by_tag.status_code, by_tag.content, by_tag.headers["ETag"]) == (304, b"", etag)
    by_date = site.get("/xxgk/zcwj/index.html", **{"If-Modified-Since": modified})
    assert (by_date.status_code, by_date.content) == (304, b"")
    stale = site.get("/xxgk/zcwj/index.html", **{"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.content == first.content
    head = requests.head(site.url + "xxgk/zcwj/index.html", timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(first.content))


def test_paths_methods_and_keep_alive(site: Site) -> None:
    assert site.get("/").content == site.get("/index.html").content
    home = lxml_html.fromstring(site.get("/").content)
    assert {p + "index.html" for _, p, _ in COLUMNS} <= set(
        home.xpath('//div[@class="nav"]//a/@href')
    )
    assert site.get("/xxgk/qt/").content == site.get("/xxgk/qt/index.html").content
    bare = requests.get(site.url + "xxgk/qt", allow_redirects=False, timeout=10)
    assert (bare.status_code, bare.headers["Location"]) == (301, "/xxgk/qt/")
    for hidden in ("/site.json", "/.lock", "/xxgk/../site.json", "/nope.html"):
        assert site.get(hidden).status_code == 404, hidden
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert requests.request(method, site.url + "index.html", timeout=10).status_code == 405

    conn = http.client.HTTPConnection("127.0.0.1", site.server.port, timeout=10)
    for _ in range(3):  # one connection, three answers: keep-alive with Content-Length
        conn.request("GET", "/xxgk/ywgz/index.html")
        resp = conn.getresponse()
        assert resp.status == 200 and not resp.will_close
        assert len(resp.read()) == int(resp.headers["Content-Length"])
    conn.close()


def test_stats_endpoint_counts_requests_for_another_process(site: Site) -> None:
    assert requests.post(site.url + "sandbox/stats/reset", timeout=10).status_code == 200
    site.get("/xxgk/tjsj/index.html")
    site.get("/missing.html")
    rows = requests.get(site.url + "sandbox/stats", timeout=10).json()["requests"]
    assert [r[:3] for r in rows] == [
        ["GET", "/xxgk/tjsj/index.html", 200],
        ["GET", "/missing.html", 404],
    ]
    assert [tuple(r[:3]) for r in site.server.requests] == [tuple(r[:3]) for r in rows]


def test_a_taken_port_is_reported_with_host_and_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            SiteServer(Path("."), port=port).start()


def test_serve_forever_prints_the_url_first_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    code = "from bridge.sandbox.site import serve_forever; import sys; serve_forever(sys.argv[1], 12, 2, 0)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "root")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
        assert proc.stdout.readline().startswith(f"serving 12 items from {tmp_path / 'root'}")
        assert requests.get(url + "xxgk/qt/index.html", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (0, "")
    assert len(load_manifest(tmp_path / "root").items) == 12


def test_the_stop_signals_are_handled_before_the_url_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor may stop the site the moment it has read the URL line, so the
    handlers must be in place before that line (they came after it: a SIGTERM in
    between killed the process, exit -15; seen once in CI under load)."""
    from bridge.sandbox import site as site_module

    at_each_line: list[object] = []

    def print_(*args: object, **kwargs: object) -> None:
        at_each_line.append(signal.getsignal(signal.SIGTERM))
        if len(at_each_line) == 2:  # both lines out: stop it as a supervisor would
            if at_each_line[0] is signal.SIG_DFL:
                raise RuntimeError("SIGTERM would have killed the site")
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(site_module, "print", print_, raising=False)
    before = signal.getsignal(signal.SIGTERM)
    site_module.serve_forever(tmp_path / "root", 12, 2, 0)
    assert all(callable(h) and h is not before for h in at_each_line)
    assert signal.getsignal(signal.SIGTERM) is before  # given back


# --- CMS actions while the server runs -------------------------------------------------------


def test_publish_adds_items_on_page_one_of_their_columns(fresh: Site) -> None:
    added = publish(fresh.root, 3, when=END)
    assert len(added) == 3 and len(load_manifest(fresh.root).items) == 33
    assert all(i.published.date() == END for i in added)
    for item in added:
        path = dict((k, p) for k, p, _ in COLUMNS)[item.column]
        pages, _count = listing(fresh, path)
        assert item.title in [e.title for e in pages[0]]
        assert fresh.get(item.path).status_code == 200
    assert set(all_listed(fresh)) == {i.id for i in load_manifest(fresh.root).items}


def test_edit_changes_the_detail_page_and_the_list(fresh: Site) -> None:
    item = next(i for i in fresh.manifest.items if i.has_meta_table and i.title != SEED_TITLE)
    other_column = next(p for k, p, _ in COLUMNS if k != item.column)
    before = fresh.get(other_column + "index.html").headers["ETag"]
    old_tag = fresh.get(item.path).headers["ETag"]

    new_title = "关于调整2026年余姚市中小学校寒假放假时间安排的补充通知"
    edited = edit(fresh.root, item.id, title=new_title, body_append="本通知自印发之日起执行。")
    assert (edited.title, edited.genre, edited.edits) == (new_title, "通知", 1)

    resp = fresh.get(item.path)
    assert resp.headers["ETag"] != old_tag
    doc = lxml_html.fromstring(resp.content)
    assert doc.xpath('string(//h1[@class="title"])') == new_title
    assert doc.xpath('string(//td[@colspan="3"])') == new_title
    assert doc.xpath('string(//div[@class="TRS_Editor"]/p[last()])') == "本通知自印发之日起执行。"
    assert all_listed(fresh)[item.id].title == new_title
    assert fresh.get(other_column + "index.html").headers["ETag"] == before  # untouched
    with pytest.raises(ValueError, match="already used"):
        edit(fresh.root, item.id, title=SEED_TITLE)


def test_withdraw_removes_the_page_and_the_entry(fresh: Site) -> None:
    item = next(i for i in fresh.manifest.items if i.attachments)
    withdrawn = withdraw(fresh.root, item.id)
    assert withdrawn.withdrawn
    assert fresh.get(item.path).status_code == 404
    assert all(fresh.get(a["path"]).status_code == 404 for a in item.attachments)
    listed = all_listed(fresh)
    assert item.id not in listed and len(listed) == 29
    assert withdraw(fresh.root, item.id).withdrawn  # again: nothing more to do
    with pytest.raises(ValueError, match="withdrawn"):
        edit(fresh.root, item.id, title="关于撤回事项的通知")
    with pytest.raises(KeyError):
        withdraw(fresh.root, "t20000101_999999")


def test_doc_numbers_stay_within_1_to_9999_in_a_very_large_year() -> None:
    counters = {"余教|2025": 9990}
    writer = Writer(random.Random(3), set(), counters)
    numbers = []
    while (doc_no := writer._doc_no("余教", 2025)) is not None:
        assert doc_no_problem(doc_no) is None  # a form the bridge files as is
        numbers.append(int(doc_no.removeprefix("余教〔2025〕").removesuffix("号")))
    assert numbers == sorted(set(numbers)) and numbers[-1] == 9999
    assert counters["余教|2025"] == 9999
    assert writer._doc_no("余教", 2026) == "余教〔2026〕" + str(counters["余教|2026"]) + "号"
