"""The bridge under a benchmark: its config (one TRS sandbox source delivering to a sandbox
portal, politeness lifted), its command line, a scratch folder per run, and a context
whose sources are kept so their counters can be read after a cycle."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import PYTHON
from bench.sites import BASE_COLUMNS


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
