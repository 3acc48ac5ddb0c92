"""No secret in any output: the portal secret (the right one and a wrong one), the admin
token and basic-auth password, and the password of a PostgreSQL state URL must appear in no
line of stdout or stderr of any command, no admin page, no daemon log, and nowhere in the
state store (the audit trail with all its details included).

The commands are a representative set an operator runs, on the good path and on the bad
one: a sync refused by the portal, a config with mistakes, a database server that cannot
be reached, a daemon reloaded with SIGHUP and stopped. Every secret is distinctive text,
so a leak of any ten characters of one is found, not only of the whole.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import REPO, Result, config_text, run_bridge
from waiting import wait_for

from bridge.cli import main
from bridge.sandbox.portal import SANDBOX_KEY, PortalServer

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

SECRETS = {
    "portal secret": "Portal-Secret-Qz8wXk3vN7pL2rT9",
    "wrong portal secret": "Wrong-Secret-Hj4mBn6cV1xZ5sD8",
    "admin token": "Admin-Token-Pw9eRt2yU6iO3aS7",
    "admin basic password": "Basic-Pass-Gf5hJk8lM2nB4vC6",
    "PostgreSQL password": "Pg-Pass-Lk3jH7gF2dS9aQ5w",
}
WINDOW = 10  # any run of this many characters of a secret counts as a leak
ENV = {
    "BRIDGE_ADMIN_TOKEN": SECRETS["admin token"],
    "BRIDGE_ADMIN_BASIC_PASSWORD": SECRETS["admin basic password"],
}


def leaks(text: str) -> list[str]:
    """The secrets any ``WINDOW`` characters of which appear in ``text``."""
    return [
        name
        for name, secret in SECRETS.items()
        if any(secret[i : i + WINDOW] in text for i in range(len(secret) - WINDOW + 1))
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Scan:
    """Every output of the test, by where it came from."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.outputs.append((where, text))

    def cli(self, *args: str, config: Path | None = None, code: int | None = None) -> Result:
        argv = ("--config", str(config), *args) if config else args
        result = run_bridge(*argv, env=ENV)
        self.add(" ".join(args) + " (stdout)", result.out)
        self.add(" ".join(args) + " (stderr)", result.err)
        assert "Traceback" not in result.both, (args, result.both)
        if code is not None:
            assert result.code == code, (args, result.both)
        return result

    def found(self) -> list[tuple[str, str, str]]:
        return [
            (where, name, line)
            for where, text in self.outputs
            for line in text.splitlines()
            for name in leaks(line)
        ]


