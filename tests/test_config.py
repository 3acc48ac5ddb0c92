"""Configuration: every problem at once, overrides, secrets from every place, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge import config
from bridge.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-value-that-must-never-show-1234"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = f"""
[bridge]
state_url = "sqlite:///state/x.db"

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
secret = "{SECRET}"
"""


def test_shipped_configs_are_valid(monkeypatch):
    monkeypatch.delenv("BRIDGE_TARGET_SECRET", raising=False)
    sandbox = config.load(REPO / "config" / "sandbox.toml", environ={})
    assert [c.key for c in sandbox.sources[0].columns] == [
        "jgzn",
        "zcwj",
        "ghjh",
        "ywgz",
        "tjsj",
        "qt",
    ]
    assert sandbox.target.url == "http://127.0.0.1:8802/"
    # the example reads its secret from a file that only exists on a real server
    with pytest.raises(ConfigError) as exc:
        config.load(REPO / "config" / "bridge.example.toml", environ={})
    assert [str(p) for p in exc.value.problems] == [
        f"{REPO / 'config' / 'bridge.example.toml'}: target.secret_file: cannot read secret file "
        "/etc/bridge/portal.secret: No such file or directory"
    ]
    example = config.load(
        REPO / "config" / "bridge.example.toml", environ={"BRIDGE_TARGET_SECRET": SECRET}
    )
    assert example.sources[0].org_code == "002949236"


def test_three_mistakes_are_reported_together(tmp_path, cli):
    text = (
        GOOD.replace('org_code = "002949236"', 'org_code = "002949237"')
        .replace('category = "政策文件"', 'category = "政策"')
        .replace("[target]", '[target]\ntimeout = "soon"')
    )
    path = write(tmp_path, text)
    result = cli("--config", str(path), "config", "check")
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        "3 problem(s) in the configuration:",
        f"  {path}: sources[0].columns[0].category: must be one of 机构职能, 政策文件, 规划计划, 业务工作, 统计数据, 其他, mixed, not '政策'",
        f"  {path}: sources[0].org_code: check character is '7', expected '6'",
        f"  {path}: target.timeout: must be a duration such as 30s, 10m, 2h or a number of seconds, not 'soon'",
    ]
    assert SECRET not in result.both


@pytest.mark.parametrize(
    ("org_code", "problem"),
    [
        ("11330281002949236M", None),  # 统一社会信用代码 (GB 32100) of a 机关 in 余姚
        ("91350100M000100Y43", None),
        ("11330281002949236Y", "check character is 'Y', expected 'M'"),
        ("11330100MB1234567X", "check character is 'X', expected 'E'"),
        (
            "11330281O02949236M",
            "an 18-character 统一社会信用代码 is 2 letters or digits, 6 digits and 10 letters or "
            "digits, without I, O, S, V or Z (e.g. 11330281002949236M)",
        ),
        (
            "1133028100294923",
            "must be a 9-character 组织机构代码 (8 digits or capital letters and a check "
            "character, e.g. 002949236) or an 18-character 统一社会信用代码",
        ),
    ],
)
def test_org_code_of_9_or_18_characters_with_its_check_character(tmp_path, cli, org_code, problem):
    path = write(tmp_path, GOOD.replace('org_code = "002949236"', f'org_code = "{org_code}"'))
    result = cli("--config", str(path), "config", "check")
    if problem is None:
        assert result.code == 0, result.both
    else:
        assert result.code == 2
        assert result.err.splitlines()[1:] == [f"  {path}: sources[0].org_code: {problem}"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("files.yyedu.gov.cn", None),
        ("files.yyedu.gov.cn:8080", None),
        (
            "http://files.yyedu.gov.cn",
            "'http://files.yyedu.gov.cn' is not a host name or host:port (no scheme, path or "
            "user name)",
        ),
        (
            "a@files.yyedu.gov.cn",
            "'a@files.yyedu.gov.cn' is not a host name or host:port (no scheme, path or user name)",
        ),
        ("files:70000", "'files:70000': port 70000 is out of range"),
    ],
)
def test_allowed_hosts_name_hosts_and_ports_only(tmp_path, cli, entry, problem):
    path = write(
        tmp_path,
        GOOD.replace(
            'org_code = "002949236"', f'org_code = "002949236"\nallowed_hosts = ["{entry}"]'
        ),
    )
    result = cli("--config", str(path), "config", "check")
    if problem is None:
        assert result.code == 0, result.both
    else:
        assert result.code == 2
        assert result.err.splitlines()[1:] == [f"  {path}: sources[0].allowed_hosts: {problem}"]


def test_types_unknown_keys_and_missing_keys(tmp_path):
    text = GOOD.replace('name = "yyedu"', 'name = "yyedu"\nintervall = "5m"\nrate = 3').replace(
        'key = "bridge-sandbox"', ""
    )
    text = text.replace("[bridge]", "[bridge]\nlog_level = 3")
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text), environ={})
    shown = [f"{p.where.split(': ', 1)[1]}: {p.message}" for p in exc.value.problems]
    assert shown == [
        "bridge.log_level: must be a string, not an integer 3",
        "sources[0].intervall: unknown key",
        "sources[0].rate: unknown key",
        "target.key: is required",
    ]


def test_state_urls_that_cannot_hold_state_are_refused(tmp_path):
    problems = {}
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=memory", "no url"):
        text = GOOD.replace('state_url = "sqlite:///state/x.db"', f'state_url = "{url}"')
        with pytest.raises(ConfigError) as exc:
            config.load(write(tmp_path, text), environ={})
        problems[url] = [p.where.split(": ", 1)[1] + ": " + p.message for p in exc.value.problems]
    memory = (
        "bridge.state_url: is an in-memory SQLite database, which forgets everything when "
        "the process ends: give a file, e.g. sqlite:///state/bridge.db"
    )
    assert problems == {
        "sqlite://": [memory],
        "sqlite:///:memory:": [memory],
        "sqlite:///x.db?mode=memory": [memory],
        "no url": [
            "bridge.state_url: is not a database URL "
            "(e.g. sqlite:///state/bridge.db or postgresql://…)"
        ],
    }


def test_delivery_process_is_auto_unless_switched(tmp_path):
    assert config.load(write(tmp_path, GOOD), environ={}).delivery.process == "auto"
    on = config.load(write(tmp_path, GOOD + "\n[delivery]\nprocess = true\n"), environ={})
    assert on.delivery.process is True
    off = config.load(write(tmp_path, GOOD + "\n[delivery]\nprocess = false\n"), environ={})
    assert off.delivery.process is False
    env = config.load(write(tmp_path, GOOD), environ={"BRIDGE_DELIVERY_PROCESS": "true"})
    assert env.delivery.process is True
    env = config.load(write(tmp_path, GOOD), environ={"BRIDGE_DELIVERY_PROCESS": "auto"})
    assert env.delivery.process == "auto"
    for bad, message in [
        ('"yes"', "must be true, false or \"auto\", not 'yes'"),
        ("1", 'must be true, false or "auto", not 1'),
        ("[true]", 'must be true, false or "auto", not [True]'),
    ]:
        with pytest.raises(ConfigError) as exc:
            config.load(write(tmp_path, GOOD + f"\n[delivery]\nprocess = {bad}\n"), environ={})
        assert [p.message for p in exc.value.problems] == [message]


def test_bad_toml_names_file_and_line(tmp_path, cli):
    path = write(tmp_path, "[bridge\nstate_url = 1\n")
    result = cli("--config", str(path), "config", "check")
    assert result.code == 2
    assert (
        f"{path}: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)"
        in result.err
    )


def test_missing_default_config_says_how_to_start(tmp_path, cli):
    result = cli("config", "check", cwd=tmp_path)
    assert result.code == 2
    assert (
        "config/bridge.toml: no such file (copy config/bridge.example.toml to start)" in result.err
    )


def test_environment_overrides(tmp_path):
    path = write(tmp_path, GOOD)
    settings = config.load(path, environ={
        "BRIDGE_STATE_URL": "sqlite:////tmp/other.db",
        "BRIDGE_DELIVERY_MAX_ATTEMPTS": "12",
        "BRIDGE_TARGET_TIMEOUT": "2m",
    })  # fmt: skip
    assert settings.state_url.reveal() == "sqlite:////tmp/other.db"
    assert settings.delivery.max_attempts == 12
    assert settings.target.timeout == 120.0


@pytest.mark.parametrize("where", ["env", "file", "credentials", "inline"])
def test_secret_sources_in_order(tmp_path, where):
    text = GOOD.replace(f'secret = "{SECRET}"', "")
    env: dict[str, str] = {}
    if where == "env":
        env["BRIDGE_TARGET_SECRET"] = "from-env"
        text = text.replace("[target]", '[target]\nsecret = "from-inline"')
    elif where == "file":
        (tmp_path / "s").write_text("from-file\n")
        text = text.replace(
            "[target]", f'[target]\nsecret_file = "{tmp_path / "s"}"\nsecret = "from-inline"'
        )
    elif where == "credentials":
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "target_secret").write_text("from-credentials")
        env["CREDENTIALS_DIRECTORY"] = str(creds)
        text = text.replace("[target]", '[target]\nsecret = "from-inline"')
    else:
        text = text.replace("[target]", '[target]\nsecret = "from-inline"')
    settings = config.load(write(tmp_path, text), environ=env)
    assert settings.target.secret is not None
    assert settings.target.secret.reveal() == f"from-{where}"
    assert "from-" not in repr(settings.target) + str(settings.target.secret)


def test_config_show_redacts_every_secret(tmp_path, cli):
    text = GOOD.replace(
        'state_url = "sqlite:///state/x.db"',
        'state_url = "postgresql://bridge:pgpass999@db/bridge"',
    )
    path = write(tmp_path, text)
    result = cli("--config", str(path), "config", "show")
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert shown["state_url"] == "postgresql://bridge:***@db/bridge"
    assert shown["target"]["secret"] == f"*** (from {path.name and 'target.secret'})"
    assert SECRET not in result.both
    assert "pgpass999" not in result.both


def test_help_never_shows_a_secret(tmp_path, cli):
    path = write(tmp_path, GOOD)
    for args in (["--help"], ["sync", "--help"], ["config", "show", "--help"]):
        result = cli("--config", str(path), *args, env={"BRIDGE_TARGET_SECRET": SECRET})
        assert result.code == 0
        assert SECRET not in result.both
