"""Sites with more than six columns: sub-columns of the disclosure catalog, in both styles.

Listings are read over HTTP from a real server on port 0, every page of them, the way a
reader of each style pages (TRS ``index_N.html``, Hanweb's data proxy); the config that
``columns_toml`` writes is loaded and synced through the real CLI.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from conftest import REPO, config_text
from conftest import columns_toml as six_columns_toml

from bridge import config
from bridge.catalog import CATEGORIES
from bridge.sandbox.site import (
    COLUMNS,
    Manifest,
    SiteServer,
    columns_toml,
    edit,
    generate_site,
    load_manifest,
    publish,
    relayout,
    withdraw,
)
from bridge.sandbox.site_columns import CATALOG, MAX_COLUMNS, SUB, column

END = date(2026, 11, 5)
STYLES = ("trs", "hanweb")


def get(url: str) -> str:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, url
    return response.content.decode("utf-8")  # the charset is only in the page's <meta>


def listing(site_url: str, folder: str, style: str) -> list[str]:
    """The URL paths a column lists, every page of it, as a reader of the style pages."""
    first = get(site_url + folder.lstrip("/") + "index.html")
    if style == "trs":
        count = int(re.search(r"createPageHTML\((\d+), 0,", first).group(1))  # type: ignore[union-attr]
        pages = [first] + [
            get(site_url + folder.lstrip("/") + f"index_{n}.html") for n in range(1, count)
        ]
        base = site_url.rstrip("/") + folder
        out = []
        for text in pages:
            ul = text.split('<ul class="list">', 1)[1].split("</ul>", 1)[0]
            out += [urljoin(base, h).removeprefix(site_url.rstrip("/")) for h in _hrefs(ul)]
        return out
    total = int(re.search(r"var totalRecord = (\d+);", first).group(1))  # type: ignore[union-attr]
    perpage = int(re.search(r"var perPage = (\d+);", first).group(1))  # type: ignore[union-attr]
    colid = re.search(r"var columnid = (\d+);", first).group(1)  # type: ignore[union-attr]
    assert folder == f"/col/col{colid}/"
    records = re.findall(r"<record><!\[CDATA\[(.*?)\]\]></record>", first, re.S)
    for page in range(2, math.ceil(total / perpage) + 1):
        proxy = f"module/web/jpage/dataproxy.jsp?page={page}&columnid={colid}&unitid=7701"
        records += re.findall(r"<record><!\[CDATA\[(.*?)\]\]></record>", get(site_url + proxy))
    assert len(records) == total
    return [_hrefs(r)[0] for r in records]


def _hrefs(text: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', text)


def listed(site_url: str, manifest: Manifest) -> dict[str, list[str]]:
    style = manifest.options.style
    return {key: listing(site_url, path, style) for key, path, _ in manifest.columns}


def tree_digest(root: Path) -> str:
    """One hash of every file of a site: its path and the sha256 of its bytes."""
    files = sorted((str(p.relative_to(root)), p) for p in root.rglob("*") if p.is_file())
    lines = "".join(f"{name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for name, p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


@pytest.fixture
def served() -> Iterator[list[SiteServer]]:
    servers: list[SiteServer] = []
    yield servers
    for server in servers:
        server.stop()


def serve(servers: list[SiteServer], root: Path) -> str:
    server = SiteServer(root)  # port 0: a free one
    servers.append(server)
    return server.start()


# --- the catalog and the manifest ------------------------------------------------------------


def test_the_catalog_has_sixty_distinct_columns_filed_under_the_six_categories() -> None:
    assert len(CATALOG) == MAX_COLUMNS == 60
    assert [(c.key, c.trs_path, c.name) for c in CATALOG[:6]] == list(COLUMNS)
    assert len({c.key for c in CATALOG}) == len({c.name for c in CATALOG}) == 60
    assert [c.hanweb_id for c in CATALOG] == list(range(1229, 1289))
    assert {c.category_name for c in CATALOG} == set(CATEGORIES)
    names = [c.name for c in CATALOG[6:19]]
    assert names[:3] == ["招生考试", "教师队伍", "督导评估"] and "部门预决算" in names
    numbered = [c for c in CATALOG if re.search(r"\d", c.name)]
    assert [c.index for c in numbered] == list(range(6 + len(SUB), 60))  # only past the list
    assert column("zsks").category_name == "业务工作" and column("bmyjs").category == "tjsj"


@pytest.mark.parametrize("bad", [5, 61, 0, True])
def test_columns_outside_6_to_60_are_refused(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="columns must be"):
        generate_site(tmp_path / "s", 10, columns=bad)
    assert not (tmp_path / "s" / "site.json").exists()


@pytest.mark.parametrize("style", STYLES)
def test_manifest_keeps_the_columns_and_columns_toml_loads_as_a_config(
    tmp_path: Path, style: str
) -> None:
    root = tmp_path / "site"
    made = generate_site(root, 80, 2, end_date=END, style=style, columns=20)
    manifest = load_manifest(root)
    assert manifest.options.columns == 20 and manifest.columns == made.columns
    assert len(manifest.columns) == 20
    key, path, name = manifest.columns[6]
    assert (key, name) == ("zsks", "业务工作")
    assert path == ("/col/col1235/" if style == "hanweb" else "/xxgk/zsks/")
    assert columns_toml(root) == columns_toml(manifest) == columns_toml(str(root))

    text = config_text(tmp_path / "state.db", "http://127.0.0.1:1/", "http://127.0.0.1:2/")
    cfg_path = tmp_path / "bridge.toml"
    cfg_path.write_text(with_columns(text, style, columns_toml(root)), encoding="utf-8")
    source = config.load(cfg_path).sources[0]
    assert source.kind == style
    assert [(c.key, "/" + c.path, c.category) for c in source.columns] == manifest.columns


def with_columns(text: str, style: str, tables: str) -> str:
    """A tests/conftest.py config with the source's kind and column tables replaced."""
    text = re.sub(r'^kind = "trs"$', f'kind = "{style}"', text, count=1, flags=re.M)
    head, sep, tail = text.partition("\n[target]")
    return head[: head.index("\n  [[sources.columns]]")] + tables + sep + tail


