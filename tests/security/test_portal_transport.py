"""Issue 19, finding 15: on plain http, whoever sits between the bridge and the portal can
rename or retype an upload, because Portal API v1 signs the method, path, time, nonce and
body, not ``X-File-Name``, ``X-File-Sha256`` or ``Content-Type``.

The man in the middle is a real loopback server that relays to the sandbox portal and
rewrites the two headers: an attachment sent as ``校舍安全检查表.pdf`` (application/pdf)
is served by the portal as ``缴费通知.html`` in ``text/html``, the signature accepted.
On loopback there is no one in the middle, so the attack is shown there (it passes before
and after the fix: the headers are still unsigned, by design of the API). What the fix
changes is that plain http off loopback is refused before a request is sent, unless
``allow_insecure_http = true``: those tests failed before the fix.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import ClassVar
from urllib.parse import quote, urlsplit

import pytest
from conftest import config_text

from bridge.errors import ConfigError
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.targets.http import HttpTarget

PDF = b"%PDF-1.4\n% test attachment\n%%EOF\n"
SHA = hashlib.sha256(PDF).hexdigest()
FORGED_NAME = "缴费通知.html"
FORGED_TYPE = "text/html; charset=utf-8"
RISK = (
    "the upload's name and type headers (X-File-Name, X-File-Sha256, Content-Type) are "
    "outside the request signature, so anyone on the network path can rename or retype an upload"
)


class RenamingRelay(BaseHTTPRequestHandler):
    """A man in the middle: relays every request to the portal (as a reverse proxy, or as
    the forward proxy the environment names), rewriting an upload's name and type."""

    portal: ClassVar[tuple[str, int]] = ("127.0.0.1", 0)
    seen: ClassVar[list[tuple[str, str]]] = []

    def _relay(self) -> None:
        RenamingRelay.seen.append((self.command, self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)  # a forward proxy is asked for the whole URL
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        skip = {"host", "connection", "proxy-connection", "proxy-authorization"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        if self.command == "POST" and path == "/api/v1/files":
            headers["X-File-Name"] = quote(FORGED_NAME, safe="")
            headers["Content-Type"] = FORGED_TYPE
        conn = http.client.HTTPConnection(*self.portal, timeout=10)
        try:
            conn.request(self.command, path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _relay

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[PortalServer]:
    server = PortalServer(tmp_path / "portal.db")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def relay(portal: PortalServer) -> Iterator[str]:
    """The man in the middle's address, host:port, on loopback."""
    host, port = urlsplit(portal.base_url).hostname, urlsplit(portal.base_url).port
    assert host and port
    RenamingRelay.portal, RenamingRelay.seen = (host, port), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RenamingRelay)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def through_relay(relay: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment's http proxy is the man in the middle (an intercepting proxy)."""
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://{relay}")
    return relay


def _served(portal: PortalServer, file_id: str) -> tuple[str, str]:
    """How the public portal serves a file: (Content-Type, Content-Disposition)."""
    with urllib.request.urlopen(f"{portal.base_url}files/{file_id}", timeout=10) as r:  # noqa: S310
        assert r.read() == PDF
        return r.headers["Content-Type"], r.headers["Content-Disposition"]


FORGED = (FORGED_TYPE, f"attachment; filename=\"____.html\"; filename*=UTF-8''{quote(FORGED_NAME)}")


def test_on_plain_http_a_man_in_the_middle_renames_and_retypes_an_upload(portal, relay):
    """The attack itself, on loopback (allowed: nothing is in between in real life)."""
    target = HttpTarget("portal", f"http://{relay}/", SANDBOX_KEY, SANDBOX_SECRET, timeout=10)
    try:
        file_id = target.upload("校舍安全检查表.pdf", PDF, SHA, "application/pdf")
    finally:
        target.close()
    assert RenamingRelay.seen == [("POST", "/api/v1/files")]
    assert _served(portal, file_id) == FORGED  # the signature was accepted all the same


def test_without_the_man_in_the_middle_the_upload_keeps_its_name(portal):
    target = HttpTarget("portal", portal.base_url, SANDBOX_KEY, SANDBOX_SECRET, timeout=10)
    try:
        file_id = target.upload("校舍安全检查表.pdf", PDF, SHA, "application/pdf")
    finally:
        target.close()
    assert _served(portal, file_id) == (
        "application/pdf",
        f"attachment; filename=\"_______.pdf\"; filename*=UTF-8''{quote('校舍安全检查表.pdf')}",
    )


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("http://portal.intranet.example/", "portal.intranet.example, which is not loopback"),
        ("http://10.20.30.40:8802/", "10.20.30.40, which is not loopback"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1], which is not loopback"),
        ("http://127.0.0.1/", "127.0.0.1 through the http proxy the environment names"),
    ],
)
def test_plain_http_off_loopback_is_refused_before_anything_is_sent(through_relay, url, where):
    """Failed before the fix: the target was built and the upload went through the relay."""
    with pytest.raises(ConfigError) as caught:
        HttpTarget("portal", url, SANDBOX_KEY, SANDBOX_SECRET, timeout=10)
    assert str(caught.value) == (
        f"target 'portal': plain http to {where} refused: {RISK}; use https, or set "
        "allow_insecure_http = true on a trusted network"
    )
    assert RenamingRelay.seen == []


def test_allow_insecure_http_takes_the_risk_and_says_so(portal, through_relay, caplog):
    """With the operator's word the request goes, through whatever is in between."""
    caplog.set_level(logging.WARNING, "bridge.targets.http")
    target = HttpTarget(
        "portal",
        "http://portal.intranet.example/",
        SANDBOX_KEY,
        SANDBOX_SECRET,
        timeout=10,
        allow_insecure_http=True,
    )
    try:
        file_id = target.upload("校舍安全检查表.pdf", PDF, SHA, "application/pdf")
    finally:
        target.close()
    assert [r.getMessage() for r in caplog.records] == [
        "target portal: plain http to portal.intranet.example, which is not loopback "
        f"(allow_insecure_http): {RISK}"
    ]
    assert RenamingRelay.seen == [("POST", "http://portal.intranet.example/api/v1/files")]
    assert _served(portal, file_id) == FORGED


def _config(tmp_path: Path, portal_url: str, extra: str = "") -> Path:
    text = config_text(tmp_path / "state.db", "http://127.0.0.1:9/", portal_url)
    path = tmp_path / "bridge.toml"
    path.write_text(text.replace('[target]\nkind = "http"', f'[target]\nkind = "http"{extra}'))
    path.chmod(0o600)  # it holds the secret: a readable one is another warning
    return path


def test_config_check_refuses_plain_http_off_loopback(tmp_path: Path, cli: Callable) -> None:
    """Failed before the fix: exit 0, "OK"."""
    path = _config(tmp_path, "http://portal.intranet.example:8802/")
    result = cli("--config", str(path), "config", "check")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "1 problem(s) in the configuration:\n"
        f"  {path}: target.url: plain http to portal.intranet.example, which is not loopback: "
        f"{RISK}; use https, or set allow_insecure_http = true on a trusted network\n"
    )


def test_config_check_warns_when_it_is_allowed(tmp_path: Path, cli: Callable) -> None:
    """Failed before the fix: no warning."""
    path = _config(tmp_path, "http://portal.intranet.example:8802/", "\nallow_insecure_http = true")
    result = cli("--config", str(path), "config", "check")
    assert result.code == 0
    assert result.out == f"{path}: OK; sources: yyedu (trs, 6 columns); target: portal (http)\n"
    assert result.err == (
        f"warning: {path}: target.url: plain http to portal.intranet.example, which is not "
        f"loopback, allowed by allow_insecure_http = true: {RISK}\n"
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8802/", "http://localhost:8802/", "http://[::1]:8802/", "https://p/"]
)
def test_loopback_and_https_pass_the_check_quietly(tmp_path: Path, cli: Callable, url: str) -> None:
    result = cli("--config", str(_config(tmp_path, url)), "config", "check")
    assert (result.code, result.err) == (0, "")
