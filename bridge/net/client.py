"""A lean HTTP client for the portal API and the bureau site: urllib3, with the
environment read as requests reads it (proxies, ``no_proxy``, the CA bundle), once per
host, and a cookie jar for a site that wants one.

Every item of a backfill costs one or two requests to the site and one or two to the
portal, and they were a large share of the bridge's CPU: through urllib3 (the library
``requests`` sends with) a request costs markedly less CPU than through ``requests``
(figures in bench/README.md, "Figures behind choices in the code"). Neither side needs
what the difference pays for (hooks, auth plug-ins, redirects followed for us: the
fetcher follows them by hand, checking each hop's host), so both speak urllib3.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import threading
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Retry, Url, make_headers, parse_url

from bridge.net.exchange import Answering, exchange, timeouts
from bridge.net.headers import Response
from bridge.net.scope import DEFAULT_PORTS, is_loopback, origin

POOLS = 4  # hosts kept connected (one portal, in practice)
CONNECTIONS = 8  # kept-alive connections per host: a drain runs a few senders at once
# No retry and no redirect followed (the callers retry and follow redirects themselves):
# what ``retries=False, redirect=False`` make, built once instead of for every request
_NO_RETRY = Retry(total=False, redirect=False)


@dataclass(frozen=True)
class Answer:
    """A whole answer: status, headers (case-insensitive), body."""

    status_code: int
    headers: Any  # urllib3's HTTPHeaderDict
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.content)


# Why plain http to the portal needs the operator's word (Portal API v1 signs the method,
# path, time, nonce and body, not these headers of an upload)
UNSIGNED_UPLOAD_HEADERS = (
    "the upload's name and type headers (X-File-Name, X-File-Sha256, Content-Type) are "
    "outside the request signature, so anyone on the network path can rename or retype an upload"
)


def plain_http_exposed(url: str) -> str | None:
    """Where a plain-http ``url`` leaves this machine ("portal.example, which is not
    loopback"), or None for https and for a loopback host reached directly. The host is
    read as urllib3 (which connects) reads it; the proxy is chosen as ``requests`` would."""
    found = origin(url)
    if isinstance(found, str):  # no plain-http URL the check can read: refused
        return (
            None
            if url.lstrip().lower().startswith("https:")
            else f"an address that cannot be checked ({found})"
        )
    if found.scheme == "https":
        return None
    if not is_loopback(found.host):
        return f"{found.host}, which is not loopback"
    if _environ_proxy(url):
        return f"{found.host} through the http proxy the environment names"
    return None


class _Connection(HTTPConnection):
    response_class = Response  # answers' headers read without the email parser


class _TlsConnection(HTTPSConnection):
    response_class = Response


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


class ProxyNotSupported(Exception):
    """A proxy URL of a scheme this client cannot speak (SOCKS)."""


def ca_bundle() -> str:
    """The CA bundle requests would use: $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE, certifi."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


class HttpClient:
    """Requests with no retry and no redirect; urllib3's exceptions as they are.

    ``connections`` is the number of kept-alive connections per host (the most requests
    a caller has in flight to one host); ``cookies`` keeps the cookies answers set and
    sends them back where they belong, as a browser (and a ``requests`` session) does;
    ``resend`` asks an idempotent request once more on a new connection when a kept-alive
    one closes under it before any answer (``exchange``): for a site's pages, not for
    signed requests, whose nonce the second time is a replay.

    A host reached directly has one connection pool, kept by (scheme, host, port), whose
    connections are asked through ``http.client`` (``exchange``): ``PoolManager.request``
    would parse the URL twice, look the pool up under a lock and build a retry policy for
    every request, and ``urlopen`` adds layers no caller here uses (a share of each
    request's CPU that a backfill pays thousands of times). A host behind a proxy goes
    through urllib3's ``ProxyManager``, which knows how to speak to one.
    """

    def __init__(
        self,
        headers: dict[str, str],
        *,
        connections: int = CONNECTIONS,
        cookies: bool = False,
        resend: bool = False,
    ) -> None:
        self.headers = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", **headers}
        self.cookies = CookieJar() if cookies else None
        self.resend = resend
        self._connections = connections
        bundle = ca_bundle()
        self._tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
        self._tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
        self._proxies: dict[str, urllib3.ProxyManager] = {}
        # (scheme, host, port) -> its own pool, or the proxy manager that reaches it;
        # the POOLS most recently opened are kept (dict order), as a PoolManager keeps them
        self._routes: dict[tuple[str, str, int], HTTPConnectionPool | urllib3.ProxyManager] = {}
        self._lock = threading.Lock()  # a source's fetch threads share the client

    def _route(self, parsed: Url, url: str) -> HTTPConnectionPool | urllib3.ProxyManager:
        """The pool for ``url``'s scheme, host and port (``parsed``), or the proxy manager
        to ask."""
        scheme = parsed.scheme or "http"
        key = (scheme, parsed.host or "", parsed.port or DEFAULT_PORTS.get(scheme, 80))
        route = self._routes.get(key)
        if route is None:
            with self._lock:  # one pool (one proxy manager) however many threads ask
                route = self._routes.get(key)
                if route is None:
                    proxy = _environ_proxy(url)
                    route = self._proxy(proxy) if proxy else self._pool(*key)
                    if len(self._routes) >= POOLS:
                        oldest = self._routes.pop(next(iter(self._routes)))
                        if isinstance(oldest, HTTPConnectionPool):
                            oldest.close()  # its idle connections; one in use closes on return
                    self._routes[key] = route
        return route

    def _pool(self, scheme: str, host: str, port: int) -> HTTPConnectionPool:
        """A pool as a ``PoolManager`` makes one: TLS settings for https alone."""
        if scheme == "https":
            return _TlsPool(host, port, maxsize=self._connections, **self._tls)
        if scheme != "http":
            raise urllib3.exceptions.URLSchemeUnknown(scheme)
        return _Pool(host, port, maxsize=self._connections)

    def _proxy(self, proxy: str) -> urllib3.ProxyManager:
        manager = self._proxies.get(proxy)
        if manager is None:
            if proxy.lower().startswith("socks"):
                raise ProxyNotSupported("SOCKS proxies are not supported: use an HTTP proxy")
            auth = parse_url(proxy).auth
            headers = make_headers(proxy_basic_auth=auth) if auth else None
            manager = self._proxies[proxy] = urllib3.ProxyManager(
                proxy,
                num_pools=POOLS,
                maxsize=self._connections,
                proxy_headers=headers,
                **self._tls,
            )
        return manager

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | urllib3.Timeout,
        parsed: Url | None = None,
    ) -> Answer:
        """One request, its answer read whole (``parsed``: as for ``open``)."""
        r = self.open(method, url, body=body, headers=headers, timeout=timeout, parsed=parsed)
        try:
            return Answer(r.status, r.headers, r.read())
        finally:
            r.release_conn()

    def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | urllib3.Timeout,
        parsed: Url | None = None,
    ) -> Answering:
        """One request whose body the caller reads (``read1``), then hands the connection
        back (``release_conn``, or ``close`` to drop it). ``timeout``: seconds for connect
        and for each read, or a ``Timeout`` the caller made once; ``parsed``: ``url`` as
        ``parse_url`` reads it, from a caller that parsed it already."""
        if parsed is None:
            parsed = parse_url(url)
        sent = {**self.headers, **headers} if headers else self.headers
        if self.cookies is not None and len(self.cookies):
            asked = _as_request(url)
            self.cookies.add_cookie_header(asked)
            if cookie := asked.get_header("Cookie"):
                sent = {**sent, "Cookie": cookie}
        route = self._route(parsed, url)
        r: Answering
        if isinstance(route, HTTPConnectionPool) and (seconds := timeouts(timeout)):
            r = exchange(
                route,
                method,
                parsed.request_uri,
                body=body,
                headers=sent,
                connect_timeout=seconds[0],
                read_timeout=seconds[1],
                url=url,
                resend=self.resend,
            )
        elif isinstance(route, HTTPConnectionPool):
            r = route.urlopen(
                method,
                parsed.request_uri,
                body=body,
                headers=sent,  # urlopen sends a copy
                retries=_NO_RETRY,
                redirect=False,
                assert_same_host=False,
                timeout=timeout,
                preload_content=False,
            )
        else:
            r = route.request(
                method,
                url,
                body=body,
                headers=sent,
                timeout=timeout,
                retries=_NO_RETRY,
                redirect=False,
                preload_content=False,
            )
        if self.cookies is not None and "Set-Cookie" in r.headers:
            self.cookies.extract_cookies(_Received(r.headers), _as_request(url))  # type: ignore[arg-type]
        return r

    def close(self) -> None:
        with self._lock:
            routes, self._routes = self._routes, {}
        for route in routes.values():
            if isinstance(route, HTTPConnectionPool):
                route.close()
        for manager in self._proxies.values():
            manager.clear()


