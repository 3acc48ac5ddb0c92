"""The project installed as an operator installs it: a regular (not editable) install into
a fresh virtualenv, so its console scripts are the ones pyproject.toml declares today, not
those of whatever install the test run itself uses."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the bridge installed from this checkout (its dependencies are left
    out: they come from the test run's own site-packages, see ``run_installed``)."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return venv


@pytest.fixture
def run_installed(installed_venv: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a console script of the installed virtualenv, as ``program`` (a path or, with
    ``on_path``, a bare name found through PATH). The dependencies come from this test
    run's site-packages by PYTHONPATH; the bridge itself from the installed copy (an
    editable install's finder is a .pth file, which PYTHONPATH entries do not run)."""

    def run(
        program: str,
        *args: str,
        on_path: bool = False,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BRIDGE_", "CREDENTIALS_DIRECTORY", "_"))
        }
        path = inherited.get("PATH", "/usr/bin:/bin")
        if on_path:
            path = f"{installed_venv / 'bin'}:{path}"
        full_env = {
            **inherited,
            "PATH": path,
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            **(env or {}),
        }
        return subprocess.run(
            [program, *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=120,
        )

    return run
