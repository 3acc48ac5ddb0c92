"""``bridge init`` through the real CLI, against sandbox sites it has never seen (TRS UTF-8
and Hanweb GBK on free ports): the config it writes, with a ``[target]`` appended and
nothing else edited, passes ``config check`` and ``sync --once`` files every item."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.sandbox.site import load_manifest

pytestmark = pytest.mark.slow

INIT = ("--publisher", "余姚市教育局", "--org-code", "002949236", "--name", "s1")


def target(portal_url: str) -> str:
    return f'\n[target]\nkind = "http"\nurl = "{portal_url}"\nkey = "{SANDBOX_KEY}"\nsecret = "{SANDBOX_SECRET}"\n'


@pytest.mark.parametrize(
    ("style", "encoding", "kind", "paths"),
    [
        (
            "trs",
            "utf-8",
            "trs",
            [f"xxgk/{k}/" for k in ("jgzn", "zcwj", "ghjh", "ywgz", "tjsj", "qt")],
        ),
        ("hanweb", "gbk", "hanweb", [f"col/col{n}/" for n in range(1229, 1235)]),
    ],
)
def test_init_writes_a_config_that_syncs_every_item(
    sandbox, cli, tmp_path: Path, style: str, encoding: str, kind: str, paths: list[str]
) -> None:
    box = sandbox(items=45, seed=23, style=style, encoding=encoding)
    assert box.site_url.startswith("http://127.0.0.1:") and not box.site_url.endswith(":8801/")
    out = tmp_path / "bridge.toml"
    done = cli("init", box.site_url, *INIT, "--out", str(out), cwd=tmp_path)
    assert done.code == 0, done.both
    assert done.out == ""
    written = tomllib.loads(out.read_text(encoding="utf-8"))
    assert set(written) == {"bridge", "fetch", "sources"}  # [target] only as a comment
    (source,) = written["sources"]
    assert (source["name"], source["kind"], source["base_url"]) == ("s1", kind, box.site_url)
    assert (source["publisher"], source["org_code"]) == ("余姚市教育局", "002949236")
    assert source.get("charset", "utf-8") == ("gbk" if encoding == "gbk" else "utf-8")
    names = ["机构职能", "政策文件", "规划计划", "业务工作", "统计数据", "其他"]
    assert [(c["path"], c["category"]) for c in source["columns"]] == list(
        zip(paths, names, strict=True)
    )
    assert "# [target]" in out.read_text(encoding="utf-8")

    # The preview: every article read shows its fields with their provenance.
    assert f"family: {'TRS' if kind == 'trs' else 'Hanweb'} (" in done.err
    assert "columns: 6 kept of 6 looked at" in done.err
    manifest = load_manifest(box.root)
    by_url = {box.site_url.rstrip("/") + i.path: i for i in manifest.items}
    shown = [line.split("] ", 1)[1] for line in done.err.splitlines() if line.startswith("  [")]
    per_column = {
        c: sum(i.column == c for i in manifest.items) for c in {i.column for i in manifest.items}
    }
    assert len(shown) == sum(min(2, n) for n in per_column.values())
    for url in shown:
        item = by_url[url]
        block = done.err.split(url, 1)[1]
        assert f"名称: {item.title}  [page:" in block
        assert f"生成日期: {item.created.isoformat()}  [" in block
        assert f"组配分类: {item.category}  [config]" in block

    with out.open("a", encoding="utf-8") as f:
        f.write(target(box.portal_url))
    check = cli("--config", str(out), "config", "check", cwd=tmp_path)
    assert check.code == 0, check.both
    synced = cli("--config", str(out), "sync", "--once", cwd=tmp_path, timeout=600)
    assert synced.code == 0, synced.both
    held = {r["external_id"]: r for r in box.portal.store.items()}
    assert len(held) == 45
    assert set(held) == {f"s1:{i.id}" for i in manifest.items}
    for info in manifest.items:
        assert held[f"s1:{info.id}"]["category"] == info.category
        assert held[f"s1:{info.id}"]["title"] == info.title


def test_init_refuses_a_bad_org_code_an_existing_file_and_an_unreachable_site(
    sandbox, cli, tmp_path: Path
) -> None:
    bad = cli(
        "init", "http://127.0.0.1:1/", "--publisher", "余姚市教育局", "--org-code", "002949237"
    )
    assert bad.code == 2
    assert (
        "Invalid value for '--org-code': '002949237': check character is '7', expected '6'"
        in bad.err
    )
    empty = cli("init", "http://127.0.0.1:1/", "--publisher", " ", "--org-code", "002949236")
    assert empty.code == 2
    assert "Invalid value for '--publisher': must name the publishing body" in empty.err

    there = tmp_path / "bridge.toml"
    there.write_text("# mine\n", encoding="utf-8")
    box = sandbox(items=12, seed=5)
    kept = cli("init", box.site_url, *INIT, "--out", str(there))
    assert kept.code == 2
    assert f"Invalid value for '--out': {there} exists; --force overwrites it" in kept.err
    assert there.read_text(encoding="utf-8") == "# mine\n"
    forced = cli("init", box.site_url, *INIT, "--out", str(there), "--force")
    assert forced.code == 0, forced.both
    assert tomllib.loads(there.read_text(encoding="utf-8"))["sources"][0]["name"] == "s1"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = cli("init", f"http://127.0.0.1:{port}/", *INIT)
    assert gone.code == 1
    assert gone.err == (
        f"bridge: cannot connect to http://127.0.0.1:{port}/robots.txt: connection refused\n"
    )
    assert "Traceback" not in gone.both


def test_without_out_the_config_goes_to_stdout_and_the_preview_to_stderr(
    sandbox, cli, tmp_path: Path
) -> None:
    box = sandbox(items=12, seed=5)
    here = tmp_path / "here"
    here.mkdir()
    done = cli("init", box.site_url, *INIT, cwd=here)
    assert done.code == 0, done.both
    assert tomllib.loads(done.out)["sources"][0]["base_url"] == box.site_url
    assert "articles (up to 2 per column):" in done.err
    assert "requests: " in done.err and "of at most 80" in done.err
    assert list(here.iterdir()) == []  # no state store, no file
