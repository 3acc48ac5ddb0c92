"""The admin pages after a real sandbox sync: no English word in what a reader sees,
titles wherever an item is named, the filtered trail as CSV (the CLI's bytes), and the
charts with their exact numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from admin_helpers import AdminSite, portal_alter_title, portal_delete_row
from bs4 import BeautifulSoup
from sqlalchemy import select, update

from bridge.admin.pages import item_url
from bridge.sandbox.site import load_manifest
from bridge.state import items
from bridge.state.models import DeliveryRow, ItemRow

pytestmark = pytest.mark.slow

# English words that must not appear in a page's text outside <code>, ids and titles.
DENY = frozenset(
    str.split(
        "ok done closed open half failed failure pending error errors running dead inflight "
        "superseded active withdrawn quarantined listed missing unknown absent put delete "
        "withdraw drain held same different difference differences alarm never run yes no true "
        "false none sent confirmed created updated retry status item items source portal site "
        "state store note fix the of on not and is in to for hash prev since until event details "
        "actor title circuit foreign version delivery"
    )
)
QUARANTINED = "yyedu:t20261201_999001"
Q_TITLE = "关于隔离条目测试的通知"


def english_words(html: str) -> list[str]:
    """Deny-listed words in the visible text: tags stripped; <code>, <pre>, ids (class
    "id") and titles of items (class "title") are data and left out."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.select("code, pre, style, .id, .title, head"):
        tag.decompose()
    text = soup.get_text(" ")
    return [w for w in re.findall(r"[A-Za-z]+", text) if w.lower() in DENY]


@pytest.fixture
def site(sandbox, write_config, cli):
    box = sandbox(items=30, seed=9)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    live = load_manifest(box.root).live()
    portal_delete_row(box.portal.store.db_path, f"yyedu:{live[0].id}")  # "+": re-send
    portal_alter_title(box.portal.store.db_path, f"yyedu:{live[1].id}", "被改过的标题")  # "*"
    assert cli("--config", str(config), "reconcile").code == 1
    admin = AdminSite(config)
    with admin.db.write() as s:
        source_id = s.execute(select(ItemRow.source_id)).scalars().first()
        items.quarantine(
            s, source_id=source_id, source_name="yyedu", external_id=QUARANTINED,
            article_id=QUARANTINED.split(":")[1], column="ywgz", url="http://site/q.html",
            fingerprint="", problems=[{"field": "created", "rule": "required",
                                       "message": "no 成文日期"}],
            actor="test", run_id=None, title=Q_TITLE,
        )  # fmt: skip
    yield admin, config, live
    admin.close()


def test_no_english_word_on_any_admin_page_and_titles_everywhere(site):
    admin, _, live = site
    first = f"yyedu:{live[0].id}"
    pages = ["/", "/audit", "/audit?" + urlencode({"item": first}), item_url(first),
             item_url(QUARANTINED), "/reconcile", "/charts",
             "/audit?event=delivery.confirmed", "/audit?event=reconcile.finished"]  # fmt: skip
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert english_words(response.text) == [], path

    status = BeautifulSoup(admin.get("/").text, "html.parser")
    row = status.find("a", string=QUARANTINED).find_parent("tr")
    assert row.select_one("td.title").get_text() == Q_TITLE  # from its audit event
    assert "关闭（正常）" in status.get_text() and "closed（正常）" not in status.get_text()
    assert "共 2 处差异：仅网站有 1（+），仅平台有 0（-），内容不同 1（*）" in status.get_text()

    reconcile = BeautifulSoup(admin.get("/reconcile").text, "html.parser")
    lines = {r.select_one("td.id").get_text(): r for r in reconcile.select("tbody tr")
             if r.select_one("td.id")}  # fmt: skip
    plus = lines[first].find_all("td")
    assert plus[2].get_text() == live[0].title
    assert [td.get_text() for td in plus[3:]] == [
        "在列", "在网", "无", "平台上没有：重新发送第 1 版", "重新发送"
    ]  # fmt: skip
    assert admin.get(item_url(QUARANTINED)).text.count(f"<h1>{Q_TITLE}</h1>") == 1

    trail = BeautifulSoup(admin.get("/audit?event=record.quarantined").text, "html.parser")
    assert [d.get_text() for d in trail.select("td div.title")] == [Q_TITLE]
    option = trail.find("option", attrs={"value": "delivery.dead"})
    assert option.get_text() == "发送失败（死信）" and option["title"] == "delivery.dead"


