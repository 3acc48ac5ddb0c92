"""Shared fixtures: real sandbox servers on loopback, config files, and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from bridge.catalog import CatalogRecord, SourceRef
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.sandbox.site import COLUMNS, SiteServer, generate_site

# Hypothesis' per-example deadline is a timed assertion: on a shared, loaded machine it
# fails for reasons that say nothing about the code. Speed is measured in bench/.
settings.register_profile("bridge", deadline=None)
settings.load_profile("bridge")

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sandbox:
    root: Path
    site: SiteServer
    portal: PortalServer
    site_url: str
    portal_url: str


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Factory: a generated site and an empty portal, both served on free ports."""
    started: list[Sandbox] = []

    def make(
        items: int = 50,
        seed: int = 7,
        portal_clock: Callable[[], float] = time.time,
        **site_options: object,
    ) -> Sandbox:
        root = tmp_path / f"site{len(started)}"
        generate_site(root, items=items, seed=seed, **site_options)  # type: ignore[arg-type]
        site = SiteServer(root)
        portal = PortalServer(tmp_path / f"portal{len(started)}.db", clock=portal_clock)
        box = Sandbox(root, site, portal, site.start(), portal.start())
        started.append(box)
        return box

    yield make
    for box in started:
        box.site.stop()
        box.portal.stop()


def columns_toml(style: str = "trs") -> str:
    """The six sandbox columns as [[sources.columns]] tables, for either CMS style."""
    from bridge.sandbox.site_pages import HANWEB_IDS

    def path(key: str, trs_path: str) -> str:
        return f"col/col{HANWEB_IDS[key]}/" if style == "hanweb" else trs_path.strip("/") + "/"

    return "".join(
        f'\n  [[sources.columns]]\n  key = "{key}"\n  path = "{path(key, p)}"\n  category = "{name}"\n'
        for key, p, name in COLUMNS
    )


def config_text(
    state: Path | str,
    site_url: str,
    portal_url: str,
    *,
    secret: str = SANDBOX_SECRET,
    extra_source: str = "",
    extra: str = "",
    kind: str = "trs",
    charset: str = "utf-8",
    columns: str | None = None,
) -> str:
    return f"""
[bridge]
state_url = "{state if isinstance(state, str) else f"sqlite:///{state}"}"
operator = "bridge tests"
log_level = "INFO"

[fetch]
rate_limit = 1000.0
concurrency = 4

[[sources]]
name = "yyedu"
kind = "{kind}"
charset = "{charset}"
base_url = "{site_url}"
publisher = "余姚市教育局"
org_code = "002949236"
withdrawals = true
{extra_source}
{columns if columns is not None else columns_toml(kind)}
[target]
kind = "http"
url = "{portal_url}"
key = "{SANDBOX_KEY}"
secret = "{secret}"

[delivery]
backoff_initial = "0.05s"
backoff_max = "0.2s"
circuit_cooldown = "0.5s"
{extra}
"""


