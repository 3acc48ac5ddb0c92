"""A tiny real HTTP server for the source tests: saved pages from tests/data/pages.

(Not a conftest.py: ``tests/conftest.py`` is imported by name elsewhere, and two modules
called ``conftest`` would shadow each other.)

Files are served as a static site would serve them (no charset in the header, so a page's
``<meta>`` has to be read; an ETag per file, honoured with 304). ``routes`` overrides a
path with a handler for the dynamic parts (Hanweb's data proxy, download scripts, a page
that changes between requests). Every request is counted by method, path and status.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bridge.config import FetchConfig, SourceConfig
from bridge.config.sources import ColumnConfig, HanwebConfig, SelectorsConfig

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"

Reply = tuple[int, str, bytes]
"""(status, Content-Type, body) answered by a route."""
Route = Callable[["Request"], Reply]


class Request:
    def __init__(self, method: str, path: str, query: dict[str, str], form: dict[str, str]):
        self.method, self.path, self.query, self.form = method, path, query, form


def _flat(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class PageServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.routes: dict[str, Route] = {}
        self.hits: Counter[tuple[str, str, int]] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET", {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer("POST", _flat(self.rfile.read(length).decode("ascii")))

            def _answer(self, method: str, form: dict[str, str]) -> None:
                parts = urlsplit(self.path)
                request = Request(method, parts.path, _flat(parts.query), form)
                headers: dict[str, str] = {}
                if parts.path in server.routes:
                    status, ctype, body = server.routes[parts.path](request)
                else:
                    status, ctype, body, headers = server.static(parts.path, self.headers)
                server.hits[(method, self.path, status)] += 1
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def static(self, path: str, request_headers: object) -> tuple[int, str, bytes, dict[str, str]]:
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_file() or self.root.resolve() not in file.parents:
            return 404, "text/html", b"<h1>404</h1>", {}
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request_headers.get("If-None-Match") == etag:  # type: ignore[attr-defined]
            return 304, "text/html", b"", {"ETag": etag}
        ctype = "text/xml" if file.suffix == ".xml" else mimetypes.guess_type(file.name)[0]
        ctype = ctype or "application/octet-stream"
        return 200, ctype, body, {"ETag": etag}

    def requests(self, method: str | None = None) -> list[str]:
        """Requested paths (with query) in no particular order, robots.txt left out."""
        return sorted(
            path
            for (m, path, _), n in self.hits.items()
            for _ in range(n)
            if path != "/robots.txt" and (method is None or m == method)
        )

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(name: str) -> Iterator[PageServer]:
    """A server of ``tests/data/pages/<name>`` on a free loopback port, for one test."""
    server = PageServer(PAGES / name)
    try:
        yield server
    finally:
        server.stop()


def source_config(
    base_url: str,
    kind: str,
    columns: list[tuple[str, str]],
    *,
    selectors: SelectorsConfig | None = None,
    hanweb: HanwebConfig | None = None,
) -> SourceConfig:
    own = {  # the kind's own table
        "selectors": {"selectors": selectors},
        "hanweb": {"hanweb": hanweb or HanwebConfig()},
    }.get(kind, {})
    return SourceConfig.of_kind(
        kind,
        name="site",
        base_url=base_url,
        publisher="余姚市教育局",
        org_code="002949236",
        columns=tuple(ColumnConfig(key, path, key, "mixed") for key, path in columns),
        fetch=FetchConfig(user_agent="bridge tests", rate_limit=1000.0, concurrency=4),
        **own,
    )
