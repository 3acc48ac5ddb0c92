"""A ``requests`` session that reads the proxy and CA settings of the environment once
per host instead of on every request.

``requests`` asks ``urllib`` for the environment's proxies (``*_proxy``, ``no_proxy``) on
each call, which walks and decodes all of ``os.environ`` twice: measured here, about a
millisecond of CPU per request, more than parsing the page it fetched. A daemon's
environment does not change while it runs, so the answer is kept per scheme and host;
the rest is ``requests.Session.merge_environment_settings`` as it is.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies


class Session(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else url or ""
        proxies = dict(proxies or {})
        no_proxy = proxies.get("no_proxy")
        parts = urlsplit(text)
        key = (parts.scheme, parts.netloc, no_proxy)
        environ = self._environ_proxies.get(key)
        if environ is None:
            environ = self._environ_proxies[key] = get_environ_proxies(text, no_proxy=no_proxy)
        for name, value in environ.items():
            proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }
