"""The ``[[notify]]`` tables: read with their defaults, every problem with its place,
secrets and robot keys never shown; lag and state-ended episodes on a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receivers import HttpReceiver

from bridge import audit, config
from bridge.errors import ConfigError
from bridge.service.notify import run_pass
from bridge.state import audit_log
from bridge.state.db import open_database
from bridge.state.models import RunRow

BASE = """
[bridge]
state_url = "sqlite:///{state}"
[[sources]]
name = "yyedu"
kind = "trs"
base_url = "http://127.0.0.1:9/"
publisher = "余姚市教育局"
org_code = "002949236"
interval = "10m"
  [[sources.columns]]
  key = "tzgg"
  path = "col/tzgg/"
  category = "业务工作"
[target]
url = "http://127.0.0.1:9/"
key = "k"
secret = "portal-secret"
"""


def write(tmp_path: Path, notify: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(BASE.format(state=tmp_path / "state.db") + notify, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_notify_tables_are_read_with_their_defaults(tmp_path):
    path = write(
        tmp_path,
        '[[notify]]\nkind = "wecom"\nurl = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WKEY"\n'
        '[[notify]]\nkind = "email"\nsmtp_host = "mail.bureau.example"\nsmtp_port = 587\n'
        'starttls = true\nfrom = "bridge@bureau.example"\nto = ["ops@bureau.example"]\n'
        'username = "bridge"\npassword_file = "{pw}"\nevents = ["lag", "layout_alarm"]\n'
        'repeat = "2h"\n'.replace("{pw}", str(tmp_path / "smtp.pw")),
    )
    (tmp_path / "smtp.pw").write_text("MAILPW\n", encoding="utf-8")
    s = config.load(path, environ={})
    wecom, mail = s.notify
    assert (wecom.kind, wecom.repeat, wecom.events) == ("wecom", 21600.0, config.NOTIFY_EVENTS)
    assert wecom.endpoint == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?***"
    assert (mail.smtp_host, mail.smtp_port, mail.starttls, mail.sender, mail.to) == (
        "mail.bureau.example", 587, True, "bridge@bureau.example", ("ops@bureau.example",)
    )  # fmt: skip
    assert mail.password is not None and mail.password.reveal() == "MAILPW"
    assert (mail.events, mail.repeat) == (("lag", "layout_alarm"), 7200.0)
    shown = json.dumps(s.shown(), ensure_ascii=False)
    assert "WKEY" not in shown and "MAILPW" not in shown
    assert s.shown()["notify"][0]["url"] == "*** (from notify[0].url)"


def test_every_notify_problem_is_reported_with_its_place(tmp_path):
    path = write(
        tmp_path,
        '[[notify]]\nkind = "pager"\n'
        '[[notify]]\nkind = "webhook"\nurl = "ftp://host/x?key=SECRETKEY"\nevents = ["lagg"]\n'
        '[[notify]]\nkind = "email"\nfrom = "nobody"\nto = []\nusername = "u"\nsmtp_port = 0\n'
        '[[notify]]\nkind = "wecom"\nurl = "https://h/x"\nsecret = "s"\nrepeat = "soon"\n',
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    lines = [f"{p.where}: {p.message}" for p in caught.value.problems]
    where = str(path)
    assert lines == [
        f"{where}: notify[0].kind: must be one of webhook, email, wecom, dingtalk, not 'pager'",
        f"{where}: notify[1].events: unknown event 'lagg' (known: credentials_refused, "
        "circuit_open, dead_letter, layout_alarm, quarantine, lag, daemon_failed)",
        f"{where}: notify[1].url: must be an http:// or https:// URL (from notify[1].url)",
        f"{where}: notify[2].smtp_host: is required",
        f"{where}: notify[2].smtp_port: must be a port number",
        f"{where}: notify[2].from: must be an e-mail address, not 'nobody'",
        f"{where}: notify[2].to: must name at least one address",
        f"{where}: notify[2].username: username and password go together",
        f"{where}: notify[3].repeat: must be a duration such as 30s, 10m, 2h or a number of "
        "seconds, not 'soon'",
        # a key of another kind is named as such (it was "unknown key")
        f'{where}: notify[3].secret: only used with kind = "webhook" or "dingtalk", not \'wecom\'',
    ]
    assert "SECRETKEY" not in "\n".join(lines)


def test_config_show_hides_keys_and_passwords(tmp_path, cli):
    path = write(
        tmp_path,
        '[[notify]]\nkind = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?access_token=DTOKEN"\n'
        'secret = "SECding"\n',
    )
    r = cli("--config", str(path), "config", "show")
    assert r.code == 0, r.both
    shown = json.loads(r.out)["notify"][0]
    assert shown["endpoint"] == "https://oapi.dingtalk.com/robot/send?***"
    assert shown["secret"] == "*** (from notify[0].secret)"
    assert "DTOKEN" not in r.out and "SECding" not in r.out


def test_lag_opens_and_ends_with_the_runs(tmp_path):
    hook = HttpReceiver()
    try:
        s = config.load(write(tmp_path, f'[[notify]]\nkind = "webhook"\nurl = "{hook.url}/"\n'))
        db = open_database(s.state_url.reveal())
        now = datetime.now(UTC)
        try:
            with db.write() as ses:
                ses.add(RunRow(kind="sync", source="yyedu", actor="t", status="ok",
                               started_at=now, finished_at=now))  # fmt: skip
            assert run_pass(s, db, now=now).sent == 0
            # 3 intervals of 10 min without a successful run
            assert run_pass(s, db, now=now + timedelta(minutes=31)).sent == 1
            assert run_pass(s, db, now=now + timedelta(minutes=40)).sent == 0
            with db.write() as ses:
                later = now + timedelta(minutes=41)
                ses.add(RunRow(kind="sync", source="yyedu", actor="t", status="ok",
                               started_at=later, finished_at=later))  # fmt: skip
            assert run_pass(s, db, now=now + timedelta(minutes=42)).sent == 1
        finally:
            db.dispose()
        lag, back = (r.json() for r in hook.requests)
        assert (lag["event"], lag["state"], lag["source"]) == ("lag", "opened", "yyedu")
        assert lag["message"].startswith(
            "【yyedu】同步滞后：长时间没有成功的同步。详情：最近一次成功同步："
        )
        assert (back["event"], back["state"]) == ("lag", "recovered")
    finally:
        hook.stop()


def test_dead_letters_end_when_none_is_left(tmp_path):
    hook = HttpReceiver()
    try:
        s = config.load(write(tmp_path, f'[[notify]]\nkind = "webhook"\nurl = "{hook.url}/"\n'))
        db = open_database(s.state_url.reveal())
        try:
            run_pass(s, db)
            with db.write() as ses:
                audit_log.append(ses, audit.DELIVERY_DEAD, actor="t", source="yyedu",
                                 item="yyedu:1", details={"error": "HTTP 422"})  # fmt: skip
            # no dead delivery row is in the outbox: the episode opens and ends in one pass
            assert run_pass(s, db).sent == 2
        finally:
            db.dispose()
        assert [(r.json()["event"], r.json()["state"]) for r in hook.requests] == [
            ("dead_letter", "opened"), ("dead_letter", "recovered")
        ]  # fmt: skip
        assert hook.requests[0].json()["message"] == (
            "【portal】有记录多次发送失败，已转入死信。详情：yyedu:1 HTTP 422"
        )
    finally:
        hook.stop()


def test_config_check_warns_of_a_readable_file_with_a_robot_key(tmp_path, cli):
    path = write(
        tmp_path, '[[notify]]\nkind = "wecom"\nurl = "https://qyapi.weixin.qq.com/x?key=WKEY"\n'
    )
    path.chmod(0o644)
    r = cli("--config", str(path), "config", "check")
    assert r.code == 0, r.both
    assert (
        f"{path} holds a secret (target.secret, notify[0].url) and is readable by its group "
        f"and others (mode 0644): chmod 600 {path}"
    ) in r.both
    assert "WKEY" not in r.both
