"""Issue 19, finding 12: the admin server answers only a Host header that names it (DNS
rebinding: a page in a browser on this machine whose name an attacker points at 127.0.0.1
sends its own name), a token shorter than 24 characters is refused off loopback, and a bad
query parameter is a 400 naming it — never a 500, never a traceback in the log — on every
admin page and on the sandbox portal's public catalog."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import pytest
from conftest import REPO, config_text
from hypothesis import example, given
from hypothesis import strategies as st

from bridge import audit, config
from bridge.admin.pages import mount
from bridge.net.signing import sign_headers
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.service.health import Metrics
from bridge.service.web import MISDIRECTED, AdminServer, allowed_host
from bridge.state import audit_log
from bridge.state.db import open_database

CONFIGURED = '\n[admin]\nhosts = ["bridge.example.org", "proxy.example.org:8443"]\n'
TOKEN = "Zr0xq4c9Hk2V7mT1bN8yWd5E"  # 24 characters: the shortest token allowed off loopback
BEFORE = (
    "请求有误：参数 before 须为 0 到 9223372036854775807 之间的整数\n"
    "bad request: before: must be a whole number from 0 to 9223372036854775807\n"
)
POLICY = "政策文件"


def send(port: int, target: str, *hosts: str, address: str = "127.0.0.1",
         token: str | None = None) -> tuple[int, bytes]:  # fmt: skip
    """GET ``target`` with exactly these Host headers (none, one, or several)."""
    conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        for host in hosts:
            conn.putheader("Host", host)
        if token:
            conn.putheader("Authorization", f"Bearer {token}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def make_state(folder: Path, extra: str = CONFIGURED) -> Path:
    """A config and its state store holding a few audit events (no site is needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    state_url = f"sqlite:///{folder / 'state.db'}"
    path = folder / "bridge.toml"
    path.write_text(
        config_text(state_url, "http://127.0.0.1:9/", "http://127.0.0.1:9/", extra=extra),
        encoding="utf-8",
    )
    db = open_database(state_url, create=True)
    with db.write() as s:
        for n in range(5):
            audit_log.append(s, audit.ITEM_DISCOVERED, actor="test", source="yyedu",
                             item=f"yyedu:t{n}")  # fmt: skip
    db.dispose()
    return path


# --- DNS rebinding: the real `bridge web` ----------------------------------------------------


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``bridge web`` on a free loopback port, as an operator starts it."""
    path = make_state(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--config", str(path), "web", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("admin pages on http://127.0.0.1:"), line
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    yield port, proc
    proc.terminate()
    proc.wait(timeout=30)


def test_a_rebound_name_gets_421_and_no_data(web):
    port, proc = web
    attacker = f"rebind.attacker.example:{port}"
    for path in ("/", "/audit", "/items/yyedu:t1", "/reconcile", "/healthz", "/metrics"):
        assert send(port, path, attacker) == (421, MISDIRECTED), path
    status, body = send(port, "/audit", f"127.0.0.1:{port}")
    assert status == 200 and b"yyedu:t1" in body  # the same request, naming the server
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert f"refused a request for host '{attacker}' (421)" in err


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
        ("localhost:9000", 200),  # an ssh tunnel's port: the name is what rebinding cannot fake
        ("bridge.example.org", 200),  # a configured name, any port
        ("bridge.example.org:{port}", 200),
        ("proxy.example.org:8443", 200),  # a configured name with its port
        ("proxy.example.org:{port}", 421),
        ("proxy.example.org", 421),
        ("rebind.attacker.example", 421),
        ("localhost.attacker.example:{port}", 421),
        ("127.0.0.1.nip.io:{port}", 421),
        ("127.0.0.1:{port}@attacker.example", 421),
        ("127.0.0.1:notaport", 421),
        ("[::1", 421),
        ("", 421),
    ],
)
def test_only_names_of_this_server_are_answered(web, host, status):
    port, _ = web
    got, body = send(port, "/", host.format(port=port))
    assert got == status, body[:200]
    if status == 421:
        assert body == MISDIRECTED


def test_a_request_without_one_host_header_is_refused(web):
    port, _ = web
    refused = (
        400,
        "请求有误：须有且仅有一个 Host 头\nbad request: send exactly one Host header\n".encode(),
    )
    assert send(port, "/") == refused
    assert send(port, "/", f"127.0.0.1:{port}", "rebind.attacker.example") == refused


def test_bound_to_every_address_it_answers_the_address_a_request_came_in_on(tmp_path, cli):
    path = make_state(tmp_path, CONFIGURED.replace("hosts", f'token = "{TOKEN}"\nhosts'))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "--config", str(path), "web", "--host", "0.0.0.0",  # noqa: S104
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split("http://0.0.0.0:")[1].split("/")[0])
        # 127.0.0.2 is this machine too (all of 127/8 is loopback) but no loopback *name*:
        # it is answered because the connection arrived on it, 127.0.0.3 is not.
        for host, status in [(f"127.0.0.2:{port}", 200), (f"127.0.0.3:{port}", 421),
                             (f"localhost:{port}", 200), ("bridge.example.org", 200),
                             (f"rebind.attacker.example:{port}", 421)]:  # fmt: skip
            assert send(port, "/", host, address="127.0.0.2", token=TOKEN)[0] == status, host
        assert send(port, "/healthz", f"127.0.0.3:{port}", address="127.0.0.2")[0] == 421
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_bound_to_ipv6_loopback(tmp_path):
    path = make_state(tmp_path)
    settings = config.load(path, environ={})
    db = open_database(settings.state_url.reveal(), create=False)
    server = AdminServer(replace(settings.admin, host="::1", port=0), settings=lambda: settings,
                         db=db, metrics=Metrics(settings, db), started_at=datetime.now(UTC))  # fmt: skip
    mount(server)
    url = server.start()
    try:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert url == f"http://[::1]:{port}/"
        assert send(port, "/", f"[::1]:{port}", address="::1")[0] == 200
        assert send(port, "/", "localhost", address="::1")[0] == 200
        assert send(port, "/", f"rebind.attacker.example:{port}", address="::1")[0] == 421
    finally:
        server.stop()
        db.dispose()


@pytest.mark.parametrize(
    ("bind", "hosts", "local", "host", "answered"),
    [
        ("192.0.2.7", (), "192.0.2.7", "192.0.2.7:8803", True),
        ("192.0.2.7", (), "192.0.2.7", "localhost:8803", False),  # not reachable that way
        ("admin.lan", (), "192.0.2.7", "ADMIN.LAN.", True),
        ("0.0.0.0", (), "192.0.2.7", "192.0.2.7:8803", True),  # noqa: S104
        ("0.0.0.0", (), "192.0.2.7", "192.0.2.8:8803", False),  # noqa: S104
        ("::", (), "::ffff:192.0.2.7", "192.0.2.7", True),
        ("::", (), "2001:db8::7", "[2001:DB8:0::7]:8803", True),
        ("::", (), "2001:db8::7", "[2001:db8::8]:8803", False),
        ("0.0.0.0", ("metrics.lan:9100",), "192.0.2.7", "metrics.lan:9100", True),  # noqa: S104
    ],
)
def test_which_names_a_bind_answers(bind, hosts, local, host, answered):
    cfg = config.AdminConfig(host=bind, hosts=hosts)
    assert allowed_host(host, cfg, local) is answered


# --- the token ----------------------------------------------------------------------------------

SHORT = "tok-3f9a"
HOW = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'


def test_a_short_token_is_a_config_problem_off_loopback(tmp_path, cli):
    path = make_state(tmp_path, f'\n[admin]\nhost = "0.0.0.0"\ntoken = "{SHORT}"\n')
    result = cli("--config", str(path), "config", "check")
    assert result.code == 2
    assert result.err.splitlines() == [
        "1 problem(s) in the configuration:",
        f"  {path}: admin.token: is shorter than 24 characters, too short for admin pages on "
        f"0.0.0.0; make one with: {HOW}",
    ]
    assert SHORT not in result.both
    path.write_text(path.read_text().replace(SHORT, TOKEN))
    assert cli("--config", str(path), "config", "check").code == 0


def test_a_short_token_is_fine_on_loopback_but_not_for_web_on_every_address(tmp_path, cli):
    path = make_state(tmp_path, f'\n[admin]\ntoken = "{SHORT}"\n')
    assert cli("--config", str(path), "config", "check").code == 0
    result = cli("--config", str(path), "web", "--host", "0.0.0.0", "--port", "0")  # noqa: S104
    assert result.code == 2
    assert result.err == (
        "bridge: admin.token is shorter than 24 characters, too short for admin pages on "
        f"0.0.0.0; make one with: {HOW}\n"
    )
    assert SHORT not in result.both


# --- query parameters: exact answers --------------------------------------------------------


class Errors(logging.Handler):
    """Every record at ERROR or with a traceback, from any thread of this process."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Errors]]:
    """The admin pages and the sandbox portal on loopback, in this process, logs watched."""
    folder = tmp_path_factory.mktemp("admin-params")
    settings = config.load(make_state(folder), environ={})
    db = open_database(settings.state_url.reveal(), create=False)
    admin = AdminServer(replace(settings.admin, port=0), settings=lambda: settings, db=db,
                        metrics=Metrics(settings, db), started_at=datetime.now(UTC))  # fmt: skip
    mount(admin)
    admin_port = int(admin.start().rsplit(":", 1)[1].strip("/"))
    portal = PortalServer(folder / "portal.db")
    portal_port = int(portal.start().rsplit(":", 1)[1].strip("/"))
    errors = Errors()
    logging.getLogger().addHandler(errors)
    yield admin_port, portal_port, errors
    logging.getLogger().removeHandler(errors)
    portal.stop()
    admin.stop()
    db.dispose()


def admin_get(servers: tuple[int, int, Errors], target: str) -> tuple[int, str]:
    port = servers[0]
    status, body = send(port, target, f"127.0.0.1:{port}")
    return status, body.decode()


def portal_get(servers: tuple[int, int, Errors], target: str) -> tuple[int, str]:
    port = servers[1]
    status, body = send(port, target, f"127.0.0.1:{port}")
    return status, body.decode()


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("before=%C2%B2", BEFORE),  # "²": str.isdigit() says yes, int() says no
        ("before=99999999999999999999999999", BEFORE),  # past SQLite's 64-bit integers
        ("before=9223372036854775808", BEFORE),
        ("before=-1", BEFORE),
        ("before=", BEFORE),
        ("before=+5", BEFORE),
        ("before=%EF%BC%95", BEFORE),  # a full-width 5
        (
            "before=1&before=2",
            "请求有误：参数 before 出现了 2 次，只能给一次\n"
            "bad request: before: given 2 times; give it once\n",
        ),
        (
            "item=%FF",
            "请求有误：查询参数解码后不是 UTF-8\n"
            "bad request: the query string is not UTF-8 once percent-decoded\n",
        ),
        (
            "item=a%00b",
            "请求有误：参数 item 不得含控制字符\nbad request: item: control characters are not allowed\n",
        ),
        (
            "source=" + "x" * 501,
            "请求有误：参数 source 超过 500 个字符\nbad request: source: longer than 500 characters\n",
        ),
        (
            "&".join(f"f{n}=1" for n in range(51)),
            "请求有误：查询参数超过 50 个\nbad request: more than 50 query parameters\n",
        ),
    ],
)
def test_a_bad_audit_parameter_is_400_naming_it(servers, query, answer):
    before = len(servers[2].records)
    assert admin_get(servers, "/audit?" + query) == (400, answer)
    assert servers[2].records[before:] == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("since=yesterday", "起始：无法识别的时间：yesterday"),
        ("until=9999-12-31", "截止：无法识别的时间：9999-12-31"),  # the day after overflows
        ("since=0001-01-01", "起始：无法识别的时间：0001-01-01"),  # before year 1 in UTC
        ("since=0001-01-01T00:00%2B14:00", "起始：无法识别的时间：0001-01-01T00:00+14:00"),
    ],
)
def test_a_bad_time_is_400_with_the_form_saying_what(servers, query, problem):
    status, page = admin_get(servers, "/audit?" + query)
    assert status == 400
    assert f'<p class="bad">{problem}（格式 2026-11-28 或 2026-11-28T09:30）</p>' in page
    assert "条符合条件的事件" not in page  # no trail filtered half-way