# --- listings over HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_a_20_column_site_lists_every_item_exactly_once(
    tmp_path: Path, served: list[SiteServer], style: str
) -> None:
    root = tmp_path / "site"
    manifest = generate_site(root, 150, 9, end_date=END, style=style, page_size=6, columns=20)
    url = serve(served, root)
    lists = listed(url, manifest)
    assert len(lists) == 20 and all(lists.values())  # every column has items
    everything = Counter(p for paths in lists.values() for p in paths)
    assert everything == Counter(i.path for i in manifest.items)  # each exactly once
    for item in manifest.items:
        assert item.path in lists[item.column]
        assert item.category == column(item.column).category_name
    sub = next(i for i in manifest.items if not column(i.column).top)
    page = get(url + sub.path.lstrip("/"))
    assert f"{sub.category} &gt; <a href=" in page and f">{column(sub.column).name}</a>" in page
    heading = get(url + manifest.columns[18][1].lstrip("/") + "index.html")
    assert "<h2>部门预决算</h2>" in heading and "&gt; 统计数据 &gt; <a" in heading


@pytest.mark.parametrize("style", STYLES)
def test_publish_edit_withdraw_and_relayout_keep_the_columns(
    tmp_path: Path, served: list[SiteServer], style: str
) -> None:
    root = tmp_path / "site"
    generate_site(root, 40, 4, end_date=END, style=style, page_size=5, columns=24)
    added = publish(root, 60, when=date(2026, 11, 6))
    assert {column(i.column).index for i in added} - set(range(24)) == set()
    assert any(column(i.column).index >= 6 for i in added)
    gone = next(i for i in added if column(i.column).index >= 6)
    withdraw(root, gone.id)
    kept = next(i for i in added if column(i.column).index >= 6 and i is not gone)
    edit(root, kept.id, title="关于做好2026年招生考试报名确认工作的通知")
    manifest = load_manifest(root)
    url = serve(served, root)
    lists = listed(url, manifest)
    assert len(lists) == 24
    assert Counter(p for v in lists.values() for p in v) == Counter(i.path for i in manifest.live())
    assert gone.path not in lists[gone.column]
    assert "关于做好2026年招生考试报名确认工作的通知" in get(url + kept.path.lstrip("/"))

    relayout(root)
    for _key, path, _name in manifest.columns:  # the new template's list for every column
        assert requests.get(url + path.lstrip("/") + "list.json", timeout=10).status_code == 200
    relayout(root, "classic")
    assert Counter(p for v in listed(url, manifest).values() for p in v) == Counter(
        i.path for i in manifest.live()
    )


