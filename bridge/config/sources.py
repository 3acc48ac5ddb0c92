"""The ``[[sources]]`` tables: one bureau site each, with its columns and politeness."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bridge import defaults
from bridge.catalog import CATEGORIES, NormalizeProfile, org_code_problem
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

SOURCE_KINDS = ("trs", "hanweb", "selectors")


@dataclass(frozen=True)
class ColumnConfig:
    key: str
    path: str
    name: str
    category: str  # one of CATEGORIES, or "mixed" for the fallback rules
    id: str | None = None  # Hanweb columnid when it cannot be read from the path


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str
    respect_robots: bool = defaults.RESPECT_ROBOTS
    rate_limit: float = defaults.RATE_LIMIT
    concurrency: int = defaults.CONCURRENCY
    connect_timeout: float = defaults.CONNECT_TIMEOUT
    read_timeout: float = defaults.READ_TIMEOUT
    max_page_bytes: int = defaults.MAX_PAGE_BYTES
    max_attachment_bytes: int = defaults.MAX_ATTACHMENT_BYTES
    max_list_pages: int = defaults.MAX_LIST_PAGES
    max_attachments: int = defaults.MAX_ATTACHMENTS
    max_item_bytes: int = defaults.MAX_ITEM_BYTES
    deadline: float = defaults.FETCH_DEADLINE
    revalidate_recent: float = defaults.REVALIDATE_RECENT  # seconds; 0: off
    revalidate_all: float = defaults.REVALIDATE_ALL  # seconds; 0: off


@dataclass(frozen=True)
class SelectorsConfig:
    """How to read a site that is neither TRS nor Hanweb (``kind = "selectors"``).

    CSS selectors pick elements; ``*_pattern`` keys are regular expressions. A listing
    pages by ``next_page`` (a link), or by ``page_url`` (a template with ``{n}`` for pages
    1, 2, …; the first page is ``first_page``) with an optional ``page_count_pattern``
    whose one group is the number of pages.
    """

    list_item: str
    detail_body: str
    link: str = "a"
    title_attr: str | None = "title"
    date: str | None = None
    pinned: str | None = None
    first_page: str = "index.html"
    next_page: str | None = None
    page_url: str | None = None
    page_count_pattern: str | None = None
    article_id_pattern: str = r"([^/]+?)\.s?html?$"
    detail_title: str = "h1"
    detail_meta: str | None = "table"
    attachments: str | None = None


@dataclass(frozen=True)
class HanwebConfig:
    """Parameters of Hanweb JCMS's ``/module/web/jpage/dataproxy.jsp`` listing proxy."""

    perpage: int = 15
    unitid: str | None = None
    webid: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    base_url: str
    publisher: str
    org_code: str
    columns: tuple[ColumnConfig, ...]
    fetch: FetchConfig
    charset: str = defaults.SITE_CHARSET
    allowed_hosts: tuple[str, ...] = ()
    interval: float = defaults.SOURCE_INTERVAL
    cron: str | None = None
    overlap_pages: int = defaults.OVERLAP_PAGES
    full_listing_interval: float = defaults.FULL_LISTING_INTERVAL
    withdrawals: bool = defaults.WITHDRAWALS_ENABLED
    max_withdraw_share: float = defaults.MAX_WITHDRAW_SHARE
    topic: str = defaults.TOPIC
    selectors: SelectorsConfig | None = None
    hanweb: HanwebConfig = HanwebConfig()
    keep_offsite_images: bool = defaults.KEEP_OFFSITE_IMAGES

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


def header_value(text: str) -> str:
    """``text`` as an HTTP header value: characters outside printable ASCII (an operator
    named in Chinese, a control character) percent-encoded as UTF-8. http.client sends
    header values as Latin-1 and refuses anything else, which would fail every request."""
    return "".join(c if " " <= c <= "~" else quote(c, safe="") for c in text)


def build_fetch(t: Table, base: FetchConfig | None, user_agent: str) -> FetchConfig:
    """A ``[fetch]`` table, falling back to ``base`` (the global one) or the defaults."""
    b = base or FetchConfig(user_agent=user_agent)
    return FetchConfig(
        user_agent=header_value(t.get("user_agent", str, b.user_agent)),
        respect_robots=t.get("respect_robots", bool, b.respect_robots),
        rate_limit=t.get("rate_limit", float, b.rate_limit, check_positive),
        concurrency=t.get("concurrency", int, b.concurrency, check_positive),
        connect_timeout=t.duration("connect_timeout", b.connect_timeout),
        read_timeout=t.duration("read_timeout", b.read_timeout),
        max_page_bytes=t.get("max_page_bytes", int, b.max_page_bytes, check_positive),
        max_attachment_bytes=t.get(
            "max_attachment_bytes", int, b.max_attachment_bytes, check_positive
        ),
        max_list_pages=t.get("max_list_pages", int, b.max_list_pages, check_positive),
        max_attachments=t.get("max_attachments", int, b.max_attachments, check_positive),
        max_item_bytes=t.get("max_item_bytes", int, b.max_item_bytes, check_positive),
        deadline=t.duration("deadline", b.deadline),
        revalidate_recent=t.duration_or_off("revalidate_recent", b.revalidate_recent),
        revalidate_all=t.duration_or_off("revalidate_all", b.revalidate_all),
    )


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


