"""Issue 19, finding 8: ``bridge config check`` warns about a file holding a secret that
other local users can read: the config with a secret written in it (the portal secret, the
admin token or password, a password in a database URL), or a ``*_file`` secret file. One
line a file, with its mode and the fix; the check still passes (exit 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_bridge

CONFIG = """
[bridge]
state_url = "{state_url}"

[[sources]]
name = "yyedu"
base_url = "http://127.0.0.1:8801/"
publisher = "余姚市教育局"
org_code = "002949236"
  [[sources.columns]]
  key = "zcwj"
  path = "xxgk/zcwj/"
  category = "政策文件"

[target]
url = "http://127.0.0.1:8802/"
key = "bridge-sandbox"
{secret}
{admin}
"""
SECRET = "portal-secret-Hq7vXk2mNp9w"


def config(tmp_path: Path, mode: int, *, state_url: str = "sqlite:///state/x.db",
           secret: str = f'secret = "{SECRET}"', admin: str = "") -> Path:  # fmt: skip
    path = tmp_path / "bridge.toml"
    path.write_text(CONFIG.format(state_url=state_url, secret=secret, admin=admin), "utf-8")
    path.chmod(mode)
    return path


def check(path: Path, env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    result = run_bridge("--config", str(path), "config", "check", env=env)
    assert result.out == f"{path}: OK; sources: yyedu (trs, 1 columns); target: portal (http)\n"
    assert SECRET not in result.both
    return result.code, result.out, result.err.splitlines()


def warning(path: Path, keys: str, readers: str, mode: str) -> str:
    return (
        f"warning: {path} holds a secret ({keys}) and is readable by {readers} "
        f"(mode {mode}): chmod 600 {path}"
    )


@pytest.mark.parametrize(
    ("mode", "readers"),
    [(0o644, "its group and others"), (0o604, "others"), (0o640, "its group")],
    ids=["0644", "0604", "0640"],
)
def test_a_readable_config_with_an_inline_secret_is_warned_about(tmp_path, mode, readers):
    path = config(tmp_path, mode)
    assert check(path)[::2] == (0, [warning(path, "target.secret", readers, f"{mode:04o}")])


def test_a_config_only_its_owner_reads_gets_no_warning(tmp_path):
    path = config(tmp_path, 0o600)
    assert check(path)[::2] == (0, [])
    path.chmod(0o400)
    assert check(path)[::2] == (0, [])


def test_every_inline_secret_is_named(tmp_path):
    path = config(
        tmp_path,
        0o644,
        state_url="postgresql://bridge@db.example/bridge?password=pg-pass-4k9z",
        admin='[admin]\ntoken = "admin-token-3x8q-0123456789abcdef"\n'
        'basic_user = "auditor"\nbasic_password = "basic-pass-7y2w"',
    )
    code, _, err = check(path)
    assert (code, err) == (
        0,
        [
            warning(
                path,
                "bridge.state_url, target.secret, admin.token, admin.basic_password",
                "its group and others",
                "0644",
            )
        ],
    )


def test_a_database_url_without_a_password_is_no_secret(tmp_path):
    path = config(
        tmp_path, 0o644, state_url="postgresql://bridge@db.example/bridge", secret="", admin=""
    )
    secret = tmp_path / "portal.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    path.write_text(path.read_text().replace("[target]\n", f'[target]\nsecret_file = "{secret}"\n'))
    assert check(path)[::2] == (0, [])


def test_a_secret_file_readable_by_everyone_is_warned_about(tmp_path):
    secret = tmp_path / "portal.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o666)
    token = tmp_path / "admin token"  # a name that needs quoting in the fix
    token.write_text("admin-token-3x8q-0123456789abcdef\n")
    token.chmod(0o640)
    path = config(
        tmp_path,
        0o644,  # holds no secret itself: no warning for it
        secret=f'secret_file = "{secret}"',
        admin=f'[admin]\ntoken_file = "{token}"',
    )
    assert check(path)[::2] == (
        0,
        [
            warning(secret, "target.secret", "its group and others", "0666"),
            f"warning: {token} holds a secret (admin.token) and is readable by its "
            f"group (mode 0640): chmod 600 '{token}'",
        ],
    )
    secret.chmod(0o600)
    token.chmod(0o400)
    assert check(path)[::2] == (0, [])


def test_an_inline_secret_overridden_from_the_environment_is_still_in_the_file(tmp_path):
    path = config(tmp_path, 0o644)
    env = {"BRIDGE_TARGET_SECRET": "from-the-environment-1234"}
    assert check(path, env)[::2] == (
        0,
        [warning(path, "target.secret", "its group and others", "0644")],
    )
