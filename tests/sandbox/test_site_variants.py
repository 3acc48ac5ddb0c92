"""The sandbox site with real-site variants (``variants=True``), and without them unchanged.

The pages are read by a small reader of this module (lxml and regular expressions, nothing
of bridge/sources or bridge/normalize): labels with their spacing and colons removed, the
value after each, comments never read. What it reads must be what ``shown_fields()`` says.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import html as lxml_html

from bridge.sandbox.site import (
    Manifest,
    SiteServer,
    column_paging,
    edit,
    generate_site,
    load_manifest,
    publish,
    relayout,
    shown_fields,
    withdraw,
)

END = date(2026, 11, 20)
SEED = 3  # 60 items of this seed use every variant (test_every_variant_is_used)
PAGE_SIZE = 5
REPO = Path(__file__).resolve().parents[2]
BUREAU, CITY_OFFICE = "余姚市教育局", "余姚市人民政府办公室"
JOINT, CITY_GOVERNMENT = "余姚市教育局、余姚市财政局", "余姚市人民政府"
CREATED_LABELS = ("生成日期", "成文日期", "发文日期", "印发日期")
QUIRKS: dict[str, Any] = dict(
    pinned=True,
    cross_listed=True,
    offsite_links=True,
    volatile=True,
    cn_dates=True,
    cn_filenames=True,
    list_dates="mixed",
)


# --- without variants: every file as it was ---------------------------------------------------

PINNED = {
    "trs-gbk-quirks": "d3408769033f12e601ceb6df4bcbc7245ecde5381dbb1920124c39c0330d3c18",
    "hanweb-utf8-quirks": "fcecbe1f6e80e9aad350855709f8711359e8e366a3e8451f5e0241bc9794fe93",
    "trs-8-columns": "182925e47084e2c2831d24b35285a23a619e19b5616d795ea3a7a6157db289a1",
}
"""tree_digest() of build(): obtained by running build() and tree_digest() on the tree of the
commit before `variants` existed (git archive HEAD into /tmp, PYTHONPATH there), with every
"002949236/" in the files rewritten to "11330281002949236M/" first: the 索引号 the site shows
is the one deliberate change of the default output (content.USCC). Without the rewrite the
old tree differs from today's in exactly those bytes and nowhere else."""
PIN_OPTIONS: dict[str, dict[str, Any]] = {
    "trs-gbk-quirks": dict(style="trs", encoding="gbk", **QUIRKS),
    "hanweb-utf8-quirks": dict(style="hanweb", **QUIRKS),
    "trs-8-columns": dict(columns=8, page_size=3),
}


def build(root: Path, options: dict[str, Any]) -> None:
    """A small site, then one of each CMS action on it."""
    generate_site(root, 24, 4, end_date=END, **{"page_size": 4, **options})
    publish(root, 2, when=date(2026, 11, 6))
    items = load_manifest(root).items
    edit(root, items[3].id, title=items[3].title + "（修订）", body_append="特此补充。")
    withdraw(root, items[5].id)


