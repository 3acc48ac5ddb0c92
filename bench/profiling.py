"""Where the bridge spends its CPU: a cProfile of one run, reduced to two short tables.

The bridge runs in a child process under ``python -m bench.profiling OUT -m MODULE …``:
cProfile for the main thread *and every other thread* (the bridge fetches detail pages
on a thread pool and delivers on a thread of its own; ``python -m cProfile`` would see
only the main thread), merged into one stats file, with the process's CPU and wall time
beside it (``OUT.json``).

Each thread is timed by its own CPU clock (``time.thread_time``): with several threads a
wall-clock profile charges every wait for the GIL or a lock to whatever was waiting, and
says little. So these tables show where the CPU goes; time spent waiting (fsync, the
network) shows in the benchmark's wall-time phases instead. cProfile slows the run
down: the tables say *where*, never how fast.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO
from bench.results import table

BRIDGE = str(REPO / "bridge") + "/"


def profiled(cmd: list[str], out: Path) -> list[str]:
    """``cmd`` (a ``python -m …`` command) run under this module's profiler, writing ``out``."""
    assert cmd[0] == PYTHON and cmd[1] == "-m", cmd
    return [PYTHON, "-m", "bench.profiling", str(out), *cmd[1:]]


def _name(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename.startswith(BRIDGE):
        return f"bridge/{filename[len(BRIDGE) :]}:{line} {func}"
    if filename == "~":
        return func  # a builtin, e.g. {method 'commit' of 'sqlite3.Connection' objects}
    parts = Path(filename).parts
    cut = parts.index("site-packages") + 1 if "site-packages" in parts else len(parts) - 2
    return f"{'/'.join(parts[cut:])}:{line} {func}"


def summarize(path: Path, *, top: int = 25) -> dict[str, Any]:
    """The bridge's own functions by cumulative CPU, and every function by own CPU."""
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    side = Path(str(path) + ".json")
    totals = json.loads(side.read_text()) if side.exists() else {}
    cpu = totals.get("cpu_s") or max((v[3] for v in raw.values()), default=1.0)
    rows = [
        {
            "function": _name(key),
            "calls": nc,
            "own_s": round(tt, 3),
            "cumulative_s": round(ct, 3),
        }
        for key, (_cc, nc, tt, ct, _callers) in raw.items()
    ]
    ours = [r for r in rows if r["function"].startswith("bridge/")]
    ours.sort(key=lambda r: r["cumulative_s"], reverse=True)
    hot = sorted(rows, key=lambda r: r["own_s"], reverse=True)
    return {
        "cpu_s": round(cpu, 2),
        "wall_s": totals.get("wall_s"),
        "cumulative": ours[:top],
        "own": hot[:top],
    }


def tables(summary: dict[str, Any]) -> str:
    """The two tables in markdown."""
    cpu = summary["cpu_s"]
    cumulative = table(
        ["bridge function", "calls", "cumulative CPU s", "% of CPU"],
        [
            (r["function"], r["calls"], r["cumulative_s"], f"{100 * r['cumulative_s'] / cpu:.1f}")
            for r in summary["cumulative"]
        ],
    )
    own = table(
        ["function (any package)", "calls", "own CPU s", "% of CPU"],
        [
            (r["function"], r["calls"], r["own_s"], f"{100 * r['own_s'] / cpu:.1f}")
            for r in summary["own"]
        ],
    )
    wall = f", {summary['wall_s']:.0f} s of wall time" if summary.get("wall_s") else ""
    return (
        f"Profiled run: {cpu:.1f} s of CPU{wall} under cProfile, every thread on its own CPU "
        "clock, all threads merged (the delivery thread's and the fetch threads' functions "
        "are rooted apart from run_once's).\n\n"
        f"By cumulative CPU (the bridge's own functions):\n\n{cumulative}\n\n"
        f"By own CPU (any package):\n\n{own}"
    )


def main() -> None:
    """``python -m bench.profiling OUT -m MODULE ARGS…``: run MODULE, profile every thread."""
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.profiling OUT -m MODULE [ARGS…]")
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main_profile = cProfile.Profile(time.thread_time)
    sys.argv = [module, *args]
    code = 0
    wall = time.perf_counter()
    main_profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        main_profile.disable()
        stats = pstats.Stats(main_profile)
        with lock:
            for profile in profiles:
                stats.add(profile)
        stats.dump_stats(out)
        totals = {"cpu_s": time.process_time(), "wall_s": time.perf_counter() - wall}
        Path(out + ".json").write_text(json.dumps(totals))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