# --- the whole path: config, `bridge sync --once`, portal ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_sync_through_the_cli_delivers_every_item_of_a_20_column_site(
    sandbox, cli, tmp_path: Path, style: str
) -> None:
    box = sandbox(items=70, seed=13, style=style, columns=20, page_size=4)
    manifest = load_manifest(box.root)
    assert {i.column for i in manifest.items} == {key for key, _, _ in manifest.columns}
    text = config_text(tmp_path / "state.db", box.site_url, box.portal_url)
    cfg_path = tmp_path / "bridge.toml"
    cfg_path.write_text(with_columns(text, style, columns_toml(box.root)), encoding="utf-8")
    result = cli("--config", str(cfg_path), "sync", "--once")
    assert result.code == 0, result.both
    assert "70 new" in result.out
    held = {r["external_id"]: r for r in box.portal.store.items()}
    assert set(held) == {f"yyedu:{i.id}" for i in manifest.items}
    for info in manifest.items:
        record = held[f"yyedu:{info.id}"]
        assert (record["title"], record["category"]) == (info.title, info.category)


# --- the default site ------------------------------------------------------------------------

DEFAULT_DIGESTS = {  # every file of generate_site(root, 60, 1, end_date=END, style=…) before
    "trs": "ed4a2d37e5efdb69517571a33c25be97952df10a2adc6fbf759b5d264b5ab8c9",  # `columns`
    "hanweb": "93003e1d1b7c9198b0c55917c91c9fe07ebd585b5046ec29c0ce9a7807cb12d0",  # existed,
}  # with the one change made since: the 索引号 show the USCC (content.USCC). Obtained from
# the tree at the commit before that change, every "002949236/" in its files rewritten to
# "11330281002949236M/" (the old digests were 9c1c0e44… and 61551f52…).


@pytest.mark.parametrize("style", STYLES)
def test_the_default_site_is_byte_for_byte_what_it_was(tmp_path: Path, style: str) -> None:
    root = tmp_path / "default"
    manifest = generate_site(root, 60, 1, end_date=END, style=style)
    assert tree_digest(root) == DEFAULT_DIGESTS[style]
    explicit = tmp_path / "six"
    generate_site(explicit, 60, 1, end_date=END, style=style, columns=6)
    assert tree_digest(explicit) == DEFAULT_DIGESTS[style]
    assert '"columns"' not in (root / "site.json").read_text(encoding="utf-8").split("\n")[0]
    assert manifest.options.columns == 6 and len(manifest.columns) == 6
    if style == "trs":
        assert manifest.columns == list(COLUMNS)
        assert columns_toml(root) == six_columns_toml()


def test_cli_generates_and_keeps_a_site_with_more_columns(tmp_path: Path) -> None:
    root = tmp_path / "big"
    site = [sys.executable, "-m", "bridge", "sandbox", "site", "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [*site, "--root", str(root), "--items", "40", "--columns", "12", "--style", "hanweb"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert "<h2>职成教育</h2>" in get(url + "col/col1240/index.html")  # the 12th column
        assert requests.get(url + "col/col1241/index.html", timeout=10).status_code == 404
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert load_manifest(root).options.columns == 12
    again = subprocess.run(
        [*site, "--root", str(root), "--columns", "13"], capture_output=True, text=True, env=env
    )
    assert again.returncode == 2 and "columns=12" in again.stderr
    same = [*site, "--root", str(root), "--columns", "12", "--help"]
    assert subprocess.run(same, capture_output=True, env=env).returncode == 0
    too_many = [*site, "--root", str(tmp_path / "x"), "--columns", "61"]
    refused = subprocess.run(too_many, capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "61" in refused.stderr
    assert not (tmp_path / "x").exists()
