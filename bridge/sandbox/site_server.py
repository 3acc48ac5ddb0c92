"""The sandbox site's web server: static files from disk, as a bureau's web server sends them.

Every request reads the file again, so ``publish``/``edit``/``withdraw`` run by another process
show at once. Like the real thing it sends ``text/html`` without a charset, a strong ETag and
Last-Modified, answers conditional requests with 304, keeps connections alive, and 404s what
is gone. It also keeps a log of what it served, for tests that count a crawler's requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from bridge.sandbox.content import MEDIA_TYPES
from bridge.sandbox.site_pages import MANIFEST

CONTENT_TYPES = {
    ".html": "text/html",  # no charset parameter: real sites leave it to the <meta>
    ".css": "text/css",
    ".js": "application/javascript",
    **{f".{ext}": media for ext, media in MEDIA_TYPES.items()},
}


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

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0):
        self.root = Path(root)
        self.host = host
        self.port = port
        self.base_url = ""
        self.requests: list[RequestLog] = []
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
        self._drain()
        if urlsplit(self.path).path != "/sandbox/stats/reset":
            self._not_allowed()
            return
        body = json.dumps({"cleared": self.site.reset_stats()}).encode()
        self._send(200, body, {"Content-Type": "application/json"}, record=False)

    def _not_allowed(self) -> None:
        self._drain()
        self._send(
            405, b"405 Method Not Allowed\n", {"Content-Type": "text/plain", "Allow": "GET, HEAD"}
        )

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
        path = urlsplit(self.path).path
        if path == "/sandbox/stats":
            rows = [list(r) for r in self.site.stats()]
            body = json.dumps({"requests": rows}).encode()
            self._send(200, body, {"Content-Type": "application/json"}, head, record=False)
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
            self._send(404, _NOT_FOUND, {"Content-Type": "text/html"}, head)
            return
        headers = {
            "ETag": f'"{hashlib.sha1(data, usedforsecurity=False).hexdigest()}"',
            "Last-Modified": formatdate(mtime, usegmt=True),
        }
        if self._not_modified(headers["ETag"], mtime):
            self._send(304, b"", headers, head=True)
            return
        ctype = CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        self._send(200, data, {"Content-Type": ctype, **headers}, head)

    def _resolve(self, path: str) -> Path | str | None:
        """The file for a URL path; a redirect target (str) for a bare directory; None: 404."""
        parts = [p for p in unquote(path).split("/") if p]
        if any(p.startswith(".") or "\\" in p for p in parts) or parts == [MANIFEST]:
            return None  # dot files (locks, temp files), traversal and the CMS database
        target = self.site.root.joinpath(*parts)
        if target.is_dir():
            return target / "index.html" if path.endswith("/") else path + "/"
        return target

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since when both are sent."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if not ims:
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
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        if record:
            self.site.record(self.command, self.path, status)