def every_command(group=main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in sorted(getattr(group, "commands", {}).items()):
        out.extend(every_command(command, (*prefix, name)))
    return out


def test_no_secret_in_any_output_log_page_or_state(sandbox, write_config, tmp_path):
    box = sandbox(items=8, seed=13)
    box.portal.stop()
    portal = PortalServer(tmp_path / "portal-own.db", keys={SANDBOX_KEY: SECRETS["portal secret"]})
    box = replace(box, portal=portal, portal_url=portal.start())
    try:
        _scan(box, write_config, tmp_path)
    finally:
        portal.stop()


def _scan(box, write_config, tmp_path: Path) -> None:
    scan = Scan()
    port = free_port()
    admin = f'[admin]\nport = {port}\nbasic_user = "auditor"\n'
    daemon = '[daemon]\ndrain_interval = "1s"\nresync_poll = "1s"\n'
    config = write_config(box, secret=SECRETS["portal secret"], extra=daemon + "\n" + admin)
    wrong = write_config(box, "wrong.toml", secret=SECRETS["wrong portal secret"], extra=admin)
    pg_url = f"postgresql://bridge:{SECRETS['PostgreSQL password']}@127.0.0.1:{free_port()}/bridge"
    pg = tmp_path / "pg.toml"
    pg.write_text(
        re.sub(r'state_url = "[^"]*"', f'state_url = "{pg_url}"', config.read_text()),
        encoding="utf-8",
    )
    mistakes = tmp_path / "mistakes.toml"
    mistakes.write_text(
        config_text(tmp_path / "m.db", "not a url", box.portal_url, secret=SECRETS["portal secret"])
        .replace('org_code = "002949236"', 'org_code = "12345"')
        .replace('state_url = "sqlite:', f'state_url = "{pg_url}"\nstate_urll = "sqlite:')
        + "\n[admin]\nhost = '0.0.0.0'\nport = 70000\n",
        encoding="utf-8",
    )

    assert leaks(config.read_text()) == ["portal secret"]  # the scan finds what is there
    refused = scan.cli("sync", "--once", config=wrong, code=1)
    assert "refused our credentials" in refused.err
    scan.cli("sync", "--once", config=config, code=0)
    for command in (
        ("status",),
        ("audit",),
        ("audit", "--format", "json"),
        ("audit", "--format", "csv"),
        ("audit", "verify"),
        ("config", "show"),
        ("config", "check"),
        ("resync", "--dry-run"),
        ("retry",),
        ("reconcile",),
        ("report", "--year", str(time.localtime().tm_year)),
        ("db", "current"),
    ):
        scan.cli(*command, config=config)
    checked = scan.cli("config", "check", config=mistakes, code=2)
    assert "sources[0].org_code" in checked.err and "admin.port" in checked.err
    scan.cli("config", "show", config=mistakes, code=2)
    for command in (("config", "show"), ("config", "check"), ("status",), ("sync", "--once")):
        scan.cli(*command, config=pg)  # a database server nobody answers at
    online = scan.cli("config", "check", "--online", config=config, code=0)
    assert "ok    target portal" in online.out
    refused_online = scan.cli("config", "check", "--online", config=wrong, code=1)
    assert "refused our credentials (401" in refused_online.out
    assert "FAIL  state store" in scan.cli("config", "check", "--online", config=pg, code=1).out
    exchange = tmp_path / "exchange-pg.toml"  # an exchange database nobody answers at
    exchange.write_text(
        re.sub(
            r"\[target\].*?(?=\n\[delivery\])",
            f'[target]\nkind = "exchange-db"\ndb_url = "{pg_url}"\n',
            config.read_text(),
            flags=re.S,
        ),
        encoding="utf-8",
    )
    assert "FAIL  target" in scan.cli("config", "check", "--online", config=exchange, code=1).out

    runner = CliRunner()
    for command in every_command():
        result = runner.invoke(main, [*command, "--help"], env=ENV)
        assert result.exit_code == 0, (command, result.output)
        scan.add(" ".join(command) + " --help", result.output)

    log = tmp_path / "daemon.log"
    _daemon(scan, config, port, log)
    scan.add("daemon log", log.read_text(encoding="utf-8"))

    dump = dump_store(config)
    assert "audit_events" in dump
    scan.add("state store (every table)", dump)

    assert scan.found() == []
    if os.environ.get("BRIDGE_TEST_SHOW_SCAN"):  # to read what was scanned
        for where, text in scan.outputs:
            print(f"--- {where}\n{text[:600]}")
    assert len(scan.outputs) > 60


def _daemon(scan: Scan, config: Path, port: int, log: Path) -> None:
    """``bridge run`` as systemd runs it (stderr to the journal, here a file): wait for
    its admin pages, read them, reload it with SIGHUP, stop it with SIGTERM."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--config", str(config), "run"],
            stdout=err, stderr=err, env={**inherited, **ENV, "PYTHONPATH": str(REPO)}, cwd=REPO,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}/"

            def serving() -> bool:
                assert proc.poll() is None, log.read_text(encoding="utf-8")
                try:
                    return requests.get(base + "healthz", timeout=2).status_code in (200, 503)
                except requests.ConnectionError:
                    return False

            wait_for(serving, 60, what="the admin port", poll=0.2)
            bearer = {"Authorization": f"Bearer {SECRETS['admin token']}"}
            for path in ("healthz", "metrics", "", "audit", "reconcile"):
                page = requests.get(base + path, headers=bearer, timeout=10)
                assert page.status_code in (200, 503), (path, page.status_code)
                scan.add(f"admin /{path}", page.text)
            refused = requests.get(base, timeout=10)
            assert refused.status_code == 401
            scan.add("admin / without credentials", refused.text + str(refused.headers))
            proc.send_signal(signal.SIGHUP)
            wait_for(
                lambda: "config reloaded from" in log.read_text(encoding="utf-8"),
                30,
                what="the reload's log line",
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text(encoding="utf-8")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in log.read_text(encoding="utf-8")


def dump_store(config: Path) -> str:
    """Every row of every table of the state store, as text (SQLite or PostgreSQL)."""
    import tomllib

    from sqlalchemy import inspect

    from bridge.state.db import Database

    db = Database(tomllib.loads(config.read_text(encoding="utf-8"))["bridge"]["state_url"])
    try:
        with db.engine.connect() as conn:
            lines = []
            for table in sorted(inspect(conn).get_table_names()):
                lines.append(f"-- {table}")
                for row in conn.exec_driver_sql(f'SELECT * FROM "{table}"'):
                    lines.append(repr(tuple(row)))
        return "\n".join(lines)
    finally:
        db.dispose()