def test_audit_csv_keeps_the_filters_and_writes_the_clis_bytes(site, cli):
    admin, config, _ = site
    page = BeautifulSoup(
        admin.get("/audit?event=delivery.confirmed&source=yyedu").text, "html.parser"
    )
    link = page.find("a", class_="csv")["href"]
    assert link == "/audit.csv?event=delivery.confirmed&source=yyedu"
    response = admin.get(link)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).astimezone(items_tz()).strftime("%Y%m%d")
    assert response.headers["Content-Disposition"] == f'attachment; filename="audit-{today}.csv"'
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeffid,time,actor,event,source,item,run_id,title,details,"
                           "details_json,prev_hash,hash\n")  # fmt: skip
    expected = cli("--config", str(config), "audit", "--event", "delivery.confirmed",
                   "--source", "yyedu", "--format", "csv")  # fmt: skip
    assert expected.code == 0 and body == expected.out
    rows = body.strip("\ufeff").splitlines()[1:]
    assert len(rows) == 30 and all(",delivery.confirmed,yyedu," in r for r in rows)
    assert all(re.search(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00,", r) for r in rows)

    assert admin.get("/audit.csv?since=yesterday").status_code == 400
    assert "起始：无法识别的时间：yesterday" in admin.get("/audit.csv?since=yesterday").text
    assert admin.get("/audit.csv?item=a&item=b").status_code == 400
    everything = admin.get("/audit.csv").content.decode("utf-8")
    assert everything == cli("--config", str(config), "audit", "--format", "csv").out


def items_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def test_charts_show_the_backlog_deliveries_and_latency(site):
    admin, _, _ = site
    now = datetime.now(UTC)
    with admin.db.write() as s:
        ids = list(s.execute(select(DeliveryRow.id).order_by(DeliveryRow.id)).scalars())[:10]
        s.execute(update(DeliveryRow).where(DeliveryRow.id.in_(ids)).values(
            created_at=now - timedelta(days=3, hours=1), done_at=now - timedelta(days=1, hours=-1)
        ))  # fmt: skip
        rows = list(s.execute(select(ItemRow).where(ItemRow.first_confirmed_at.is_not(None))
                              .order_by(ItemRow.id)).scalars())  # fmt: skip
        assert len(rows) == 30
        for n, row in enumerate(rows):
            back = 0 if n < 5 else 2 if n < 9 else 5 if n < 12 else 40
            row.published_at = row.first_confirmed_at - timedelta(days=back)
    page = BeautifulSoup(admin.get("/charts").text, "html.parser")
    assert page.find("script") is None and page.find("img") is None
    backlog, daily, latency, *_ = page.select("svg.chart")  # then the two time measures
    assert [s["id"] for s in (backlog, daily, latency)] == ["chart-backlog", "chart-daily",
                                                             "chart-latency"]  # fmt: skip
    assert len(backlog.select("circle.point")) == 29
    assert len(daily.select("rect.bar")) == 30 and len(latency.select("rect.bar")) == 5
    tables = page.select("details.numbers table")
    values = [[int(td.get_text()) for td in t.select("td.num")] for t in tables]
    assert values[0] == [0] * 16 + [10] * 9 + [0] * 4
    assert sum(values[1]) == 30 and values[1][-1] == 30  # all confirmed today
    assert values[2] == [5, 4, 3, 0, 18]
    heights = [float(r["height"]) for r in latency.select("rect.bar")]
    assert heights == [200 * 5 / 20, 200 * 4 / 20, 200 * 3 / 20, 0, 200 * 18 / 20]
