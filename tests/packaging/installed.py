"""The project installed as an operator installs it: a regular (not editable) install into
a fresh virtualenv, so its console scripts are the ones pyproject.toml declares today, not
those of whatever install the test run itself uses.

Plain functions, not a conftest.py: one here would shadow the top-level tests/conftest.py
that other tests import from. Each module wraps ``install`` in a session fixture; the
install is made once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_made: list[Path] = []


def install(factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the bridge installed from this checkout. Its dependencies are
    left out: they come from the test run's own site-packages (see ``run``)."""
    if _made:
        return _made[0]
    root = factory.mktemp("installed")
    # From a copy: setuptools builds in the source tree (build/, *.egg-info).
    source = root / "src"
    shutil.copytree(
        REPO / "bridge", source / "bridge", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "--quiet", "--no-deps", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    _made.append(venv)
    return venv


def run(
    venv: Path,
    program: str,
    *args: str,
    on_path: bool = False,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a console script of ``venv``, as ``program`` (a path or, with ``on_path``, a
    bare name found through PATH). The dependencies come from this test run's
    site-packages by PYTHONPATH; the bridge itself from the installed copy (an editable
    install's finder is a .pth file, which PYTHONPATH entries do not run)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BRIDGE_", "CREDENTIALS_DIRECTORY", "_"))
    }
    path = inherited.get("PATH", "/usr/bin:/bin")
    if on_path:
        path = f"{venv / 'bin'}:{path}"
    full_env = {
        **inherited,
        "PATH": path,
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        **(env or {}),
    }
    return subprocess.run(
        [program, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120
    )