def tree_digest(root: Path) -> str:
    """One hash of every file of a site: its path and the sha256 of its bytes."""
    files = sorted((str(p.relative_to(root)), p) for p in root.rglob("*") if p.is_file())
    lines = "".join(f"{name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for name, p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_without_variants_every_file_is_what_it_was(tmp_path: Path, name: str) -> None:
    build(tmp_path / "implicit", PIN_OPTIONS[name])
    assert tree_digest(tmp_path / "implicit") == PINNED[name]
    build(tmp_path / "explicit", {**PIN_OPTIONS[name], "variants": False})
    assert tree_digest(tmp_path / "explicit") == PINNED[name]
    head = (tmp_path / "explicit" / "site.json").read_text(encoding="utf-8").split("\n")[0]
    assert '"variants"' not in head and '"paging"' not in head and '"shown"' not in head


# --- a small reader, independent of the bridge -------------------------------------------------

_SPACES = re.compile(r"[\s\u3000\u2002\u2003：:]")
_DATE = re.compile(r"(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})")
_YEAR = re.compile(r"[\[(［（〔](\d{4})[\])］）〕]")


def as_date(text: str) -> str:
    m = _DATE.search(text)
    assert m, text
    return date(int(m[1]), int(m[2]), int(m[3])).isoformat()


def as_doc_no(text: str) -> str | None:
    text = text.strip()
    return None if not text or text.startswith("无") else _YEAR.sub(r"〔\1〕", text)


@dataclass
class Page:
    raw: str
    doc: Any  # lxml.html.HtmlElement
    labels: dict[str, str]  # label without spacing or colon -> value, as a reader sees them

    def meta(self, name: str) -> str | None:
        found = self.doc.xpath(f'//head/meta[@name="{name}"]/@content')
        assert len(found) <= 1
        return found[0] if found else None

    def info(self, label: str) -> str | None:
        line = self.doc.xpath('string(//div[@class="info"])')
        m = re.search(rf"(?<!息){label}：([^　\s]+)", line)
        return m[1] if m else None

    def visible_title(self) -> str | None:
        found = self.doc.xpath('//h1[@class="title"] | //td[@class="title"]')
        return found[0].text_content() if found else None


def read(data: bytes) -> Page:
    utf8 = b'<meta charset="utf-8">' in data[:200]  # the page's only charset declaration
    raw = data.decode("utf-8" if utf8 else "gb18030")
    doc = lxml_html.fromstring(raw)
    labels: dict[str, str] = {}

    def add(label: str, value: str) -> None:
        labels.setdefault(_SPACES.sub("", label), value.strip())

    for row in doc.xpath('//table[@class="xxgk_table" or @class="bd1"]//tr'):
        cells = row.xpath("td")
        for label, value in zip(cells[::2], cells[1::2], strict=False):
            add(label.text_content(), value.text_content())
    for p in doc.xpath('//div[contains(@class, "top-l") or contains(@class, "top-r")]/p[strong]'):
        add(p.xpath("string(strong)"), p.text_content().split("：", 1)[1])
    for li in doc.xpath('//ul[@class="xxgk-info"]/li[span]'):
        label = li.xpath("string(span)")
        add(label, li.text_content()[len(label) :])
    for dt in doc.xpath('//dl[@class="xxgk"]/dt'):
        add(dt.text_content(), dt.getnext().text_content())
    return Page(raw, doc, labels)


def body_of(page: Page, container: str) -> Any:
    xpath = {
        "TRS_Editor": '//div[@class="TRS_Editor"]',
        "TRS_UEDITOR": '//div[@class="view TRS_UEDITOR trs_paper_default"]',
        "zoom": '//div[@id="zoom"]',
    }
    found = {name: page.doc.xpath(path) for name, path in xpath.items()}
    assert [n for n, f in found.items() if f] == [container]
    assert len(found[container]) == 1
    return found[container][0]


def check_page(page: Page, shown: dict[str, Any], hanweb: bool, variants: bool) -> None:
    """The page read as a reader reads it says what ``shown`` says."""
    title, labels = shown["title"], page.labels
    assert page.doc.xpath("string(//title)") == f"{title} - 余姚教育网"
    if shown["title_in"] == "h1":
        assert page.visible_title() == title
    else:
        assert page.visible_title() is None and not {"标题", "名称"} & set(labels)
    assert not any(title in (s.text or "") for s in page.doc.xpath("//script"))
    if variants:
        assert page.meta("ArticleTitle") == title and page.meta("SiteName") == "余姚教育网"
        assert page.meta("ContentSource") == shown["publisher"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", page.meta("PubDate") or "")
    else:
        assert page.meta("ArticleTitle") is None
    if shown["metadata_layout"] == "none":
        assert labels == {}
        assert shown["index_no"] is shown["created"] is shown["doc_no"] is shown["topic"] is None
        assert page.info(shown["publisher_label"]) == shown["publisher"]
    else:
        if shown["title_in"] == "h1":
            assert labels.get("标题", labels.get("名称")) == title
        assert labels["索引号"] == shown["index_no"]
        assert labels[shown["publisher_label"]] == shown["publisher"]
        assert as_doc_no(labels.get("文号", labels.get("发文字号", "?"))) == shown["doc_no"]
        assert labels["主题分类"] == shown["topic"]
    if shown["created_label"] is None:
        assert shown["created"] is None and not set(CREATED_LABELS) & set(labels)
    else:
        assert as_date(labels[shown["created_label"]]) == shown["created"]
    if shown["metadata_layout"] == "handan":  # there, but in a comment: not read
        assert re.search(r"<!--<p><strong>成文日期</strong>：\d{4}年", page.raw)
    body = body_of(page, shown["body_container"])
    if hanweb:
        assert "<!--ZJEG_RSS.content.begin-->" in page.raw
    if variants:
        text = re.sub(r"\s", "", body.text_content())
        assert text.startswith(page.meta("Description") or "?")


# --- sites with variants -------------------------------------------------------------------------


@dataclass
class Site:
    root: Path
    manifest: Manifest
    url: str

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=10)


SITES: dict[str, dict[str, Any]] = {  # name -> generate_site options
    "trs": dict(style="trs", variants=True),
    "trs-gbk": dict(style="trs", encoding="gbk", variants=True),
    "hanweb-gbk": dict(style="hanweb", encoding="gbk", variants=True),
    "hanweb": dict(style="hanweb", variants=True),
    "trs-classic": dict(style="trs"),
    "hanweb-classic": dict(style="hanweb"),
}


@pytest.fixture(scope="module", params=sorted(SITES))
def any_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp(request.param) / "root"
    manifest = generate_site(
        root, 60, SEED, end_date=END, page_size=PAGE_SIZE, **SITES[request.param]
    )
    with SiteServer(root) as server:
        yield Site(root, manifest, server.base_url)


@pytest.fixture(scope="module")
def trs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("trs-variants") / "root"
    manifest = generate_site(root, 60, SEED, end_date=END, page_size=PAGE_SIZE, variants=True)
    with SiteServer(root) as server:
        yield Site(root, manifest, server.base_url)


def test_every_page_shows_what_the_truth_says(any_site: Site) -> None:
    opts = any_site.manifest.options
    truth = shown_fields(any_site.root)
    assert set(truth) == {i.id for i in any_site.manifest.items}
    for item in any_site.manifest.items:
        resp = any_site.get(item.path)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/html"
        if opts.encoding == "gbk":
            resp.content.decode("gbk")  # strict: every character is a GBK one
        check_page(read(resp.content), truth[item.id], opts.style == "hanweb", opts.variants)


def test_list_pages_carry_the_site_and_column_meta_tags(any_site: Site) -> None:
    opts = any_site.manifest.options
    home = read(any_site.get("/").content)
    for key, path, _name in any_site.manifest.columns:
        page = read(any_site.get(path + "index.html").content)
        name = next(c.name for c in opts.column_list if c.key == key)
        if opts.variants:
            assert (page.meta("SiteName"), page.meta("ColumnName")) == ("余姚教育网", name)
        else:
            assert page.meta("SiteName") is None and page.meta("keywords")
    assert (home.meta("SiteName") is not None) == opts.variants


def test_every_variant_is_used(trs_site: Site) -> None:
    """60 items of SEED: every layout, label, form and container at least once."""
    items = trs_site.manifest.items
    truth = shown_fields(trs_site.root)
    counts: Counter[str] = Counter()
    for item in items:
        v, s = item.variants, truth[item.id]
        assert v is not None and s == item.shown
        counts.update(
            [
                f"layout:{s['metadata_layout']}",
                f"label:{s['publisher_label']}",
                f"created:{s['created_label']}",
                f"title:{s['title_in']}",
                f"body:{s['body_container']}",
                f"issuer:{v['issuer']}",
            ]
        )
        if item.attachments:
            counts[f"attachments:{v['attachments']}"] += 1
        cell = v["doc_no_cell"]
        if s["metadata_layout"] != "none":
            if cell.startswith("余姚市人民政府令"):
                counts["doc:decree"] += 1
            elif cell in ("", "无", "无〔〕号"):
                counts[f"doc:none:{cell}"] += 1
            else:
                counts["doc:brackets:" + re.sub(r"[^〔［\[(]", "", cell)] += 1
        if s["index_no"]:
            odd = s["index_no"] != item.index_no
            counts[f"index:{'odd' if odd else 'standard'}"] += 1
            if odd:
                assert re.fullmatch(
                    r"YYJYJ-\d{4}-\d{5}|11330281002949236M/\d{4}-\d{6}", s["index_no"]
                )
    expected = [
        *(f"layout:{x}" for x in ("xxgk_table", "handan", "govcn", "xxgk_info", "dl", "none")),
        *(f"label:{x}" for x in ("发布机构", "发文机关", "发文单位", "来源", "信息来源")),
        *(f"created:{x}" for x in (*CREATED_LABELS, None)),
        "title:h1", "title:meta", "body:TRS_Editor", "body:TRS_UEDITOR", "body:zoom",
        f"issuer:{BUREAU}", f"issuer:{CITY_OFFICE}", f"issuer:{JOINT}", f"issuer:{CITY_GOVERNMENT}",
        "attachments:list", "attachments:fjxz",
        "doc:decree", "doc:none:", "doc:none:无", "doc:none:无〔〕号",
        "doc:brackets:〔", "doc:brackets:[", "doc:brackets:(", "doc:brackets:［",
        "index:standard", "index:odd",
    ]  # fmt: skip
    assert {k: counts[k] for k in expected if counts[k] == 0} == {}
    assert counts["title:h1"] > counts["title:meta"]  # most pages have their <h1>
    assert counts["index:odd"] <= 5  # about 1 in 20
    assert sum(counts[f"layout:{x}"] for x in ("none",)) == sum(not i.has_meta_table for i in items)
    assert set(column_paging(trs_site.root).values()) == {
        "createPageHTML",
        "countPage",
        "recordCount",
        "text",
    }
    # who is named: the issuer under 发文机关/发文单位, joint issuers kept whole
    for item in items:
        s, v = truth[item.id], item.variants or {}
        if s["publisher_label"] in ("发文机关", "发文单位"):
            assert s["publisher"] == v["issuer"]
        elif v["issuer"] == JOINT:
            assert s["publisher"] == JOINT
        else:
            assert s["publisher"] == BUREAU
    assert any(truth[i.id]["publisher"] == CITY_OFFICE for i in items)
    decrees = [
        v["doc_no_cell"] for i in items if (v := i.variants or {})["issuer"] == CITY_GOVERNMENT
    ]
    numbers = [int(re.fullmatch(r"余姚市人民政府令第(\d+)号", d)[1]) for d in decrees]  # type: ignore[index]
    assert numbers == sorted(set(numbers))  # rising, in publishing order


def pager(text: str) -> tuple[str, int, int]:
    """(kind, page count, current page from 0) as the pager of a TRS list page says them."""
    if m := re.search(r'createPageHTML\((\d+), (\d+), "index", "html"\)', text):
        return "createPageHTML", int(m[1]), int(m[2])
    if m := re.search(r"var currentPage=(\d+);.*?var countPage=(\d+)", text, re.S):
        return "countPage", int(m[2]), int(m[1])
    if m := re.search(
        r"var recordCount = (\d+); var pageSize = (\d+); var currentPage = (\d+);", text
    ):
        return "recordCount", max(1, math.ceil(int(m[1]) / int(m[2]))), int(m[3]) - 1
    if m := re.search(r"共(\d+)页.*?第(\d+)页", text):
        return "text", int(m[1]), int(m[2]) - 1
    raise AssertionError("no pager")


def test_every_pager_says_the_page_count_and_every_page_exists(trs_site: Site) -> None:
    kinds = column_paging(trs_site.root)
    for key, path, _name in trs_site.manifest.columns:
        live = trs_site.manifest.live(key)
        count = max(1, math.ceil(len(live) / PAGE_SIZE))
        listed: set[str] = set()
        for number in range(count):
            resp = trs_site.get(path + ("index.html" if number == 0 else f"index_{number}.html"))
            assert resp.status_code == 200
            assert pager(resp.content.decode("utf-8")) == (kinds[key], count, number)
            doc = lxml_html.fromstring(resp.content)
            listed |= {
                a.get("href").rsplit("/", 1)[1] for a in doc.xpath('//ul[@class="list"]/li/a')
            }
            if kinds[key] == "text":  # 下一页 to the next page, none on the last
                nexts = doc.xpath('//div[@class="page"]/a[text()="下一页"]/@href')
                assert nexts == ([f"{path}index_{number + 1}.html"] if number + 1 < count else [])
            if kinds[key] in ("countPage", "recordCount"):  # the links written out exist
                pages = {f"{path}index.html"} | {f"{path}index_{n}.html" for n in range(1, count)}
                links = doc.xpath('//div[@class="page" or @class="pagination"]/a/@href')
                assert links and set(links) <= pages
        assert trs_site.get(f"{path}index_{count}.html").status_code == 404
        assert listed == {i.path.rsplit("/", 1)[1] for i in live}
        assert count > 1 or len(live) <= PAGE_SIZE


def test_the_countpage_pager_has_the_shape_of_the_handan_list(trs_site: Site) -> None:
    key = next(k for k, kind in column_paging(trs_site.root).items() if kind == "countPage")
    path = next(p for k, p, _ in trs_site.manifest.columns if k == key)
    text = trs_site.get(path + "index_1.html").content.decode("utf-8")
    for line in (
        "var countnum= ",
        "var countPage=",
        'document.write("<a href=\\"index.html\\" target=\\"_self\\" >首页</a>&nbsp;&nbsp;");',
        "var num=6;",
    ):
        assert line in text
    after = text.rsplit("</script>", 1)[1]  # the links written out after the script
    assert '<span class="now">2</span>' in after and "上一页</a>" in after


def test_variants_keep_the_content_and_one_seed_gives_one_site(tmp_path: Path) -> None:
    plain = generate_site(tmp_path / "plain", 40, 8, end_date=END)
    first = generate_site(tmp_path / "a", 40, 8, end_date=END, variants=True)
    generate_site(tmp_path / "b", 40, 8, end_date=END, variants=True)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")

    def content(m: Manifest) -> list[tuple[Any, ...]]:
        return [
            (i.id, i.title, i.doc_no, i.created, i.published, i.index_no, i.body_html,
             [a["sha256"] for a in i.attachments], i.has_meta_table)
            for i in m.items
        ]  # fmt: skip

    assert content(first) == content(plain)
    assert all(i.variants and i.shown for i in first.items)
    assert all(i.variants is None and i.shown is None for i in plain.items)


def test_edit_and_publish_keep_the_variants_and_update_the_truth(tmp_path: Path) -> None:
    root = tmp_path / "site"
    manifest = generate_site(root, 60, SEED, end_date=END, variants=True)
    by_title = {
        t: next(i for i in manifest.items if i.variants and i.variants["title_in"] == t)
        for t in ("h1", "meta")
    }
    with SiteServer(root) as server:
        for where, item in by_title.items():
            before = dict(item.variants or {})
            new_title = item.title + "（修订）"
            edited = edit(root, item.id, title=new_title, body_append="特此补充说明。")
            assert edited.variants == before
            shown = shown_fields(root)[item.id]
            assert shown["title"] == new_title and shown["title_in"] == where
            assert load_manifest(root).get(item.id).shown == shown
            data = requests.get(server.base_url + item.path.lstrip("/"), timeout=10).content
            check_page(read(data), shown, hanweb=False, variants=True)
        decrees = manifest.doc_counters.get("余姚市人民政府令", 0)
        added = publish(root, 30, when=date(2026, 11, 21))
        after = load_manifest(root)
        assert all(i.variants and i.shown for i in added)
        assert after.doc_counters.get("余姚市人民政府令", 0) >= decrees
        truth = shown_fields(root)
        for item in added:
            data = requests.get(server.base_url + item.path.lstrip("/"), timeout=10).content
            check_page(read(data), truth[item.id], hanweb=False, variants=True)
        withdraw(root, added[0].id)
        assert added[0].id not in shown_fields(root)


def test_relayout_works_with_variants_and_back(tmp_path: Path) -> None:
    root = tmp_path / "site"
    generate_site(root, 30, SEED, end_date=END, variants=True, style="hanweb")

    def tree() -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in (".lock", "list.js")  # the redesign leaves its script
        }

    before = tree()
    manifest = relayout(root)
    item = manifest.items[-1]
    page = (root / item.path.lstrip("/")).read_text(encoding="utf-8")
    assert '<article class="content">' in page and "ZJEG_RSS" not in page
    assert not (root / ".cms" / "dataproxy").exists() or not any(
        (root / ".cms" / "dataproxy").iterdir()
    )
    relayout(root, "classic")
    assert tree() == before


def test_the_cli_serves_a_site_with_variants(tmp_path: Path) -> None:
    root = tmp_path / "real"
    args = [
        sys.executable, "-m", "bridge", "sandbox", "site", "--root", str(root), "--port", "0",
        "--items", "12", "--encoding", "gbk", "--variants",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert proc.stdout.readline().startswith("serving 12 items")
        home = read(requests.get(url, timeout=10).content)
        assert home.meta("SiteName") == "余姚教育网"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (0, "")
    opts = load_manifest(root).options
    assert opts.variants and opts.encoding == "gbk"
    helped = subprocess.run(
        [sys.executable, "-m", "bridge", "sandbox", "site", "--help"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert "--variants" in helped.stdout and "--root state/real --variants" in helped.stdout
