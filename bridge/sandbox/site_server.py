"""The sandbox site's web server: static files from disk, as a bureau's web server sends them.

Every request reads the file again, so ``publish``/``edit``/``withdraw`` run by another process
show at once. Like the real thing it sends ``text/html`` without a charset, a strong ETag and
Last-Modified, answers conditional requests with 304, keeps connections alive, and 404s what
is gone. Pages of a ``volatile`` site carry tokens that are filled in per request (a visit
counter, a "generated at" stamp), so those pages change on every view, as dynamic pages do;
they get no Last-Modified. Hanweb's ``dataproxy.jsp`` and ``downfile.jsp`` are answered by
site_jsp.py. A ``delay`` slows every answer, to model a distant server. It also keeps a log
of what it served, for tests that count a crawler's requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import zlib
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.sandbox.site_jsp import (
    DOWNFILE,
    PROXY,
    DataProxy,
    Found,
    Refused,
    content_type,
    downfile,
)
from bridge.sandbox.site_model import MANIFEST, bureau_now
from bridge.sandbox.site_pages import NOW, NOW_ISO, VISITS

TOKEN = b"{{sandbox."  # every per-request token starts so (site_pages.py)
DEFAULT_ROBOTS = b"User-agent: *\nDisallow:\n"  # for a root generated before robots.txt
MAX_FORM_BYTES = 1 << 20


# --- the web server --------------------------------------------------------------------------


class RequestLog(NamedTuple):
    method: str
    path: str
    status: int
    time: float


class SiteServer:
    """Serves a generated root on loopback, reading every file from disk on each request.

    Reading per request means ``publish``/``edit``/``withdraw`` from another process show at
    once. ``requests`` lists what was served, so a test can count fetches; the control
    endpoints ``/sandbox/stats`` and ``/sandbox/stats/reset`` are not counted.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0):
        if delay < 0:
            raise ValueError("delay must not be negative")
        self.root = Path(root)
        self.host = host
        self.port = port
        self.delay = delay  # seconds added before every response
        self.base_url = ""
        self.requests: list[RequestLog] = []
        self.proxy = DataProxy(self.root)
        self._visits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        handler = type("SiteHandler", (_Handler,), {"site": self})
        try:
            httpd = _HTTPServer((self.host, self.port), handler)
        except OSError as exc:
            error = OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}")
            error.errno = exc.errno  # the message stays one clean line for the CLI
            raise error from exc
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self.base_url = f"http://{self.host}:{self.port}/"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-site-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SiteServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append(RequestLog(method, path, status, time.time()))

    def fill(self, path: str, data: bytes) -> bytes:
        """The per-request parts of a page: its next visit count and the time now."""
        with self._lock:
            count = self._visits.get(path, 100 + zlib.crc32(path.encode()) % 5000) + 1
            self._visits[path] = count
        now = bureau_now()
        return (
            data.replace(VISITS.encode(), b"%d" % count)
            .replace(NOW_ISO.encode(), now.isoformat(timespec="microseconds").encode())
            .replace(NOW.encode(), now.strftime("%Y-%m-%d %H:%M:%S").encode())
        )

    def stats(self) -> list[RequestLog]:
        with self._lock:
            return list(self.requests)

    def reset_stats(self) -> int:
        with self._lock:
            count = len(self.requests)
            self.requests.clear()
            return count


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-response is normal for a crawler; stay quiet about it."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


