"""Notifications against real loopback receivers, driven by the audit trail.

Through the real CLI: a layout alarm met by ``sync --once`` reaches a webhook once per
episode, with its exact JSON and signature, and its end once; a receiver answering 500
is tried three times, logged without its key, and leaves the exit code alone. Through a
notifier pass on a real store: 企业微信 and 钉钉 robots (钉钉's signed URL checked), the
credentials-refused events, e-mail through a local SMTP server, reminders, lag.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from receivers import HttpReceiver, SmtpReceiver

from bridge import audit, config
from bridge.sandbox.site import relayout
from bridge.service.notify import run_pass
from bridge.state import audit_log
from bridge.state.db import open_database

AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
KEYS = {"event", "state", "source", "message", "at", "since"}


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


def sync(cli, config_path: Path):
    return cli("--config", str(config_path), "sync", "--once")


def signature(secret: str, req) -> str:
    ts = req.headers["X-Bridge-Timestamp"]
    mac = hmac.new(secret.encode(), ts.encode() + b"." + req.body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def test_a_layout_alarm_is_notified_once_per_episode_and_its_end_once(
    sandbox, write_config, cli, hook
):
    box = sandbox(items=12)
    notify = (
        f'\n[[notify]]\nkind = "webhook"\nurl = "{hook.url}/hook?token=k3y"\nsecret = "whsec-1"\n'
    )
    cfg = write_config(box, extra=notify)
    first = sync(cli, cfg)
    assert first.code == 0, first.both
    assert hook.requests == []  # nothing is wrong: nothing is said

    relayout(box.root)
    alarm = sync(cli, cfg)
    assert alarm.code == 1, alarm.both
    assert len(hook.requests) == 1, alarm.both
    req = hook.requests[0]
    assert req.path == "/hook?token=k3y"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["X-Bridge-Signature"] == signature("whsec-1", req)
    body = req.json()
    assert set(body) == KEYS
    assert (body["event"], body["state"], body["source"]) == ("layout_alarm", "opened", "yyedu")
    assert body["message"].startswith("【yyedu】网站版式告警：栏目页面无法解析。详情：")
    assert AT.match(body["at"]) and AT.match(body["since"]), body

    again = sync(cli, cfg)  # the same episode: no second message
    assert again.code == 1
    assert len(hook.requests) == 1

    relayout(box.root, "classic")
    fixed = sync(cli, cfg)
    assert fixed.code == 0, fixed.both
    assert len(hook.requests) == 2
    end = hook.requests[1].json()
    assert (end["event"], end["state"], end["source"]) == ("layout_alarm", "recovered", "yyedu")
    assert end["message"] == f"【yyedu】网站版式告警已解除（自 {body['since']} 起的告警已结束）"
    assert hook.requests[1].headers["X-Bridge-Signature"] == signature("whsec-1", hook.requests[1])
    for run in (first, alarm, again, fixed):
        assert "k3y" not in run.both and "whsec-1" not in run.both


def test_a_receiver_answering_500_is_retried_logged_and_never_fails_the_sync(
    sandbox, write_config, cli
):
    hook = HttpReceiver(status=500)
    try:
        box = sandbox(items=12)
        notify = f'\n[[notify]]\nkind = "webhook"\nurl = "{hook.url}/in?key=s3cr3t"\n'
        cfg = write_config(box, extra=notify)
        assert sync(cli, cfg).code == 0
        relayout(box.root)
        r = sync(cli, cfg)
        assert r.code == 1  # the layout alarm's own exit code, as without notifications
        assert len(hook.requests) == 3  # first try and two retries
        port = urlsplit(hook.url).port
        assert (
            r.err.count(
                f"notification to webhook notify[0] (http://127.0.0.1:{port}/in?***) failed "
                "(HTTP 500); trying again"
            )
            == 2
        ), r.err
        assert (
            f"notification layout_alarm (opened) to webhook notify[0] "
            f"(http://127.0.0.1:{port}/in?***) not sent after 3 attempt(s): HTTP 500"
        ) in r.err
        assert "s3cr3t" not in r.both

        hook.status = 200
        assert sync(cli, cfg).code == 1
        assert len(hook.requests) == 3  # an unsent notice waits before it is offered again

        settings = config.load(cfg)
        db = open_database(settings.state_url.reveal())
        try:
            later = datetime.now(UTC) + timedelta(seconds=301)
            result = run_pass(settings, db, now=later)
        finally:
            db.dispose()
        assert (result.sent, result.failed) == (1, 0)
        assert len(hook.requests) == 4
        assert hook.requests[3].json()["state"] == "opened"
    finally:
        hook.stop()


# --- passes on a real store ------------------------------------------------------------------


def store_config(tmp_path: Path, notify: str, state_url: str) -> config.Settings:
    path = tmp_path / "notify.toml"
    path.write_text(
        f"""
[bridge]
state_url = "{state_url}"
[[sources]]
name = "yyedu"
kind = "trs"
base_url = "http://127.0.0.1:9/"
publisher = "余姚市教育局"
org_code = "002949236"
  [[sources.columns]]
  key = "tzgg"
  path = "col/tzgg/"
  category = "业务工作"
