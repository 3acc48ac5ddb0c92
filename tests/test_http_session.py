"""The session that reads proxy settings once per host must answer as requests does."""

from __future__ import annotations

import pytest
import requests

from bridge import http_session
from bridge.http_session import Session

URLS = [
    "http://127.0.0.1:8080/a.html",
    "http://www.yyedu.gov.cn/xxgk/index.html",
    "https://www.yyedu.gov.cn/file.pdf",
    "http://intranet.local/x",
]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"http_proxy": "http://proxy:3128", "https_proxy": "http://proxy:3129"},
        {
            "http_proxy": "http://proxy:3128",
            "no_proxy": "127.0.0.1,.local",
            "REQUESTS_CA_BUNDLE": "/etc/ssl/bureau.pem",
        },
    ],
)
def test_same_settings_as_requests(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    ours, theirs = Session(), requests.Session()
    for url in URLS * 2:  # the second time from the cache
        for stream, verify in ((None, None), (True, None), (None, False)):
            assert ours.merge_environment_settings(
                url, {}, stream, verify, None
            ) == theirs.merge_environment_settings(url, {}, stream, verify, None)


def test_environment_read_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = http_session.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(http_session, "get_environ_proxies", counted)
    s = Session()
    for _ in range(50):
        s.merge_environment_settings("http://127.0.0.1:8080/list.html", {}, True, None, None)
        s.merge_environment_settings("http://127.0.0.1:8080/t2025.html", {}, True, None, None)
        s.merge_environment_settings("http://127.0.0.1:9090/api", {}, None, None, None)
    assert calls == ["http://127.0.0.1:8080/list.html", "http://127.0.0.1:9090/api"]