_NOT_FOUND = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>404 Not Found</title></head>'
    "<body><h1>404 Not Found</h1><p>您访问的页面不存在或已被删除。</p></body></html>\n"
).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; Content-Length is always sent
    # Headers and body are two writes: with Nagle on, the second waits for the client's
    # delayed ACK of the first (40 ms on Linux), so every keep-alive answer took that much
    # longer than ``delay`` says (the measurement is in bench/README.md).
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    site: SiteServer

    def version_string(self) -> str:
        return "Apache"  # what the bureau's server says; not "BaseHTTP/0.6 Python/3.11"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in ``SiteServer.requests`` instead of stderr."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not http.server's 501
            return self._not_allowed
        raise AttributeError(name)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == PROXY:
            form = self._read_form()
            if form is None:
                self._send(413, b"413 Request Entity Too Large\n", {"Content-Type": "text/plain"})
                return
            params = {**_params(form), **_params(parts.query)}
            self._answer(self.site.proxy.answer("POST", params), parts.path)
            return
        self._drain()
        if parts.path != "/sandbox/stats/reset":
            self._not_allowed()
            return
        body = json.dumps({"cleared": self.site.reset_stats()}).encode()
        self._send(200, body, {"Content-Type": "application/json"}, record=False)

    def _not_allowed(self) -> None:
        self._drain()
        self._send(
            405, b"405 Method Not Allowed\n", {"Content-Type": "text/plain", "Allow": "GET, HEAD"}
        )

    def _read_form(self) -> str | None:
        """The urlencoded form body of a POST; None when it is too large to take."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if self.headers.get("Transfer-Encoding") or not 0 <= length <= MAX_FORM_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length).decode("utf-8", "replace") if length else ""

    def _drain(self) -> None:
        """Read a request body we do not want, so the connection can be kept alive."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if self.headers.get("Transfer-Encoding") or not 0 <= length <= 1 << 20:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _get(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/sandbox/stats":
            rows = [list(r) for r in self.site.stats()]
            body = json.dumps({"requests": rows}).encode()
            self._send(200, body, {"Content-Type": "application/json"}, head, record=False)
            return
        if path == PROXY:
            self._answer(self.site.proxy.answer("GET", _params(parts.query)), path, head)
            return
        if path == DOWNFILE:
            self._answer(downfile(self.site.root, _params(parts.query)), path, head)
            return
        target = self._resolve(path)
        if isinstance(target, str):  # a directory without its slash: relative links need it
            self._send(301, b"", {"Location": target}, head)
            return
        try:
            if target is None:
                raise FileNotFoundError(path)
            with open(target, "rb") as fh:
                data, mtime = fh.read(), os.fstat(fh.fileno()).st_mtime
        except OSError:  # missing, withdrawn, hidden, a directory: all 404 to a client
            if path == "/robots.txt":  # always there, as on every real site
                self._answer(Found(DEFAULT_ROBOTS, 0.0, "text/plain", {}), path, head)
                return
            self._answer(Refused(404, path), path, head)
            return
        self._answer(Found(data, mtime, content_type(target.suffix), {}), path, head)

    def _answer(self, result: Found | Refused, path: str, head: bool = False) -> None:
        """Send a found resource with validators (and 304 when they match), or an error."""
        if isinstance(result, Refused):
            if result.status == 404:
                self._send(404, _NOT_FOUND, {"Content-Type": "text/html"}, head)
            else:
                body = f"{result.status} {result.message}\n".encode()
                self._send(result.status, body, {"Content-Type": "text/plain"}, head)
            return
        data, mtime = result.data, result.mtime
        volatile = result.content_type == "text/html" and TOKEN in data
        if volatile:  # a dynamic page: new bytes on every view, no Last-Modified
            data = self.site.fill(path, data)
        headers = {"ETag": f'"{hashlib.sha1(data, usedforsecurity=False).hexdigest()}"'}
        if not volatile:
            headers["Last-Modified"] = formatdate(mtime, usegmt=True)
        if self._not_modified(headers["ETag"], None if volatile else mtime):
            self._send(304, b"", headers, head=True)
            return
        headers = {"Content-Type": result.content_type, **headers, **result.headers}
        self._send(200, data, headers, head)

    def _resolve(self, path: str) -> Path | str | None:
        """The file for a URL path; a redirect target (str) for a bare directory; None: 404."""
        parts = [p for p in unquote(path).split("/") if p]
        if any(p.startswith(".") or "\\" in p for p in parts) or parts == [MANIFEST]:
            return None  # dot files (locks, temp files), traversal and the CMS database
        target = self.site.root.joinpath(*parts)
        if target.is_dir():
            return target / "index.html" if path.endswith("/") else path + "/"
        return target

    def _not_modified(self, etag: str, mtime: float | None) -> bool:
        """RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since when both are sent."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if not ims or mtime is None:
            return False
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return int(mtime) <= since

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        head: bool = False,
        record: bool = True,
    ) -> None:
        if self.site.delay:
            time.sleep(self.site.delay)
        if record:  # before answering: a client that has its answer finds it counted
            self.site.record(self.command, self.path, status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _params(query: str) -> dict[str, str]:
    """The first value of each parameter; Chinese names arrive as percent-encoded UTF-8."""
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
