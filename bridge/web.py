"""The daemon's admin HTTP server: ``/healthz``, ``/metrics`` and the read-only admin pages.

Bound to 127.0.0.1 by default. When a bearer token or basic-auth credentials are set,
every path but ``/healthz`` needs them (a container HEALTHCHECK or a load balancer
probes health without credentials; health says nothing secret).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge import health
from bridge.config import AdminConfig, Settings
from bridge.health import Metrics
from bridge.query_params import BadParameter, parse_query, text
from bridge.state.db import Database

log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)  # parsed by AdminServer.handle

    def arg(self, name: str) -> str:
        """The parameter's one value, ``""`` when absent; a bad one raises BadParameter."""
        return text(self.query, name)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


class AdminServer:
    """Routes by path prefix; ``add`` lets the admin pages mount themselves."""

    def __init__(self, cfg: AdminConfig, *, settings: Callable[[], Settings], db: Database,
                 metrics: Metrics, started_at: datetime) -> None:  # fmt: skip
        self.cfg = cfg
        self.settings = settings
        self.db = db
        self.metrics = metrics
        self.started_at = started_at
        self.routes: list[tuple[str, Handler]] = [
            ("/healthz", self.healthz),
            ("/metrics", self.prometheus),
        ]
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    def add(self, prefix: str, handler: Handler) -> None:
        self.routes.append((prefix, handler))

    def healthz(self, request: Request) -> Response:
        result = health.check(self.settings(), self.db, started_at=self.started_at)
        body = json.dumps(result.as_json(), ensure_ascii=False).encode()
        return Response(200 if result.ok else 503, body, "application/json; charset=utf-8")

    def prometheus(self, request: Request) -> Response:
        return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)

    def authorized(self, request: Request) -> bool:
        if self.cfg.token is None and self.cfg.basic_user is None:
            return True
        given = request.headers.get("authorization", "")
        if self.cfg.token is not None and given.startswith("Bearer "):
            return hmac.compare_digest(given[7:].strip(), self.cfg.token.reveal())
        if (
            self.cfg.basic_user is not None
            and self.cfg.basic_password is not None
            and given.startswith("Basic ")
        ):
            try:
                user, _, password = base64.b64decode(given[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user, self.cfg.basic_user) and hmac.compare_digest(
                password, self.cfg.basic_password.reveal()
            )
        return False

    def handle(self, request: Request) -> Response:
        if request.path != "/healthz" and not self.authorized(request):
            return Response(
                401,
                b"authentication required\n",
                headers={"WWW-Authenticate": 'Bearer realm="bridge"'},
            )
        for prefix, handler in sorted(self.routes, key=lambda r: -len(r[0])):
            if (
                request.path == prefix
                or request.path.startswith(prefix.rstrip("/") + "/")
                or prefix == "/"
            ):
                try:
                    request.query = parse_query(request.raw_query)
                    return handler(request)
                except BadParameter as exc:
                    return Response(400, f"bad request: {exc}\n".encode())
                except Exception:  # one broken page must not take the admin server down
                    log.exception("admin page %s failed", request.path)
                    return Response(500, b"internal error; see the daemon log\n")
        return Response(404, b"not found\n")

    def start(self) -> str:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request("GET", parts.path, parts.query,
                                  {k.lower(): v for k, v in self.headers.items()})  # fmt: skip
                response = server.handle(request)
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in response.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, format: str, *args: object) -> None:  # quiet: one line per action
                pass

        self._httpd = ThreadingHTTPServer((self.cfg.host, self.cfg.port), _Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}/"
        threading.Thread(target=self._httpd.serve_forever, name="admin-http", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
