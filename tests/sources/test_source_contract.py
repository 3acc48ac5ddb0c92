"""Every source kind keeps the source contract (``contract.py``), each against a sandbox
site of the CMS family it reads."""

from __future__ import annotations

from source_contract import SourceContract

from bridge.config.sources import SelectorsConfig


class TestTrsSource(SourceContract):
    kind, style = "trs", "trs"


class TestHanwebSource(SourceContract):
    kind, style = "hanweb", "hanweb"


class TestSelectorsSource(SourceContract):
    kind, style = "selectors", "trs"
    selectors = SelectorsConfig(
        list_item="ul.list li",
        detail_body="div.TRS_Editor",
        detail_title="h1.title",
        page_url="index_{n}.html",
        page_count_pattern=r"createPageHTML\((\d+)",
    )