# --- the state store under test ------------------------------------------------------------
# `pytest --state-backend=postgresql` (or BRIDGE_TEST_STATE=postgresql) runs every test
# whose state store is the `state_url` fixture (all that write a config with write_config)
# against a fresh PostgreSQL database instead of a SQLite file; tests of SQLite itself (its
# files, WAL, flock) are marked `sqlite_only`. Tests with no state store, or with their own
# PostgreSQL (workers, cluster, exchange-db), run in the default run only.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--state-backend",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("BRIDGE_TEST_STATE", "sqlite"),
        help="state store for the tests that write a config (default: sqlite)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL run keeps the tests whose state store follows --state-backend
    (they ask for the `state_url` fixture, directly or through `write_config`)."""
    if config.getoption("--state-backend") != "postgresql":
        return
    kept = [
        i
        for i in items
        if "state_url" in getattr(i, "fixturenames", ())
        and i.get_closest_marker("sqlite_only") is None
    ]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept


@pytest.fixture
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.config.getoption("--state-backend") == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def write_config(tmp_path: Path, state_url: str) -> Callable[..., Path]:
    def write(box: Sandbox, name: str = "bridge.toml", **kwargs: str) -> Path:
        path = tmp_path / name
        path.write_text(
            config_text(state_url, box.site_url, box.portal_url, **kwargs),
            encoding="utf-8",
        )
        return path

    return write


def _state_url_of(config: Path) -> str:
    import tomllib

    return str(tomllib.loads(config.read_text(encoding="utf-8"))["bridge"]["state_url"])


def cycle_context(config_path: Path):  # -> bridge.context.Context
    """What `bridge sync --once` builds from a config, for tests that call run_once."""
    from bridge import config
    from bridge.context import Context
    from bridge.state.db import open_database
    from bridge.targets import make_target

    loaded = config.load(config_path)
    return Context(
        settings=loaded,
        db=open_database(loaded.state_url.reveal()),
        target=make_target(loaded.target),
        actor="test",
    )


def run_cycle(config_path: Path, **kwargs: Any):  # -> bridge.crawl.run.RunSummary
    """One ``run_once`` on a context of its own, its store closed afterwards."""
    from bridge.crawl.run import RunOptions, run_once

    ctx = cycle_context(config_path)
    try:
        return run_once(ctx, RunOptions(**kwargs))  # kwargs: RunOptions fields
    finally:
        ctx.db.dispose()


# --- catalog records ----------------------------------------------------------------------


def make_record(
    external_id: str,
    title: str,
    *,
    category: str = "业务工作",
    genre: str = "通知",
    published: datetime,
    doc_no: str | None = None,
    disclosure: str = "主动公开",
    validity: str = "有效",
    body: str = "<p>为进一步做好相关工作，现将有关事项通知如下。</p>",
) -> CatalogRecord:
    """A valid record of the sandbox source, as the pipeline would store it."""
    article_id = external_id.split(":", 1)[1]
    return CatalogRecord(
        external_id=external_id,
        title=title,
        summary=title,
        publisher="余姚市教育局",
        created=published.date(),
        published=published,
        doc_no=doc_no,
        category=category,
        topic="科技、教育\\教育",
        genre=genre,
        body_html=body,
        source=SourceRef(
            "yyedu", "ywgz", f"http://site.example/{article_id}.html", article_id, published
        ),
        disclosure=disclosure,
        validity=validity,
    )


def state_rows(config: Path, sql: str, **params: object) -> list[tuple]:
    """Rows of a query on the state store a config names (SQLite or PostgreSQL)."""
    from sqlalchemy import text

    from bridge.state.db import Database

    db = Database(_state_url_of(config))
    try:
        with db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        db.dispose()


def run_out_leases(db: Any, *, until: datetime | None = None) -> int:
    """Age the leases of in-flight deliveries into the past (all, or those that end at or
    before ``until``), as if their time had run out; returns how many. A lease running out
    is a fact in the store: a test sets it instead of waiting for the clock. ``db`` is a
    ``bridge.state.db.Database``."""
    from datetime import timedelta

    from sqlalchemy import update

    from bridge.state.models import DeliveryRow, utcnow

    q = update(DeliveryRow).where(DeliveryRow.status == "inflight")
    if until is not None:
        q = q.where(DeliveryRow.lease_until <= until)
    with db.write() as s:
        result = s.execute(q.values(lease_until=utcnow() - timedelta(hours=1)))
    return int(getattr(result, "rowcount", 0))


def state_execute(config: Path, sql: str, **params: object) -> None:
    """Change the state store behind the bridge's back (to damage it on purpose)."""
    from sqlalchemy import text

    from bridge.state.db import Database

    db = Database(_state_url_of(config))
    try:
        with db.engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        db.dispose()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def run_bridge(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 180,
    launcher: tuple[str, ...] = (),
) -> Result:
    """The real CLI in a subprocess, as an operator runs it (``launcher``: a command that
    runs it, e.g. ``("taskset", "-c", "0")``)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BRIDGE_", "CREDENTIALS_DIRECTORY"))
    }
    full_env = {**inherited, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(
        [*launcher, sys.executable, "-m", "bridge", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_bridge


# --- PostgreSQL ------------------------------------------------------------------------------
# A throwaway server for the whole session: pgserver ships PostgreSQL in a wheel, so the
# README's test command needs nothing installed by hand. BRIDGE_TEST_PG_URL points the
# tests at another server instead (a database the tests may create databases in).


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("BRIDGE_TEST_PG_URL")
    if url:
        yield url
        return
    import shutil
    import tempfile

    import pgserver

    # Not under pytest's numbered temp folders: another pytest session cleaning old ones
    # up would delete a running server's data directory.
    folder = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, as a SQLAlchemy URL (psycopg 3)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = pg_admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
