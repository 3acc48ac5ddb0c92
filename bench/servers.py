"""The servers a benchmark runs against, each in a child process stopped by SIGTERM: nginx
serving a generated site (the fast static server), the sandbox site (when a delay per
request is wanted) and the sandbox portal."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path

from bench.common import PYTHON
from bench.procs import Usage, bench_env, reap


class Service(ABC):
    """A server in a child process (nginx, the sandbox site or portal), stopped by
    SIGTERM; ``stop()`` returns what it cost over its whole life."""

    name = "service"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.usage: Usage | None = None
        self._started = 0.0

    @abstractmethod
    def command(self) -> list[str]:
        """The server's command line."""

    @abstractmethod
    def _wait_ready(self) -> str:
        """Wait until the server answers; its base URL."""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> str:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.log.with_suffix(".out")
        with open(self.log, "wb") as err, open(self._out, "wb") as out:
            self._started = time.perf_counter()
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, env=bench_env())
        try:
            self.url = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _first_line(self, timeout: float = 60) -> str:
        """The first stdout line (the sandbox servers print their base URL there)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            text = self._out.read_text(encoding="utf-8", errors="replace")
            if "\n" in text:
                return text.split("\n", 1)[0].strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start; see {self.log}")

    def stop(self) -> Usage | None:
        if self.proc is None or self.usage is not None:
            return self.usage
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)  # not send_signal: its poll() would reap
        reaped = reap(self.proc.pid, 20)
        if reaped is None:
            self.proc.kill()
            reaped = reap(self.proc.pid, None)
        assert reaped is not None
        status, ru = reaped
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.usage = Usage(
            wall=time.perf_counter() - self._started,
            user=ru.ru_utime,
            sys=ru.ru_stime,
            max_rss_mb=ru.ru_maxrss / 1024,
            returncode=self.proc.returncode,
        )
        return self.usage

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    types {{
        text/html html htm; text/css css; application/javascript js; text/plain txt;
        application/json json; application/pdf pdf; application/msword doc;
        application/vnd.openxmlformats-officedocument.wordprocessingml.document docx;
        application/vnd.ms-excel xls;
        application/vnd.openxmlformats-officedocument.spreadsheetml.sheet xlsx;
    }}
    default_type application/octet-stream;
    access_log {access_log};
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        location ~ /\\. {{ return 404; }}
        location = /site.json {{ return 404; }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


class Nginx(Service):
    """nginx serving a generated site: static files with ETag and Last-Modified, keep-alive,
    ``text/html`` without a charset (as the bureau's server sends it). One worker process:
    on two cores the other one belongs to the client."""

    name = "nginx"

    def __init__(self, root: Path, log: Path, *, access_log: bool = False, workers: int = 1):
        super().__init__(log)
        self.root = root.resolve()
        self.access_log = access_log
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()

    def command(self) -> list[str]:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError(
                "nginx is not installed (Debian: apt-get install -y nginx); "
                "or run the benchmark with --server sandbox"
            )
        user = "user root;" if os.geteuid() == 0 else ""  # workers must read the site
        conf = self.dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                workers=self.workers,
                dir=self.dir,
                user=user,
                port=self.port,
                root=self.root,
                access_log=f"{self.dir}/access.log" if self.access_log else "off",
            )
        )
        return [binary, "-p", str(self.dir), "-c", str(conf)]

    def _wait_ready(self) -> str:
        wait_port(self.port)
        return f"http://127.0.0.1:{self.port}/"

    def access_lines(self) -> int:
        path = self.dir / "access.log"
        return len(path.read_bytes().splitlines()) if path.exists() else 0

    def stop(self) -> Usage | None:
        usage = super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return usage


class SandboxSite(Service):
    """``bridge sandbox site``: the bridge's own Python static server, with a delay."""

    name = "sandbox site"

    def __init__(self, root: Path, log: Path, *, delay_ms: float = 0.0) -> None:
        super().__init__(log)
        self.root = root
        self.delay_ms = delay_ms

    def command(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "bridge",
            "sandbox",
            "site",
            "--root",
            str(self.root),
            "--port",
            "0",
            "--delay-ms",
            str(self.delay_ms),
        ]

    def _wait_ready(self) -> str:
        return self._first_line()


class Portal(Service):
    """``bridge sandbox portal`` on a free port, with a latency added to every API answer."""

    name = "sandbox portal"

    def __init__(self, db: Path, log: Path, *, latency_ms: float = 0.0) -> None:
        super().__init__(log)
        self.db = db
        self.latency_ms = latency_ms

    def command(self) -> list[str]:
        cmd = [PYTHON, "-m", "bridge", "sandbox", "portal", "--db", str(self.db), "--port", "0"]
        if self.latency_ms:
            cmd += ["--latency-ms", str(self.latency_ms)]
        return cmd

    def _wait_ready(self) -> str:
        return self._first_line()

    def count(self) -> int:
        """Items the portal holds (read beside the server, as its WAL allows)."""
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def static_server(
    server: str, root: Path, log: Path, *, delay_ms: float = 0.0, access_log: bool = False
) -> Service:
    """nginx, or the sandbox site when asked (or when a delay is wanted: nginx cannot).
    ``access_log`` lets nginx count the requests it answered (``Nginx.access_lines``)."""
    if server == "nginx" and not delay_ms:
        return Nginx(root, log, access_log=access_log)
    return SandboxSite(root, log, delay_ms=delay_ms)


def default_server() -> str:
    return "nginx" if nginx_binary() else "sandbox"
