"""Fault injection in the sandbox portal (DESIGN.md §8), driven over real HTTP.

Each fault must visibly do what it says, because the delivery tests (retries, Retry-After,
circuit breaker, the crash test) rely on it: a real portal on a free port, real
``requests`` with signed calls, exact outcomes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from waiting import wait_for

from bridge.net.signing import sign_headers
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.sandbox.portal_faults import Faults, InvalidFaults

REPO = Path(__file__).resolve().parents[2]
EID = "yyedu:t20121203_100012"
ITEMS = "/api/v1/items"


class Clock:
    """The portal's fault clock (epoch seconds): it moves only when a test moves it, so a
    Retry-After or an outage window is waited out without waiting."""

    def __init__(self, now: float = 1_765_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def portal(tmp_path: Path, clock: Clock) -> Iterator[PortalServer]:
    server = PortalServer(tmp_path / "portal.db", clock=clock)
    server.start()
    yield server
    server.stop()


class Client:
    """Signed Portal API calls, as the http target makes them."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = requests.Session()

    def call(
        self, method: str, path: str, body: bytes = b"", timeout: float = 10, **headers: str
    ) -> requests.Response:
        prepared = requests.Request(method, self.base + path, data=body, headers=headers).prepare()
        prepared.headers.update(
            sign_headers(SANDBOX_KEY, SANDBOX_SECRET, method, prepared.path_url, body)
        )
        return self.session.send(prepared, timeout=timeout)

    def put(self, external_id: str = EID, **changes: Any) -> requests.Response:
        body = json.dumps(record(external_id, **changes), ensure_ascii=False).encode()
        return self.call("PUT", item_path(external_id), body)

    def unsigned(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kw)


@pytest.fixture
def client(portal: PortalServer) -> Iterator[Client]:
    c = Client(portal.base_url)
    yield c
    c.session.close()


def item_path(external_id: str) -> str:
    return f"{ITEMS}/{quote(external_id, safe='')}"


def record(external_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "title": "关于做好2012年中小学校舍安全工作的通知",
        "publisher": "余姚市教育局",
        "created": "2012-12-03",
        "body_html": "<p>各中小学：</p>",
        "category": "业务工作",
        "disclosure": "主动公开",
        "validity": "有效",
        **changes,
    }


def log_of(portal: PortalServer) -> list[tuple[str, int | str, str | None]]:
    return [(e["method"], e["status"], e["fault"]) for e in portal.stats()["log"]]


def faults_of(portal: PortalServer) -> dict[str, int]:
    counters: dict[str, int] = portal.stats(with_log=False)["faults"]
    return {name: n for name, n in counters.items() if n}


# -- 5xx ------------------------------------------------------------------------------------


def test_error_rate_with_a_seed_hits_an_exact_count(portal: PortalServer, client: Client) -> None:
    portal.faults = Faults(error_rate=0.3, seed=7)
    statuses = [client.call("GET", ITEMS).status_code for _ in range(100)]
    errors = [s for s in statuses if s != 200]
    assert len(errors) == 29  # the seed's error stream: 29 of its first 100 draws are < 0.3
    assert set(errors) == {500, 502, 503}
    assert faults_of(portal) == {"errors": 29}
    assert portal.stats()["requests"]["GET"] == {"200": 71, **_counts(errors)}

    portal.faults = Faults(error_rate=0.3, seed=7)  # the same seed again: the same answers
    assert [client.call("GET", ITEMS).status_code for _ in range(100)] == statuses


def _counts(statuses: list[int]) -> dict[str, int]:
    return {str(s): statuses.count(s) for s in set(statuses)}


def test_an_error_answer_applies_nothing(portal: PortalServer, client: Client) -> None:
    portal.faults = Faults(error_rate=0.5, seed=1)
    answers = {f"yyedu:{n}": client.put(f"yyedu:{n}").status_code for n in range(20)}
    stored = {eid for eid, status in answers.items() if status == 201}
    assert 0 < len(stored) < 20
    assert set(answers.values()) - {201} <= {500, 502, 503}
    assert {item["external_id"] for item in portal.store.items()} == stored
    retry_afters = {r.headers.get("Retry-After") for r in (client.put("x") for _ in range(40))}
    assert retry_afters == {None, "1"}  # a 503 says Retry-After only sometimes


