"""The sandbox portal, driven over real HTTP with signed requests (DESIGN.md §5).

Each test gets its own portal on a free port and its own database; requests are signed
with ``bridge.net.signing`` exactly as the ``http`` target signs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from bridge.catalog import Attachment, CatalogRecord, SourceRef
from bridge.net.signing import HEADER_NONCE, HEADER_TIMESTAMP, sign_headers, signature
from bridge.normalize.hashing import content_hash
from bridge.sandbox.portal import (
    SANDBOX_KEY,
    SANDBOX_ORG_CODE,
    SANDBOX_SECRET,
    PortalServer,
    PortalStore,
)

EID = "yyedu:t20121203_100012"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[PortalServer]:
    server = PortalServer(tmp_path / "portal.db", max_file_size=4096)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


class Client:
    """Signs what requests will actually send: the prepared path, the exact body bytes."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base = base_url.rstrip("/")
        self.session = session

    def call(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        key: str = SANDBOX_KEY,
        secret: str = SANDBOX_SECRET,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> requests.Response:
        prepared = requests.Request(method, self.base + path, data=body, headers=headers).prepare()
        if sign:
            prepared.headers.update(sign_headers(key, secret, method, prepared.path_url, body))
        return self.session.send(prepared, timeout=10)

    def put(self, record: dict[str, Any], external_id: str | None = None) -> requests.Response:
        eid = external_id or record["external_id"]
        return self.call("PUT", item_path(eid), json.dumps(record, ensure_ascii=False).encode())

    def upload(self, data: bytes, name: str, sha256: str | None = None) -> requests.Response:
        headers = {
            "X-File-Name": quote(name, safe=""),
            "X-File-Sha256": sha256 or hashlib.sha256(data).hexdigest(),
            "Content-Type": "application/pdf",
        }
        return self.call("POST", "/api/v1/files", data, headers=headers)

    def page(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=10)


@pytest.fixture
def client(portal: PortalServer, session: requests.Session) -> Client:
    return Client(portal.base_url, session)


def item_path(external_id: str) -> str:
    return "/api/v1/items/" + quote(external_id, safe="")


def make_record(
    external_id: str = EID,
    title: str = "关于做好2012年中小学校舍安全工作的通知",
    created: date = date(2012, 12, 3),
    category: str = "业务工作",
    attachments: tuple[Attachment, ...] = (),
    fetched_at: datetime = datetime(2012, 12, 4, 8, 0, tzinfo=UTC),
) -> dict[str, Any]:
    """A catalog record in wire form, built the way the bridge builds it."""
    return CatalogRecord(
        external_id=external_id,
        title=title,
        summary="各中小学：为切实做好校舍安全工作，现将有关事项通知如下。",
        publisher="余姚市教育局",
        created=created,
        published=datetime(2012, 12, 3, 9, 30, tzinfo=UTC),
        doc_no="余教〔2012〕12号",
        category=category,
        topic="科技、教育\\教育",
        genre="通知",
        body_html="<p>各中小学：</p><p>为切实做好校舍安全工作……</p>",
        source=SourceRef("yyedu", "tzgg", "http://www.yyedu.gov.cn/x.html", "100012", fetched_at),
        keywords=("校舍", "安全"),
        attachments=attachments,
    ).to_json()


# -- PUT: create, unchanged, update, index numbers ------------------------------------------


def test_put_creates_then_unchanged_then_updated(client: Client, portal: PortalServer) -> None:
    record = make_record()
    first = client.put(record)
    assert (first.status_code, first.json()) == (
        201,
        {"external_id": EID, "index_no": "002949236/2012-00001", "version": 1, "status": "created"},
    )
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"

    refetched = make_record(fetched_at=datetime(2013, 1, 1, tzinfo=UTC))  # volatile only
    again = client.put(refetched)
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged" and again.json()["version"] == 1

    changed = make_record(title="关于做好2012年中小学校舍安全工作的补充通知")
    updated = client.put(changed)
    assert updated.status_code == 200
    assert updated.json() == {
        "external_id": EID,
        "index_no": "002949236/2012-00001",
        "version": 2,
        "status": "updated",
    }

    got = client.call("GET", item_path(EID))
    assert got.status_code == 200
    body = got.json()
    assert body["title"] == changed["title"]
    assert (body["version"], body["status"]) == (2, "active")
    assert body["content_hash"] == content_hash(changed)
    assert body["updated_at"].endswith("+00:00")
    assert [v["version"] for v in portal.store.history(EID)] == [1, 2]
    assert portal.store.count() == 1


def test_index_numbers_are_minted_per_year_and_kept(client: Client) -> None:
    minted = [
        client.put(make_record(f"yyedu:{n}", created=date(year, 5, 1))).json()["index_no"]
        for n, year in enumerate((2012, 2012, 2013, 2012))
    ]
    assert minted == [
        "002949236/2012-00001",
        "002949236/2012-00002",
        "002949236/2013-00001",
        "002949236/2012-00003",
    ]
    # An update keeps the number, even when the 成文 year changes.
    moved = make_record("yyedu:0", created=date(2014, 1, 2), title="改过的标题通知")
    assert client.put(moved).json()["index_no"] == "002949236/2012-00001"


def test_supplied_index_no_is_kept_and_a_duplicate_conflicts(client: Client) -> None:
    own = dict(make_record("yyedu:a"), index_no="002949236/2012-00001")
    assert client.put(own).json()["index_no"] == "002949236/2012-00001"
    # Minting skips the number the bridge already used.
    assert client.put(make_record("yyedu:b")).json()["index_no"] == "002949236/2012-00002"

    clash = client.put(dict(make_record("yyedu:c"), index_no="002949236/2012-00001"))
    assert clash.status_code == 409
    assert clash.json()["code"] == "conflict"
    assert "yyedu:a" in clash.json()["message"]

    renumber = client.put(dict(make_record("yyedu:a"), index_no="002949236/2012-00099"))
    assert renumber.status_code == 409


def test_repeated_put_never_creates_a_second_item(client: Client, portal: PortalServer) -> None:
    record = make_record()
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: client.put(record).status_code, range(8)))
    assert statuses == [200] * 7 + [201]
    assert portal.store.count() == 1
    assert portal.stats()["puts_by_status"] == {"created": 1, "updated": 0, "unchanged": 7}


