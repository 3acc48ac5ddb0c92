"""`bridge sandbox site` with generation options, run as an operator runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from bridge.sandbox.site import load_manifest

REPO = Path(__file__).resolve().parents[2]


def test_cli_generates_a_hanweb_gbk_site_with_every_quirk(tmp_path: Path) -> None:
    root = tmp_path / "hw"
    args = [
        sys.executable, "-m", "bridge", "sandbox", "site", "--root", str(root), "--port", "0",
        "--items", "30", "--style", "hanweb", "--encoding", "gbk", "--quirks",
        "--robots-disallow", "/col/col1233/", "--robots-disallow", "/col/col1234/",
        "--delay-ms", "5",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert proc.stdout.readline().startswith("serving 30 items")
        robots = requests.get(url + "robots.txt", timeout=10).text
        assert robots == "User-agent: *\nDisallow: /col/col1233/\nDisallow: /col/col1234/\n"
        column = requests.get(url + "col/col1232/index.html", timeout=10)
        assert b"charset=gb2312" in column.content and b'type="text/xml"' in column.content
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (0, "")
    opts = load_manifest(root).options
    assert (opts.style, opts.encoding, opts.list_dates) == ("hanweb", "gbk", "mixed")
    assert opts.pinned and opts.cross_listed and opts.offsite_links and opts.volatile
    assert opts.cn_dates and opts.cn_filenames and opts.rare_chars
