"""A benchmark's results: the machine it ran on, figures as a markdown table, and the JSON
saved under bench/results (``latest`` reads the newest back)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS


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
