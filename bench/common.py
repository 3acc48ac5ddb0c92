"""What every benchmark shares: the machine, cached sites, the servers, measured child
processes, and results as a markdown table plus JSON.

Every process that does measured work is a child of the benchmark: its CPU time and peak
RSS come from ``os.wait4`` (that child alone, including the children it reaped), so the
servers' and the benchmark's own work never count against the bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CACHE = RESULTS / "cache"
PYTHON = sys.executable
END_DATE = date(2026, 11, 27)  # fixed, so a seed gives the same site on any day
SEED = 1
PAGE_SIZE = 20  # TRS template default: entries per list page


# --- the machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python, date and the bridge's git revision."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_gb = round(int(first.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "bridge_revision": git_revision(),
    }


def git_revision() -> str:
    """HEAD of the repository, with ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
        f"{m['date'][:10]}, bridge {m['bridge_revision']}"
    )


# --- measured processes ----------------------------------------------------------------------


@dataclass
class Usage:
    """What one finished child process cost."""

    wall: float
    user: float
    sys: float
    max_rss_mb: float
    returncode: int
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    max_pss_mb: float | None = None  # the highest summed PSS sampled (None: not sampled)

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: this checkout first on the path, no BRIDGE_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["PYTHONPATH"] = str(REPO)
    env.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    env.update(extra or {})
    return env


def reap(pid: int, timeout: float | None) -> tuple[int, Any] | None:
    """``os.wait4`` with a timeout; None if the child is still running when it passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return status, usage
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def _proc_mb(pid: int, key: str, file: str = "status") -> float | None:
    """A ``key: N kB`` line of ``/proc/PID/FILE`` in MB: VmRSS, VmHWM (status), or Pss
    (smaps_rollup: the private pages plus a share of each shared page, so a library
    mapped by the bridge's two processes counts half in each)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None


def _rss_mb(pid: int) -> float | None:
    return _proc_mb(pid, "VmRSS")


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the bridge's delivery process, say)."""
    tree, i = [pid], 0
    while i < len(tree):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{tree[i]}/task").iterdir():
                tree.extend(int(c) for c in (task / "children").read_text().split())
        i += 1
    return tree


def _tree_mb(tree: list[int], key: str, file: str = "status") -> float | None:
    """``key`` summed over a process tree (``process_tree``): memory the command holds."""
    values = [v for p in tree if (v := _proc_mb(p, key, file)) is not None]
    return sum(values) if values else None


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (user + system, from /proc)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live descendants (a server
    that forks a process per connection, such as PostgreSQL)."""
    hz = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, IndexError):
            f = _stat(current)
            total += sum(int(v) for v in f[11:15]) / hz  # utime stime cutime cstime
        todo += children.get(current, [])
    return total


def machine_cpu() -> tuple[float, float, float]:
    """(busy, stolen, total) CPU seconds of the whole machine so far, all cores (/proc/stat).

    *Stolen* is time the hypervisor gave to other guests: on a shared machine it shows
    how much of the noise came from outside.
    """
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz, sum(ticks) / hz


def run_measured(
    cmd: Sequence[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    sample_rss: float = 0.0,
    stdout: Path | None = None,
) -> Usage:
    """Run ``cmd`` to its end; its wall time, CPU (``os.wait4``) and peak RSS.

    ``sample_rss`` > 0 also reads its RSS from /proc every that many seconds, to show
    whether memory stays flat while it works, and the peak is then the process's own
    high-water mark (VmHWM, read at each sample; it never goes down), summed with its
    children's (a delivery process counts as the bridge's memory). Summed RSS counts the
    pages two processes share (libraries) twice, so the highest summed PSS sampled is
    kept too (PSS also shares out pages mapped by other processes, such as the portal's
    interpreter: it is the lower bound, RSS the upper). Without sampling the
    peak is ``wait4``'s ``ru_maxrss``, which on Linux includes the memory of *this* process
    at the fork before the child's exec: a parent holding a 100,000-item manifest made a
    100 MB bridge look like 197 MB.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path = stdout or log.with_suffix(".out")
    with open(log, "wb") as err, open(out_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env or bench_env())
        samples: list[tuple[float, float]] = []
        high_water: list[float] = []
        pss: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(sample_rss):
                tree = process_tree(proc.pid)  # once for the three readings
                rss = _tree_mb(tree, "VmRSS")
                hwm = _tree_mb(tree, "VmHWM")
                if rss is not None:
                    samples.append((round(time.perf_counter() - started, 2), round(rss, 1)))
                if hwm is not None:
                    high_water.append(hwm)
                if (shared_out := _tree_mb(tree, "Pss", "smaps_rollup")) is not None:
                    pss.append(shared_out)

        sampler = threading.Thread(target=sample, daemon=True) if sample_rss > 0 else None
        if sampler is not None:
            sampler.start()
        reaped = reap(proc.pid, timeout)
        if reaped is None:
            proc.kill()
            reaped = reap(proc.pid, None)
            assert reaped is not None
            stop.set()
            raise TimeoutError(f"{cmd[:4]} ran longer than {timeout:.0f} s; see {log}")
        wall = time.perf_counter() - started
        stop.set()
        status, ru = reaped
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Usage(
        wall=wall,
        user=ru.ru_utime,
        sys=ru.ru_stime,
        max_rss_mb=max(high_water) if high_water else ru.ru_maxrss / 1024,  # KiB on Linux
        returncode=proc.returncode,
        rss_samples=samples,
        max_pss_mb=max(pss) if pss else None,
    )


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


