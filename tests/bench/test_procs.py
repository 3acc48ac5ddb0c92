"""bench.procs splits a measured process's CPU between itself and the children it reaped:
bench.backfill reports the bridge's sync process and its delivery process apart from it."""

from __future__ import annotations

import sys
import textwrap

from bench.procs import run_measured

BURN = "import time\nwhile time.process_time() < 0.4: pass"


def test_cpu_of_the_reaped_child_is_told_apart(tmp_path):
    parent = textwrap.dedent(
        f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {BURN!r}], check=True)
        """
    )
    usage = run_measured([sys.executable, "-c", parent], log=tmp_path / "p.log")
    assert usage.returncode == 0, (tmp_path / "p.log").read_text()
    assert usage.children_cpu is not None and usage.own_cpu is not None
    assert usage.children_cpu >= 0.35  # the child's 0.4 s, in clock ticks
    assert usage.own_cpu < usage.children_cpu / 2  # the parent only waited
    assert abs(usage.own_cpu + usage.children_cpu - usage.cpu) < 1e-9