# -- 429 bursts and Retry-After ---------------------------------------------------------------


def test_a_429_burst_with_retry_after_in_seconds_counts_a_too_early_request(
    portal: PortalServer, client: Client, clock: Clock
) -> None:
    portal.set_faults(rate_limit_burst=2, retry_after=1)
    first = client.call("GET", ITEMS)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "1")
    hasty = client.call("GET", ITEMS)  # did not wait: refused again, and counted
    assert (hasty.status_code, hasty.headers["Retry-After"]) == (429, "1")
    assert hasty.json()["code"] == "rate_limited"
    clock.advance(0.999)
    early = client.call("GET", ITEMS)  # a millisecond early: still too early
    assert (early.status_code, early.json()["code"]) == (429, "rate_limited")
    clock.advance(0.001)
    second = client.call("GET", ITEMS)  # waited: the burst's second 429
    assert (second.status_code, second.headers["Retry-After"]) == (429, "1")
    clock.advance(1.0)
    assert client.call("GET", ITEMS).status_code == 200
    assert faults_of(portal) == {"throttled": 2, "too_early": 2}
    assert log_of(portal) == [
        ("GET", 429, "throttled"),
        ("GET", 429, "too_early"),
        ("GET", 429, "too_early"),
        ("GET", 429, "throttled"),
        ("GET", 200, None),
    ]
    times = [e["time"] for e in portal.stats()["log"]]
    assert times[3] - times[0] == 1.0 and times[4] - times[3] == 1.0
    assert portal.fault_report()["state"] == {
        "burst_left": 0,
        "throttled_until": None,
        "outage_left": 0.0,
    }


def test_a_429_burst_with_retry_after_as_an_http_date(
    portal: PortalServer, client: Client, clock: Clock
) -> None:
    portal.set_faults(rate_limit_burst=1, retry_after=1, retry_after_form="http-date")
    sent = clock()
    first = client.call("GET", ITEMS)
    assert first.status_code == 429
    header = first.headers["Retry-After"]
    assert header.endswith(" GMT")
    until = parsedate_to_datetime(header).timestamp()
    assert sent + 1 <= until <= sent + 2.5  # a whole second at least Retry-After away
    clock.now = until - 0.5
    early = client.call("GET", ITEMS)
    assert (early.status_code, early.headers["Retry-After"]) == (429, header)
    clock.now = until
    assert client.call("GET", ITEMS).status_code == 200
    assert faults_of(portal) == {"throttled": 1, "too_early": 1}


# -- outages --------------------------------------------------------------------------------


def test_an_outage_answers_503_until_the_window_ends(
    portal: PortalServer, client: Client, clock: Clock
) -> None:
    portal.outage_for(1.0)
    during = client.put()
    assert during.status_code == 503
    assert during.headers["Retry-After"] == "1"
    assert client.call("GET", ITEMS).status_code == 503
    assert client.unsigned("GET", "/api/v1/health").status_code == 200  # exempt
    assert portal.store.count() == 0
    assert portal.faults.outage_until == clock() + 1.0
    clock.advance(0.999)
    assert client.put().status_code == 503  # the window's last millisecond
    clock.advance(0.001)
    assert client.put().status_code == 201
    assert faults_of(portal) == {"outage": 3}


def test_an_outage_can_reset_connections_instead(
    portal: PortalServer, client: Client, clock: Clock
) -> None:
    portal.set_faults(outage_mode="reset")
    portal.outage_for(0.5)
    with pytest.raises(requests.ConnectionError):
        client.put()
    clock.advance(0.5)
    assert client.put().status_code == 201
    assert log_of(portal) == [("PUT", "dropped", "outage"), ("PUT", 201, None)]


# -- apply, then drop the connection ----------------------------------------------------------


