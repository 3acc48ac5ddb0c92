"""Issue 19, findings 9 and 10: the files the bridge creates are its user's alone, and it
never writes a core file (a core of the daemon holds the portal secret), however it is
started: a shell, cron, Docker (the console script), or ``python -m bridge``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


@pytest.mark.parametrize(
    "launch",
    [
        [sys.executable, "-m", "bridge"],
        [sys.executable, "-c", "from bridge.cli import entry; entry()"],  # the console script
    ],
    ids=["python -m bridge", "console script"],
)
def test_a_running_bridge_has_umask_077_and_no_core_files(tmp_path, launch):
    db = tmp_path / "portal.db"
    proc = subprocess.Popen(
        [*launch, "sandbox", "portal", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lambda: os.umask(0o022),  # what a shell gives it
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline()  # ready
        status = _proc(proc.pid, "status")
        limits = _proc(proc.pid, "limits")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "Umask:\t0077" in status
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core
    created = [p for p in tmp_path.iterdir() if p.name.startswith("portal.db")]
    assert created and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in created), [
        (p.name, oct(p.stat().st_mode)) for p in created
    ]


def test_the_unit_allows_no_core_files():
    unit = (REPO / "config" / "bridge.service").read_text()
    assert "\nLimitCORE=0\n" in unit and "\nUMask=0077\n" in unit
