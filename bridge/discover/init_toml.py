"""The config ``bridge init`` writes: ``[bridge]``, ``[fetch]``, one ``[[sources]]`` with
its columns (and selectors for ``kind = "selectors"``), the ``[target]`` as a commented
example to fill in (the shape of config/bridge.example.toml)."""

from __future__ import annotations

import json
from datetime import date

from bridge import defaults
from bridge.config import SelectorsSourceConfig, SourceConfig
from bridge.config.sources import SelectorsConfig
from bridge.discover.init_site import Discovery


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


TARGET_EXAMPLE = """
# Where records go: fill this in, then `xxgk-bridge config check` and `xxgk-bridge sync --once`.
# "http" (Portal API v1), "exchange-db" (a 中间库 table) or "exchange-dir" (a 前置机 folder);
# see config/bridge.example.toml for every key.
# [target]
# kind = "http"
# name = "portal"
# url = "https://portal.example.gov.cn/"
# key = "yyedu-bridge"                       # the API key the portal vendor issued
# secret_file = "/etc/bridge/portal.secret"  # or BRIDGE_TARGET_SECRET, or a systemd credential
# index_no = "portal"
"""


def _selectors(sel: SelectorsConfig) -> list[str]:
    lines = [
        "",
        "  # Proposed from the first list page and the first article: check with `xxgk-bridge probe`.",
    ]
    lines.append("  [sources.selectors]")
    for key in ("list_item", "link", "title_attr", "date", "first_page", "detail_title"):
        value = getattr(sel, key)
        if value is not None:
            lines.append(f"  {key} = {_s(value)}")
    lines.append(f"  detail_body = {_s(sel.detail_body)}")
    if sel.detail_meta:
        lines.append(f"  detail_meta = {_s(sel.detail_meta)}")
    lines.append('  # next_page = "a.next"              # or page_url = "index_{n}.html"')
    return lines


def config_text(found: Discovery, *, operator: str) -> str:
    """The TOML text of the proposed config."""
    src: SourceConfig = found.source
    lines = [
        f"# Written by `xxgk-bridge init {found.url}` on {date.today().isoformat()}.",
        f"# Family: {found.family.answer} ({'; '.join(found.family.reasons)}).",
        "# Check the columns and categories below, add a [target] (example at the end).",
        "",
        "[bridge]",
        f"state_url = {_s(defaults.STATE_URL)}   # relative to the working directory",
        f"operator = {_s(operator)}   # in the User-Agent: who you are and how the webmaster reaches you",
        'log_level = "INFO"',
        "",
        "[fetch]",
        f"respect_robots = {str(defaults.RESPECT_ROBOTS).lower()}",
        f"rate_limit = {defaults.RATE_LIMIT}   # requests per second per host",
        f"concurrency = {defaults.CONCURRENCY}",
        "",
        "[[sources]]",
        f"name = {_s(src.name)}",
        f"kind = {_s(found.kind)}",
        f"base_url = {_s(src.base_url)}",
        f"publisher = {_s(src.publisher)}",
        f"org_code = {_s(src.org_code)}",
    ]
    if src.charset != "utf-8":
        lines.append(f"charset = {_s(src.charset)}")
    if isinstance(src, SelectorsSourceConfig):
        lines += _selectors(src.selectors)
    for finding in found.kept:
        c = finding.candidate
        lines += [
            "",
            f"  # {finding.name}: {finding.why} (linked from the {c.found_on})",
            "  [[sources.columns]]",
            f"  key = {_s(finding.key)}",
            f"  path = {_s(c.folder)}",
            f"  name = {_s(finding.name)}",
            f"  category = {_s(finding.category)}",
        ]
    left = [f for f in found.findings if not f.kept]
    if left:
        lines += ["", "# Links looked at and left out:"]
        lines += [f"#   {f.candidate.folder} ({f.name}): {f.why}" for f in left]
    return "\n".join(lines) + "\n" + TARGET_EXAMPLE
