"""The ``[[sources]]`` tables: one bureau site each, with its columns and politeness."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar
from urllib.parse import quote

from bridge import defaults
from bridge.catalog import CATEGORIES, NormalizeProfile, org_code_problem
from bridge.config.keys import duration, key, read, required
from bridge.config.reader import (
    Table,
    check_charset,
    check_choice,
    check_http_url,
    check_positive,
    check_share,
)
from bridge.errors import Problem
from bridge.net.scope import entry_problem


def _check_css(value: str) -> str | None:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as exc:
        return f"not a CSS selector ({exc}): {value!r}"
    return None


def _check_regex(groups: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            return f"not a regular expression ({exc}): {value!r}"
        if compiled.groups != groups:
            return f"must have exactly {groups} group(s) in parentheses, has {compiled.groups}"
        return None

    return check


def _check_page_url(value: str) -> str | None:
    return None if "{n}" in value else "must contain {n} (the page number: 1, 2, …)"


def _check_cron(value: str) -> str | None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="Asia/Shanghai")
    except ValueError as exc:
        return f"not a cron expression (minute hour day month weekday): {exc}"
    return None


def _check_allowed_hosts(entries: list[Any]) -> str | None:
    for entry in entries:
        if not isinstance(entry, str):
            return f"{entry!r} is not a string (write a host name or host:port)"
        if problem := entry_problem(entry):
            return problem
    return None


@dataclass(frozen=True)
class ColumnConfig:
    key: str
    path: str
    name: str
    category: str  # one of CATEGORIES, or "mixed" for the fallback rules
    id: str | None = None  # Hanweb columnid when it cannot be read from the path


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str  # read by hand: header_value
    respect_robots: bool = key(defaults.RESPECT_ROBOTS)
    rate_limit: float = key(defaults.RATE_LIMIT, check_positive)
    concurrency: int = key(defaults.CONCURRENCY, check_positive)
    connect_timeout: float = duration(defaults.CONNECT_TIMEOUT)
    read_timeout: float = duration(defaults.READ_TIMEOUT)
    max_page_bytes: int = key(defaults.MAX_PAGE_BYTES, check_positive)
    max_attachment_bytes: int = key(defaults.MAX_ATTACHMENT_BYTES, check_positive)
    max_list_pages: int = key(defaults.MAX_LIST_PAGES, check_positive)
    max_attachments: int = key(defaults.MAX_ATTACHMENTS, check_positive)
    max_item_bytes: int = key(defaults.MAX_ITEM_BYTES, check_positive)
    deadline: float = duration(defaults.FETCH_DEADLINE)
    revalidate_recent: float = duration(defaults.REVALIDATE_RECENT, off=True)  # seconds; 0: off
    revalidate_all: float = duration(defaults.REVALIDATE_ALL, off=True)  # seconds; 0: off


@dataclass(frozen=True)
class SelectorsConfig:
    """How to read a site that is neither TRS nor Hanweb (``kind = "selectors"``).

    CSS selectors pick elements; ``*_pattern`` keys are regular expressions. A listing
    pages by ``next_page`` (a link), or by ``page_url`` (a template with ``{n}`` for pages
    1, 2, …; the first page is ``first_page``) with an optional ``page_count_pattern``
    whose one group is the number of pages.
    """

    list_item: str = field(metadata=required(_check_css))
    detail_body: str = field(metadata=required(_check_css))
    link: str = key("a", _check_css)
    title_attr: str | None = key("title")
    date: str | None = key(None, _check_css)
    pinned: str | None = key(None, _check_css)
    first_page: str = key("index.html")
    next_page: str | None = key(None, _check_css)
    page_url: str | None = key(None, _check_page_url)
    page_count_pattern: str | None = key(None, _check_regex(1))
    article_id_pattern: str = key(r"([^/]+?)\.s?html?$", _check_regex(1))
    detail_title: str = key("h1", _check_css)
    detail_meta: str | None = key("table", _check_css)
    attachments: str | None = key(None, _check_css)


@dataclass(frozen=True)
class HanwebConfig:
    """Parameters of Hanweb JCMS's ``/module/web/jpage/dataproxy.jsp`` listing proxy."""

    perpage: int = key(15, check_positive)
    unitid: str | None = key(None)
    webid: str | None = key(None)


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """What every kind of source reads; ``kind`` picks the subclass, which adds its own
    table (``[sources.hanweb]``, ``[sources.selectors]``)."""

    kind: ClassVar[str]
    name: str
    base_url: str
    publisher: str = field(metadata=required())
    org_code: str = field(metadata=required(org_code_problem))
    columns: tuple[ColumnConfig, ...]
    fetch: FetchConfig
    charset: str = key(defaults.SITE_CHARSET, check_charset)
    allowed_hosts: tuple[str, ...] = key((), _check_allowed_hosts)
    interval: float = duration(defaults.SOURCE_INTERVAL)
    cron: str | None = key(None, _check_cron)
    overlap_pages: int = key(defaults.OVERLAP_PAGES, check_positive)
    full_listing_interval: float = duration(defaults.FULL_LISTING_INTERVAL)
    withdrawals: bool = key(defaults.WITHDRAWALS_ENABLED)
    max_withdraw_share: float = key(defaults.MAX_WITHDRAW_SHARE, check_share)
    topic: str = key(defaults.TOPIC)
    keep_offsite_images: bool = key(defaults.KEEP_OFFSITE_IMAGES)

    @staticmethod
    def of_kind(kind: str, **values: Any) -> SourceConfig:
        """A source of ``kind`` (one of SOURCE_KINDS) from its fields."""
        return SOURCE_CLASSES[kind](**values)

    def as_kind(self, kind: str, **changes: Any) -> SourceConfig:
        """The same source read as ``kind``: the shared fields kept, the kind's own from
        ``changes`` (or kept, when it is the same kind)."""
        cls = SOURCE_CLASSES[kind]
        kept = {f.name: getattr(self, f.name) for f in fields(cls) if hasattr(self, f.name)}
        return cls(**{**kept, **changes})

    def profile(self) -> NormalizeProfile:
        return NormalizeProfile(
            source=self.name,
            publisher=self.publisher,
            org_code=self.org_code,
            column_categories={c.key: c.category for c in self.columns},
            topic=self.topic,
            site=self.base_url,
            allowed_hosts=self.allowed_hosts,
            keep_offsite_images=self.keep_offsite_images,
        )

    def column(self, key: str) -> ColumnConfig:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


