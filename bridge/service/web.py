"""The daemon's admin HTTP server: ``/healthz``, ``/metrics`` and the read-only admin pages.

Bound to 127.0.0.1 by default. When a bearer token or basic-auth credentials are set,
every path but ``/healthz`` needs them (a container HEALTHCHECK or a load balancer
probes health without credentials; health says nothing secret).

Every path, ``/healthz`` included, answers only a ``Host`` header that names this server
(``host_allowed``): a page in a browser on this machine whose own name an attacker
re-points at 127.0.0.1 (DNS rebinding) sends its own name and gets 421, never the pages.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.config import AdminConfig, Settings
from bridge.net.query_params import BadParameter, parse_query, text
from bridge.service import health
from bridge.service.health import Metrics
from bridge.state.db import Database

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names of "every address"
MISDIRECTED = (
    "请求的主机名不属于本服务器\n"
    "misdirected request: this server does not answer for that host name\n"
).encode()


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    local_address: str = ""  # the address the connection came in on (for the Host check)
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

    def host_allowed(self, host: str, local_address: str) -> bool:
        """Whether a ``Host`` header names this server (see ``allowed_host``)."""
        return allowed_host(host, self.cfg, local_address)

    def handle(self, request: Request) -> Response:
        host = request.headers.get("host")
        if host is None:
            return Response(
                400,
                "请求有误：须有且仅有一个 Host 头\nbad request: send exactly one Host header\n".encode(),
            )
        if not self.host_allowed(host, request.local_address):
            log.warning("admin server: refused a request for host %r (421)", host[:200])
            return Response(421, MISDIRECTED)
        if request.path != "/healthz" and not self.authorized(request):
            return Response(
                401,
                "需要登录凭据（令牌或用户名、密码）\nauthentication required\n".encode(),
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
                except BadParameter as exc:  # Chinese for the administrator, then for tools
                    return Response(400, f"请求有误：{exc.zh}\nbad request: {exc}\n".encode())
                except Exception:  # one broken page must not take the admin server down
                    log.exception("admin page %s failed", request.path)
                    return Response(
                        500,
                        "内部错误，详见守护进程日志\ninternal error; see the daemon log\n".encode(),
                    )
        return Response(404, b"not found\n")

    def start(self) -> str:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                hosts = self.headers.get_all("Host") or []
                if len(hosts) == 1:
                    headers["host"] = hosts[0]
                else:  # none, or two that a proxy and this server might read differently
                    headers.pop("host", None)
                request = Request("GET", parts.path, parts.query, headers,
                                  local_address=self.connection.getsockname()[0])  # fmt: skip
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

        class _Server(ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET

        self._httpd = _Server((self.cfg.host, self.cfg.port), _Handler)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{_url_host(str(host))}:{port}/"
        threading.Thread(target=self._httpd.serve_forever, name="admin-http", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


# --- the Host check -------------------------------------------------------------------------


def allowed_host(host: str, cfg: AdminConfig, local_address: str) -> bool:
    """Whether ``host`` (a Host header) names this server: the name or address it is bound
    to; the address the connection arrived on (the only own address a wildcard bind
    knows); ``localhost``, 127.0.0.1 and [::1] when it is bound to loopback or to every
    address; or one of ``admin.hosts``. The port is compared only for a ``hosts`` entry
    that names one: DNS rebinding is stopped by the name (a browser sends the page's own
    name), and a tunnel (``ssh -L 9000:127.0.0.1:8803``) makes the browser send its port.
    """
    given = split_host(host)
    if given is None:
        return False
    name, port = given
    bind = split_host(cfg.host)
    bind_name = bind[0] if bind else ""
    if name == bind_name and bind_name not in WILDCARDS:
        return True
    local = split_host(local_address.split("%", 1)[0])
    if local is not None and name == local[0]:
        return True
    if name in LOOPBACK_NAMES and (bind_name in WILDCARDS or _is_loopback(bind_name)):
        return True
    for entry in cfg.hosts:
        allowed = split_host(entry)
        if allowed is not None and allowed[0] == name and allowed[1] in (None, port):
            return True
    return False


def split_host(value: str) -> tuple[str, int | None] | None:
    """(name, port) of ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``, lower case, an IP
    address in its canonical form; None when it is no such thing."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else ""
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    else:  # a bare name, or a bare IPv6 address as in a config file
        name, port_text = value, ""
    name = name.removesuffix(".")
    if not name:
        return None
    if port_text and not (port_text.isascii() and port_text.isdigit() and int(port_text) < 65536):
        return None
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        mapped = getattr(address, "ipv4_mapped", None)
        name = str(mapped or address)
    return name, int(port_text) if port_text else None


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