def test_a_write_applied_then_dropped_is_stored_and_a_repeat_is_unchanged(
    portal: PortalServer, client: Client
) -> None:
    portal.set_faults(drop_after_write_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        client.put()
    assert client.call("GET", ITEMS).status_code == 200  # reads are never dropped
    bad = client.put(title="")  # a refused write changed nothing: it is answered
    assert bad.status_code == 422

    portal.clear_faults()
    held = client.call("GET", item_path(EID))
    assert held.status_code == 200
    assert (held.json()["version"], held.json()["status"]) == (1, "active")
    again = client.put()  # the bridge repeats the PUT whose answer was lost
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["version"]) == ("unchanged", 1)
    assert portal.store.count() == 1

    stats = portal.stats()
    assert stats["faults"]["dropped_after_write"] == 1
    assert stats["puts_by_status"] == {"created": 1, "updated": 0, "unchanged": 1}
    assert stats["requests"]["PUT"] == {"dropped": 1, "422": 1, "200": 1}
    assert log_of(portal)[0] == ("PUT", "dropped", "dropped_after_write")


def test_deletes_and_uploads_are_writes_too(portal: PortalServer, client: Client) -> None:
    assert client.put().status_code == 201
    portal.set_faults(drop_after_write_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        client.call("DELETE", item_path(EID))
    data = b"%PDF-1.4 attachment"
    upload = {"X-File-Name": "a.pdf", "X-File-Sha256": hashlib.sha256(data).hexdigest()}
    with pytest.raises(requests.ConnectionError):
        client.call("POST", "/api/v1/files", data, **upload)
    portal.clear_faults()
    assert client.call("GET", item_path(EID)).json()["status"] == "withdrawn"
    again = client.call("POST", "/api/v1/files", data, **upload)
    assert again.status_code == 200  # the same sha256 was stored before the drop
    assert faults_of(portal) == {"dropped_after_write": 2}


# -- latency and timeouts ---------------------------------------------------------------------


def test_latency_delays_every_api_answer_and_nothing_else(
    portal: PortalServer, client: Client
) -> None:
    # A minute of latency: a page or a control it delayed would time out (a 10 s hang
    # guard), and only API requests pass the one place that delays (the request log).
    portal.set_faults(latency=60.0)
    assert client.unsigned("GET", "/sandbox/stats").status_code == 200
    assert client.unsigned("GET", "/").status_code == 200
    assert log_of(portal) == []
    portal.set_faults(latency=0.3, latency_jitter=0.1, seed=2)
    started = time.monotonic()
    assert client.call("GET", ITEMS).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert log_of(portal) == [("GET", 200, None)]
    assert faults_of(portal) == {}  # latency slows answers; it is not a failure


def test_a_timeout_leaves_the_client_waiting_and_applies_nothing(
    portal: PortalServer, client: Client
) -> None:
    portal.set_faults(timeout_rate=1.0)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        client.call("PUT", item_path(EID), json.dumps(record(EID)).encode(), timeout=1)
    assert time.monotonic() - started >= 1.0
    assert portal.store.count() == 0
    assert log_of(portal) == [("PUT", "timeout", "timeouts")]
    portal.clear_faults()
    assert client.put().status_code == 201


def test_stop_cuts_a_held_request(tmp_path: Path) -> None:
    server = PortalServer(tmp_path / "portal.db", faults=Faults(timeout_rate=1.0))
    client = Client(server.start())
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            client.call("GET", ITEMS, timeout=30)
        except requests.RequestException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=wait)
    waiting.start()
    wait_for(lambda: server.stats()["total"], what="the request to arrive")
    server.stop()  # the request was to be held 35 s
    waiting.join(10)  # a hang guard, not a speed bound
    assert not waiting.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)


# -- what faults leave alone ------------------------------------------------------------------


def test_faults_spare_the_sandbox_controls_public_pages_and_health(
    portal: PortalServer, client: Client
) -> None:
    portal.faults = Faults(error_rate=1.0)
    assert client.call("GET", ITEMS).status_code in (500, 502, 503)
    for path in ("/sandbox/stats", "/sandbox/faults", "/", "/api/v1/health"):
        assert client.unsigned("GET", path).status_code == 200, path
    portal.set_faults(include_health=True)
    assert client.unsigned("GET", "/api/v1/health").status_code in (500, 502, 503)


# -- control over HTTP, from Python and from the CLI ------------------------------------------