# --- sites -----------------------------------------------------------------------------------

BASE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("jgzn", "xxgk/jgzn/", "机构职能"),
    ("zcwj", "xxgk/zcwj/", "政策文件"),
    ("ghjh", "xxgk/ghjh/", "规划计划"),
    ("ywgz", "xxgk/ywgz/", "业务工作"),
    ("tjsj", "xxgk/tjsj/", "统计数据"),
    ("qt", "xxgk/qt/", "其他"),
)


def generator_version() -> str:
    """A short hash of the sandbox's source: a cached site is reused only by the same code."""
    import hashlib

    folder = REPO / "bridge" / "sandbox"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")) + sorted((folder / "data").glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def _supports_columns() -> bool:
    import inspect

    from bridge.sandbox.site import generate_site

    return "columns" in inspect.signature(generate_site).parameters


def cached_site(items: int, seed: int = SEED, *, columns: int = 6, say: Any = print) -> Path:
    """A TRS sandbox site of ``items`` items, generated once under bench/results/cache.

    The cache key holds the generator's version, so a changed sandbox generates anew (older
    copies of the same size are removed). Generated into a temporary folder and renamed
    when complete: an interrupted run never leaves half a site that a later run trusts.
    Without ``generate_site(columns=)`` a site has six columns (see ``columns_for``).
    """
    own = columns if columns != 6 and _supports_columns() else 6
    stem = f"trs-{items}-seed{seed}-c{own}"
    root = CACHE / f"{stem}-{generator_version()}"
    if (root / "site.json").exists():
        return root
    from bridge.sandbox.site import generate_site

    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"{stem}-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = CACHE / f".{root.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"generating a {items:,}-item TRS site ({own} columns) into {root.name} (cached) …")
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"columns": own} if own != 6 else {}
    generate_site(tmp, items=items, seed=seed, end_date=END_DATE, **kwargs)
    tmp.rename(root)
    say(f"  generated in {time.perf_counter() - started:.0f} s")
    return root


def columns_for(root: Path, count: int) -> tuple[list[tuple[str, str, str]], str]:
    """``count`` columns of a cached site as (key, path, category), and how they were made.

    A site generated with ``columns=count`` has them all, each with items of its own.
    Otherwise (a sandbox without that option) the six columns are repeated as symlinks
    (``xxgk/c07`` → ``zcwj`` …): each extra column lists the same items again, as a
    cross-listing column does, and relative links keep the article URLs under it.
    """
    try:
        from bridge.sandbox.site_model import load_head

        own = [(k, p.strip("/") + "/", name) for k, p, name in load_head(root).columns]
    except (ImportError, AttributeError):  # a sandbox from before generate_site(columns=)
        own = list(BASE_COLUMNS)
    if len(own) >= count:
        return own[:count], "generate_site(columns=)"
    cols = list(own)
    for n in range(len(cols) + 1, count + 1):
        _key, path, category = own[(n - 1) % len(own)]
        alias = f"c{n:02d}"
        link = root / "xxgk" / alias
        if not link.is_symlink():
            link.symlink_to(Path(path).name, target_is_directory=True)
        cols.append((alias, f"xxgk/{alias}/", category))
    return cols, "symlinked copies of the six columns"


