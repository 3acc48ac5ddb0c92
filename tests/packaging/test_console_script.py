"""The command is installed as ``xxgk-bridge`` as well as ``bridge``: Debian and Ubuntu ship
iproute2's ``/usr/sbin/bridge``, which runs instead whenever the virtualenv is not first on
PATH (``Object "sandbox" is unknown``). Checked on a real install: both scripts exist, each
says its own name in its usage line, completion answers to the documented variable, and a
command the bridge suggests names a program that runs the bridge."""

from __future__ import annotations

import configparser
import functools
import sqlite3
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import installed
import pytest

from bridge.state.db import head_revision

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = {"xxgk-bridge": "bridge.cli:entry", "bridge": "bridge.cli:entry"}


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed.install(tmp_path_factory)


@pytest.fixture
def run_installed(installed_venv: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    return functools.partial(installed.run, installed_venv)


def test_pyproject_declares_both_names() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["scripts"] == SCRIPTS


def test_the_install_has_both_console_scripts(installed_venv: Path) -> None:
    for name in SCRIPTS:
        assert (installed_venv / "bin" / name).is_file(), f"{name} is not installed"
    [entry_points] = installed_venv.glob(
        "lib/python3*/site-packages/bridge-*.dist-info/entry_points.txt"
    )
    parser = configparser.ConfigParser()
    parser.read(entry_points)
    assert dict(parser["console_scripts"]) == SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_usage_shows_the_name_it_was_run_as(installed_venv: Path, run_installed, name: str) -> None:
    done = run_installed(str(installed_venv / "bin" / name), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: {name} [OPTIONS] COMMAND [ARGS]...\n")
    done = run_installed(str(installed_venv / "bin" / name), "--version")
    assert (done.returncode, done.stdout) == (0, "bridge, version 0.1.0\n")


@pytest.fixture
def store_config(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "state" / "bridge.db"
    config = tmp_path / "bridge.toml"
    config.write_text(
        f"""
[bridge]
state_url = "sqlite:///{db}"
[[sources]]
name = "yyedu"
kind = "trs"
base_url = "http://127.0.0.1:9/"
publisher = "余姚市教育局"
org_code = "002949236"
  [[sources.columns]]
  key = "zcwj"
  path = "xxgk/zcwj/"
  category = "政策文件"
[target]
kind = "http"
url = "http://127.0.0.1:9/"
key = "k"
secret_file = "{tmp_path / "portal.secret"}"
""",
        encoding="utf-8",
    )
    (tmp_path / "portal.secret").write_text("s" * 32)
    (tmp_path / "portal.secret").chmod(0o600)
    config.chmod(0o600)
    return config, db


def test_db_current_says_where_the_schema_is_and_what_to_run(
    run_installed, store_config: tuple[Path, Path], tmp_path: Path
) -> None:
    config, db = store_config
    head = head_revision()
    url = f"sqlite:///{db}"

    def current() -> str:
        done = run_installed("xxgk-bridge", "--config", str(config), "db", "current", on_path=True)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        return done.stdout

    assert current() == (
        f"{url}: no schema yet, needs {head}: run `xxgk-bridge db upgrade` "
        "(or start the daemon: it creates it)\n"
    )
    done = run_installed("xxgk-bridge", "--config", str(config), "db", "upgrade", on_path=True)
    assert done.stdout == f"state database {url}: upgraded from empty to {head}\n", done.stderr
    assert current() == f"{url}: up to date ({head})\n"

    with sqlite3.connect(db) as conn:  # a store left behind by an older bridge
        conn.execute("UPDATE alembic_version SET version_num = '0003'")
    assert current() == f"{url}: at 0003, needs {head}: run `xxgk-bridge db upgrade`\n"


def test_a_suggested_command_never_leads_to_iproute2(
    installed_venv: Path, run_installed, store_config: tuple[Path, Path], tmp_path: Path
) -> None:
    # Run by its path with the virtualenv not on PATH, as `.venv/bin/bridge …`: a bare
    # `bridge db upgrade` would run /usr/sbin/bridge on Debian, so the path is given.
    config, db = store_config
    with sqlite3.connect(db.parent.mkdir() or db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0003')")
    program = installed_venv / "bin" / "bridge"
    done = run_installed(str(program), "--config", str(config), "db", "current", cwd=tmp_path)
    assert done.stdout == (
        f"sqlite:///{db}: at 0003, needs {head_revision()}: run `{program} db upgrade`\n"
    ), done.stderr
    # From inside the folder that holds the virtualenv the path is a relative one.
    done = run_installed(
        "venv/bin/xxgk-bridge", "--config", str(config), "db", "current", cwd=installed_venv.parent
    )
    assert done.stdout.endswith(": run `venv/bin/xxgk-bridge db upgrade`\n"), done.stderr


def test_shell_completion_answers_to_the_documented_variable(run_installed) -> None:
    # click derives the variable from the program's name: _XXGK_BRIDGE_COMPLETE.
    done = run_installed("xxgk-bridge", on_path=True, env={"_XXGK_BRIDGE_COMPLETE": "bash_source"})
    assert done.returncode == 0, done.stderr
    assert "complete -o nosort -F _xxgk_bridge_completion xxgk-bridge" in done.stdout
    for shell in ("zsh", "fish"):
        done = run_installed(
            "xxgk-bridge", on_path=True, env={"_XXGK_BRIDGE_COMPLETE": f"{shell}_source"}
        )
        assert done.returncode == 0 and "xxgk-bridge" in done.stdout, done.stderr
    done = run_installed(
        "xxgk-bridge",
        on_path=True,
        env={
            "_XXGK_BRIDGE_COMPLETE": "bash_complete",
            "COMP_WORDS": "xxgk-bridge db cu",
            "COMP_CWORD": "2",
        },
    )
    assert (done.returncode, done.stdout) == (0, "plain,current\n"), done.stderr
