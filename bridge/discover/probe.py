"""``bridge probe``: one page read as a source reads it, nothing written or delivered.

The page is fetched once by the source's own ``Fetcher`` (robots.txt, User-Agent, rate
limit, deadline, allowed hosts); the family's own list parser or article reader then
reads that same answer (``Primed`` hands it over instead of asking the site again), and
an article goes through the normalization the pipeline files records by (``draft``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from bridge import __version__, defaults
from bridge.config import FetchConfig, SourceConfig, TrsSourceConfig
from bridge.config.sources import ColumnConfig, SelectorsConfig
from bridge.discover import family as fam
from bridge.errors import Skippable
from bridge.normalize import draft
from bridge.provenance import field_rows
from bridge.raw import Gone, ListEntry, RawAttachment
from bridge.sources import make_source, parse
from bridge.sources.attachments import download_attachments
from bridge.sources.cms import CmsSource, raw_item
from bridge.sources.fetch import Fetcher, Missing, NotModified, Page

COLUMN = "probe"
NOT_DOWNLOADED = "0" * 64
"""The sha256 shown for an attachment that was listed but not downloaded."""


class ProbeError(Skippable):
    """The page cannot be read: what and where, for one line on stderr."""


class Primed(Fetcher):
    """The source's fetcher, handing out a page it already has once instead of asking the
    site for it again (every other request goes out under the same rules)."""

    primed: dict[str, Page]

    def page(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        listing: bool = False,
    ) -> Page | NotModified | Missing:
        got = self.primed.pop(url, None)
        if got is not None:
            return got
        return super().page(url, etag=etag, last_modified=last_modified, listing=listing)


@dataclass
class Probe:
    """What one page is and what the bridge makes of it."""

    url: str
    final_url: str
    status: int
    size: int
    charset: str
    charset_how: str
    replacement_chars: int
    page: fam.Verdict
    family: fam.Verdict
    source: str
    kind: str
    configured: bool
    fields: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    attachments_downloaded: bool = False
    remarks: list[str] = field(default_factory=list)
    quarantine: list[dict[str, str]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    page_count: int | None = None
    paging: str = ""
    problems: list[str] = field(default_factory=list)
    """What stops the page from being filed or listed (exit 1), besides quarantine."""

    @property
    def ok(self) -> bool:
        return not self.quarantine and not self.problems

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("page", "family")}
        out["page"] = {"kind": self.page.answer, "reasons": list(self.page.reasons)}
        out["family"] = {"name": self.family.answer, "reasons": list(self.family.reasons)}
        out["ok"] = self.ok
        if self.page.answer == "list":
            for key in ("fields", "attachments", "attachments_downloaded", "remarks", "quarantine"):
                out.pop(key)
        else:
            for key in ("entries", "page_count", "paging"):
                out.pop(key)
        return out


def default_source(url: str) -> SourceConfig:
    """The source a site without a config gets: the URL's origin, default politeness."""
    parts = urlsplit(url)
    agent = defaults.USER_AGENT.format(version=__version__, operator="xxgk-bridge probe")
    return TrsSourceConfig(
        name="probe",
        base_url=f"{parts.scheme}://{parts.netloc}/",
        publisher="",
        org_code="",
        columns=(),
        fetch=FetchConfig(user_agent=agent),
    )


def primed_fetcher(cfg: SourceConfig) -> Primed:
    """A fetcher for ``cfg`` that can be handed pages it already has."""
    fetcher = Primed(
        cfg.fetch,
        base_url=cfg.base_url,
        allowed_hosts=cfg.allowed_hosts,
        default_charset=cfg.charset,
    )
    fetcher.primed = {}
    return fetcher


def probe(
    url: str,
    cfg: SourceConfig | None = None,
    *,
    attachments: bool = False,
    fetcher: Primed | None = None,
) -> Probe:
    """Fetch ``url`` with ``cfg``'s politeness (a default source without one) and read it
    as its family does. Attachments are listed, and downloaded only when asked.
    ``fetcher``: one made for ``cfg`` already (``bridge init`` reads many pages with one,
    so robots.txt and the rate limit are shared); the caller closes it."""
    configured = cfg is not None
    base = cfg or default_source(url)
    own = fetcher is None
    if fetcher is None:
        fetcher = primed_fetcher(base)
    try:
        got = fetcher.page(url)
        if isinstance(got, Missing):
            raise ProbeError(f"{url} answered {got.status}: no such page")
        if isinstance(got, NotModified):  # never asked conditionally
            raise ProbeError(f"{url} answered 304 to an unconditional request")
        doc = parse.document(got.text, got.url)
        family = fam.family(got.text, doc, got.url)
        kind_of_page = fam.page_kind(got.text, doc, got.url)
        src_cfg = _source_config(base, configured, family.answer, got.url, kind_of_page.answer)
        fetcher.primed = {got.url: got, url: got}
        source = make_source(src_cfg, fetcher=fetcher)
        assert isinstance(source, CmsSource)
        result = Probe(
            url=url,
            final_url=got.url,
            status=got.status,
            size=got.size,
            charset=got.charset,
            charset_how=got.charset_how,
            replacement_chars=got.replacement_chars,
            page=kind_of_page,
            family=family,
            source=src_cfg.name,
            kind=src_cfg.kind,
            configured=configured,
        )
        _charset(result)
        if kind_of_page.answer == "list":
            _read_list(result, source, got)
        else:
            _read_article(result, source, got, attachments)
        return result
    finally:
        if own:
            fetcher.close()


