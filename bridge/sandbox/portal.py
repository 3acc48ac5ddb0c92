"""The sandbox portal: a local stand-in for the city's 政府信息公开平台 (DESIGN.md §5, §8).

It speaks Portal API v1 exactly as the ``http`` target expects it — signed requests,
idempotent PUTs, minted 索引号, attachments by ``file_id`` — and renders the public
catalog, so tests, benchmarks and ``bridge demo`` run against something that behaves like
the real portal. Storage lives in ``portal_store``, the citizen's pages in
``portal_pages``, the socket side in ``portal_http``; this module decides the answers.

Every ``/api/v1`` request passes through ``PortalServer.dispatch_api``: the one place where
requests are counted for ``/sandbox/stats`` and where ``portal_faults`` disturbs them.
The ``/sandbox/*`` controls (stats, faults) are unsigned: this is a test double.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from bridge.catalog import org_code_problem
from bridge.net.query_params import BadParameter, parse_query
from bridge.sandbox import portal_pages as pages
from bridge.sandbox.portal_api import API_PREFIX, MAX_RECORD_BYTES, PortalAPI
from bridge.sandbox.portal_faults import FaultInjector, Faults, InvalidFaults
from bridge.sandbox.portal_http import HTTPServer, Request, Response, error, invalid, not_allowed
from bridge.sandbox.portal_stats import RequestStats, Status
from bridge.sandbox.portal_store import PortalStore

__all__ = ["Faults", "PortalServer", "PortalStore", "Request", "Response", "serve_forever"]

log = logging.getLogger(__name__)

SANDBOX_KEY = "bridge-sandbox"
SANDBOX_SECRET = "sbx-7f3a9c2e51d84b06a9e1c3f5d7b2a4e8"  # noqa: S105 - a published sandbox key
SANDBOX_ORG_CODE = "002949236"  # 余姚市教育局's 组织机构代码, as in the seed report

MAX_FILE_SIZE = 20 * 1024 * 1024  # the real portal's attachment limit
POLL_INTERVAL = 0.05  # seconds; how soon stop() is noticed by the accept loop
STOP_GRACE = 2.0  # seconds stop() waits for requests in flight before closing the store

_HEALTH = API_PREFIX + "/health"


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
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` (epoch seconds) is what the faults' windows (Retry-After, outages) and
        the request log's times are judged by; tests pass one they move by hand."""
        problem = org_code_problem(org_code)
        if problem:
            raise ValueError(f"org_code {org_code!r}: {problem}")
        self.db_path = Path(db_path)
        self.host, self.port = host, port
        self._keys = dict(keys) if keys is not None else {SANDBOX_KEY: SANDBOX_SECRET}
        self.api = PortalAPI(self._open_store, self._keys, org_code, max_file_size)
        self._stats = RequestStats()
        self._injector = FaultInjector(faults)
        self._clock = clock
        self._store: PortalStore | None = None
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def key_names(self) -> list[str]:
        return sorted(self._keys)

    @property
    def org_code(self) -> str:
        return self.api.org_code

    @property
    def max_file_size(self) -> int:
        return self.api.max_file_size

    @property
    def max_body(self) -> int:
        """The largest request body read into memory; larger ones are drained and refused."""
        return max(self.max_file_size, MAX_RECORD_BYTES)

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
            self._httpd = HTTPServer((self.host, self.port), self)
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

    def stats(self, with_log: bool = True) -> dict[str, Any]:
        """What ``GET /sandbox/stats`` shows (see ``portal_stats.RequestStats``)."""
        return self._stats.snapshot(with_log)

    def reset_stats(self) -> None:
        self._stats.reset()

    # -- fault injection (see portal_faults) ----------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Replace every setting: fresh random streams from ``seed``, the burst re-armed."""
        self._injector.replace(faults)

    def set_faults(self, **changes: Any) -> Faults:
        """Change the named settings and keep the others (``Faults`` field names)."""
        return self._injector.update(**changes)

    def clear_faults(self) -> None:
        self._injector.replace(Faults())

    def outage_for(self, seconds: float) -> Faults:
        """Fail every API request (503, or reset: ``outage_mode``) for the next ``seconds``."""
        return self.set_faults(outage_until=self._clock() + seconds)

    def fault_report(self) -> dict[str, Any]:
        """What ``GET /sandbox/faults`` shows: the settings and what they have left to do."""
        return {"faults": self.faults.to_json(), "state": self._injector.state(self._clock())}

    # -- routing -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route one request: the API, the sandbox controls, files, or the public pages."""
        path = request.path
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self.dispatch_api(request)
        if path in ("/sandbox/stats", "/sandbox/stats/reset"):
            return self._sandbox_stats(request)
        if path == "/sandbox/faults":
            return self._sandbox_faults(request)
        if request.method not in ("GET", "HEAD"):
            return error(405, "method_not_allowed", f"{request.method} is not allowed here")
        return self._public(request)

    def dispatch_api(self, request: Request) -> Response:
        """Every /api/v1 request passes here: the single place to count and disturb them.

        A fault either answers instead of the API (nothing applied), or lets the API apply
        a write and then drops the answer: the lost-response case idempotent PUTs exist for.
        """
        arrived = self._clock()
        decision = self._injector.decide(request.method, request.path == _HEALTH, arrived)
        if decision.delay > 0:
            time.sleep(decision.delay)
        fault = decision.fault
        response = decision.response
        if response is None:
            response = self.api.answer(request)
            if decision.drop_after_write and 200 <= response.status < 300:
                response = Response.dropped(outcome=response.outcome)
                fault = "dropped_after_write"
        status: Status = response.status
        if response.abort is not None:
            status = "timeout" if response.abort == "hang" else "dropped"
        self._stats.count(
            request.method,
            request.target,
            status,
            at=arrived,
            outcome=response.outcome,
            fault=fault,
        )
        return response

    # -- sandbox controls, files and public pages -----------------------------------------

    def _sandbox_stats(self, request: Request) -> Response:
        if request.path == "/sandbox/stats/reset":
            if request.method != "POST":
                return not_allowed("POST")
            self.reset_stats()
        elif request.method not in ("GET", "HEAD"):
            return not_allowed("GET")
        with_log = request.query.get("log", ["1"])[-1] not in ("0", "false", "no")
        return Response.json(200, self.stats(with_log))

    def _sandbox_faults(self, request: Request) -> Response:
        """GET shows the faults; PUT replaces them, PATCH changes some, DELETE clears."""
        method = request.method
        if method in ("PUT", "PATCH"):
            try:
                data = json.loads((request.body or b"").decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                return invalid([{"field": "body", "message": f"not valid UTF-8 JSON: {exc}"}])
            base = self.faults if method == "PATCH" else None
            try:
                faults = Faults.from_json(data, base, now=self._clock())
            except InvalidFaults as exc:
                return invalid(exc.errors)
            if method == "PUT":
                self.faults = faults
            else:
                self.set_faults(**{f: getattr(faults, f) for f in _patched(data)})
            log.info("sandbox portal: faults now %s", self.faults.describe())
        elif method == "DELETE":
            self.clear_faults()
        elif method not in ("GET", "HEAD"):
            return not_allowed("GET, PUT, PATCH, DELETE")
        return Response.json(200, self.fault_report())

    def _public(self, request: Request) -> Response:
        if request.path.startswith("/files/"):
            return self._file(unquote(request.path[len("/files/") :]), request)
        try:  # parsed again, strictly: a query that is not UTF-8 is a bad request here
            query = parse_query(urlsplit(request.target).query)
            status, text = pages.render(self.store, request.path, query)
        except BadParameter as exc:
            return Response.html(400, pages.bad_request_page(str(exc)))
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


def _patched(data: dict[str, Any]) -> list[str]:
    """The ``Faults`` fields a PATCH body names (``outage_seconds`` sets ``outage_until``)."""
    return ["outage_until" if name == "outage_seconds" else name for name in data]


def serve_forever(
    db_path: Path,
    port: int,
    host: str = "127.0.0.1",
    keys: dict[str, str] | None = None,
    org_code: str = SANDBOX_ORG_CODE,
    faults: Faults | None = None,
) -> None:
    """Run the portal in the foreground until SIGINT or SIGTERM (``bridge sandbox portal``).

    The first stdout line is the base URL, so a script can read it; the secret is never
    printed. With ``faults``, a third line names them.
    """
    server = PortalServer(
        db_path, host=host, port=port, keys=keys, org_code=org_code, faults=faults
    )
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
        if faults is not None and faults != Faults():
            print(f"faults: {faults.describe()}", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
