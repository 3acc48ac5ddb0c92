"""The contract every source kind keeps (``bridge/sources/cms.py``), like the targets'.

``SourceContract`` is a base class of tests; ``test_source_contract.py`` runs it once per kind
(trs, hanweb, selectors) with a short subclass that says how to build that kind's source
against a generated sandbox site served on loopback. The outcomes asserted here are what
the pipeline relies on, whichever CMS family a bureau's site is built with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.config import FetchConfig, SourceConfig
from bridge.config.sources import ColumnConfig, SelectorsConfig
from bridge.errors import LayoutAlarm, Skippable
from bridge.raw import Gone, ListEntry, RawItem
from bridge.sandbox.site import COLUMNS, SiteServer, generate_site, load_manifest
from bridge.sandbox.site_pages import HANWEB_IDS
from bridge.sources import make_source
from bridge.sources.cms import CmsSource

NO_BODY = (
    "<html><head><title>系统维护</title></head><body><div class='nav'>首页</div></body></html>"
)
CUT_SHORT = "<html><head><title>半截</title></head><body><div class='TRS_Editor'><p>正文"


@dataclass
class Site:
    root: Path
    server: SiteServer
    url: str


class SourceContract:
    """Subclasses set ``kind`` and ``style`` (the sandbox site's CMS), and may override
    ``selectors`` (the config a ``selectors`` source needs)."""

    kind: str
    style: str
    selectors: SelectorsConfig | None = None

    @pytest.fixture
    def site(self, tmp_path: Path) -> Iterator[Site]:
        root = tmp_path / "site"
        generate_site(root, items=24, seed=11, style=self.style, page_size=5)
        server = SiteServer(root)
        url = server.start()
        try:
            yield Site(root, server, url)
        finally:
            server.stop()

    @pytest.fixture
    def source(self, site: Site) -> Iterator[CmsSource]:
        made = make_source(self.config(site.url))
        assert isinstance(made, CmsSource)
        try:
            yield made
        finally:
            made.close()

    def config(self, url: str) -> SourceConfig:
        def path(key: str, trs_path: str) -> str:
            if self.style == "hanweb":
                return f"col/col{HANWEB_IDS[key]}/"
            return trs_path.strip("/") + "/"

        own = {"selectors": {"selectors": self.selectors}}.get(self.kind, {})
        return SourceConfig.of_kind(
            self.kind,
            name="yyedu",
            base_url=url,
            publisher="余姚市教育局",
            org_code="002949236",
            columns=tuple(ColumnConfig(k, path(k, p), n, n) for k, p, n in COLUMNS),
            fetch=FetchConfig(user_agent="bridge contract", rate_limit=1000.0, concurrency=2),
            **own,
        )

    def entries(self, source: CmsSource, column: str) -> list[ListEntry]:
        return [e for page in source.list_pages(column, conditional=False) for e in page.entries]

    # --- listing -------------------------------------------------------------------------

    def test_columns_in_config_order(self, source: CmsSource) -> None:
        assert source.columns() == [key for key, _, _ in COLUMNS]

    def test_a_listing_yields_every_item_of_the_column_once(
        self, source: CmsSource, site: Site
    ) -> None:
        manifest = load_manifest(site.root)
        for key, _, _ in COLUMNS:
            listed = self.entries(source, key)
            ids = [e.article_id for e in listed]
            assert len(ids) == len(set(ids)), key
            assert sorted(ids) == sorted(
                i.id.removeprefix("art_").rsplit("_", 1)[-1] if self.style == "hanweb" else i.id
                for i in manifest.items
                if i.column == key
            ), key
            assert all(e.column == key and e.url.startswith(site.url) for e in listed)

    def test_an_unchanged_first_page_answers_304(self, source: CmsSource) -> None:
        first = next(iter(source.list_pages("zcwj")))
        assert not first.not_modified
        source.validators = dict(source.new_validators)
        again = next(iter(source.list_pages("zcwj")))
        assert again.not_modified and again.entries == ()

    def test_a_missing_column_is_a_layout_alarm(self, source: CmsSource, site: Site) -> None:
        for page in site.root.rglob("index*.html"):
            if "zcwj" in str(page) or str(HANWEB_IDS["zcwj"]) in str(page):
                page.unlink()
        with pytest.raises(LayoutAlarm) as caught:
            list(source.list_pages("zcwj"))
        assert (caught.value.source, caught.value.column) == ("yyedu", "zcwj")
        assert "the listing answered 404" in str(caught.value)

    # --- detail pages ----------------------------------------------------------------------

    def test_a_listed_item_reads_into_a_raw_item(self, source: CmsSource, site: Site) -> None:
        manifest = {i.id: i for i in load_manifest(site.root).items}
        entry = self.entries(source, "zcwj")[0]
        raw = source.fetch_item(entry)
        assert isinstance(raw, RawItem)
        info = next(i for i in manifest.values() if i.path.endswith(entry.url.rsplit("/", 1)[1]))
        assert (raw.source, raw.column, raw.article_id) == ("yyedu", "zcwj", entry.article_id)
        assert info.title in (raw.title, raw.meta.get("标题"))
        assert raw.body_text.strip() and raw.body_html.strip()
        assert raw.doc_title.startswith(info.title)
        if info.index_no:
            assert raw.meta["索引号"] == info.index_no

    def test_a_missing_page_is_gone(self, source: CmsSource, site: Site) -> None:
        entry = self.entries(source, "zcwj")[0]
        gone = source.fetch_item(ListEntry("zcwj", entry.url + "x.html", "x", ""))
        assert isinstance(gone, Gone) and gone.status == 404

    def test_a_page_without_a_body_is_a_layout_alarm_but_reads(
        self, source: CmsSource, site: Site
    ) -> None:
        (site.root / "nobody.html").write_text(NO_BODY, encoding="utf-8")
        entry = ListEntry("zcwj", site.url + "nobody.html", "nobody", "")
        with pytest.raises(LayoutAlarm) as caught:
            source.fetch_item(entry)
        assert (caught.value.column, caught.value.url) == ("zcwj", entry.url)
        fetched = source.fetch_article(entry)  # what `bridge probe` shows of such a page
        assert not isinstance(fetched, Gone)
        assert fetched[1].body is None and fetched[1].doc_title == "系统维护"

    def test_a_page_cut_short_is_skipped(self, source: CmsSource, site: Site) -> None:
        (site.root / "cut.html").write_text(CUT_SHORT, encoding="utf-8")
        with pytest.raises(Skippable, match="ends before </html>"):
            source.fetch_item(ListEntry("zcwj", site.url + "cut.html", "cut", ""))