def _build_selectors(raw: Any, where: str, problems: list[Problem]) -> SelectorsConfig | None:
    if not isinstance(raw, dict):
        problems.append(
            Problem(where, 'a [sources.selectors] table is required for kind = "selectors"')
        )
        return None
    t = Table(raw, where, problems)
    css = _check_css
    cfg = SelectorsConfig(
        list_item=t.get("list_item", str, check=css) or "li",
        detail_body=t.get("detail_body", str, check=css) or "body",
        link=t.get("link", str, "a", css),
        title_attr=t.get("title_attr", str, "title"),
        date=t.get("date", str, None, css),
        pinned=t.get("pinned", str, None, css),
        first_page=t.get("first_page", str, "index.html"),
        next_page=t.get("next_page", str, None, css),
        page_url=t.get(
            "page_url",
            str,
            None,
            lambda v: None if "{n}" in v else "must contain {n} (the page number: 1, 2, …)",
        ),
        page_count_pattern=t.get("page_count_pattern", str, None, _check_regex(1)),
        article_id_pattern=t.get("article_id_pattern", str, r"([^/]+?)\.s?html?$", _check_regex(1)),
        detail_title=t.get("detail_title", str, "h1", css),
        detail_meta=t.get("detail_meta", str, "table", css),
        attachments=t.get("attachments", str, None, css),
    )
    if cfg.next_page and cfg.page_url:
        t.problem("next_page", "give either next_page or page_url, not both")
    if cfg.page_count_pattern and not cfg.page_url:
        t.problem("page_count_pattern", "needs page_url (the template of the pages it counts)")
    t.finish()
    return cfg


def _build_hanweb(raw: Any, where: str, problems: list[Problem]) -> HanwebConfig:
    t = Table(raw if isinstance(raw, dict) else {}, where, problems)
    cfg = HanwebConfig(
        perpage=t.get("perpage", int, 15, check_positive),
        unitid=t.get("unitid", str, None),
        webid=t.get("webid", str, None),
    )
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
        selectors = None
        if kind == "selectors":
            selectors = _build_selectors(item.get("selectors"), f"{where}.selectors", problems)
        elif "selectors" in item:
            t.problem("selectors", f'only used with kind = "selectors", not {kind!r}')
        hanweb = _build_hanweb(item.get("hanweb"), f"{where}.hanweb", problems)
        t.used.update(("columns", "fetch", "selectors", "hanweb"))
        source = SourceConfig(
            name=name or f"source{i}",
            kind=kind or "trs",
            base_url=base_url or "http://invalid/",
            publisher=t.get("publisher", str) or "",
            org_code=t.get("org_code", str, check=org_code_problem) or "",
            columns=columns,
            fetch=source_fetch,
            charset=t.get("charset", str, defaults.SITE_CHARSET, check_charset),
            allowed_hosts=tuple(t.get("allowed_hosts", list, [], _check_allowed_hosts)),
            interval=t.duration("interval", defaults.SOURCE_INTERVAL),
            cron=t.get("cron", str, None, _check_cron),
            overlap_pages=t.get("overlap_pages", int, defaults.OVERLAP_PAGES, check_positive),
            full_listing_interval=t.duration(
                "full_listing_interval", defaults.FULL_LISTING_INTERVAL
            ),
            withdrawals=t.get("withdrawals", bool, defaults.WITHDRAWALS_ENABLED),
            max_withdraw_share=t.get(
                "max_withdraw_share", float, defaults.MAX_WITHDRAW_SHARE, check_share
            ),
            topic=t.get("topic", str, defaults.TOPIC),
            selectors=selectors,
            hanweb=hanweb,
            keep_offsite_images=t.get("keep_offsite_images", bool, defaults.KEEP_OFFSITE_IMAGES),
        )
        t.finish()
        out.append(source)
    return tuple(out)


def _check_cron(value: str) -> str | None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="Asia/Shanghai")
    except ValueError as exc:
        return f"not a cron expression (minute hour day month weekday): {exc}"
    return None


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


def _check_allowed_hosts(entries: list[Any]) -> str | None:
    for entry in entries:
        if not isinstance(entry, str):
            return f"{entry!r} is not a string (write a host name or host:port)"
        if problem := entry_problem(entry):
            return problem
    return None