# -- 422 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"external_id": "yyedu:other"}, "external_id"),
        ({"title": ""}, "title"),
        ({"publisher": None}, "publisher"),
        ({"created": "2012/12/03"}, "created"),
        ({"created": "2012-02-30"}, "created"),
        ({"body_html": "  "}, "body_html"),
        ({"category": "新闻动态"}, "category"),
        ({"disclosure": "公开"}, "disclosure"),
        ({"validity": "长期"}, "validity"),
        ({"summary": "概" * 151}, "summary"),
        ({"index_no": "2949236 /2012-1"}, "index_no"),  # any form a page shows, no spaces
        ({"published": "昨天"}, "published"),
        ({"attachments": [{"name": "a.pdf", "sha256": "0" * 64, "file_id": "nope"}]},
         "attachments[0].file_id"),
    ],
)  # fmt: skip
def test_invalid_records_are_refused_with_the_field(
    client: Client, change: dict[str, Any], field: str
) -> None:
    response = client.put(dict(make_record(), **change), external_id=EID)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert [e["field"] for e in body["errors"]] == [field]
    assert all(e["message"] for e in body["errors"])


def test_every_problem_is_reported_at_once(client: Client, portal: PortalServer) -> None:
    record = dict(make_record(), title="", category="x", summary="长" * 200)
    response = client.put(record)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"title", "category", "summary"}
    assert portal.store.count() == 0


def test_invalid_json_is_422(client: Client) -> None:
    response = client.call("PUT", item_path(EID), b'{"title": ')
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


# -- 401 ---------------------------------------------------------------------------------------