def test_faults_are_shown_replaced_changed_and_cleared_over_http(
    portal: PortalServer, client: Client
) -> None:
    shown = client.unsigned("GET", "/sandbox/faults").json()
    assert shown == {
        "faults": Faults().to_json(),
        "state": {"burst_left": 0, "throttled_until": None, "outage_left": 0.0},
    }
    put = client.unsigned("PUT", "/sandbox/faults", json={"error_rate": 0.5, "seed": 3})
    assert put.status_code == 200
    assert portal.faults == Faults(error_rate=0.5, seed=3)

    patch = client.unsigned(
        "PATCH", "/sandbox/faults", json={"rate_limit_burst": 2, "outage_seconds": 30}
    )
    assert patch.status_code == 200
    assert (portal.faults.error_rate, portal.faults.rate_limit_burst) == (0.5, 2)
    state = patch.json()["state"]
    assert state["burst_left"] == 2 and 29 < state["outage_left"] <= 30

    replaced = client.unsigned("PUT", "/sandbox/faults", json={"latency": 0.01})
    assert replaced.json()["faults"] == Faults(latency=0.01).to_json()

    bad = client.unsigned(
        "PUT",
        "/sandbox/faults",
        json={"error_rate": 2, "bogus": 1, "retry_after_form": "soon", "seed": "x"},
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == [
        "bogus",
        "seed",
        "error_rate",
        "retry_after_form",
    ]
    assert portal.faults == Faults(latency=0.01)  # a refused change changes nothing

    cleared = client.unsigned("DELETE", "/sandbox/faults")
    assert cleared.status_code == 200 and portal.faults == Faults()
    assert client.unsigned("POST", "/sandbox/faults").status_code == 405


def test_faults_refuse_impossible_settings_all_at_once() -> None:
    with pytest.raises(InvalidFaults) as caught:
        Faults(error_rate=-0.1, timeout_rate=1.5, latency=float("nan"), hang_seconds=0,
               outage_mode="down")  # fmt: skip
    assert [e["field"] for e in caught.value.errors] == [
        "error_rate",
        "timeout_rate",
        "latency",
        "hang_seconds",
        "outage_mode",
    ]
    assert Faults().describe() == "none"
    assert Faults(error_rate=0.3, seed=7).describe() == "error_rate=0.3, seed=7"


def test_the_faults_command_changes_a_running_portal(
    portal: PortalServer, cli: Callable[..., Any]
) -> None:
    url = portal.base_url
    first = cli("sandbox", "faults", "--url", url, "--error-rate", "0.3", "--seed", "7")
    assert first.code == 0, first.err
    assert json.loads(first.out)["faults"] == Faults(error_rate=0.3, seed=7).to_json()

    burst = cli(
        "sandbox", "faults", "--url", url, "--burst-429", "3", "--retry-after", "2",
        "--retry-after-form", "http-date", "--latency-ms", "50", "--outage-seconds", "60",
    )  # fmt: skip
    assert burst.code == 0, burst.err
    assert portal.faults.error_rate == 0.3  # kept: only the options given change
    assert (portal.faults.rate_limit_burst, portal.faults.retry_after) == (3, 2)
    assert (portal.faults.retry_after_form, portal.faults.latency) == ("http-date", 0.05)
    assert json.loads(burst.out)["state"]["burst_left"] == 3

    counters = cli("sandbox", "stats", "--url", url, "--no-log")
    assert counters.code == 0, counters.err
    assert set(json.loads(counters.out)) == {"requests", "total", "puts_by_status", "faults"}

    cleared = cli("sandbox", "faults", "--url", url, "--clear")
    assert cleared.code == 0 and portal.faults == Faults()

    gone = cli("sandbox", "faults", "--url", "http://127.0.0.1:9/", "--error-rate", "0.1")
    assert gone.code == 1
    assert gone.err.startswith("Error: cannot reach the sandbox portal at http://127.0.0.1:9/")


def test_the_portal_command_starts_with_faults(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "sandbox", "portal", "--db", str(tmp_path / "p.db"),
         "--port", "0", "--error-rate", "1", "--latency-ms", "20", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        proc.stdout.readline()  # the key and the data file
        assert proc.stdout.readline() == "faults: error_rate=1.0, latency=0.02, seed=7\n"
        assert Client(url).call("GET", ITEMS).status_code in (500, 502, 503)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
