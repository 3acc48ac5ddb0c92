"""Headless Chromium on the status and charts pages: the SVG charts are in the DOM the
browser built, the console stays silent (no CSP violation, no error), and the browser
asks the admin server for the page alone, nothing else anywhere (air-gapped networks).

Every host but 127.0.0.1 resolves to nothing (--host-resolver-rules), so a request
elsewhere would fail and log a console error; the requests that reach the server are
counted on the server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from admin_helpers import ARTIFACTS, AdminSite
from bs4 import BeautifulSoup
from test_browser import CHROMIUM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (see .ci/run)"),
]


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}",
        "--window-size=1280,2200", "--enable-logging=stderr", "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture
def admin(sandbox, write_config, cli):
    box = sandbox(items=12, seed=5)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    site = AdminSite(config)
    seen: list[str] = []
    handle = site.server.handle

    def counting(request):  # counts what reaches the server; answers as before
        seen.append(request.path + ("?" + request.raw_query if request.raw_query else ""))
        return handle(request)

    site.server.handle = counting  # type: ignore[method-assign]
    yield site, seen
    site.close()


@pytest.mark.parametrize(("path", "charts"), [("/", 0), ("/charts", 5)])
def test_chromium_renders_the_pages_alone_with_a_silent_console(admin, tmp_path, path, charts):
    site, seen = admin
    done = run_chromium(tmp_path, "--dump-dom", site.url + path)
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert seen == [path]
    dom = BeautifulSoup(done.stdout, "html.parser")
    assert dom.html["lang"] == "zh-CN"
    svgs = dom.select("svg.chart")
    assert len(svgs) == charts
    if charts:
        assert [len(s.select("rect.bar")) for s in svgs[1:]] == [30, 5, 6, 6]
        assert len(svgs[0].select("circle.point")) == 29
        assert svgs[1].title.get_text() == "每日平台确认的发送（近 30 天）"
    refs = [t.get("src") or t.get("href") for t in dom.find_all(["img", "link", "script"])]
    assert refs == ["data:,"]  # an empty icon: no request for /favicon.ico

    seen.clear()
    shot = tmp_path / "page.png"
    run_chromium(tmp_path, f"--screenshot={shot}", site.url + path)
    assert seen == [path]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / ("charts.png" if charts else "status.png"))
