"""The portal client reads the environment as requests does: proxies, no_proxy, CA bundle."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bridge.errors import Retriable
from bridge.net.client import HttpClient, ca_bundle
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.targets.http import HttpTarget


class ForwardProxy(BaseHTTPRequestHandler):
    """A forward proxy that answers for every host: it records what it was asked."""

    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def do_GET(self) -> None:
        ForwardProxy.seen.append((self.command, self.path, self.headers.get("Proxy-Authorization")))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def portal_example() -> HttpTarget:
    """A plain-http portal off loopback, allowed: the proxy route is what is tested here."""
    return HttpTarget(
        "portal",
        "http://portal.example/",
        SANDBOX_KEY,
        SANDBOX_SECRET,
        timeout=5,
        allow_insecure_http=True,
    )


@pytest.fixture
def proxy():
    ForwardProxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_portal_is_reached_through_the_environment_s_proxy(proxy, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://bridge:s3cret@{proxy}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    target = portal_example()
    try:
        assert target.health() is True
    finally:
        target.close()
    auth = "Basic " + base64.b64encode(b"bridge:s3cret").decode()
    assert ForwardProxy.seen == [("GET", "http://portal.example/api/v1/health", auth)]


def test_no_proxy_hosts_are_reached_directly(proxy, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://{proxy}")
    monkeypatch.setenv("no_proxy", "portal.example,127.0.0.1")
    target = HttpTarget("portal", "http://127.0.0.1:9/", SANDBOX_KEY, SANDBOX_SECRET, timeout=5)
    try:
        with pytest.raises(
            Retriable, match=r"^PUT a: cannot connect to http://127.0.0.1:9/: connection refused$"
        ):
            target.put({"external_id": "a"})  # port 9 (discard) refuses: no proxy answered
    finally:
        target.close()
    assert ForwardProxy.seen == []


def test_a_socks_proxy_is_a_clear_retriable_error(monkeypatch):
    monkeypatch.setenv("http_proxy", "socks5://127.0.0.1:1080")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    target = portal_example()
    try:
        with pytest.raises(Retriable, match="SOCKS proxies are not supported"):
            target.put({"external_id": "a"})
        assert target.health() is False
    finally:
        target.close()


def test_the_ca_bundle_is_the_one_requests_would_use(monkeypatch, tmp_path):
    import certifi
    import requests.utils

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert ca_bundle() == certifi.where() == requests.utils.DEFAULT_CA_BUNDLE_PATH
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "curl.pem"))
    assert ca_bundle() == str(tmp_path / "curl.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bureau.pem"))
    assert ca_bundle() == str(tmp_path / "bureau.pem")
    bundle_dir = tmp_path / "certs"
    bundle_dir.mkdir()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle_dir))
    client = HttpClient({})
    try:
        assert client._tls == {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": str(bundle_dir)}
    finally:
        client.close()


def test_a_proxy_that_does_not_answer_is_named_without_its_credentials(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://bridge:s3cret@127.0.0.1:9")  # nothing listens
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    target = portal_example()
    try:
        with pytest.raises(Retriable) as raised:
            target.put({"external_id": "a"})
    finally:
        target.close()
    assert str(raised.value) == "PUT a: cannot reach the proxy for http://portal.example/"


def test_a_portal_certificate_not_trusted_says_tls_and_why(tmp_path, monkeypatch):
    """A self-signed portal certificate against the default CA bundle."""
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardProxy)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    target = HttpTarget("portal", url, SANDBOX_KEY, SANDBOX_SECRET, timeout=5)
    try:
        with pytest.raises(Retriable) as raised:
            target.put({"external_id": "a"})
    finally:
        target.close()
        server.shutdown()
        server.server_close()
    assert str(raised.value).startswith(f"PUT a: TLS with {url} failed (")
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)


IMPORTS = """
import sys
from bridge.net.client import HttpClient
client = HttpClient({})
answer = client.request("GET", sys.argv[1], timeout=5)
print(answer.status_code, "requests" in sys.modules)
"""


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "200 False"),
        ({"no_proxy": "127.0.0.1"}, "200 False"),
        ({"http_proxy": "http://127.0.0.1:9", "no_proxy": "127.0.0.1"}, "200 True"),
    ],
    ids=["no proxy set", "no_proxy alone", "a proxy set"],
)
def test_requests_is_loaded_only_to_read_a_proxy_setting(proxy, environment, expected):
    """requests (5 MB of a process) chooses the proxy; with none set it is not needed."""
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    ran = subprocess.run(
        [sys.executable, "-c", IMPORTS, f"http://{proxy}/"],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ran.stdout.strip(), ran.stderr) == (expected, "")


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"no_proxy": "portal.example"},
        {"http_proxy": "http://p:3128"},
        {"HTTP_PROXY": "http://upper:3128"},
        {"https_proxy": "http://tls-only:3128"},
        {"all_proxy": "http://every:3128"},
        {"ALL_PROXY": "http://every:3128", "http_proxy": "http://p:3128"},
        {"http_proxy": "http://p:3128", "no_proxy": "portal.example"},
        {"http_proxy": "http://p:3128", "no_proxy": ".example"},
        {"http_proxy": "http://p:3128", "no_proxy": "10.0.0.0/8"},
        {"http_proxy": "http://p:3128", "NO_PROXY": "*"},
        {"http_proxy": "http://p:3128", "REQUEST_METHOD": "GET"},  # CGI: HTTP_PROXY unsafe
        {"HTTP_PROXY": "http://upper:3128", "REQUEST_METHOD": "GET"},
    ],
)
@pytest.mark.parametrize(
    "url",
    ["http://portal.example/api/v1/health", "https://portal.example/", "http://10.1.2.3:8080/"],
)
def test_the_proxy_chosen_is_the_one_requests_chooses(environment, url, monkeypatch):
    from requests.utils import get_environ_proxies, select_proxy

    from bridge.net.client import _environ_proxy

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert _environ_proxy(url) == select_proxy(url, get_environ_proxies(url))


class KeepAlive(BaseHTTPRequestHandler):
    """Answers every GET on a kept-alive connection; records the client's port of each."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        KeepAlive.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


def test_requests_to_one_host_share_its_pool_and_one_kept_alive_connection(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    KeepAlive.ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    client = HttpClient({})
    try:
        answers = [
            client.request("GET", f"{base}/{path}", timeout=5).content
            for path in ("a", "b?page=2", "c#fragment")
        ]
        assert answers == [b"ok"] * 3
        assert len(KeepAlive.ports) == 3 and len(set(KeepAlive.ports)) == 1
        assert list(client._routes) == [("http", "127.0.0.1", server.server_address[1])]
    finally:
        client.close()
        server.shutdown()
        server.server_close()