def test_good_parameters_still_page_and_filter(servers):
    status, page = admin_get(servers, "/audit?before=4&since=&until=9999-12-30&item=&source=")
    assert status == 200
    assert "共 5 条符合条件的事件，新的在前；本页编号 3–1。" in page
    assert admin_get(servers, "/audit?before=0")[0] == 200
    assert admin_get(servers, "/audit?utm_source=x&utm_source=y")[0] == 200  # unread: ignored
    assert admin_get(servers, "/items/yyedu:t1%00")[0] == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=%C2%B2", "page: must be a whole number from 1 to 1000000000"),
        ("page=99999999999999999999", "page: must be a whole number from 1 to 1000000000"),
        ("page=0", "page: must be a whole number from 1 to 1000000000"),
        ("page=-1", "page: must be a whole number from 1 to 1000000000"),
        ("page=", "page: must be a whole number from 1 to 1000000000"),
        ("page=1&page=2", "page: given 2 times; give it once"),
        ("page=%FF", "the query string is not UTF-8 once percent-decoded"),
    ],
)
def test_a_bad_portal_page_parameter_is_400_naming_it(servers, query, message):
    before = len(servers[2].records)
    status, page = portal_get(servers, f"/catalog/{quote(POLICY)}?{query}")
    assert status == 400
    assert f'<p class="notice">请求有误：{message}</p>' in page
    assert servers[2].records[before:] == []
    assert portal_get(servers, f"/catalog/{quote(POLICY)}?page=1")[0] == 200