def _signed(method: str, path: str, body: bytes, timestamp: int, nonce: str) -> dict[str, str]:
    """Headers for a hand-made request (a chosen timestamp or nonce)."""
    ts = str(timestamp)
    return {
        "X-Bridge-Key": SANDBOX_KEY,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        "X-Bridge-Signature": signature(SANDBOX_SECRET, method, path, ts, nonce, body),
    }


def _send(client: Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.session.request(method, client.base + path, data=body, headers=headers)


@pytest.mark.parametrize(
    "attack", ["unknown key", "wrong secret", "stale timestamp", "replayed nonce",
               "tampered body", "short nonce", "unsigned"],
)  # fmt: skip
def test_unauthenticated_requests_get_401(
    client: Client, portal: PortalServer, attack: str
) -> None:
    path, body = item_path(EID), json.dumps(make_record(), ensure_ascii=False).encode()
    if attack == "unknown key":
        response = client.call("PUT", path, body, key="someone-else")
    elif attack == "wrong secret":
        response = client.call("PUT", path, body, secret="not-the-secret")
    elif attack == "stale timestamp":
        headers = _signed("PUT", path, body, int(time.time()) - 301, "ab" * 16)
        response = _send(client, "PUT", path, body, headers)
    elif attack == "replayed nonce":
        headers = _signed("GET", "/api/v1/items", b"", int(time.time()), "cd" * 16)
        assert _send(client, "GET", "/api/v1/items", b"", headers).status_code == 200
        response = _send(client, "GET", "/api/v1/items", b"", headers)
    elif attack == "tampered body":
        headers = _signed("PUT", path, body, int(time.time()), "ef" * 16)
        tampered = body.replace("校舍".encode(), "操场".encode())
        response = _send(client, "PUT", path, tampered, headers)
    elif attack == "short nonce":
        headers = _signed("PUT", path, body, int(time.time()), "0123456789abcde")
        response = _send(client, "PUT", path, body, headers)
    else:
        response = client.call("PUT", path, body, sign=False)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"]
    assert SANDBOX_SECRET not in response.text
    assert portal.store.count() == 0


def test_health_needs_no_signature(client: Client) -> None:
    response = client.page("/api/v1/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# -- files ---------------------------------------------------------------------------------------


def test_file_upload_dedupes_by_sha256_and_round_trips_a_chinese_name(client: Client) -> None:
    data = b"%PDF-1.4 sandbox attachment"
    name = "附件1：2012年校舍安全检查表.pdf"
    first = client.upload(data, name)
    assert first.status_code == 201
    file_id = first.json()["file_id"]
    again = client.upload(data, "另一个名字.pdf")
    assert (again.status_code, again.json()) == (200, {"file_id": file_id})

    served = client.page(f"/files/{file_id}")
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].endswith("filename*=UTF-8''" + quote(name))
    assert client.page("/files/f-unknown").status_code == 404


def test_file_upload_refuses_a_wrong_sha256_and_a_too_large_body(client: Client) -> None:
    bad = client.upload(b"some bytes", "a.pdf", sha256="0" * 64)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "X-File-Sha256"

    assert client.upload(b"x" * 4096, "fits.pdf").status_code == 201
    too_large = client.upload(b"y" * 4097, "big.pdf")  # the fixture allows 4096 bytes
    assert too_large.status_code == 413
    way_too_large = client.upload(b"z" * (6 * 1024 * 1024), "huge.pdf")  # over every limit
    assert way_too_large.status_code == 413
    # The connection stays usable after a refused upload.
    assert client.call("GET", "/api/v1/items").status_code == 200


def test_attachments_refer_to_uploaded_files(client: Client) -> None:
    data = "统计表".encode()
    file_id = client.upload(data, "统计表.xls").json()["file_id"]
    sha = hashlib.sha256(data).hexdigest()
    attachment = Attachment("统计表.xls", "http://www.yyedu.gov.cn/a.xls", "application/vnd.ms-excel",
                            len(data), sha, file_id)  # fmt: skip
    assert client.put(make_record(attachments=(attachment,))).status_code == 201
    page = client.page(f"/catalog/items/{quote(EID, safe='')}")
    assert f'href="/files/{file_id}"' in page.text and "统计表.xls" in page.text

    wrong = Attachment("x.xls", "http://x/a.xls", "application/vnd.ms-excel", 1, "1" * 64, file_id)
    response = client.put(make_record("yyedu:2", attachments=(wrong,)))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "attachments[0].sha256"


# -- DELETE and GET ------------------------------------------------------------------------------


def test_delete_withdraws_and_hides_from_the_public(client: Client) -> None:
    client.put(make_record())
    withdrawn = client.call("DELETE", item_path(EID))
    assert (withdrawn.status_code, withdrawn.json()) == (
        200,
        {
            "external_id": EID,
            "index_no": "002949236/2012-00001",
            "version": 1,
            "status": "withdrawn",
        },
    )
    assert client.call("DELETE", item_path(EID)).status_code == 200
    assert client.call("GET", item_path(EID)).json()["status"] == "withdrawn"

    assert "关于做好2012年" not in client.page("/catalog/业务工作").text
    assert "业务工作</a>（0）" in client.page("/").text
    gone = client.page(f"/catalog/items/{quote(EID, safe='')}")
    assert gone.status_code == 410 and "该信息已撤销" in gone.text

    back = client.put(make_record())
    assert back.json() == {
        "external_id": EID,
        "index_no": "002949236/2012-00001",
        "version": 2,
        "status": "updated",
    }
    assert client.call("GET", item_path(EID)).json()["status"] == "active"


def test_unknown_items_are_404(client: Client) -> None:
    assert client.call("DELETE", item_path("yyedu:nope")).status_code == 404
    missing = client.call("GET", item_path("yyedu:nope"))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


# -- the reconciliation list -----------------------------------------------------------------------


def test_list_pages_cover_every_item_exactly_once(client: Client) -> None:
    ids = [f"yyedu:{n:03d}" for n in range(23)]
    for eid in ids:
        assert client.put(make_record(eid)).status_code == 201
    client.call("DELETE", item_path(ids[5]))
    seen: list[dict[str, Any]] = []
    cursor = ""
    pages = 0
    while True:
        response = client.call("GET", f"/api/v1/items?cursor={cursor}&limit=7")
        assert response.status_code == 200
        body = response.json()
        seen += body["items"]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert pages == 4
    assert [i["external_id"] for i in seen] == ids
    assert seen[5]["status"] == "withdrawn" and seen[6]["status"] == "active"
    assert set(seen[0]) == {"external_id", "index_no", "content_hash", "status", "updated_at"}

    since = quote(seen[-1]["updated_at"], safe="")
    recent = client.call("GET", f"/api/v1/items?since={since}").json()
    assert [i["external_id"] for i in recent["items"]] == [ids[5], ids[-1]]  # withdrawn later
    assert client.call("GET", "/api/v1/items?limit=abc").status_code == 422


# -- public pages -----------------------------------------------------------------------------------


def test_public_pages_render_chinese_and_escape(client: Client) -> None:
    client.put(make_record("yyedu:x", title="<script>alert(1)</script>关于开展安全检查的通知"))
    client.put(make_record("yyedu:y", category="政策文件", title="余姚市教育局关于印发规划的通知"))
    home = client.page("/")
    assert home.status_code == 200
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "余姚市政府信息公开平台" in home.text
    for category, count in (("机构职能", 0), ("政策文件", 1), ("业务工作", 1), ("其他", 0)):
        assert f"{category}</a>（{count}）" in home.text
    assert "<script>alert" not in home.text and "&lt;script&gt;alert(1)" in home.text

    detail = client.page("/catalog/items/" + quote("yyedu:x", safe=""))
    assert detail.status_code == 200
    assert "<script>alert" not in detail.text and "&lt;script&gt;" in detail.text
    for label in ("索引号", "发布机构", "生成日期", "文号", "组配分类", "主题分类", "体裁分类",
                  "公开方式", "有效性", "名称", "内容概述"):  # fmt: skip
        assert f"<th>{label}</th>" in detail.text
    assert "余教〔2012〕12号" in detail.text and "<p>各中小学：</p>" in detail.text

    assert client.page("/catalog/items/yyedu%3Amissing").status_code == 404
    assert client.page("/catalog/新闻").status_code == 404
    assert client.page("/no/such/page").status_code == 404


def test_category_list_is_newest_first_twenty_per_page(client: Client) -> None:
    for day in range(1, 22):
        client.put(make_record(f"yyedu:d{day}", created=date(2012, 3, day), title=f"第{day}号通知"))
    first = client.page("/catalog/" + quote("业务工作"))
    assert first.status_code == 200
    assert first.text.count("号通知</a>") == 20
    assert first.text.index("第21号通知") < first.text.index("第20号通知")
    assert "共 21 条，第 1 / 2 页" in first.text
    second = client.page("/catalog/" + quote("业务工作") + "?page=2")
    assert second.text.count("号通知</a>") == 1 and "第1号通知" in second.text
    assert client.page("/catalog/" + quote("业务工作") + "?page=3").status_code == 404


# -- stats, persistence, serve_forever ------------------------------------------------------------


def test_stats_count_api_requests(client: Client, portal: PortalServer) -> None:
    client.put(make_record())
    client.put(make_record())
    client.put(make_record(title="改了的通知"))
    client.call("GET", item_path(EID))
    client.call("DELETE", item_path("yyedu:nope"))
    client.call("PUT", item_path(EID), b"{}", secret="wrong")
    client.page("/")  # public pages are not counted
    expected = {
        "requests": {
            "PUT": {"201": 1, "200": 2, "401": 1},
            "POST": {},
            "DELETE": {"404": 1},
            "GET": {"200": 1},
        },
        "total": 6,
        "puts_by_status": {"created": 1, "updated": 1, "unchanged": 1},
        "faults": {"errors": 0, "timeouts": 0, "throttled": 0, "too_early": 0, "outage": 0,
                   "dropped_after_write": 0},
    }  # fmt: skip
    shown = client.page("/sandbox/stats").json()
    log = shown.pop("log")
    assert shown == expected
    assert client.page("/sandbox/stats?log=0").json() == expected
    assert portal.stats(with_log=False) == expected
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in log] == [
        ("PUT", item_path(EID), 201, None),
        ("PUT", item_path(EID), 200, None),
        ("PUT", item_path(EID), 200, None),
        ("GET", item_path(EID), 200, None),
        ("DELETE", item_path("yyedu:nope"), 404, None),
        ("PUT", item_path(EID), 401, None),
    ]
    times = [e["time"] for e in log]
    assert times == sorted(times) and time.time() - 10 < times[0] <= times[-1] <= time.time()
    reset = client.session.post(client.base + "/sandbox/stats/reset")
    assert reset.status_code == 200
    assert portal.stats()["total"] == 0
    assert portal.stats()["puts_by_status"] == {"created": 0, "updated": 0, "unchanged": 0}


def test_the_store_outlives_the_server(tmp_path: Path, session: requests.Session) -> None:
    db = tmp_path / "portal.db"
    server = PortalServer(db)
    client = Client(server.start(), session)
    client.put(make_record())
    server.stop()
    with PortalStore(db) as store:
        (item,) = store.items()
        assert (item["external_id"], item["index_no"], item["version"]) == (
            EID,
            f"{SANDBOX_ORG_CODE}/2012-00001",
            1,
        )
        assert store.get("yyedu:nope") is None


def test_port_in_use_names_the_address(portal: PortalServer, tmp_path: Path) -> None:
    port = int(portal.base_url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
        PortalServer(tmp_path / "other.db", port=port).start()


def test_serve_forever_prints_the_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "portal.db"
    code = (
        "import sys; from pathlib import Path; from bridge.sandbox.portal import serve_forever; "
        "serve_forever(Path(sys.argv[1]), 0)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        second = proc.stdout.readline().decode()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert second == f"portal API key {SANDBOX_KEY}, data in {db} (Ctrl-C to stop)\n"
        assert requests.get(url + "api/v1/health", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert SANDBOX_SECRET.encode() not in out + err
