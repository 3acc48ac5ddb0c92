"""`bridge config check --online` against real loopback peers, through the real CLI: the
sandbox site and portal, a closed port, a site that never answers, the exchange folder
and database, and state stores at every revision."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import config_text

from bridge import __version__
from bridge.sandbox.site import COLUMNS
from bridge.state.db import head_revision

pytestmark = pytest.mark.slow
HEAD = head_revision()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_target(config: Path, target: str) -> Path:
    """The config with its [target] table replaced."""
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"\[target\].*?(?=\n\[delivery\])", target, text, flags=re.S))
    return config


def check(cli, config: Path, *more: str):
    return cli("--config", str(config), "config", "check", "--online", *more, timeout=120)


def lines(result) -> dict[str, str]:
    """Check lines by what they check: ``{"column yyedu/zcwj": "ok    …"}``."""
    out = {}
    for line in result.out.splitlines()[1:-1]:
        out[line[6:].split("  ", 1)[0]] = line
    return out


@pytest.fixture
def ready(sandbox, write_config, cli):
    """A sandbox and a config whose state store is migrated: everything right."""

    def make(**kwargs: str) -> tuple[object, Path]:
        box = sandbox(items=20, seed=5)
        config = write_config(box, **kwargs)
        upgraded = cli("--config", str(config), "db", "upgrade")
        assert upgraded.code == 0, upgraded.both
        return box, config

    return make


def test_everything_right_is_one_ok_line_per_check_and_exit_0(ready, cli):
    box, config = ready()
    result = check(cli, config)
    assert result.code == 0, result.both
    out = result.out.splitlines()
    assert out[0] == f"{config}: OK; sources: yyedu (trs, 6 columns); target: portal (http)"
    assert out[1] == "ok    source yyedu robots.txt  200: all 6 column paths allowed"
    for (key, path, _name), line in zip(COLUMNS, out[2:8], strict=True):
        url = f"{box.site_url}{path.strip('/')}/index.html"
        assert re.fullmatch(
            rf"ok    column yyedu/{key}  {re.escape(url)}: 200, utf-8 \(meta\), "
            r"[1-9]\d* entries \(page 1 of \d+\)",
            line,
        ), line
    assert out[8] == (
        f"ok    target portal  {box.portal_url}: signed GET /api/v1/items?limit=1 "
        "accepted our key and secret"
    )
    store = r"(sqlite:///\S+state\.db|postgresql\+psycopg://postgres:\*\*\*@\S+)"  # either backend
    assert re.fullmatch(rf"ok    state store  {store}: at \w+, writable", out[9]), out[9]
    assert out[10:] == ["9 checks: 9 ok, 0 failed"]
    assert box.portal.store.items() == []  # nothing delivered


def test_json_format(ready, cli):
    _box, config = ready()
    result = check(cli, config, "--format", "json")
    assert result.code == 0, result.both
    document = json.loads(result.out)
    assert document["failed"] == 0
    assert [c["what"] for c in document["checks"]] == [
        "source yyedu robots.txt",
        *(f"column yyedu/{key}" for key, _p, _n in COLUMNS),
        "target portal",
        "state store",
    ]
    assert all(c["ok"] for c in document["checks"])


def test_wrong_secret_names_the_401_and_exits_1(ready, cli):
    _box, config = ready(secret="not-the-sandbox-secret-at-all")
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["target portal"] == (
        "FAIL  target portal  signed GET /api/v1/items?limit=1: the portal refused our "
        "credentials (401 signature does not match (method, path with query, timestamp, "
        "nonce, body)); check target.key and the target secret"
    )
    assert "not-the-sandbox" not in result.both
    assert result.out.splitlines()[-1] == "9 checks: 8 ok, 1 failed"


def test_portal_down_is_named_connection_refused(ready, cli):
    box, config = ready()
    port = closed_port()
    text = config.read_text(encoding="utf-8").replace(box.portal_url, f"http://127.0.0.1:{port}/")
    config.write_text(text, encoding="utf-8")
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["target portal"] == (
        "FAIL  target portal  signed GET /api/v1/items?limit=1: cannot connect to "
        f"http://127.0.0.1:{port}/: connection refused"
    )


def test_site_down_is_named_connection_refused(ready, cli):
    box, config = ready()
    box.site.stop()
    result = check(cli, config)
    assert result.code == 1, result.both
    found = lines(result)
    robots = f"{box.site_url}robots.txt"
    assert found["source yyedu robots.txt"] == (
        f"FAIL  source yyedu robots.txt  cannot connect to {robots}: connection refused"
    )
    for key, _path, _name in COLUMNS:
        assert found[f"column yyedu/{key}"].startswith("FAIL  "), found
        assert "connection refused" in found[f"column yyedu/{key}"]
    assert found["target portal"].startswith("ok    ")


COLUMN = '\n  [[sources.columns]]\n  key = "{key}"\n  path = "{path}"\n  category = "{name}"\n'


def test_column_path_answering_404_names_column_and_url(ready, cli, tmp_path):
    box, config = ready()
    text = config.read_text(encoding="utf-8").replace('path = "xxgk/qt/"', 'path = "xxgk/nosuch/"')
    config.write_text(text, encoding="utf-8")
    result = check(cli, config)
    assert result.code == 1, result.both
    url = f"{box.site_url}xxgk/nosuch/index.html"
    assert lines(result)["column yyedu/qt"] == (
        f"FAIL  column yyedu/qt  layout alarm: source 'yyedu', column 'qt': the listing "
        f"answered 404 (url {url}, selector 'index.html')"
    )
    assert result.out.splitlines()[-1] == "9 checks: 8 ok, 1 failed"


def test_column_whose_first_page_lists_nothing_fails(ready, cli):
    box, config = ready()
    (box.root / "empty").mkdir()
    (box.root / "empty" / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>空</title></head>'
        "<body><p>暂无信息</p></body></html>",
        encoding="utf-8",
    )
    text = config.read_text(encoding="utf-8").replace('path = "xxgk/qt/"', 'path = "empty/"')
    config.write_text(text, encoding="utf-8")
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["column yyedu/qt"] == (
        f"FAIL  column yyedu/qt  {box.site_url}empty/index.html: 200, utf-8 (meta), but 0 "
        "entries: the column path or the list selectors do not match this site"
    )


def test_robots_disallowing_a_column_fails(sandbox, write_config, cli):
    box = sandbox(items=20, seed=5, robots_disallow=["/xxgk/zcwj/"])
    config = write_config(box)
    assert cli("--config", str(config), "db", "upgrade").code == 0
    result = check(cli, config)
    assert result.code == 1, result.both
    found = lines(result)
    agent = (
        f"bridge/{__version__} (+government information disclosure sync; operator: bridge tests)"
    )
    assert found["source yyedu robots.txt"] == (
        f"FAIL  source yyedu robots.txt  disallows column zcwj ({box.site_url}xxgk/zcwj/) "
        f"for User-Agent {agent!r}"
    )
    assert found["column yyedu/zcwj"] == (
        f"FAIL  column yyedu/zcwj  robots.txt disallows {box.site_url}xxgk/zcwj/index.html"
    )
    assert found["column yyedu/jgzn"].startswith("ok    ")


def test_a_site_that_never_answers_is_cut_off_at_the_deadline(ready, cli):
    box, config = ready()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections wait in the backlog; nobody ever answers
    port = silent.getsockname()[1]
    try:
        text = config.read_text(encoding="utf-8").replace(
            f'base_url = "{box.site_url}"',
            f'base_url = "http://127.0.0.1:{port}/"\nfetch = {{ deadline = "2s" }}',
        )
        config.write_text(text, encoding="utf-8")
        started = time.monotonic()
        result = check(cli, config)
        took = time.monotonic() - started
    finally:
        silent.close()
    assert result.code == 1, result.both
    found = lines(result)
    robots = f"http://127.0.0.1:{port}/robots.txt"
    assert found["source yyedu robots.txt"] == (
        f"FAIL  source yyedu robots.txt  {robots} took longer than the deadline of 2 s "
        "(0 bytes read); gave up"
    )
    assert found["target portal"].startswith("ok    ")
    # The message names the deadline (the read timeout's would name that): cut off by the
    # 2 s deadline, not the 30 s read timeout, and not before it.
    assert took >= 2, took


def test_exchange_dir_under_a_file_is_not_writable(ready, cli, tmp_path):
    _box, config = ready()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with_target(
        config, f'[target]\nname = "exchange"\nkind = "exchange-dir"\ndirectory = "{blocker}/out"\n'
    )
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["target exchange"] == (
        f"FAIL  target exchange  exchange folder {blocker}/out: Not a directory"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder of mode 0555")
def test_exchange_dir_without_write_permission(ready, cli, tmp_path):
    _box, config = ready()
    folder = tmp_path / "exchange"
    folder.mkdir(mode=0o555)
    with_target(
        config, f'[target]\nname = "exchange"\nkind = "exchange-dir"\ndirectory = "{folder}"\n'
    )
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["target exchange"] == (
        f"FAIL  target exchange  exchange folder {folder}: Permission denied"
    )


def test_exchange_dir_writable_leaves_nothing(ready, cli, tmp_path):
    _box, config = ready()
    folder = tmp_path / "exchange"
    folder.mkdir()
    with_target(
        config, f'[target]\nname = "exchange"\nkind = "exchange-dir"\ndirectory = "{folder}"\n'
    )
    result = check(cli, config)
    assert result.code == 0, result.both
    assert lines(result)["target exchange"] == (
        f"ok    target exchange  exchange folder {folder} is writable"
    )
    assert list(folder.iterdir()) == []


def test_exchange_db_takes_a_row_and_keeps_none(ready, cli, tmp_path):
    _box, config = ready()
    db = tmp_path / "exchange.db"
    with_target(
        config, f'[target]\nname = "exchange"\nkind = "exchange-db"\ndb_url = "sqlite:///{db}"\n'
    )
    first = check(cli, config)
    assert first.code == 0, first.both
    assert lines(first)["target exchange"] == (
        f"ok    target exchange  sqlite:///{db}: table gov_disclosure_exchange not there yet: "
        "the first delivery creates it"
    )
    assert cli("--config", str(config), "sync", "--once").code == 0
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM gov_disclosure_exchange").fetchone()[0]
    second = check(cli, config)
    assert second.code == 0, second.both
    assert lines(second)["target exchange"] == (
        f"ok    target exchange  sqlite:///{db}: table gov_disclosure_exchange takes a row "
        "(rolled back)"
    )
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT count(*) FROM gov_disclosure_exchange").fetchone()[0]
    assert after == before == 20


def test_a_state_store_not_created_yet_is_a_new_setup_and_passes_if_its_folder_is_writable(
    sandbox, write_config, cli, tmp_path
):
    box = sandbox(items=20, seed=5)
    config = write_config(box)
    store = tmp_path / "new" / "state" / "bridge.db"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'state_url = "[^"]*"', f'state_url = "sqlite:///{store}"', text))
    result = check(cli, config)
    assert result.code == 0, result.both
    line = lines(result)["state store"]
    assert line == f"ok    state store  {store} not there yet: the first sync or run creates it"
    assert not (tmp_path / "new").exists()  # the check creates nothing

    (tmp_path / "file").write_text("x")
    config.write_text(
        re.sub(r'state_url = "[^"]*"', f'state_url = "sqlite:///{tmp_path}/file/bridge.db"', text)
    )
    result = check(cli, config)
    assert result.code == 1, result.both
    assert lines(result)["state store"] == (
        f"FAIL  state store  {tmp_path}/file/bridge.db: {tmp_path}/file is not a folder"
    )


@pytest.mark.sqlite_only
def test_state_store_at_an_unknown_revision_fails_with_the_upgrade_hint(ready, cli, tmp_path):
    _box, config = ready()
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    result = check(cli, config)
    assert result.code == 1, result.both
    line = lines(result)["state store"]
    assert line.startswith(f"FAIL  state store  sqlite:///{db}: at 9999, needs {HEAD}: run `")
    assert line.endswith(" db upgrade`")
    with sqlite3.connect(db) as conn:  # never migrated by a check
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


def test_config_problems_still_exit_2(tmp_path, cli):
    config = tmp_path / "bad.toml"
    config.write_text(config_text(tmp_path / "s.db", "not a url", "http://127.0.0.1:1/"))
    result = check(cli, config)
    assert result.code == 2, result.both
    assert "problem(s) in the configuration" in result.err