# --- the bridge's config ---------------------------------------------------------------------


def config_text(
    *,
    state_url: str,
    site_url: str,
    portal_url: str,
    columns: Sequence[tuple[str, str, str]] = BASE_COLUMNS,
    concurrency: int = 4,
    rate_limit: float = 100_000.0,
    log_level: str = "INFO",
    delivery_process: bool = False,
    source_extra: str = "",
    extra: str = "",
) -> str:
    """A config for one TRS sandbox source delivering to a sandbox portal.

    The rate limit is lifted (a benchmark measures the bridge, not its politeness);
    concurrency is the cap on requests in flight that Scrapy is given too.
    """
    from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET

    cols = "".join(
        f'\n  [[sources.columns]]\n  key = "{key}"\n  path = "{path}"\n  category = "{category}"\n'
        for key, path, category in columns
    )
    return f"""
[bridge]
state_url = "{state_url}"
operator = "bridge benchmark"
log_level = "{log_level}"

[fetch]
rate_limit = {rate_limit}
concurrency = {concurrency}

[[sources]]
name = "yyedu"
kind = "trs"
base_url = "{site_url}"
publisher = "余姚市教育局"
org_code = "002949236"
{source_extra}
{cols}
[target]
kind = "http"
url = "{portal_url}"
key = "{SANDBOX_KEY}"
secret = "{SANDBOX_SECRET}"

[delivery]
backoff_initial = "0.05s"
backoff_max = "0.5s"
circuit_cooldown = "0.5s"
process = {"true" if delivery_process else "false"}

[admin]
enabled = false
{extra}
"""


def write_config(folder: Path, name: str = "bridge.toml", **kwargs: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(config_text(**kwargs), encoding="utf-8")
    return path


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def bridge_cmd(config: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "bridge", "--config", str(config), *args]


@contextlib.contextmanager
def workdir(name: str, keep: bool = False) -> Iterator[Path]:
    """A scratch folder for one benchmark run (logs, state stores, configs)."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield folder
    except BaseException:
        print(f"kept for a look: {folder}", file=sys.stderr)
        raise
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)


# --- figures ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``min–max`` of a few rounds, to show the noise around a median."""
    if not values:
        return ""
    return f"{number(min(values))}–{number(max(values))}"


def number(v: float) -> str:
    """Three significant digits below 100, whole numbers with separators above."""
    return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return number(v)
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], int | float) for r in rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in text]
    return "\n".join(lines)


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>-<timestamp>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=_json_default))
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def latest(name: str) -> dict[str, Any] | None:
    """The newest saved result of a benchmark, if any."""
    found = sorted(RESULTS.glob(f"{name}-*.json"))
    return json.loads(found[-1].read_text()) if found else None


def publish(title: str, m: dict[str, Any], body: str, path: Path) -> None:
    """Print a benchmark's report: title, machine, tables and notes, and the JSON path."""
    print(f"\n## {title}\n")
    print(f"Machine: {machine_line(m)}\n")
    print(body)
    print(f"\nJSON: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def bench_context(settings: Any, db: Any) -> tuple[Any, list[Any]]:
    """A pipeline context whose sources are kept, so a benchmark can read their counters
    (requests made) after the cycle."""
    from bridge.context import Context
    from bridge.sources import make_source
    from bridge.targets import make_target

    sources: list[Any] = []

    def factory(scfg: Any) -> Any:
        source = make_source(scfg)
        sources.append(source)
        return source

    ctx = Context(
        settings=settings,
        db=db,
        target=make_target(settings.target),
        actor="bench",
        source_factory=factory,
    )
    return ctx, sources
