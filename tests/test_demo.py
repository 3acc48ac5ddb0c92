"""`bridge demo` works as a new user runs it: no config, exit 0, everything arrives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end(tmp_path, cli):
    # PATH without this virtualenv, as on a machine where it is not activated
    result = cli(
        "demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.code == 0, result.both
    lines = result.out.splitlines()
    assert lines[0].startswith("sandbox site   http://127.0.0.1:")
    assert (
        "cycle 1: first sync of the whole site: 60 page(s) read, 60 new, 0 changed, 60 pushed"
        in result.out
    )
    assert "cycle 2: after publishing: 3 page(s) read, 3 new, 0 changed, 3 pushed" in result.out
    assert "cycle 3: after an edit: 1 page(s) read, 0 new, 1 changed, 1 pushed" in result.out
    assert "cycle 4: nothing changed: 0 page(s) read, 0 new, 0 changed, 0 pushed" in result.out
    assert "portal holds 63 items (site has 63); audit trail: audit trail intact" in result.out
    # The servers stop when the demo ends: no URL of theirs after that, but how to keep them.
    assert "see them as a citizen would" not in result.out
    launcher = f"{sys.executable} -m bridge"  # how this test runs it
    assert lines[-3:] == [
        f"  {launcher} --config {tmp_path / 'demo'}/bridge.toml status",
        f"  {launcher} --config {tmp_path / 'demo'}/bridge.toml audit --limit 20",
        "the sandbox site and portal stop with the demo; to browse the portal as a citizen "
        f"would, run `{launcher} demo --keep-serving`",
    ]
    assert (tmp_path / "demo" / "bridge.db").is_file()
    status = cli(
        "--config",
        str(tmp_path / "demo" / "bridge.toml"),
        "status",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert status.code == 0, status.err
    assert '"result": "ok"' in status.out


def test_demo_keep_serving_prints_a_portal_url_that_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--items",
            "5",
            "--keep-serving",
        ],
        stdout=subprocess.PIPE,
        # a file, not a pipe: a pipe nobody reads fills up with the log and blocks the demo
        stderr=(tmp_path / "demo.err").open("w"),
        text=True,
        env=env,
        cwd=tmp_path,
        # as a shell's background job or a pytest-xdist worker starts it: SIGINT ignored
        # (Python then raises no KeyboardInterrupt; the demo served on for ever in CI)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "serving the sandbox site and portal until Ctrl-C":
            line = proc.stdout.readline()
            assert line, (
                f"the demo ended early: {lines} {(tmp_path / 'demo.err').read_text()[-3000:]}"
            )
            lines.append(line.rstrip("\n"))
        url = lines[-2].removeprefix("see them as a citizen would: ")
        assert url.startswith("http://127.0.0.1:"), lines[-2]
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
        with direct.open(url, timeout=10) as answer:
            assert answer.status == 200
        assert not any("stop with the demo" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
