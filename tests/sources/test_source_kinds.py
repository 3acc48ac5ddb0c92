"""One class per source kind: a ``[[sources]]`` table loads as the class of its ``kind``,
which alone holds that kind's table; the adapter gets it typed (no "needs
[sources.selectors]" check at run time); a table of another kind is named as such; and
a selectors source loaded from a file reads a real loopback site."""

from __future__ import annotations

import pytest
from pageserver import serving

from bridge import config
from bridge.config import (
    HanwebConfig,
    HanwebSourceConfig,
    SelectorsSourceConfig,
    SourceConfig,
    TrsSourceConfig,
)
from bridge.errors import ConfigError
from bridge.sources import make_source
from bridge.sources.hanweb import HanwebSource
from bridge.sources.selectors import SelectorsSource
from bridge.sources.trs import TrsSource

HEAD = """
[bridge]
state_url = "sqlite:///state/x.db"
[target]
url = "http://127.0.0.1:8802/"
key = "k"
secret = "s"
"""


def source(name: str, kind: str, base_url: str, tables: str = "") -> str:
    return (
        f'[[sources]]\nname = "{name}"\nkind = "{kind}"\nbase_url = "{base_url}"\n'
        f'publisher = "余姚市教育局"\norg_code = "002949236"\n{tables}'
        '  [[sources.columns]]\n  key = "next"\n  path = "next/"\n'
    )


def load(tmp_path, text: str) -> config.Settings:
    path = tmp_path / "bridge.toml"
    path.write_text(HEAD + text, encoding="utf-8")
    return config.load(path, environ={})


SELECTORS = (
    '  [sources.selectors]\n  list_item = "ul.newslist li"\n  title_attr = "title"\n'
    '  date = "em.date"\n  detail_body = "div.art-content"\n  next_page = "a.next"\n'
)


def test_each_kind_loads_as_its_class_and_gets_its_adapter(tmp_path):
    s = load(
        tmp_path,
        source("t", "trs", "http://127.0.0.1:1/")
        + source("h", "hanweb", "http://127.0.0.1:1/", "  [sources.hanweb]\n  perpage = 20\n")
        + source("s", "selectors", "http://127.0.0.1:1/", SELECTORS),
    )
    trs, hanweb, sel = s.sources
    assert [type(c) for c in s.sources] == [TrsSourceConfig, HanwebSourceConfig,
                                           SelectorsSourceConfig]  # fmt: skip
    assert [c.kind for c in s.sources] == ["trs", "hanweb", "selectors"]
    assert isinstance(hanweb, HanwebSourceConfig) and hanweb.hanweb == HanwebConfig(perpage=20)
    assert isinstance(sel, SelectorsSourceConfig) and sel.selectors.next_page == "a.next"
    assert not hasattr(trs, "hanweb") and not hasattr(trs, "selectors")
    assert [type(make_source(c)) for c in s.sources] == [TrsSource, HanwebSource, SelectorsSource]
    # config show still lists both tables for every source, as before the split
    shown = s.shown()["sources"]
    assert [(c["kind"], c["selectors"] is None, c["hanweb"]["perpage"]) for c in shown] == [
        ("trs", True, 15), ("hanweb", True, 20), ("selectors", False, 15)
    ]  # fmt: skip


def test_a_table_of_another_kind_is_named_with_the_kind_it_belongs_to(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            source("t", "trs", "http://127.0.0.1:1/", "  [sources.hanweb]\n  perpage = 0\n")
            + source("h", "hanweb", "http://127.0.0.1:1/", SELECTORS)
            + source("s", "selectors", "http://127.0.0.1:1/"),
        )
    assert [(p.where.rsplit(": ", 1)[1], p.message) for p in caught.value.problems] == [
        ("sources[0].hanweb", "only used with kind = \"hanweb\", not 'trs'"),
        ("sources[1].selectors", "only used with kind = \"selectors\", not 'hanweb'"),
        ("sources[2].selectors", 'a [sources.selectors] table is required for kind = "selectors"'),
    ]


def test_as_kind_keeps_the_shared_keys_and_takes_the_kind_own(tmp_path):
    trs = load(tmp_path, source("t", "trs", "http://127.0.0.1:1/")).sources[0]
    hanweb = trs.as_kind("hanweb", charset="gbk")
    assert type(hanweb) is HanwebSourceConfig and hanweb.hanweb == HanwebConfig()
    assert (hanweb.name, hanweb.columns, hanweb.fetch, hanweb.charset) == (
        trs.name, trs.columns, trs.fetch, "gbk"
    )  # fmt: skip
    assert type(SourceConfig.of_kind("trs", **_shared(trs))) is TrsSourceConfig


def _shared(cfg: SourceConfig) -> dict[str, object]:
    return {f: getattr(cfg, f) for f in ("name", "base_url", "publisher", "org_code",
                                         "columns", "fetch")}  # fmt: skip


def test_a_selectors_source_from_a_file_reads_a_loopback_site(tmp_path):
    with serving("selectors") as server:
        cfg = load(tmp_path, source("s", "selectors", server.url, SELECTORS)).sources[0]
        reader = make_source(cfg)
        assert isinstance(reader, SelectorsSource)
        got = [(p.number, [e.article_id for e in p.entries]) for p in reader.list_pages("next")]
    assert got == [(0, ["100", "101", "102"]), (1, ["103", "104"]), (2, ["105"])]