@pytest.mark.parametrize("cursor", ["%C2%B2", "99999999999999999999999999"])
def test_a_bad_portal_api_cursor_is_422(servers, cursor):
    port = servers[1]
    target = f"/api/v1/items?cursor={cursor}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", target, headers=sign_headers(SANDBOX_KEY, SANDBOX_SECRET, "GET",
                                                         target, b""))  # fmt: skip
        response = conn.getresponse()
        answer = response.status, json.loads(response.read())
    finally:
        conn.close()
    assert answer == (422, {"code": "invalid", "errors": [
        {"field": "cursor", "message": "not a cursor this portal gave"}]})  # fmt: skip


# --- query parameters: whatever a browser can send ------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["before", "since", "until", "event", "item", "source", "page", "x"]),
    st.text(max_size=6),
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.sampled_from(["²", "٣", "99999999999999999999999999", "-1", "", "9999-12-31",
                     "0001-01-01", "2026-11-28T09:30+14:00", "\x00", "1e3", " 7"]),
)  # fmt: skip
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=6).map(
    lambda pairs: "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs)
)
RAW = st.binary(max_size=40).map(lambda b: quote_from_bytes(b, safe="=&%+;"))
QUERIES = st.one_of(PAIRS, RAW)
ADMIN_PATHS = ["/", "/audit", "/reconcile", "/items/yyedu:t1", "/healthz", "/metrics"]
PORTAL_PATHS = ["/", f"/catalog/{quote(POLICY)}", "/catalog/items/yyedu:t1"]


@given(path=st.sampled_from(ADMIN_PATHS), query=QUERIES)
@example(path="/audit", query="before=%C2%B2")
@example(path="/audit", query="before=99999999999999999999999999")
@example(path="/audit", query="until=9999-12-31")
def test_no_query_string_breaks_an_admin_page(servers, path, query):
    before = len(servers[2].records)
    status, body = admin_get(servers, f"{path}?{query}")
    assert status < 500 or (path == "/healthz" and status == 503), (status, body[:300])
    assert servers[2].records[before:] == []


@given(path=st.sampled_from(PORTAL_PATHS), query=QUERIES)
@example(path=f"/catalog/{quote(POLICY)}", query="page=%C2%B2")
@example(path=f"/catalog/{quote(POLICY)}", query="page=99999999999999999999")
def test_no_query_string_breaks_a_portal_page(servers, path, query):
    before = len(servers[2].records)
    status, body = portal_get(servers, f"{path}?{query}")
    assert status < 500, (status, body[:300])
    assert servers[2].records[before:] == []