@dataclass(frozen=True, kw_only=True)
class TrsSourceConfig(SourceConfig):
    """A TRS WCM site (also the generic reader: the usual containers); no keys of its own."""

    kind: ClassVar[str] = "trs"


@dataclass(frozen=True, kw_only=True)
class HanwebSourceConfig(SourceConfig):
    """A Hanweb JCMS site, with its listing proxy's parameters."""

    kind: ClassVar[str] = "hanweb"
    hanweb: HanwebConfig = HanwebConfig()


@dataclass(frozen=True, kw_only=True)
class SelectorsSourceConfig(SourceConfig):
    """Any other site, read by its ``[sources.selectors]`` (always there once loaded)."""

    kind: ClassVar[str] = "selectors"
    selectors: SelectorsConfig


SOURCE_CLASSES: dict[str, type[SourceConfig]] = {
    c.kind: c for c in (TrsSourceConfig, HanwebSourceConfig, SelectorsSourceConfig)
}
SOURCE_KINDS = tuple(SOURCE_CLASSES)
# ``config show`` lists a source's fields in this order, the other kinds' tables at their
# default (no selectors, the default hanweb): its output, and the config hash, stay as they were
SHOWN = ("name", "kind", "base_url", "publisher", "org_code", "columns", "fetch", "charset",
         "allowed_hosts", "interval", "cron", "overlap_pages", "full_listing_interval",
         "withdrawals", "max_withdraw_share", "topic", "selectors", "hanweb",
         "keep_offsite_images")  # fmt: skip
_SHOWN_DEFAULTS: dict[str, Any] = {"selectors": None, "hanweb": HanwebConfig()}


def shown_source(cfg: SourceConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k, _SHOWN_DEFAULTS.get(k)) for k in SHOWN}


def header_value(text: str) -> str:
    """``text`` as an HTTP header value: characters outside printable ASCII (an operator
    named in Chinese, a control character) percent-encoded as UTF-8. http.client sends
    header values as Latin-1 and refuses anything else, which would fail every request."""
    return "".join(c if " " <= c <= "~" else quote(c, safe="") for c in text)


