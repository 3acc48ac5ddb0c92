"""A state folder or file the bridge may not write says so and names the owner it needs.

The case: a bind-mounted state folder still owned by root, for the image's uid 10001.
SQLite calls that "unable to open database file" or "attempt to write a readonly
database", which read like a damaged store ("restore it from a backup"), where the fix is
a chown. The real CLI runs as an unprivileged uid (setpriv), keeping only the capability
to read and search files (the interpreter may live under a private home): writes are
refused with EACCES, as for any other user.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bridge.sandbox.portal import SANDBOX_SECRET

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sqlite_only,
    pytest.mark.skipif(
        shutil.which("setpriv") is None or os.geteuid() != 0,
        reason="needs root and setpriv (util-linux) to run the CLI as another uid",
    ),
]

UID = 65534  # nobody
AS_NOBODY = (
    "setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
    "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
)  # fmt: skip


def config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(
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
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def root_owned(tmp_path: Path) -> Path:
    """A folder as `docker run -v /srv/bridge:/var/lib/bridge` finds it: root's, 0755."""
    tmp_path.chmod(0o755)
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    return folder


def run_as_nobody(cli, tmp_path: Path, db: Path, *args: str):
    return cli(
        "--config",
        str(config(tmp_path, db)),
        *args,
        env={"BRIDGE_TARGET_SECRET": SANDBOX_SECRET},
        cwd=tmp_path,
        launcher=AS_NOBODY,
    )


def test_a_folder_owned_by_root_names_the_chown(cli, tmp_path: Path, root_owned: Path) -> None:
    db = root_owned / "bridge.db"
    for command in (["status"], ["db", "upgrade"], ["db", "current"]):
        result = run_as_nobody(cli, tmp_path, db, *command)
        assert (result.code, result.out) == (2, ""), command
        assert result.err == (
            f"bridge: state database {db}: cannot write {root_owned}: permission denied; "
            f"the bridge runs as uid {UID}: chown -R {UID} {root_owned}\n"
        ), command
    assert list(root_owned.iterdir()) == []

    os.chown(root_owned, UID, UID)  # the fix the message names
    result = run_as_nobody(cli, tmp_path, db, "db", "upgrade")
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"state database sqlite:///{db}: upgraded from empty to ")


def test_a_store_file_left_by_root_names_the_chown(cli, tmp_path: Path, root_owned: Path) -> None:
    # The folder is the bridge's, but someone ran a command as root first: the file
    # (mode 0644 under root's umask) is root's.
    db = root_owned / "bridge.db"
    result = cli("--config", str(config(tmp_path, db)), "db", "upgrade",
                 env={"BRIDGE_TARGET_SECRET": SANDBOX_SECRET})  # fmt: skip
    assert result.code == 0, result.err
    os.chown(root_owned, UID, UID)
    db.chmod(0o644)
    result = run_as_nobody(cli, tmp_path, db, "status")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"bridge: state database {db}: cannot write {db}: permission denied; "
        f"the bridge runs as uid {UID}: chown -R {UID} {root_owned}\n"
    )


def test_a_folder_it_cannot_create_says_where(cli, tmp_path: Path, root_owned: Path) -> None:
    db = root_owned / "bridge" / "state" / "bridge.db"
    result = run_as_nobody(cli, tmp_path, db, "status")
    assert (result.code, result.out) == (2, "")
    folder = db.parent
    assert result.err == (
        f"bridge: state database {db}: cannot create {folder}: permission denied in "
        f"{root_owned}; the bridge runs as uid {UID}: mkdir -p {folder} && chown -R {UID} {folder}\n"
    )


def test_its_own_file_without_its_mode_names_the_chmod(
    cli, tmp_path: Path, root_owned: Path
) -> None:
    db = root_owned / "bridge.db"
    result = cli("--config", str(config(tmp_path, db)), "db", "upgrade",
                 env={"BRIDGE_TARGET_SECRET": SANDBOX_SECRET})  # fmt: skip
    assert result.code == 0, result.err
    for path in (root_owned, db):
        os.chown(path, UID, UID)
    db.chmod(0)
    result = run_as_nobody(cli, tmp_path, db, "status")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"bridge: state database {db}: cannot write {db}: permission denied, though uid {UID} "
        f"(the bridge) owns it: chmod u+rw {db}\n"
    )
