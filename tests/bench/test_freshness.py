"""bench.freshness in a tiny mode: the real daemon, sandbox site and portal on loopback.

No timing is asserted (the machine is shared); what must hold is the bookkeeping: every
change the publisher made is either caught or reported missed, and the figures agree with
the changes they are made from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.freshness_figures import Change, report_table, summarize

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_tiny_run_accounts_for_every_change():
    cmd = [sys.executable, "-m", "bench.freshness", "--minutes", "0.5", "--interval", "3"]
    cmd += ["--rate", "20", "--edit-rate", "10", "--items", "20", "--json", "--no-save"]
    done = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)

    assert out["daemon_exit"] == 0
    assert out["backfill"]["held"] == out["backfill"]["site_items"] == 20
    assert out["not_visible"] == 0  # each change was on the site when it was made
    assert out["saved"] is None
    changes = out["changes"]
    assert {c["kind"] for c in changes} == {"new", "edit"}
    for kind in ("new", "edit"):
        mine = [c for c in changes if c["kind"] == kind]
        s = out["summary"][kind]
        assert s["changes"] == len(mine) > 0
        assert s["changes"] == s["caught"] + s["missed"]
        assert s["missed_items"] == [c["item"] for c in mine if c["caught_at"] is None]
        assert s["goal_s"] == 13.0
        caught = sorted(c["latency"] for c in mine if c["caught_at"] is not None)
        if caught:
            assert s["max_s"] == caught[-1]
            assert s["p50_s"] in caught and s["p95_s"] in caught
        else:
            assert s["p50_s"] is s["p95_s"] is s["max_s"] is None
            assert s["goal_met"] is False
    for c in changes:
        if c["kind"] == "new" and c["caught_at"] is not None:
            assert c["version"] == 1
        if c["kind"] == "edit":
            assert c["marker"].startswith("更正：") and c["base_version"] >= 1
            if c["caught_at"] is not None:
                assert c["version"] > c["base_version"]
    # every new item in 30 s at a 3 s interval reaches the portal well within the grace
    assert out["summary"]["new"]["missed"] == 0


def test_missed_changes_are_counted_and_fail_the_goal():
    changes = [
        Change("new", "a", 100.0, caught_at=104.0, version=1),
        Change("new", "b", 100.0, caught_at=130.0, version=1),
        Change("new", "c", 100.0),
        Change("edit", "a", 110.0, "更正：x", 1, caught_at=115.0, version=2),
    ]
    s = summarize(changes, interval=30.0)
    assert s["new"] == {
        "label": "new items",
        "changes": 3,
        "caught": 2,
        "missed": 1,
        "missed_items": ["c"],
        "p50_s": 4.0,
        "p95_s": 30.0,
        "max_s": 30.0,
        "goal_s": 40.0,
        "goal_met": False,
    }
    assert s["edit"]["goal_met"] is True and s["edit"]["p95_s"] == 5.0
    lines = report_table(s, 30.0).splitlines()
    assert lines[0].startswith("| change | made | caught | missed | p50 s | p95 s | max s |")
    assert lines[2] == (
        "| new items | 3 | 2 | 1 | 4.0 | 30.0 | 30.0 | 30 | p95 ≤ 40 s: **not met** (1 missed) |"
    )
    assert (
        lines[3]
        == "| body edits of recent items | 1 | 1 | 0 | 5.0 | 5.0 | 5.0 | 30 | p95 ≤ 40 s: met |"
    )
