"""Issue 19, finding 7: the password of a state or exchange-db URL shows nowhere, however it
is written (a ``#`` in it, percent-encoded ``@ / ?``, ``?password=`` in the query), and a
URL SQLAlchemy cannot read is one line and exit 2, never a traceback.

Every command runs as an operator runs it (a subprocess, logs at DEBUG on stderr) against
a PostgreSQL URL on a loopback port nobody listens on: a real "connection refused".
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import config_text, run_bridge

from bridge.config.dburl import redact_url, scrub
from bridge.errors import Retriable
from bridge.targets.exchange_db import ExchangeDbTarget

GOOD = """
[bridge]
state_url = "{url}"

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
secret = "portal-secret-never-shown-8d2f"
"""


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD.format(url=url), encoding="utf-8")
    path.chmod(0o600)  # no permission warning in the way of exact output
    return path


# (the URL as written, the redacted form, the secret texts that must show nowhere)
CASES = {
    "hash": ("postgresql://bridge:p#ss@127.0.0.1:{port}/bridge", "bridge:***@", ["p#ss"]),
    "encoded": (
        "postgresql://bridge:p%40ss%2Fw%3Frd@127.0.0.1:{port}/bridge",
        "bridge:***@",
        ["p@ss/w?rd", "p%40ss%2Fw%3Frd", "w?rd", "w%3Frd"],
    ),
    "query": ("postgresql://bridge@127.0.0.1:{port}/bridge?password=s3cret", "bridge@", ["s3cret"]),
    "sslpassword": (
        "postgresql://bridge:p#ss@127.0.0.1:{port}/bridge?sslpassword=k3y-pass&sslmode=prefer",
        "bridge:***@",
        ["p#ss", "k3y-pass"],
    ),
}


def redacted(case: str, port: int) -> str:
    shown = {
        "hash": "postgresql://bridge:***@127.0.0.1:{port}/bridge",
        "encoded": "postgresql://bridge:***@127.0.0.1:{port}/bridge",
        "query": "postgresql://bridge@127.0.0.1:{port}/bridge?password=***",
        "sslpassword": "postgresql://bridge:***@127.0.0.1:{port}/bridge?sslmode=prefer&sslpassword=***",
    }
    return shown[case].format(port=port)


@pytest.mark.parametrize("case", list(CASES))
def test_state_url_password_shows_nowhere(tmp_path, case):
    port = closed_port()
    template, _, secrets = CASES[case]
    config = write(tmp_path, template.format(port=port))
    base = ("--log-level", "DEBUG", "--config", str(config))

    show = run_bridge(*base, "config", "show")
    check = run_bridge(*base, "config", "check")
    status = run_bridge(*base, "status")
    upgrade = run_bridge(*base, "db", "upgrade")

    assert show.code == 0, show.err
    assert json.loads(show.out)["state_url"] == redacted(case, port)
    assert (check.code, check.out, check.err) == (
        0,
        f"{config}: OK; sources: yyedu (trs, 1 columns); target: portal (http)\n",
        "",
    )
    for result in (status, upgrade):
        assert result.code == 2, result.both
        assert result.out == ""
        line = result.err.splitlines()[-1]
        assert line.startswith(f"bridge: cannot open state database {redacted(case, port)}: ")
        assert "Connection refused" in line
        assert "Traceback" not in result.err
    for result in (show, check, status, upgrade):
        for secret in secrets:
            assert secret not in result.both, (secret, result.both)


BAD = {
    # a raw '@' in the password: SQLAlchemy would cut it at the '@' and read the rest as
    # host, database and query; refused, and nothing of it echoed
    "raw @ / ?": (
        "postgresql://bridge:p@ss/w?rd@127.0.0.1:5432/bridge",
        "holds an '@' besides the one before the host: percent-encode @ / ? # : in a user "
        "name or password (%40 %2F %3F %23 %3A), e.g. postgresql://bridge:p%40ss@db.example/bridge",
        ["p@ss", "w?rd", "ss/w"],
    ),
    "port": (
        "postgresql://bridge:pw-9x7q@db.example:abc/bridge",
        "is not a valid database URL: its port must be a number (e.g. host:5432)",
        ["pw-9x7q", "abc"],
    ),
    "garbage": (
        "pw-9x7q at the database",
        "is not a database URL (e.g. sqlite:///state/bridge.db or postgresql://…)",
        ["pw-9x7q"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_state_url_is_one_line_and_exit_2(tmp_path, case):
    url, message, secrets = BAD[case]
    config = write(tmp_path, url)
    check = run_bridge("--config", str(config), "config", "check")
    assert (check.code, check.out, check.err.splitlines()) == (
        2,
        "",
        ["1 problem(s) in the configuration:", f"  {config}: bridge.state_url: {message}"],
    )
    for command in (("config", "show"), ("status",), ("sync", "--once")):
        result = run_bridge("--config", str(config), *command)
        assert (result.code, result.out, result.err.splitlines()) == (
            2,
            "",
            ["bridge: configuration problems:", f"  {config}: bridge.state_url: {message}"],
        ), command
    # the same URL from the environment
    env = run_bridge("--config", str(config), "status", env={"BRIDGE_STATE_URL": url})
    assert env.code == 2 and f"bridge.state_url: {message}" in env.err
    for result in (check, env):
        for secret in secrets:
            assert secret not in result.both


def test_exchange_db_url_password_shows_nowhere(tmp_path, sandbox):
    box = sandbox(items=3)
    port = closed_port()
    db_url = f"postgresql://bridge:p#ss@127.0.0.1:{port}/exchange?sslpassword=k3y-pass"
    text = config_text(tmp_path / "state.db", box.site_url, box.portal_url)
    head, _, tail = text.partition("[target]")
    tail = tail.split("[delivery]", 1)[1]
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'{head}[target]\nkind = "exchange-db"\ndb_url = "{db_url}"\n[delivery]{tail}',
        encoding="utf-8",
    )
    shown = run_bridge("--config", str(config), "config", "show")
    sync = run_bridge("--config", str(config), "--log-level", "DEBUG", "sync", "--once")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["target"]["db_url"] == (
        f"postgresql://bridge:***@127.0.0.1:{port}/exchange?sslpassword=***"
    )
    # the exchange database is down: deliveries wait in the outbox, the run says so (exit 1)
    assert sync.code == 1, sync.both
    assert f"exchange database postgresql://bridge:***@127.0.0.1:{port}/exchange" in sync.err
    for secret in ("p#ss", "k3y-pass"):
        assert secret not in shown.both + sync.both

    bad = config.read_text().replace(f"127.0.0.1:{port}", "127.0.0.1:abc")
    config.write_text(bad, encoding="utf-8")
    check = run_bridge("--config", str(config), "config", "check")
    assert (check.code, check.out, check.err.splitlines()) == (
        2,
        "",
        [
            "1 problem(s) in the configuration:",
            f"  {config}: target.db_url: is not a valid database URL: its port must be a "
            "number (e.g. host:5432) (from target.db_url)",
        ],
    )
    assert "p#ss" not in check.both and "k3y-pass" not in check.both


def test_exchange_db_target_refused_connection_message(tmp_path):
    port = closed_port()
    url = f"postgresql+psycopg://bridge:p%23ss@127.0.0.1:{port}/x?password=s3cret"
    target = ExchangeDbTarget("中间库", url)
    with pytest.raises(Retriable) as exc:
        target.get("yyedu:1")
    message = str(exc.value)
    assert message.startswith(
        f"prepare exchange table gov_disclosure_exchange: exchange database "
        f"postgresql+psycopg://bridge:***@127.0.0.1:{port}/x?password=*** unavailable: "
    )
    assert "p#ss" not in message and "p%23ss" not in message and "s3cret" not in message
    assert "s3cret" not in repr(target)


def test_scrub_hides_every_form_of_every_secret():
    url = "postgresql://u:p%40ss%2Fw%3Frd@h/db?sslpassword=k%20ey&api_token=tok1"
    text = 'dsn "password=p@ss/w?rd sslpassword=k ey" p%40ss%2Fw%3Frd k+ey api_token=tok1'
    assert scrub(text, url) == 'dsn "password=*** sslpassword=***" *** *** api_token=***'
    assert redact_url(url) == "postgresql://u:***@h/db?api_token=***&sslpassword=***"
    assert redact_url("not a url p4ss") == "<database URL that cannot be parsed>"
    assert redact_url("postgresql://u:p@ss@h:x/db") == "postgresql://***"
