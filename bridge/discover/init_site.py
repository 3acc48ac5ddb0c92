"""``bridge init``: from a site's address to a config that reads it, by looking.

Everything goes through one ``Fetcher`` (robots.txt, User-Agent, rate limit, allowed
hosts) and at most ``MAX_REQUESTS`` requests: the home page, the 政府信息公开 entrance, the
first list page of each candidate column (read by the family's own list parser, so a
column is kept only when the bridge can list it) and two articles per kept column (read
as ``bridge probe`` reads one, fields with provenance). Nothing is written to a state
store and nothing is delivered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from bridge import __version__, defaults
from bridge.config import FetchConfig, SelectorsSourceConfig, SourceConfig, TrsSourceConfig
from bridge.config.sources import ColumnConfig
from bridge.discover import columns as cols
from bridge.discover import family as fam
from bridge.discover.probe import Primed, Probe, ProbeError, primed_fetcher, probe
from bridge.discover.propose import propose_body, propose_selectors
from bridge.errors import BridgeError
from bridge.sources import make_source, parse
from bridge.sources.cms import CmsSource
from bridge.sources.fetch import Missing, NotModified, Page

log = logging.getLogger(__name__)

MAX_REQUESTS = 80
"""Requests one ``bridge init`` makes at most (robots.txt included): a look at a site,
not a crawl. Columns past the budget are left out, and the preview says so."""
MAX_COLUMNS = 30  # candidate columns whose first list page is read, at most
ARTICLES_PER_COLUMN = 2


class InitError(BridgeError):
    """The site cannot be looked at (unreachable, 404 home page): one line, exit 1."""


@dataclass
class ColumnFinding:
    """One candidate column and what its first list page showed."""

    candidate: cols.Candidate
    name: str
    category: str
    key: str
    entries: int = 0
    kept: bool = False
    why: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    entry_urls: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    """What ``bridge init`` found: the source config and the evidence for it."""

    url: str
    source: SourceConfig
    family: fam.Verdict
    charset: str
    entrance: str | None
    kind: str  # the source's kind (a selectors source without selectors yet is read as TRS)
    findings: list[ColumnFinding] = field(default_factory=list)
    articles: list[tuple[str, Probe | str]] = field(default_factory=list)
    """(column key, the article read, or why it could not be)."""
    requests: int = 0
    budget_hit: bool = False

    @property
    def kept(self) -> list[ColumnFinding]:
        return [f for f in self.findings if f.kept]


def _fetch(fetcher: Primed, url: str, *, listing: bool = False) -> Page:
    got = fetcher.page(url, listing=listing)
    if isinstance(got, Missing):
        raise InitError(f"{url} answered {got.status}: no such page")
    if isinstance(got, NotModified):  # never asked conditionally
        raise InitError(f"{url} answered 304 to an unconditional request")
    return got


def _charset(page: Page) -> str:
    """The charset to write: ``utf-8`` or ``gbk`` (GB2312 and GBK pages are read as
    GB18030, their superset), else what the page declared."""
    low = page.charset.lower().replace("_", "-")
    if low in ("utf-8", "utf8"):
        return "utf-8"
    if low in ("gb2312", "gbk", "gb18030", "cp936"):
        return "gbk"
    return low


def discover(
    url: str,
    *,
    name: str,
    publisher: str,
    org_code: str,
    max_requests: int = MAX_REQUESTS,
) -> Discovery:
    """Look at the site at ``url`` and propose a source for it (see the module doc)."""
    parts = urlsplit(url)
    base_url = f"{parts.scheme}://{parts.netloc}/"
    agent = defaults.USER_AGENT.format(version=__version__, operator="xxgk-bridge init")
    cfg = TrsSourceConfig(
        name=name,
        base_url=base_url,
        publisher=publisher,
        org_code=org_code,
        columns=(),
        fetch=FetchConfig(user_agent=agent),
    )
    fetcher = primed_fetcher(cfg)
    try:
        return _discover(url, cfg, fetcher, max_requests)
    finally:
        fetcher.close()


def _discover(url: str, cfg: SourceConfig, fetcher: Primed, budget: int) -> Discovery:
    home = _fetch(fetcher, url)
    doc = parse.document(home.text, home.url)
    verdict = fam.family(home.text, doc, home.url)
    found = cols.candidates(doc, home.url, cfg.base_url, "home page")
    entrance = cols.entrance(doc, home.url)
    if entrance is not None:
        try:
            page = _fetch(fetcher, entrance)
            edoc = parse.document(page.text, page.url)
            more = cols.candidates(edoc, page.url, cfg.base_url, "entrance page")
            seen = {c.folder for c in found}
            found += [c for c in more if c.folder not in seen]
            if verdict.answer == fam.OTHER:
                verdict = fam.family(page.text, edoc, page.url)
        except BridgeError as exc:
            log.warning("entrance %s: %s", entrance, exc)
    verdict = _by_url_shapes(verdict, found)
    charset = _charset(home)
    kind = fam.KINDS[verdict.answer]
    # a selectors source takes the selectors of its first list (``_read_column``): until
    # then there are none, and it is read as TRS (the generic reader)
    cfg = cfg.as_kind("trs" if kind == "selectors" else kind, charset=charset)
    result = Discovery(url, cfg, verdict, charset, entrance, kind)
    taken: set[str] = set()
    for cand in found[:MAX_COLUMNS]:
        if fetcher.requests_made >= budget:
            result.budget_hit = True
            break
        result.findings.append(_read_column(cand, result, fetcher, taken))
    kept = [f for f in result.findings if f.kept]
    columns = tuple(ColumnConfig(f.key, f.candidate.folder, f.name, f.category) for f in kept)
    result.source = replace(result.source, columns=columns)
    if kept and isinstance(result.source, SelectorsSourceConfig):
        _propose_body(kept[0], result, fetcher)
    for finding in kept:
        _read_articles(finding, result, fetcher, budget)
    result.requests = fetcher.requests_made
    return result


def _by_url_shapes(verdict: fam.Verdict, found: list[cols.Candidate]) -> fam.Verdict:
    """A home page without a family's marks: the column links' shapes may tell
    (``/col/colN/`` is Hanweb's)."""
    if verdict.answer != fam.OTHER:
        return verdict
    hanweb = [c for c in found if fam.HANWEB_COLUMN.search("/" + c.folder)]
    if len(hanweb) >= 2:
        return fam.Verdict(fam.HANWEB, (f"{len(hanweb)} column links shaped /col/colN/",))
    return verdict


def _read_column(
    cand: cols.Candidate, result: Discovery, fetcher: Primed, taken: set[str]
) -> ColumnFinding:
    finding = ColumnFinding(cand, cand.name, cols.category_of(cand.name), "")
    try:
        page = _fetch(fetcher, cand.url, listing=True)
    except BridgeError as exc:
        finding.why = str(exc)
        return finding
    doc = parse.document(page.text, page.url)
    finding.meta = cols.column_meta(doc)
    if shown := finding.meta.get("ColumnName"):
        finding.name = shown
        finding.category = cols.category_of(shown)
    if fam.page_kind(page.text, doc, page.url).answer == "article":
        finding.why = "an article, not a list"
        return finding
    src = result.source
    if result.kind == "selectors":
        selectors = propose_selectors(doc, page.url)
        if selectors is None:
            finding.why = "no repeated block of dated links to read as a list"
            return finding
        shown = urlsplit(cand.url).path.rsplit("/", 1)[-1]
        if cand.folder.endswith("/") and shown:  # index.htm, index.shtml: the site's name
            selectors = replace(selectors, first_page=shown)
        if not isinstance(src, SelectorsSourceConfig):  # the first list's are the source's
            result.source = src = src.as_kind("selectors", selectors=selectors)
    key = cols.column_key(cand.folder, set(taken))
    column = ColumnConfig(key, cand.folder, finding.name, finding.category)
    source = make_source(replace(src, columns=(column,)), fetcher=fetcher)
    assert isinstance(source, CmsSource)
    fetcher.primed = {page.url: page, cand.url: page}
    try:
        first = next(iter(source.list_pages(key, conditional=False)), None)
    except BridgeError as exc:
        finding.why = str(exc)
        return finding
    finally:
        fetcher.primed = {}
    finding.entries = len(first.entries) if first is not None else 0
    if not finding.entries:
        finding.why = "its first list page lists no articles"
        return finding
    finding.key = key
    taken.add(key)
    finding.kept = True
    finding.why = f"{finding.entries} articles on its first list page"
    finding.entry_urls = [e.url for e in first.entries] if first is not None else []
    return finding


def _propose_body(finding: ColumnFinding, result: Discovery, fetcher: Primed) -> None:
    """``detail_body`` from the first article of the first kept column (the usual
    containers, a container named like a body, the largest block of paragraphs); the
    usual containers as one group when that page shows none of them."""
    src = result.source
    if not isinstance(src, SelectorsSourceConfig) or not finding.entry_urls:
        return
    try:
        page = _fetch(fetcher, finding.entry_urls[0])
    except BridgeError as exc:
        log.warning("article %s: %s", finding.entry_urls[0], exc)
        return
    body = propose_body(parse.document(page.text, page.url))
    if body is not None:
        result.source = replace(src, selectors=replace(src.selectors, detail_body=body))


def _read_articles(finding: ColumnFinding, result: Discovery, fetcher: Primed, budget: int) -> None:
    cfg = replace(
        result.source,
        columns=(
            ColumnConfig(finding.key, finding.candidate.folder, finding.name, finding.category),
        ),
    )
    for url in finding.entry_urls[:ARTICLES_PER_COLUMN]:
        if fetcher.requests_made >= budget:
            result.budget_hit = True
            return
        try:
            result.articles.append((finding.key, probe(url, cfg, fetcher=fetcher)))
        except (ProbeError, BridgeError) as exc:
            result.articles.append((finding.key, f"{url}: {exc}"))
