"""Sending one notice to one channel: webhook, e-mail, 企业微信 or 钉钉 robot.

Each send raises ``SendFailed`` with a reason safe to log: never a secret, a robot key
or a URL's query (a library's own exception text may quote the URL, so it is not used).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote_plus

import requests

from bridge.config.notify import (
    DingtalkNotifyConfig,
    EmailNotifyConfig,
    NotifyConfig,
    WebhookNotifyConfig,
    WecomNotifyConfig,
)

SIGNATURE_HEADER = "X-Bridge-Signature"
TIMESTAMP_HEADER = "X-Bridge-Timestamp"
SUBJECT_PREFIX = "[政务公开同步]"


class SendFailed(Exception):
    """A notice was not accepted; the message is safe to log."""


@dataclass(frozen=True)
class Notice:
    event: str  # one of NOTIFY_EVENTS
    state: str  # opened | reminder | recovered
    source: str | None  # the source or target it concerns
    message: str  # Chinese, one paragraph
    at: str  # ISO 8601 with offset, Asia/Shanghai
    since: str  # when the episode began, likewise

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "state": self.state,
            "source": self.source,
            "message": self.message,
            "at": self.at,
            "since": self.since,
        }

    @property
    def word(self) -> str:
        return {"opened": "告警", "reminder": "提醒", "recovered": "恢复"}[self.state]

    @property
    def subject(self) -> str:
        return f"{SUBJECT_PREFIX}{self.word}：{self.message.split('。')[0][:80]}"

    @property
    def text(self) -> str:
        """The robots' text: one line to read in a chat, and when."""
        return f"{SUBJECT_PREFIX}{self.word}：{self.message}\n时间：{self.at}"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """钉钉's ``sign``: base64 HMAC-SHA256 of "timestamp\\nsecret" under the secret, URL-quoted."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode())


def send(channel: NotifyConfig, notice: Notice) -> None:
    if isinstance(channel, EmailNotifyConfig):
        _email(channel, notice)
    elif isinstance(channel, WebhookNotifyConfig):
        _webhook(channel, notice)
    elif isinstance(channel, WecomNotifyConfig | DingtalkNotifyConfig):
        _robot(channel, notice)
    else:
        raise TypeError(f"no sender for a {type(channel).__name__}")


def _post(channel: NotifyConfig, url: str, body: bytes, headers: dict[str, str]) -> Any:
    try:
        r = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
            timeout=channel.timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise SendFailed(f"no answer within {channel.timeout:g} s") from None
    except requests.ConnectionError:
        raise SendFailed("connection failed (refused, reset or unreachable)") from None
    except requests.RequestException as exc:
        raise SendFailed(type(exc).__name__) from None
    if not 200 <= r.status_code < 300:
        raise SendFailed(f"HTTP {r.status_code}")
    return r


def _webhook(channel: WebhookNotifyConfig, notice: Notice) -> None:
    body = json.dumps(notice.as_json(), ensure_ascii=False).encode()
    headers = {}
    if channel.secret is not None:
        ts = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: webhook_signature(channel.secret.reveal(), ts, body),
        }
    _post(channel, channel.url.reveal(), body, headers)


def _robot(channel: WecomNotifyConfig | DingtalkNotifyConfig, notice: Notice) -> None:
    """企业微信 and 钉钉 group robots take the same text message and answer errcode 0."""
    url = channel.url.reveal()
    if isinstance(channel, DingtalkNotifyConfig) and channel.secret is not None:
        ts = str(int(time.time() * 1000))
        sign = dingtalk_sign(channel.secret.reveal(), ts)
        url += f"{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"
    body = json.dumps({"msgtype": "text", "text": {"content": notice.text}}, ensure_ascii=False)
    r = _post(channel, url, body.encode(), {})
    try:
        answer = r.json()
    except ValueError:
        raise SendFailed("the robot's answer is not JSON") from None
    code = answer.get("errcode") if isinstance(answer, dict) else None
    if code != 0:
        # errmsg names the problem (a wrong sign, a keyword filter); it holds no key
        errmsg = str(answer.get("errmsg", ""))[:200] if isinstance(answer, dict) else ""
        raise SendFailed(f"the robot answered errcode {code}: {errmsg}")


def _email(channel: EmailNotifyConfig, notice: Notice) -> None:
    msg = EmailMessage()
    msg["Subject"] = notice.subject
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2] or None)
    msg.set_content(
        f"{notice.message}\n\n事件：{notice.event}\n开始：{notice.since}\n时间：{notice.at}\n"
    )
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=channel.timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if channel.username and channel.password is not None:
                smtp.login(channel.username, channel.password.reveal())
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError:
        raise SendFailed("the SMTP server refused the username or password") from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(f"the SMTP server answered {exc.smtp_code}") from None
    except smtplib.SMTPException as exc:
        raise SendFailed(f"SMTP: {type(exc).__name__}") from None
    except TimeoutError:
        raise SendFailed(f"no answer within {channel.timeout:g} s") from None
    except ssl.SSLError:
        raise SendFailed("STARTTLS failed (certificate or protocol)") from None
    except OSError as exc:
        raise SendFailed(f"connection failed: {exc.strerror or type(exc).__name__}") from None
