"""One class per ``[[notify]]`` kind: each reads its own keys, a key of another kind is
named as such, every problem of every table comes back at once with its place, and a
secret keeps the per-index name it came from (``BRIDGE_NOTIFY_<n>_URL``, the credential
``notify_<n>_url``) all the way to a real send."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from receivers import HttpReceiver
from test_notify_config import write

from bridge import config
from bridge.config.notify import (
    DingtalkNotifyConfig,
    EmailNotifyConfig,
    WebhookNotifyConfig,
    WecomNotifyConfig,
)
from bridge.errors import ConfigError
from bridge.service.notify.channels import Notice, send


def test_each_kind_is_its_own_class_with_only_its_keys(tmp_path):
    path = write(
        tmp_path,
        '[[notify]]\nkind = "webhook"\nurl = "https://h.example/in?key=K1"\nsecret = "S1"\n'
        '[[notify]]\nkind = "wecom"\nurl = "https://qy.example/send?key=K2"\n'
        '[[notify]]\nkind = "dingtalk"\nurl = "https://dt.example/robot?access_token=K3"\n'
        '[[notify]]\nkind = "email"\nsmtp_host = "mail.example"\nfrom = "a@example.cn"\n'
        'to = ["b@example.cn"]\n',
    )
    hook, wecom, ding, mail = config.load(path, environ={}).notify
    assert [type(c) for c in (hook, wecom, ding, mail)] == [
        WebhookNotifyConfig, WecomNotifyConfig, DingtalkNotifyConfig, EmailNotifyConfig
    ]  # fmt: skip
    assert hook.secret is not None and hook.secret.reveal() == "S1"
    assert ding.secret is None
    assert not hasattr(wecom, "secret") and not hasattr(mail, "url")
    assert (mail.smtp_port, mail.starttls, mail.username, mail.password) == (25, False, None, None)
    assert [c.label for c in (hook, wecom, ding, mail)] == [
        "webhook notify[0] (https://h.example/in?***)",
        "wecom notify[1] (https://qy.example/send?***)",
        "dingtalk notify[2] (https://dt.example/robot?***)",
        "email notify[3] (smtp://mail.example:25)",
    ]


def test_every_problem_of_every_table_at_once_and_keys_of_other_kinds_named(tmp_path):
    path = write(
        tmp_path,
        '[[notify]]\nkind = "email"\nurl = "https://h/x?key=SECRETKEY"\nsmtp_host = 3\n'
        'from = "a@b"\npassword_file = "/nonexistent/pw"\n'
        "[[notify]]\nrepeat = 0\n"
        '[[notify]]\nkind = "wecom"\nurl = ""\nsecret = "TOPSECRET"\nto = ["x@y"]\nbogus = 1\n'
        '[[notify]]\nkind = "dingtalk"\nurl = "mailto:x?key=SECRETKEY"\npassword = "PW"\n',
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    lines = [f"{p.where.removeprefix(f'{path}: ')}: {p.message}" for p in caught.value.problems]
    assert lines == [
        "notify[0].smtp_host: must be a string, not an integer 3",
        "notify[0].to: is required",
        "notify[0].password_file: cannot read secret file /nonexistent/pw: No such file or "
        "directory",
        'notify[0].url: only used with kind = "webhook", "wecom" or "dingtalk", not \'email\'',
        "notify[1].kind: is required",
        "notify[1].repeat: must be positive, not 0.0",
        "notify[2].url: must be a non-empty string",
        'notify[2].secret: only used with kind = "webhook" or "dingtalk", not \'wecom\'',
        "notify[2].to: only used with kind = \"email\", not 'wecom'",
        "notify[2].bogus: unknown key",
        "notify[3].url: must be an http:// or https:// URL (from notify[3].url)",
        "notify[3].password: only used with kind = \"email\", not 'dingtalk'",
    ]
    text = "\n".join(lines)
    assert "SECRETKEY" not in text and "TOPSECRET" not in text and 'PW"' not in text


def test_per_index_environment_and_credential_names_reach_a_real_send(tmp_path):
    hook = HttpReceiver()
    try:
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "notify_1_url").write_text(f"{hook.url}/from-credential?key=CK\n")
        path = write(
            tmp_path,
            '[[notify]]\nkind = "webhook"\nurl = "https://unused.example/"\n'
            '[[notify]]\nkind = "webhook"\nsecret = "inline-secret"\n'
            '[[notify]]\nkind = "email"\nsmtp_host = "m"\nfrom = "a@b"\nto = ["c@d"]\n'
            'username = "u"\n',
        )
        environ = {
            "BRIDGE_NOTIFY_0_URL": f"{hook.url}/from-env?key=EK",
            "BRIDGE_NOTIFY_0_SECRET": "env-secret",
            "BRIDGE_NOTIFY_2_PASSWORD": "env-password",
            "CREDENTIALS_DIRECTORY": str(creds),
        }
        s = config.load(path, environ=environ)
        shown = s.shown()["notify"]
        assert [(n["url"], n["secret"], n["password"]) for n in shown] == [
            ("*** (from environment variable BRIDGE_NOTIFY_0_URL)",
             "*** (from environment variable BRIDGE_NOTIFY_0_SECRET)", None),
            (f"*** (from file {creds / 'notify_1_url'})", "*** (from notify[1].secret)", None),
            (None, None, "*** (from environment variable BRIDGE_NOTIFY_2_PASSWORD)"),
        ]  # fmt: skip
        text = json.dumps(s.shown(), ensure_ascii=False)
        assert not any(k in text for k in ("EK", "CK", "env-secret", "inline-", "env-password"))

        notice = Notice("lag", "opened", "yyedu", "滞后", "2026-01-01T08:00:00+08:00",
                        "2026-01-01T07:00:00+08:00")  # fmt: skip
        send(s.notify[0], notice)
        send(s.notify[1], notice)
        first, second = hook.requests
        assert (first.path, second.path) == ("/from-env?key=EK", "/from-credential?key=CK")
        for req, key in ((first, "env-secret"), (second, "inline-secret")):
            ts = req.headers["X-Bridge-Timestamp"]
            mac = hmac.new(key.encode(), ts.encode() + b"." + req.body, hashlib.sha256)
            assert req.headers["X-Bridge-Signature"] == "sha256=" + mac.hexdigest()
    finally:
        hook.stop()


def test_an_index_names_its_own_table_only(tmp_path):
    """BRIDGE_NOTIFY_1_URL fills the second table, not the first: the first still needs one."""
    path = write(tmp_path, '[[notify]]\nkind = "wecom"\n[[notify]]\nkind = "wecom"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={"BRIDGE_NOTIFY_1_URL": "https://qy.example/x?key=K"})
    assert [(p.where.rsplit(": ", 1)[1], p.message) for p in caught.value.problems] == [
        ("notify[0].url", "is required: set BRIDGE_NOTIFY_0_URL, url_file, the systemd "
         "credential 'notify_0_url', or url"),
    ]  # fmt: skip
