"""config/bridge.service: systemd accepts it as is, rates it well, and it fits the daemon.

``systemd-analyze verify`` checks that ExecStart= names an existing executable, and the
unit names the operator's install (/opt/bridge/bin/xxgk-bridge), which a development
machine or CI does not have. So verify runs on a copy whose ExecStart= binary is the
``xxgk-bridge`` of a fresh install of this checkout (arguments unchanged), and must print
nothing at all: verify exits 0 on unknown keys or bad values and only warns about them on
stderr.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import installed
import pytest

from bridge import defaults
from bridge.service import daemon

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "config" / "bridge.service"
INSTALLED_BINARY = "/opt/bridge/bin/xxgk-bridge"
MAX_EXPOSURE = 3.0

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment; keys may repeat, as systemd allows."""
    entries, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(section: str, key: str) -> list[str]:
    return [v for s, k, v in unit_entries(UNIT.read_text()) if s == section and k == key]


def one(section: str, key: str) -> str:
    found = values(section, key)
    assert len(found) == 1, f"[{section}] {key}= is set {len(found)} times: {found}"
    return found[0]


def seconds(value: str) -> float:
    """A systemd time span in one unit, as this unit writes them: 60, 10s, 5min."""
    found = re.fullmatch(r"(\d+)(ms|s|min|h)?", value)
    assert found, f"not a simple time span: {value!r}"
    return (
        int(found.group(1)) * {"ms": 0.001, "s": 1, "min": 60, "h": 3600, None: 1}[found.group(2)]
    )


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed.install(tmp_path_factory)


@pytest.fixture
def verifiable_unit(tmp_path: Path, installed_venv: Path) -> Path:
    """A copy of the unit whose ExecStart= binary exists on this machine."""
    venv_bridge = installed_venv / "bin" / "xxgk-bridge"
    assert venv_bridge.exists(), f"{venv_bridge} missing"
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_BINARY} " in text
    copy = tmp_path / "bridge.service"
    copy.write_text(text.replace(f"ExecStart={INSTALLED_BINARY} ", f"ExecStart={venv_bridge} "))
    return copy


@needs_systemd_analyze
def test_systemd_analyze_verify_is_silent(verifiable_unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@needs_systemd_analyze
def test_systemd_analyze_security_exposure_is_low(verifiable_unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"Overall exposure level for bridge\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-2000:]
    exposure = float(found.group(1))
    assert exposure <= MAX_EXPOSURE, done.stdout


def test_unit_runs_the_name_iproute2_cannot_shadow() -> None:
    # /usr/sbin/bridge is iproute2's on Debian; the unit runs the bridge by its own name,
    # a console script of the package that the install puts in /opt/bridge/bin.
    program, *args = one("Service", "ExecStart").split()
    assert program == INSTALLED_BINARY
    assert args == ["--config", "/etc/bridge/bridge.toml", "run"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[Path(program).name] == "bridge.cli:entry"
    assert "python3-venv" in UNIT.read_text()  # the Debian package `python3 -m venv` needs


def test_unit_speaks_the_daemons_notify_protocol() -> None:
    assert one("Service", "Type") == "notify"
    assert one("Service", "NotifyAccess") == "main"  # threads of the main process only
    assert one("Service", "ExecStart").endswith(" run")
    assert one("Service", "ExecReload") == "/bin/kill -HUP $MAINPID"  # the daemon reloads on SIGHUP


def test_watchdog_outlasts_a_few_missed_heartbeats() -> None:
    # The daemon stops pinging when its heartbeat is older than max(3 heartbeats, WatchdogSec):
    # a WatchdogSec shorter than that would restart a healthy daemon.
    assert seconds(one("Service", "WatchdogSec")) >= 3 * daemon.HEARTBEAT
    assert one("Service", "Restart") == "on-failure"  # a watchdog timeout counts as a failure


def test_stop_timeout_leaves_time_to_finish_the_item_in_hand() -> None:
    assert seconds(one("Service", "TimeoutStopSec")) > defaults.SHUTDOWN_TIMEOUT
    # Exit code 2 is a config or state-store error that a restart cannot fix.
    assert one("Service", "RestartPreventExitStatus") == "2"
    assert values("Unit", "StartLimitBurst") and values("Unit", "StartLimitIntervalSec")


def test_secret_comes_as_the_credential_the_config_reads() -> None:
    name, _, path = one("Service", "LoadCredential").partition(":")
    assert name == "target_secret"
    assert path.startswith("/etc/bridge/")
    source = (REPO / "bridge" / "config" / "targets.py").read_text()
    assert 'credential="target_secret"' in source
    assert not any("SECRET" in v for v in values("Service", "Environment"))


def test_state_lives_in_the_state_directory() -> None:
    assert one("Service", "StateDirectory") == "bridge"
    # The default state_url is relative (sqlite:///state/bridge.db): it lands under here.
    assert one("Service", "WorkingDirectory") == "/var/lib/bridge"
    assert one("Service", "ProtectSystem") == "strict"
    assert one("Service", "NoNewPrivileges") == "yes"
    assert one("Service", "DynamicUser") == "yes" or one("Service", "User") not in ("", "root")
