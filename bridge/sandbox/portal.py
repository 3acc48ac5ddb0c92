"""The sandbox portal: a local stand-in for the city's 政府信息公开平台 (DESIGN.md §5, §8).

It speaks Portal API v1 exactly as the ``http`` target expects it — signed requests,
idempotent PUTs, minted 索引号, attachments by ``file_id`` — and renders the public
catalog, so tests, benchmarks and ``bridge demo`` run against something that behaves like
the real portal. Storage lives in ``portal_store``, the citizen's pages in
``portal_pages``; this module is the HTTP side.

Every ``/api/v1`` request passes through ``PortalServer.dispatch_api``: the one place where
requests are counted for ``/sandbox/stats`` (and where fault injection can hook in).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import re
import signal
import socket
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.catalog import org_code_problem
from bridge.sandbox import portal_pages as pages
from bridge.sandbox.portal_store import Conflict, Invalid, PortalStore, normalize_since
from bridge.signing import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW,
    NONCE_TTL,
    verify,
)

log = logging.getLogger(__name__)

SANDBOX_KEY = "bridge-sandbox"
SANDBOX_SECRET = "sbx-7f3a9c2e51d84b06a9e1c3f5d7b2a4e8"  # noqa: S105 - a published sandbox key
SANDBOX_ORG_CODE = "002949236"  # 余姚市教育局's 组织机构代码, as in the seed report

MAX_FILE_SIZE = 20 * 1024 * 1024  # the real portal's attachment limit
MAX_RECORD_BYTES = 5 * 1024 * 1024  # a catalog record is text; anything larger is a mistake
DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard a too-large body up to this, keeping the
# connection (closing on unread data makes the client see a reset instead of our 413)
IDLE_TIMEOUT = 120  # seconds an idle keep-alive connection may hold a server thread
LIST_LIMIT, LIST_LIMIT_MAX = 100, 1000  # GET /api/v1/items page size: default, ceiling
POLL_INTERVAL = 0.05  # seconds; how soon stop() is noticed by the accept loop
STOP_GRACE = 2.0  # seconds stop() waits for requests in flight before closing the store

_NONCE_RE = re.compile(r"[0-9a-fA-F]{16,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_RE = re.compile(r"-?\d{1,20}")
_API = "/api/v1"


@dataclass
class Request:
    """One request as the server received it. ``body`` is None when it was too large."""

    method: str
    target: str  # the request-target exactly as on the request line: what was signed
    path: str  # its path part, still percent-encoded
    query: dict[str, list[str]]
    headers: Message
    body: bytes | None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None  # a PUT's created / updated / unchanged, for the stats

    @classmethod
    def json(cls, status: int, payload: Any, **kw: Any) -> Response:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), **kw)

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"code": code, "message": message})


def _unauthorized(message: str) -> Response:
    """401 with a reason that helps the operator; it never names the secret."""
    return _error(401, "unauthorized", message)


class _Stats:
    """In-memory request counters: method -> HTTP status -> count, plus PUT outcomes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._puts: Counter[str] = Counter()

    def count(self, method: str, status: int, outcome: str | None) -> None:
        with self._lock:
            self._requests.setdefault(method, Counter())[str(status)] += 1
            if outcome is not None:
                self._puts[outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            requests: dict[str, dict[str, int]] = {m: {} for m in ("PUT", "POST", "DELETE", "GET")}
            requests.update({m: dict(c) for m, c in self._requests.items()})
            return {
                "requests": requests,
                "total": sum(sum(c.values()) for c in self._requests.values()),
                "puts_by_status": {s: self._puts[s] for s in ("created", "updated", "unchanged")},
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._puts.clear()


class PortalServer:
    """The sandbox portal on a local port, served from a daemon thread.

    Example::

        server = PortalServer(tmp_path / "portal.db")
        url = server.start()  # "http://127.0.0.1:PORT/"
        ...
        server.stop()
    """

    def __init__(
        self,
        db_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: dict[str, str] | None = None,
        org_code: str = SANDBOX_ORG_CODE,
        max_file_size: int = MAX_FILE_SIZE,
    ) -> None:
        problem = org_code_problem(org_code)
        if problem:
            raise ValueError(f"org_code {org_code!r}: {problem}")
        self.db_path = Path(db_path)
        self.host, self.port = host, port
        self.org_code = org_code
        self.max_file_size = max_file_size
        self._keys = dict(keys) if keys is not None else {SANDBOX_KEY: SANDBOX_SECRET}
        self._stats = _Stats()
        self._store: PortalStore | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def key_names(self) -> list[str]:
        return sorted(self._keys)

    @property
    def store(self) -> PortalStore:
        return self._open_store()

    def _open_store(self) -> PortalStore:
        if self._store is None:
            self._store = PortalStore(self.db_path)
        return self._store

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the portal is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> str:
        """Open the database, bind, serve from a daemon thread, and return the base URL."""
        self._open_store()
        try:
            self._httpd = _HTTPServer((self.host, self.port), _Handler, self)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"sandbox portal cannot listen on {self.host}:{self.port}: {exc.strerror}",
            ) from exc
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name="sandbox-portal",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop accepting, cut open connections, let requests in flight finish, close."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            httpd.close_connections(STOP_GRACE)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def stats(self) -> dict[str, Any]:
        """The counters ``GET /sandbox/stats`` shows (see ``_Stats``)."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    # -- routing -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route one request: the API, the sandbox controls, files, or the public pages."""
        path = request.path
        if path == _API or path.startswith(_API + "/"):
            return self.dispatch_api(request)
        if path in ("/sandbox/stats", "/sandbox/stats/reset"):
            return self._sandbox_stats(request)
        if request.method not in ("GET", "HEAD"):
            return _error(405, "method_not_allowed", f"{request.method} is not allowed here")
        return self._public(request)

    def dispatch_api(self, request: Request) -> Response:
        """Every /api/v1 request passes here: the single place to count (or disturb) them."""
        response = self._api(request)
        self._stats.count(request.method, response.status, response.outcome)
        return response

    def _api(self, request: Request) -> Response:
        route = request.path[len(_API) :]
        method = request.method
        if route == "/health":
            if method not in ("GET", "HEAD"):
                return _not_allowed("GET")
            return Response.json(200, {"status": "ok"})  # unsigned, for load balancers
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if route == "/items":
            return self._list_items(request) if method == "GET" else _not_allowed("GET")
        if route.startswith("/items/") and len(route) > len("/items/"):
            external_id = unquote(route[len("/items/") :])
            if method == "PUT":
                return self._put_item(external_id, request)
            if method == "GET":
                return self._get_item(external_id)
            if method == "DELETE":
                return self._delete_item(external_id)
            return _not_allowed("GET, PUT, DELETE")
        if route == "/files":
            return self._post_file(request) if method == "POST" else _not_allowed("POST")
        return _error(404, "not_found", "no such API endpoint")

    def _authenticate(self, request: Request) -> Response | None:
        """None when the request is signed by a known key; else the 401 (or 413) answer.

        The nonce is recorded only after the signature checks out, so nobody without the
        secret can use up nonces.
        """
        headers = request.headers
        missing = [
            name
            for name in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
            if not headers.get(name)
        ]
        if missing:
            return _unauthorized("missing header " + ", ".join(missing))
        key, timestamp = str(headers[HEADER_KEY]), str(headers[HEADER_TIMESTAMP])
        nonce, given = str(headers[HEADER_NONCE]), str(headers[HEADER_SIGNATURE])
        secret = self._keys.get(key)
        if secret is None:
            return _unauthorized(f"unknown {HEADER_KEY} (not configured on this portal)")
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            return _unauthorized(f"{HEADER_TIMESTAMP} must be unix seconds")
        now = time.time()
        skew = abs(now - int(timestamp))
        if skew > MAX_CLOCK_SKEW:
            return _unauthorized(
                f"timestamp is {skew:.0f} s off the portal clock (at most {MAX_CLOCK_SKEW} s)"
            )
        if not _NONCE_RE.fullmatch(nonce):
            return _unauthorized(f"{HEADER_NONCE} must be 16 to 128 hex characters")
        if request.body is None:
            return _error(413, "too_large", "request body too large")
        if not _SIGNATURE_RE.fullmatch(given) or not verify(
            secret, request.method, request.target, timestamp, nonce, request.body, given
        ):
            return _unauthorized(
                "signature does not match (method, path with query, timestamp, nonce, body)"
            )
        if not self.store.remember_nonce(nonce, now, NONCE_TTL):
            return _unauthorized(f"nonce already used within {NONCE_TTL} s (replay)")
        return None

    # -- API endpoints -----------------------------------------------------------------

    def _put_item(self, external_id: str, request: Request) -> Response:
        body = request.body or b""
        if len(body) > MAX_RECORD_BYTES:
            return _error(413, "too_large", f"a record is at most {MAX_RECORD_BYTES} bytes")
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _invalid([{"field": "body", "message": f"not valid UTF-8 JSON: {exc}"}])
        try:
            result = self.store.put(external_id, record, self.org_code)
        except Invalid as exc:
            return _invalid(exc.errors)
        except Conflict as exc:
            return _error(409, "conflict", str(exc))
        status = 201 if result.status == "created" else 200
        return Response.json(status, result.to_json(), outcome=result.status)

    def _get_item(self, external_id: str) -> Response:
        record = self.store.get(external_id)
        if record is None:
            return _error(404, "not_found", f"no item {external_id!r}")
        return Response.json(200, record)

    def _delete_item(self, external_id: str) -> Response:
        result = self.store.withdraw(external_id)
        if result is None:
            return _error(404, "not_found", f"no item {external_id!r}")
        return Response.json(200, result.to_json())

    def _list_items(self, request: Request) -> Response:
        query = {k: v[-1] for k, v in request.query.items()}
        errors = []
        since = None
        if query.get("since"):
            try:
                since = normalize_since(query["since"])
            except ValueError:
                errors.append({"field": "since", "message": "must be an ISO 8601 date and time"})
        after = 0
        if query.get("cursor"):
            if query["cursor"].isdigit():
                after = int(query["cursor"])
            else:
                errors.append({"field": "cursor", "message": "not a cursor this portal gave"})
        limit = LIST_LIMIT
        if query.get("limit"):
            if query["limit"].isdigit() and int(query["limit"]) >= 1:
                limit = min(int(query["limit"]), LIST_LIMIT_MAX)
            else:
                errors.append({"field": "limit", "message": "must be a positive integer"})
        if errors:
            return _invalid(errors)
        items, last_id = self.store.changes(since, after, limit)
        next_cursor = None if last_id is None else str(last_id)
        return Response.json(200, {"items": items, "next_cursor": next_cursor})

    def _post_file(self, request: Request) -> Response:
        data = request.body or b""
        if len(data) > self.max_file_size:
            return _error(413, "too_large", f"a file is at most {self.max_file_size} bytes")
        errors = []
        name = _file_name(request.headers.get("X-File-Name"))
        if not name:
            errors.append(
                {"field": "X-File-Name", "message": "required: the percent-encoded UTF-8 name"}
            )
        given = str(request.headers.get("X-File-Sha256") or "").strip().lower()
        actual = hashlib.sha256(data).hexdigest()
        if not _SHA256_RE.fullmatch(given):
            errors.append({"field": "X-File-Sha256", "message": "required: 64 hex characters"})
        elif given != actual:
            errors.append({"field": "X-File-Sha256", "message": f"body has sha256 {actual}"})
        if errors:
            return _invalid(errors)
        media_type = str(request.headers.get("Content-Type") or "").strip()
        media_type = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        file_id, created = self.store.add_file(data, actual, name, media_type)
        return Response.json(201 if created else 200, {"file_id": file_id})

    # -- sandbox controls, files and public pages -----------------------------------------

    def _sandbox_stats(self, request: Request) -> Response:
        if request.path == "/sandbox/stats/reset":
            if request.method != "POST":
                return _not_allowed("POST")
            self.reset_stats()
        elif request.method not in ("GET", "HEAD"):
            return _not_allowed("GET")
        return Response.json(200, self.stats())

    def _public(self, request: Request) -> Response:
        if request.path.startswith("/files/"):
            return self._file(unquote(request.path[len("/files/") :]), request)
        status, text = pages.render(self.store, request.path, request.query)
        return Response.html(status, text)

    def _file(self, file_id: str, request: Request) -> Response:
        stored = self.store.get_file(file_id)
        if stored is None:
            return Response.html(404, pages.not_found_page())
        etag = f'"{stored.sha256}"'
        headers = {
            "Content-Disposition": pages.content_disposition(stored.name),
            "ETag": etag,
            "Cache-Control": "public, max-age=31536000, immutable",  # content-addressed
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == etag:
            return Response(304, b"", stored.media_type, headers)
        return Response(200, stored.data, stored.media_type, headers)


def _invalid(errors: list[dict[str, str]]) -> Response:
    return Response.json(422, {"code": "invalid", "errors": errors})


def _not_allowed(allow: str) -> Response:
    response = _error(405, "method_not_allowed", f"allowed: {allow}")
    response.headers["Allow"] = allow
    return response


def _file_name(header: str | None) -> str:
    """The uploaded file's name: percent-decoded, without directories or control chars."""
    if not header:
        return ""
    try:
        name = unquote(str(header), errors="strict")
    except UnicodeDecodeError:
        return ""
    name = PurePosixPath(name.replace("\\", "/")).name
    return "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()


class _HTTPServer(ThreadingHTTPServer):
    """Knows its PortalServer and its open connections, so stop() can cut them."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], portal: PortalServer
    ) -> None:
        self.portal = portal
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, opened: bool) -> None:
        with self._open_lock:
            if opened:
                self._open[conn] = threading.current_thread()
            else:
                self._open.pop(conn, None)

    def close_connections(self, grace: float) -> None:
        """Shut every open connection; wait up to ``grace`` s for their threads to end."""
        with self._open_lock:
            open_now = list(self._open.items())
        for conn, _ in open_now:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + grace
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox portal: connection from %s ended abruptly", client_address)


class _Handler(BaseHTTPRequestHandler):
    """Frames HTTP/1.1 requests and answers; all decisions belong to PortalServer.handle."""

    protocol_version = "HTTP/1.1"
    server_version = "BridgeSandboxPortal/1"
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would hold the
    # second until the client's delayed ACK (40 ms per request)

    def setup(self) -> None:
        super().setup()
        cast(_HTTPServer, self.server).track(self.connection, opened=True)

    def finish(self) -> None:
        cast(_HTTPServer, self.server).track(self.connection, opened=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox portal: " + format, *args)  # noqa: G003 - format is the base's

    def _serve(self) -> None:
        portal = cast(_HTTPServer, self.server).portal
        if "chunked" in str(self.headers.get("Transfer-Encoding", "")).lower():
            self.close_connection = True
            self._send(_error(411, "length_required", "send a Content-Length, not chunks"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self._send(_error(400, "bad_request", "bad Content-Length"))
            return
        body: bytes | None = None
        if length <= max(portal.max_file_size, MAX_RECORD_BYTES):
            body = self.rfile.read(length)
            if len(body) < length:  # the client went away mid-body
                self.close_connection = True
                return
        elif length <= DRAIN_LIMIT:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(65536, left))
                if not chunk:
                    self.close_connection = True
                    return
                left -= len(chunk)
        else:
            self.close_connection = True
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        try:
            response = portal.handle(request)
        except Exception:
            log.exception("sandbox portal: %s %s failed", self.command, self.path)
            response = _error(500, "internal", "the sandbox portal failed; see its log")
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status != 304:
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _serve


def serve_forever(
    db_path: Path,
    port: int,
    host: str = "127.0.0.1",
    keys: dict[str, str] | None = None,
    org_code: str = SANDBOX_ORG_CODE,
) -> None:
    """Run the portal in the foreground until SIGINT or SIGTERM (``bridge sandbox portal``).

    The first stdout line is the base URL, so a script can read it; the secret is never
    printed.
    """
    server = PortalServer(db_path, host=host, port=port, keys=keys, org_code=org_code)
    url = server.start()
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(url, flush=True)
        print(
            f"portal API key {', '.join(server.key_names)}, data in {db_path} (Ctrl-C to stop)",
            flush=True,
        )
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