[target]
url = "http://127.0.0.1:9/"
key = "k"
secret = "portal-secret"
{notify}
""",
        encoding="utf-8",
    )
    return config.load(path, environ={})


def append(db, event: str, *, source: str | None = None, **details: object) -> None:
    with db.write() as s:
        audit_log.append(s, event, actor=audit.DAEMON, source=source, details=details)


def test_wecom_and_dingtalk_robots_get_credentials_refused_and_its_end(tmp_path, state_url):
    robot = HttpReceiver(answer={"errcode": 0, "errmsg": "ok"})
    try:
        settings = store_config(
            tmp_path,
            f'[[notify]]\nkind = "wecom"\nurl = "{robot.url}/cgi-bin/webhook/send?key=WK"\n'
            f'[[notify]]\nkind = "dingtalk"\nurl = "{robot.url}/robot/send?access_token=DT"\n'
            'secret = "SECdd"\nevents = ["credentials_refused"]\n',
            state_url,
        )
        db = open_database(settings.state_url.reveal())
        try:
            assert run_pass(settings, db).sent == 0  # the first pass: nothing wrong
            append(db, audit.DELIVERY_FAILED, reason="credentials refused", error="HTTP 401")
            append(db, audit.LAYOUT_ALARM, source="yyedu", message="no list")
            assert run_pass(settings, db).sent == 3  # dingtalk chose credentials only
            append(db, "delivery.resumed", after="credentials refused")
            assert run_pass(settings, db).sent == 2
            assert run_pass(settings, db).sent == 0
        finally:
            db.dispose()
        wecom = [r for r in robot.requests if r.path.startswith("/cgi-bin/")]
        ding = [r for r in robot.requests if r.path.startswith("/robot/")]
        assert [r.path for r in wecom] == ["/cgi-bin/webhook/send?key=WK"] * 3
        texts = [r.json()["text"]["content"] for r in wecom]
        assert all(r.json()["msgtype"] == "text" for r in robot.requests)
        assert texts[0].startswith(
            "[政务公开同步]告警：【portal】门户拒绝了同步凭据（密钥或 key 错误）。详情：HTTP 401\n时间："
        )
        assert texts[1].startswith(
            "[政务公开同步]告警：【yyedu】网站版式告警：栏目页面无法解析。详情：no list\n"
        )
        assert texts[2].startswith("[政务公开同步]恢复：【portal】门户重新接受同步凭据（自 ")
        assert len(ding) == 2
        for r in ding:
            q = parse_qs(urlsplit(r.path).query)
            assert q["access_token"] == ["DT"]
            ts = q["timestamp"][0]
            mac = hmac.new(b"SECdd", f"{ts}\nSECdd".encode(), hashlib.sha256).digest()
            assert q["sign"] == [base64.b64encode(mac).decode()]
        assert "门户重新接受同步凭据" in ding[1].json()["text"]["content"]
    finally:
        robot.stop()


def test_a_robot_errcode_is_a_failure(tmp_path, state_url, caplog):
    robot = HttpReceiver(answer={"errcode": 310000, "errmsg": "sign not match"})
    try:
        settings = store_config(
            tmp_path, f'[[notify]]\nkind = "dingtalk"\nurl = "{robot.url}/r?access_token=DT"\n',
            state_url,
        )  # fmt: skip
        db = open_database(settings.state_url.reveal())
        try:
            run_pass(settings, db)
            append(db, audit.CIRCUIT_OPENED, target="portal", last_error="HTTP 502")
            result = run_pass(settings, db)
        finally:
            db.dispose()
        assert (result.sent, result.failed) == (0, 1)
        assert len(robot.requests) == 3
        assert "the robot answered errcode 310000: sign not match" in caplog.text
        assert "access_token=DT" not in caplog.text
    finally:
        robot.stop()


def test_email_in_chinese_through_smtp_with_reminders(tmp_path, state_url):
    smtp = SmtpReceiver()
    try:
        settings = store_config(
            tmp_path,
            f'[[notify]]\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
            'from = "bridge@bureau.example"\nto = ["ops@bureau.example", "it@bureau.example"]\n'
            'repeat = "1h"\n',
            state_url,
        )
        db = open_database(settings.state_url.reveal())
        now = datetime.now(UTC)
        try:
            run_pass(settings, db, now=now)
            append(db, audit.CIRCUIT_OPENED, target="portal", last_error="HTTP 502")
            assert run_pass(settings, db, now=now).sent == 1
            assert run_pass(settings, db, now=now + timedelta(minutes=59)).sent == 0
            assert run_pass(settings, db, now=now + timedelta(minutes=61)).sent == 1
            append(db, audit.CIRCUIT_CLOSED, target="portal")
            assert run_pass(settings, db, now=now + timedelta(minutes=62)).sent == 1
        finally:
            db.dispose()
        assert [m.recipients for m in smtp.messages] == [
            ["ops@bureau.example", "it@bureau.example"]
        ] * 3
        mails = [
            email.message_from_bytes(m.data, policy=email.policy.default) for m in smtp.messages
        ]
        since = mails[0].get_content().split("开始：")[1].split("\n")[0]
        assert AT.match(since)
        assert [m["Subject"] for m in mails] == [
            "[政务公开同步]告警：【portal】门户连续发送失败，已暂停发送（熔断）",
            f"[政务公开同步]提醒：【portal】门户连续发送失败，已暂停发送（熔断），自 {since} 起仍未解决",
            f"[政务公开同步]恢复：【portal】门户恢复，熔断已关闭（自 {since} 起的告警已结束）",
        ]
        assert mails[0]["From"] == "bridge@bureau.example"
        assert mails[0].get_content_charset() == "utf-8"
        assert (
            mails[0]
            .get_content()
            .startswith("【portal】门户连续发送失败，已暂停发送（熔断）。详情：HTTP 502\n")
        )
    finally:
        smtp.stop()