def _charset(result: Probe) -> None:
    if result.replacement_chars:
        result.problems.append(
            f"{result.replacement_chars} undecodable characters after decoding as "
            f"{result.charset} ({result.charset_how}): the charset is wrong; set the source's "
            "charset in the config"
        )
    elif result.charset_how == "detected":
        result.problems.append(
            f"the page declares no charset that decodes it: {result.charset} is a guess; "
            "set the source's charset in the config"
        )


def _source_config(
    base: SourceConfig, configured: bool, family: str, url: str, page: str
) -> SourceConfig:
    """The source to read with: the configured one with a column for this URL, or for a
    site without a config the kind of its family (a site of no known family is read by
    the generic article reader, or its listing by ``li`` links)."""
    path = urlsplit(url).path
    if page == "list":
        folder = path.lstrip("/")
        if (base.kind if configured else fam.KINDS[family]) == "trs":
            folder = folder.rsplit("/", 1)[0] + "/" if not folder.endswith("/") else folder
        column_path = folder
    else:
        column_path = path.lstrip("/").rsplit("/", 1)[0] + "/"
    if configured:
        own = _configured_column(base, url)
        column = ColumnConfig(COLUMN, column_path, own.name, own.category, own.id)
        return replace(base, columns=(column,))
    column = ColumnConfig(COLUMN, column_path, COLUMN, "mixed")
    kind = fam.KINDS[family]
    if kind != "selectors":
        return base.as_kind(kind, columns=(column,))
    if page == "article":  # the generic reader: the usual containers, the largest text block
        return base.as_kind("trs", columns=(column,))
    selectors = SelectorsConfig(list_item="li", detail_body="body")
    return base.as_kind(kind, columns=(column,), selectors=selectors)


def _configured_column(cfg: SourceConfig, url: str) -> ColumnConfig:
    """The configured column whose path the URL lies under (its category and id), else a
    column of mixed category."""
    path = urlsplit(url).path.lstrip("/")
    best: ColumnConfig | None = None
    for c in cfg.columns:
        folder = c.path.rsplit("/", 1)[0] + "/" if "/" in c.path else c.path
        if folder and path.startswith(folder) and (best is None or len(c.path) > len(best.path)):
            best = c
    if best is None and len(cfg.columns) == 1:  # a Hanweb article lies under /art/, not its column
        best = cfg.columns[0]
    return best or ColumnConfig(COLUMN, "", COLUMN, "mixed")


def _read_list(result: Probe, source: CmsSource, page: Page) -> None:
    first = next(iter(source.list_pages(COLUMN, conditional=False)), None)
    entries = list(first.entries) if first is not None else []
    result.entries = [
        {"title": e.list_title, "date": e.list_date, "link": e.url, "pinned": e.pinned}
        for e in entries
    ]
    result.page_count = first.page_count if first is not None else None
    result.paging = fam.paging(page.text, result.family.answer, source.cfg.kind)
    if not entries:
        result.problems.append(
            "the list parser found no entries on this page (a list filled by script, or "
            "a listing this source kind does not read)"
        )


def _read_article(result: Probe, source: CmsSource, page: Page, download: bool) -> None:
    entry = ListEntry(COLUMN, page.url, _article_id(source, page.url), "")
    fetched = source.fetch_article(entry)
    if isinstance(fetched, Gone):  # the primed page was a 200; only a redirect loop gets here
        raise ProbeError(f"{page.url} answered {fetched.status}: no such page")
    if isinstance(fetched, NotModified):  # asked without validators: cannot happen
        raise ProbeError(f"{page.url} answered 304 to an unconditional request")
    page, article = fetched
    links = parse.attachment_links(article.attachment_scopes, source.fetcher.allowed)
    files: list[RawAttachment] = (
        list(download_attachments(source.fetcher, links))
        if download
        else [RawAttachment(n, u, "", 0, NOT_DOWNLOADED) for n, u in links]
    )
    raw = raw_item(source.name, entry, page, article, files)
    try:
        made = draft(raw, source.cfg.profile())
    finally:
        raw.discard()
    record = _state_form(made.fields, made.provenance)
    result.fields = [
        {"field": f, "name": n, "value": v, "from": how} for f, n, v, how in field_rows(record)
    ]
    result.attachments = [
        {"name": a.name, "url": a.url}
        | ({"size": a.size, "sha256": a.sha256, "media_type": a.media_type} if download else {})
        for a in files
    ]
    result.attachments_downloaded = download
    result.remarks = list(made.remarks)
    result.quarantine = [
        {"field": p.field, "rule": p.rule, "message": p.message} for p in made.problems
    ]
    if article.body is None:
        result.problems.append(f"layout alarm: {source.no_body} (looked for {source.body_hint})")
    elif made.fields.get("created") is None and not made.problems:
        result.problems.append("no 生成日期 could be read: the record cannot be filed")


def _article_id(source: CmsSource, url: str) -> str:
    from bridge.sources.hanweb import article_id

    if source.cfg.kind == "hanweb" and (ident := article_id(url)):
        return ident
    return urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or url


def _state_form(fields: dict[str, Any], provenance: dict[str, str]) -> dict[str, Any]:
    """The draft's fields as a stored record holds them (what ``field_rows`` reads)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    out["provenance"] = dict(provenance)
    return out
