"""A real browser on the admin pages: headless Chromium (no Selenium, only its own CLI
flags) opens the audit trail filtered to one item and that item's history, the DOM is
checked, and screenshots are kept under tests/admin/artifacts/ for a human to look at.

Needs the Debian packages chromium and fonts-wqy-microhei (installed by .ci/run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from admin_helpers import ARTIFACTS
from bs4 import BeautifulSoup
from conftest import REPO

from bridge.admin.pages import item_url
from bridge.sandbox.site import edit, load_manifest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEW_TITLE = "关于做好2026年冬季校园消防安全工作的补充通知"


def chromium(tmp: Path, *args: str) -> str:
    profile = tmp / "chromium-profile"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1280,1800",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def web(sandbox, write_config, cli, tmp_path):
    """`bridge web` on a free port, over a store synced from the sandbox (one item edited)."""
    box = sandbox(items=15, seed=13)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    item = load_manifest(box.root).live()[2]
    edit(box.root, item.id, title=NEW_TITLE)
    assert cli("--config", str(config), "sync", "--once").code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--config", str(config), "web", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("admin pages on http://127.0.0.1:"), first
    url = first.split()[3].rstrip("/")
    yield url, f"yyedu:{item.id}", item.title, config
    proc.terminate()
    assert proc.wait(timeout=10) == 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (see .ci/run)")
def test_chromium_filters_the_trail_to_one_item_and_shows_its_history(web, cli, tmp_path):
    url, external_id, old_title, config = web
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert "WenQuanYi" in fonts or "Noto Sans CJK" in fonts, (
        "no CJK font: the screenshots show tofu"
    )
    trail = cli("--config", str(config), "audit", "--item", external_id, "--format", "jsonl")
    expected = [json.loads(line)["id"] for line in trail.out.splitlines()]

    audit_url = f"{url}/audit?" + urlencode({"item": external_id})  # what the filter form submits
    dom = BeautifulSoup(chromium(tmp_path, "--dump-dom", audit_url), "html.parser")
    assert dom.html["lang"] == "zh-CN"
    form = dom.find("form", class_="filters")
    assert (
        form["method"] == "get"
        and form.find("input", attrs={"name": "item"})["value"] == external_id
    )
    assert dom.h1.get_text() == f"审计日志：{NEW_TITLE}"
    rows = dom.select("main table tbody tr")
    assert [int(r.td.get_text()) for r in rows] == sorted(expected, reverse=True)
    assert {r.select("td")[5].get_text(strip=True) for r in rows} == {external_id}
    assert any(NEW_TITLE in r.get_text() for r in rows) and any(
        old_title in r.get_text() for r in rows
    )
    history_link = dom.find("a", string="查看该条目的完整历史")
    assert history_link["href"] == item_url(external_id)

    page = BeautifulSoup(
        chromium(tmp_path, "--dump-dom", url + history_link["href"]), "html.parser"
    )
    assert page.h1.get_text() == NEW_TITLE
    assert [h.get_text() for h in page.find_all("h2")][:4] == [
        "目录字段及其来源（第 2 版）",
        "版本（2）",
        "发送记录与平台回执（2）",
        f"审计事件（{len(expected)}）",
    ]
    shown = {
        r.td.contents[0].strip(): r.select("td")[2].get_text(" ", strip=True)
        for r in page.select("table.fields tbody tr")
    }
    assert shown["名称"] == "page:标题" and shown["索引号"] == "page:索引号"
    diff = page.find("td", class_="id", string="title").find_parent("tr")
    assert [td.get_text() for td in diff.select("td pre")] == [old_title, NEW_TITLE]

    ARTIFACTS.mkdir(exist_ok=True)
    for name, target in (
        ("audit-filtered.png", audit_url),
        ("item-history.png", url + history_link["href"]),
    ):
        shot = tmp_path / name
        chromium(tmp_path, f"--screenshot={shot}", target)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        shutil.copy(shot, ARTIFACTS / name)
