"""The admin status page shows each source's last revalidation (bridge.crawl.revalidate), in
Chinese, with the figures `xxgk-bridge status --format json` gives."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from admin_helpers import AdminSite

from bridge.sandbox.site import publish

pytestmark = pytest.mark.slow


def shanghai(value: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo("Asia/Shanghai"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def test_status_page_shows_the_last_revalidation_per_source(sandbox, write_config, cli):
    box = sandbox(items=20, seed=4)
    publish(box.root, 3)  # three items published now: recent, revalidated every cycle
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0

    site = AdminSite(config)
    try:  # the first cycle read every page: nothing revalidated, and so it says
        assert "详情页复核 <code>yyedu</code>：上一轮复核 0 个详情页（近期 0，旧条目 0）" in (
            site.get("/").text
        )
    finally:
        site.close()

    assert cli("--config", str(config), "sync", "--once").code == 0
    got = json.loads(cli("--config", str(config), "status", "--format", "json").out)
    r = got["sources"][0]["revalidation"]
    assert r["checked"] == r["not_modified"] == r["recent"] + 1 >= 4  # one old item's share
    site = AdminSite(config)
    try:
        html = site.get("/").text
    finally:
        site.close()
    line = re.search(r'<p class="revalidation" id="revalidation-yyedu">(.*?)</p>', html)
    assert line is not None
    assert line.group(1) == (
        f"详情页复核 <code>yyedu</code>：上一轮复核 {r['checked']} 个详情页"
        f"（近期 {r['recent']}，旧条目 1）：未修改 {r['checked']}，重读无变化 0，有改动 0，"
        f"已不存在 0；全部旧条目（{r['old_total']} 条）在 {shanghai(r['full_by'])} 前复核一遍"
        f"（{shanghai(r['at'])}）"
    )
    assert r["full_by"] == r["at"]  # no old item last read more than 7 days ago
