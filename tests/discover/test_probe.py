"""``bridge probe`` through the real CLI: sandbox sites (TRS UTF-8, Hanweb GBK) and the
real-page corpus on loopback, each page read by the real fetcher and source, and the
errors an operator meets (404, robots.txt, a refused connection, usage)."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bridge.cli import main
from bridge.discover.family import KINDS, family, page_kind
from bridge.sandbox.site import ItemInfo, Manifest, SiteServer, generate_site
from bridge.sandbox.site_hanweb import article_path
from bridge.sources import parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from realpages import (
    CONFIGURED_PUBLISHER,
    FIELDS,
    load,
    page_body,
    proxied,
    read_detail,
    served,
)

END = date(2026, 11, 20)


def probe(*args: str) -> Result:
    return CliRunner().invoke(main, ["probe", *args], catch_exceptions=False)


def as_json(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


# --- the family fingerprint on every page of the corpus ----------------------------------


def test_the_fingerprint_names_every_corpus_sites_family_and_page_kind() -> None:
    pages, sites = load()
    for name, entry in pages.items():
        text, url = page_body(name).decode("utf-8"), served(entry["url"])
        doc = parse.document(text, url)
        found, kind = family(text, doc, url), page_kind(text, doc, url)
        site = sites[entry["site"]]
        if site["cms"] in ("TRS", "Hanweb", "UCAP"):
            assert found.answer == site["cms"], (name, found)
        else:  # Epoint and unnamed templates: read as the corpus configures them
            assert KINDS[found.answer] == site["kind"], (name, found)
        assert found.reasons, name
        assert kind.answer == {"detail": "article"}.get(entry["kind"], entry["kind"]), (name, kind)


# --- sandbox sites -------------------------------------------------------------------------


def article_url(manifest: Manifest, base: str, item: ItemInfo) -> str:
    if manifest.options.style == "hanweb":
        day = item.published.date()
        return base + article_path(item.column, item.serial, (day.year, day.month, day.day))[1:]
    return base + item.path.lstrip("/")


@pytest.fixture(scope="module", params=[("trs", "utf-8"), ("hanweb", "gbk")], ids=["trs", "hanweb"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Manifest, str]]:
    style, encoding = request.param
    root = tmp_path_factory.mktemp(style) / "root"
    manifest = generate_site(root, 45, 3, end_date=END, style=style, encoding=encoding)
    with SiteServer(root) as server:
        yield manifest, server.base_url


def test_a_sandbox_list_page_shows_its_family_entries_and_paging(
    site: tuple[Manifest, str],
) -> None:
    manifest, base = site
    style = manifest.options.style
    url = base + ("col/col1230/index.html" if style == "hanweb" else "xxgk/zcwj/")
    listed = manifest.live("zcwj")
    result = probe(url, "--format", "json")
    assert result.exit_code == 0, result.output
    out = as_json(result)
    assert out["page"]["kind"] == "list"
    assert out["family"]["name"] == {"trs": "TRS", "hanweb": "Hanweb"}[style]
    assert out["kind"] == style
    size = manifest.page_size
    assert [e["title"] for e in out["entries"]] == [i.title for i in listed[:size]]
    assert out["entries"][0]["link"] == article_url(manifest, base, listed[0])
    assert out["entries"][0]["date"] == listed[0].published.date().isoformat()
    assert out["page_count"] == -(-len(listed) // size)
    assert (
        out["paging"]
        == {
            "trs": "index_N.html; createPageHTML(…) states the page count",
            "hanweb": "datastore on the column page, later pages from dataproxy.jsp",
        }[style]
    )
    text = probe(url)
    assert text.exit_code == 0
    assert (
        f"entries: {min(size, len(listed))} on this page; pages: {out['page_count']}" in text.output
    )
    assert f"{listed[0].published.date().isoformat()} {listed[0].title}" in text.output


def test_a_sandbox_article_shows_every_field_with_its_provenance(
    site: tuple[Manifest, str],
) -> None:
    manifest, base = site
    item = next(i for i in manifest.items if i.doc_no and i.attachments and i.index_no)
    url = article_url(manifest, base, item)
    result = probe(url, "--format", "json")
    assert result.exit_code == 0, result.output
    out = as_json(result)
    assert (out["page"]["kind"], out["kind"], out["ok"]) == (
        "article",
        manifest.options.style,
        True,
    )
    fields = {f["field"]: (f["value"], f["from"]) for f in out["fields"]}
    assert fields["title"][0] == item.title
    assert fields["doc_no"][0] == item.doc_no
    assert fields["index_no"][0] == item.index_no
    assert fields["created"][0] == item.created.isoformat()
    assert fields["published"][0][:10] == item.published.date().isoformat()
    assert fields["category"][0] == item.category
    assert fields["title"][1].startswith("page:")
    assert [a["name"] for a in out["attachments"]] == [a["name"] for a in item.attachments]
    assert out["attachments_downloaded"] is False and out["quarantine"] == []
    fetched = as_json(probe(url, "--attachments", "--format", "json"))
    assert [(a["size"], a["sha256"]) for a in fetched["attachments"]] == [
        (a["size"], a["sha256"]) for a in item.attachments
    ]
    text = probe(url)
    assert f"title      名称: {item.title}  [{fields['title'][1]}]" in text.output
    assert f"attachments: {len(item.attachments)} (listed, not downloaded)" in text.output
    assert text.output.rstrip().endswith("would file this record")


# --- the real-page corpus ------------------------------------------------------------------


def corpus_config(tmp_path: Path, name: str, site: dict[str, Any], url: str) -> Path:
    """The config a new user writes for a corpus site (as realpages.source_for does)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    lines = [
        "[bridge]",
        f'state_url = "sqlite:///{tmp_path / "state.db"}"',
        "[fetch]",
        'user_agent = "bridge real-page corpus"',
        "rate_limit = 1000.0",
        "[[sources]]",
        f'name = "{name}"',
        f'kind = "{site["kind"]}"',
        f'base_url = "{parts.scheme}://{parts.netloc}/"',
        f'publisher = "{CONFIGURED_PUBLISHER}"',
        'org_code = "002949236"',
        f'charset = "{site.get("charset", "utf-8")}"',
        f"allowed_hosts = {json.dumps(site.get('allowed_hosts', []))}",
        "[[sources.columns]]",
        'key = "c"',
        f'path = "{parts.path.lstrip("/").rsplit("/", 1)[0]}/"',
        'category = "mixed"',
    ]
    if site.get("selectors"):
        lines.append("[sources.selectors]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in site["selectors"].items()]
    lines += [
        "[target]",
        'kind = "http"',
        'url = "http://127.0.0.1:9/"',
        'key = "k"',
        'secret = "s"',
        "allow_insecure_http = true",
    ]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture  # not module-wide: its http_proxy would carry other tests' requests
def corpus() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    pages, sites = load()
    with proxied(pages):
        yield pages, sites


def test_probe_prints_what_the_bridge_reads_on_every_corpus_article(
    corpus: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    pages, sites = corpus
    for name, entry in sorted(pages.items()):
        if entry["kind"] != "detail":
            continue
        site = sites[entry["site"]]
        url = served(entry["url"])
        config = corpus_config(tmp_path, entry["site"], site, url)
        result = probe(url, "--config", str(config), "--source", entry["site"], "--format", "json")
        assert result.stdout, (name, result.stderr)
        out = as_json(result)
        reading = read_detail(name, entry, site)
        printed = {f["field"]: (f["value"], f["from"]) for f in out["fields"]}
        for field in FIELDS:
            value = reading.fields.get(field)
            shown = (
                ""
                if value is None
                else str(value.isoformat() if field in ("created", "published") else value)
            )
            assert printed[field] == (shown, reading.provenance.get(field, "—")), (name, field)
        assert [a["name"] for a in out["attachments"]] == reading.attachments, name
        assert [
            f"{q['field']}: {q['message']} (rule {q['rule']})" for q in out["quarantine"]
        ] == reading.problems, name
        assert result.exit_code == (0 if not reading.problems else 1), name


@pytest.mark.parametrize("name", ["a01_shanxi_detail_silulu.html", "b05_mee_detail_yzyw.html"])
def test_an_article_titled_only_by_its_article_title_meta_prints_the_expected_fields(
    corpus: tuple[dict[str, Any], dict[str, Any]], name: str
) -> None:
    pages, _ = corpus
    expected = pages[name]
    result = probe(served(expected["url"]), "--format", "json")  # no config at all
    assert result.exit_code == 0, result.output
    out = as_json(result)
    printed = {f["field"]: (f["value"], f["from"]) for f in out["fields"]}
    assert printed["title"] == (expected["title"], "meta:ArticleTitle")
    assert printed["publisher"] == (expected["publisher"], printed["publisher"][1])
    assert printed["publisher"][1].startswith(("page:", "meta:"))
    assert printed["published"][0][:10] == expected["published"]
    for field in ("doc_no", "index_no"):
        assert printed[field][0] == (expected[field] or ""), field
    assert out["family"]["name"] == "TRS" and out["page"]["kind"] == "article"


def test_a_corpus_list_page_prints_its_entries_and_page_count(
    corpus: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pages, _ = corpus
    expected = pages["a05_yzq_list_zwyw.html"]
    out = as_json(probe(served(expected["url"]), "--format", "json"))
    assert (out["page"]["kind"], out["family"]["name"]) == ("list", "TRS")
    assert len(out["entries"]) == expected["entries"]
    assert out["entries"][0]["title"] == expected["first_title"]
    assert out["page_count"] == expected["page_count"]


# --- errors --------------------------------------------------------------------------------


def test_a_missing_page_a_robots_refusal_and_a_refused_connection_exit_1(
    tmp_path: Path,
) -> None:
    root = tmp_path / "site"
    generate_site(root, 5, 1, end_date=END, robots_disallow=["/xxgk/qt/"])
    with SiteServer(root) as server:
        missing = probe(server.base_url + "xxgk/zcwj/nothing.html")
        assert (missing.exit_code, missing.stdout) == (1, "")
        assert (
            missing.stderr
            == f"bridge: {server.base_url}xxgk/zcwj/nothing.html answered 404: no such page\n"
        )
        refused = probe(server.base_url + "xxgk/qt/")
        assert (refused.exit_code, refused.stderr) == (
            1,
            f"bridge: robots.txt disallows {server.base_url}xxgk/qt/\n",
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = probe(f"http://127.0.0.1:{port}/xxgk/")
    assert (closed.exit_code, closed.stderr) == (
        1,
        f"bridge: cannot connect to http://127.0.0.1:{port}/robots.txt: connection refused\n",
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    bad = probe("ftp://example.org/x")
    assert bad.exit_code == 2 and "'ftp://example.org/x' is not an http(s) URL" in bad.stderr
    _, sites = load()
    config = corpus_config(
        tmp_path, "handan", sites["handan"], "http://hdzfxxgk.hd.gov.cn/a/b.html"
    )
    unknown = probe("http://hdzfxxgk.hd.gov.cn/a/", "--config", str(config), "--source", "nope")
    assert unknown.exit_code == 2
    assert "no source named 'nope' (known: handan)" in unknown.stderr
