"""A paused source on the admin status page: who paused it, when and why."""

from __future__ import annotations

from admin_helpers import AdminSite


def test_the_admin_page_shows_a_paused_source(sandbox, write_config, cli):
    box = sandbox(items=3, seed=5)
    config = write_config(box)
    assert cli("--config", str(config), "sync", "--once").code == 0
    assert cli("--config", str(config), "pause", "yyedu", "--reason", "网站改版").code == 0
    site = AdminSite(config)
    try:
        html = site.get("/").text
    finally:
        site.close()
    assert '<div class="muted paused">已暂停：' in html
    assert "（网站改版）</div>" in html