def _environ_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, as ``requests`` chooses it (scheme and
    host, ``all_proxy``, ``no_proxy`` with its CIDR ranges), or None.

    ``requests`` (megabytes in a process: bench/README.md) is imported only when the
    environment names a proxy at all: on the usual server nothing does, and a delivery
    process or a daemon then does not carry it.
    """
    if not any(scheme != "no" for scheme in urllib.request.getproxies()):
        return None  # nothing to choose from (no_proxy alone names no proxy)
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(url, get_environ_proxies(url))


class _Received:
    """An answer's headers as ``http.cookiejar`` reads them (``info().get_all``)."""

    def __init__(self, headers: Any) -> None:
        self.headers = headers

    def info(self) -> _Received:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        return self.headers.getlist(name) or default


def _as_request(url: str) -> urllib.request.Request:
    """A request as ``http.cookiejar`` reads one; never opened."""
    return urllib.request.Request(url)  # noqa: S310 (nothing is opened)


_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def plain_reason(exc: BaseException) -> str:
    """Why a request failed, in the words an operator uses ("connection refused", "name
    not resolved", "timed out"), never urllib3's class name (``NewConnectionError``)."""
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return "name not resolved"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # before its base, a timeout
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, socket.timeout | TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[cause.errno]
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        return "cannot connect"
    if isinstance(exc, urllib3.exceptions.TimeoutError | socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, urllib3.exceptions.ProxyError):  # its URL may hold credentials
        return "cannot reach the proxy"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    text = str(exc)
    m = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
    if m:
        return f"the connection closed after {m[1]} bytes, {m[2]} short of its Content-Length"
    if "closed connection without response" in text or "Connection aborted" in text:
        return "the server closed the connection without an answer"
    if "Connection reset" in text:
        return "connection reset"
    m = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    if m:
        return m.group(1).lower()
    return "the connection failed"
