"""A redesign of the sandbox site: every TRS and Hanweb selector must then miss.

After ``relayout`` list pages hold no entries (a script loads them from list.json), pagers,
record XML and the data proxy are gone, and bodies move out of div.TRS_Editor and the ZJEG_RSS
markers into <article class="content">. The CLI drives it as an operator would.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import requests
from click.testing import CliRunner
from lxml import html as lxml_html

from bridge.cli import main
from bridge.sandbox.site import (
    COLUMNS,
    SiteServer,
    generate_site,
    load_manifest,
    publish,
    relayout,
)
from bridge.sources.trs import BODY_SELECTOR, page_count

END = date(2026, 11, 20)
TRS_DETAIL = re.compile(r"t\d{8}_\d+\.html")
HANWEB_ARTICLE = re.compile(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.html"))
        if not p.name.startswith(".")
    }


def test_trs_relayout_leaves_no_entries_and_no_body(tmp_path: Path) -> None:
    root = tmp_path / "trs"
    generate_site(root, 50, 3, page_size=6, end_date=END, pinned=True, offsite_links=True)
    before = snapshot(root)
    manifest = relayout(root)
    assert manifest.options.layout == "redesign" == load_manifest(root).options.layout
    with SiteServer(root) as server:
        base = server.base_url
        for key, path, _name in COLUMNS:
            resp = requests.get(base + path.lstrip("/") + "index.html", timeout=10)
            doc = lxml_html.fromstring(resp.content)
            assert doc.xpath('//ul[@class="list"]') == [] and page_count(resp.text) is None
            assert not TRS_DETAIL.search(resp.text)
            assert doc.xpath('//div[@id="list"]/@data-src') == ["list.json"]
            assert (
                requests.get(base + path.lstrip("/") + "index_1.html", timeout=10).status_code
                == 404
            )
            rows = requests.get(base + path.lstrip("/") + "list.json", timeout=10).json()["list"]
            live = [i.path for i in manifest.live(key)]
            assert [r["url"] for r in rows if r["url"] in live and not r["top"]] == live
        assert requests.get(base + "js/list.js", timeout=10).status_code == 200
        for item in manifest.live():
            doc = lxml_html.fromstring(
                requests.get(base + item.path.lstrip("/"), timeout=10).content
            )
            assert doc.cssselect(BODY_SELECTOR) == []
            assert doc.xpath('//table[@class="xxgk_table"]') == []
            (article,) = doc.xpath('//article[@class="content"]')
            assert (
                article.text_content().strip()
                == lxml_html.fromstring(f"<div>{item.body_html}</div>").text_content().strip()
            )
        (new,) = publish(root, 1, when=END)  # the new template stays
        page = requests.get(base + new.path.lstrip("/"), timeout=10).text
        assert '<article class="content">' in page and "TRS_Editor" not in page
    relayout(root, "classic")
    back = snapshot(root)
    assert {k: v for k, v in back.items() if k in before and "xxgk" in k and "index" not in k} == {
        k: v for k, v in before.items() if "xxgk" in k and "index" not in k
    }
    assert not any(root.rglob("list.json"))


def test_hanweb_relayout_drops_the_record_xml_markers_and_proxy(tmp_path: Path) -> None:
    root = tmp_path / "hanweb"
    manifest = generate_site(root, 40, 3, end_date=END, style="hanweb", volatile=True)
    with SiteServer(root) as server:
        base = server.base_url
        proxy = base + "module/web/jpage/dataproxy.jsp?page=1&columnid=1232"
        assert requests.get(proxy, timeout=10).status_code == 200
        relayout(root)
        assert requests.get(proxy, timeout=10).status_code == 404
        for col in range(1229, 1235):
            text = requests.get(base + f"col/col{col}/index.html", timeout=10).text
            assert 'type="text/xml"' not in text and "totalRecord" not in text
            assert not HANWEB_ARTICLE.search(text)
        for item in manifest.items:
            text = requests.get(base + item.path.lstrip("/"), timeout=10).text
            assert "ZJEG_RSS" not in text and "<$[标题名称]>" not in text
            assert 'class="title"' not in text and 'class="attachments"' not in text
            doc = lxml_html.fromstring(text)
            article = doc.xpath('//article[@class="content"]')[0]
            assert article.xpath('p[@class="visits"]')  # still volatile, in the new place


def test_cli_relayout_and_a_reopened_site_keeps_its_options(tmp_path: Path) -> None:
    root = tmp_path / "site"
    generate_site(root, 10, 1, end_date=END)
    runner = CliRunner()
    result = runner.invoke(main, ["sandbox", "site", "relayout", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert result.output == f"relaid out 10 items of {root} in the redesign layout\n"
    refused = runner.invoke(main, ["sandbox", "site", "--root", str(root), "--style", "hanweb"])
    assert refused.exit_code == 2
    assert f"{root} holds a site generated with style='trs'" in refused.output
    missing = runner.invoke(main, ["sandbox", "site", "relayout", "--root", str(tmp_path / "x")])
    assert missing.exit_code == 1
    assert missing.output == f"Error: no sandbox site in {tmp_path / 'x'} (site.json is missing)\n"
    unknown = runner.invoke(
        main, ["sandbox", "site", "withdraw", "--root", str(root), "--item", "1"]
    )
    assert unknown.exit_code == 1
    assert unknown.output == "Error: no item '1' on the sandbox site\n"
    assert json.loads((root / "site.json").read_text(encoding="utf-8"))["options"]["layout"] == (
        "redesign"
    )
