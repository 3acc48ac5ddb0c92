"""Measured child processes: every process that does measured work is a child of the
benchmark; its CPU time and peak RSS come from ``os.wait4`` (that child alone, including
the children it reaped), so the servers' and the benchmark's own work never count against
the bridge. Also the CPU clocks of a process tree and of the whole machine, from /proc."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO


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
    children_cpu: float | None = None  # of ``cpu``: the children it reaped (None: unknown)

    @property
    def own_cpu(self) -> float | None:
        """CPU seconds of the process itself, without the children it reaped."""
        return None if self.children_cpu is None else max(self.cpu - self.children_cpu, 0.0)

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


def exited(pid: int, timeout: float | None) -> bool:
    """Wait until the child ``pid`` has exited, without reaping it (``WNOWAIT``): its
    /proc entry stays readable until ``reap``. False if it still runs when ``timeout``
    passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
            return True
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def reaped_children_cpu(pid: int) -> float | None:
    """CPU seconds of the children an exited, not yet reaped process has reaped
    (``cutime`` + ``cstime``: the bridge's delivery process), or None if unreadable."""
    try:
        fields = _stat(pid)
    except (OSError, IndexError):
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


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
    at the fork before the child's exec: a parent holding a large manifest made the bridge
    look about twice its size (bench/README.md, "Figures behind choices in the code").
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
        done = exited(proc.pid, timeout)
        # Read before reaping: the split between the process and its delivery process.
        children_cpu = reaped_children_cpu(proc.pid) if done else None
        reaped = reap(proc.pid, None) if done else None
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
        children_cpu=children_cpu,
    )