def build_fetch(t: Table, base: FetchConfig | None, user_agent: str) -> FetchConfig:
    """A ``[fetch]`` table, falling back to ``base`` (the global one) or the defaults."""
    b = base or FetchConfig(user_agent=user_agent)
    return read(FetchConfig, t, b, user_agent=header_value(t.get("user_agent", str, b.user_agent)))


def _build_selectors(raw: Any, where: str, problems: list[Problem]) -> SelectorsConfig | None:
    if not isinstance(raw, dict):
        problems.append(
            Problem(where, 'a [sources.selectors] table is required for kind = "selectors"')
        )
        return None
    t = Table(raw, where, problems)
    cfg = read(SelectorsConfig, t)
    if cfg.next_page and cfg.page_url:
        t.problem("next_page", "give either next_page or page_url, not both")
    if cfg.page_count_pattern and not cfg.page_url:
        t.problem("page_count_pattern", "needs page_url (the template of the pages it counts)")
    t.finish()
    return cfg


def _build_hanweb(raw: Any, where: str, problems: list[Problem]) -> HanwebConfig:
    t = Table(raw if isinstance(raw, dict) else {}, where, problems)
    cfg = read(HanwebConfig, t)
    t.finish()
    return cfg


def _check_name(value: str) -> str | None:
    if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", value):
        return None
    return f"must be 1-40 lower-case letters, digits, - or _, not {value!r}"


def build_sources(
    raw: Any, fetch: FetchConfig, problems: list[Problem]
) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("sources", "at least one [[sources]] table is required"))
        return ()
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"sources[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(where, "must be a table"))
            continue
        t = Table(item, where, problems)
        name = t.get("name", str, check=_check_name)
        if name in seen:
            t.problem("name", f"duplicate source name {name!r}")
        seen.add(name)
        kind = t.get("kind", str, "trs", check_choice(SOURCE_KINDS))
        base_url = t.get("base_url", str, check=check_http_url)
        if base_url and not base_url.endswith("/"):
            base_url += "/"
        columns = build_columns(item.get("columns"), where, problems)
        source_fetch = fetch
        if "fetch" in item:
            ft = Table(
                item["fetch"] if isinstance(item["fetch"], dict) else {}, f"{where}.fetch", problems
            )
            source_fetch = build_fetch(ft, fetch, fetch.user_agent)
            ft.finish()
        own: dict[str, Any] = {}  # the kind's own table; another kind's is named as such
        for table, build in (("selectors", _build_selectors), ("hanweb", _build_hanweb)):
            if kind == table:
                own[table] = build(item.get(table), f"{where}.{table}", problems)
            elif table in item:
                t.problem(table, f'only used with kind = "{table}", not {kind!r}')
        t.used.update(("columns", "fetch", "selectors", "hanweb"))
        source = read(SOURCE_CLASSES[kind], t, name=name, base_url=base_url,
                      columns=columns, fetch=source_fetch, **own)  # fmt: skip
        t.finish()
        out.append(source)
    return tuple(out)


def build_columns(raw: Any, where: str, problems: list[Problem]) -> tuple[ColumnConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(
            Problem(f"{where}.columns", "at least one [[sources.columns]] table is required")
        )
        return ()
    out = []
    keys: set[str] = set()
    for j, item in enumerate(raw):
        cw = f"{where}.columns[{j}]"
        if not isinstance(item, dict):
            problems.append(Problem(cw, "must be a table"))
            continue
        t = Table(item, cw, problems)
        key = t.get("key", str)
        if key in keys:
            t.problem("key", f"duplicate column key {key!r}")
        keys.add(key)
        path = t.get(
            "path",
            str,
            check=lambda v: (
                "must be a relative path such as xxgk/zcwj/"
                if v.startswith(("/", "http:", "https:"))
                else None
            ),
        )
        category = t.get("category", str, "mixed", check_choice((*CATEGORIES, "mixed")))
        name = t.get("name", str, category if category in CATEGORIES else key)
        column_id = t.get("id", str, None)
        t.finish()
        if key and path is not None:
            if (
                path
                and not path.endswith("/")
                and not path.endswith((".html", ".htm", ".shtml", ".jsp"))
            ):
                path += "/"
            out.append(
                ColumnConfig(
                    key=key, path=path, name=name or key, category=category or "mixed", id=column_id
                )
            )
    return tuple(out)
