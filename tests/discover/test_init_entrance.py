"""``bridge init`` through the 政府信息公开 entrance, through the real CLI: on a sandbox site
with variants the home page links only news-like sections and the entrance (TRS
``/xxgk/index.html``, Hanweb a ``/col/col1228/`` page), and the columns are linked from the
entrance alone, as on real bureau sites. init finds the six there, and the config it
writes, with a ``[target]`` appended, passes ``config check`` and syncs every item."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.sandbox.site import load_manifest

pytestmark = pytest.mark.slow

INIT = ("--publisher", "余姚市教育局", "--org-code", "002949236", "--name", "s1")
NAMES = ["机构职能", "政策文件", "规划计划", "业务工作", "统计数据", "其他"]


@pytest.mark.parametrize(
    ("style", "encoding", "entrance", "paths"),
    [
        (
            "trs",
            "utf-8",
            "xxgk/index.html",
            [f"xxgk/{k}/" for k in ("jgzn", "zcwj", "ghjh", "ywgz", "tjsj", "qt")],
        ),
        ("hanweb", "gbk", "col/col1228/index.html", [f"col/col{n}/" for n in range(1229, 1235)]),
    ],
)
def test_init_finds_the_columns_behind_the_entrance_and_syncs_every_item(
    sandbox, cli, tmp_path: Path, style: str, encoding: str, entrance: str, paths: list[str]
) -> None:
    box = sandbox(items=45, seed=23, style=style, encoding=encoding, variants=True)
    home = (
        box.site.root.joinpath("index.html")
        .read_bytes()
        .decode("gb18030" if encoding == "gbk" else "utf-8")
    )
    assert all(f'href="/{p}index.html"' not in home for p in paths)  # only behind the entrance
    out = tmp_path / "bridge.toml"
    done = cli("init", box.site_url, *INIT, "--out", str(out), cwd=tmp_path)
    assert done.code == 0, done.both
    assert f"entrance: {box.site_url}{entrance}\n" in done.err
    assert "columns: 6 kept of 9 looked at" in done.err
    for folder, name in (("jyxw/", "教育新闻"), ("bsfw/", "办事服务"), ("hdjl/", "互动交流")):
        assert f"  - {folder:<24} {name} -> mixed: its first list page lists no articles" in (
            done.err
        )
    text = out.read_text(encoding="utf-8")
    written = tomllib.loads(text)
    (source,) = written["sources"]
    assert source["kind"] == style
    assert source.get("charset", "utf-8") == ("gbk" if encoding == "gbk" else "utf-8")
    assert [(c["path"], c["name"], c["category"]) for c in source["columns"]] == list(
        zip(paths, NAMES, NAMES, strict=True)
    )
    assert text.count("on its first list page (linked from the entrance page)") == 6

    with out.open("a", encoding="utf-8") as f:
        f.write(
            f'\n[target]\nkind = "http"\nurl = "{box.portal_url}"\n'
            f'key = "{SANDBOX_KEY}"\nsecret = "{SANDBOX_SECRET}"\n'
        )
    check = cli("--config", str(out), "config", "check", cwd=tmp_path)
    assert check.code == 0, check.both
    synced = cli("--config", str(out), "sync", "--once", cwd=tmp_path, timeout=600)
    assert synced.code == 0, synced.both
    manifest = load_manifest(box.root)
    held = {r["external_id"]: r for r in box.portal.store.items()}
    assert set(held) == {f"s1:{i.id}" for i in manifest.items} and len(held) == 45
    for info in manifest.items:
        assert (held[f"s1:{info.id}"]["title"], held[f"s1:{info.id}"]["category"]) == (
            info.title,
            info.category,
        )
