"""`bridge demo` works as a new user runs it: no config, exit 0, everything arrives."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end(tmp_path, cli):
    result = cli("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
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
