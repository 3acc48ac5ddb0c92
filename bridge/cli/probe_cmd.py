"""``bridge probe URL``: what one page is and what the bridge would file from it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import click

from bridge.cli import App, echo
from bridge.config import SourceConfig
from bridge.discover.probe import Probe, probe

LIST_SHOWN = 20
"""Entries of a list page printed in text form (JSON has them all)."""


@click.command("probe")
@click.argument("url")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Read the page as a source of this config does (same as the global --config).",
)
@click.option("--source", "source_name", metavar="NAME", help="The config's source to read with.")
@click.option(
    "--attachments",
    is_flag=True,
    help="Download the attachments too (size, sha256); by default only listed.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def probe_cmd(
    app: App,
    url: str,
    config_path: str | None,
    source_name: str | None,
    attachments: bool,
    fmt: str,
) -> None:
    """Fetch one page and say what it is and what the bridge would file from it.

    Says whether URL is a list or an article and which CMS family built it (TRS, Hanweb,
    UCAP or other, with the evidence). For an article: every catalog field with its
    provenance (page:索引号, meta:ArticleTitle, derived:…, config, default), the
    attachments and every quarantine reason. For a list: the entries (title, date,
    link), the page count and how the listing pages on.

    The page is fetched politely (robots.txt, User-Agent, rate limit, deadline, allowed
    hosts). Without a config the URL's origin is the site and its family chooses the
    reader; with --config/--source, that source's settings and kind are used, so a
    selector change can be tried before a resync. Nothing is written to the state store
    and nothing is delivered; attachments are only listed unless --attachments.

    Exits 0 when the page would be filed (or listed) as it is, 1 when it cannot be
    fetched or would be quarantined, listed empty or misdecoded, 2 on a usage error.

    \b
    Examples:
      xxgk-bridge probe https://www.yyjy.gov.cn/xxgk/zcwj/
      xxgk-bridge probe --config bridge.toml --source yyedu \\
          https://www.yyjy.gov.cn/xxgk/zcwj/202611/t20261120_100045.html
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    if config_path is not None:
        app.config_option = config_path
    cfg = _source(app, source_name, url) if (source_name or app.config_option) else None
    result = probe(url, cfg, attachments=attachments)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print(result)
    raise SystemExit(0 if result.ok else 1)


def _source(app: App, name: str | None, url: str) -> SourceConfig:
    sources = app.settings().sources
    if name is not None:
        return app.settings().source(name)
    if len(sources) == 1:
        return sources[0]
    known = ", ".join(s.name for s in sources) or "none"
    raise click.UsageError(
        f"{app.config_path} has several sources; name one with --source ({known})"
    )


def _print(r: Probe) -> None:
    echo(f"{r.url}: {r.status}, {r.size} bytes, charset {r.charset} ({r.charset_how})")
    if r.final_url != r.url:
        echo(f"  redirected to {r.final_url}")
    echo(f"page: {r.page.answer} ({'; '.join(r.page.reasons)})")
    echo(f"family: {r.family.answer} ({'; '.join(r.family.reasons)})")
    how = "configured source" if r.configured else "no config: defaults, the URL's origin"
    echo(f"read as: kind {r.kind}, source {r.source} ({how})")
    if r.page.answer == "list":
        count = "unknown" if r.page_count is None else str(r.page_count)
        echo(f"entries: {len(r.entries)} on this page; pages: {count}; paging: {r.paging}")
        for n, e in enumerate(r.entries[:LIST_SHOWN], 1):
            pinned = " [置顶]" if e["pinned"] else ""
            echo(f"  {n:>3}. {e['date'] or '-':<10} {e['title']}{pinned}  {e['link']}")
        if len(r.entries) > LIST_SHOWN:
            echo(f"  … {len(r.entries) - LIST_SHOWN} more (--format json lists them all)")
    else:
        echo("fields:")
        for f in r.fields:
            echo(f"  {f['field']:<10} {f['name']}: {f['value'] or '-'}  [{f['from']}]")
        state = "downloaded" if r.attachments_downloaded else "listed, not downloaded"
        echo(f"attachments: {len(r.attachments)} ({state})")
        for n, a in enumerate(r.attachments, 1):
            extra = f" {a['size']} bytes sha256 {a['sha256']}" if r.attachments_downloaded else ""
            echo(f"  {n}. {a['name']}  {a['url']}{extra}")
        for remark in r.remarks:
            echo(f"remark: {remark}")
        for p in r.quarantine:
            echo(f"quarantined: {p['field']}: {p['message']} ({p['rule']})")
    for problem in r.problems:
        echo(f"problem: {problem}")
    if r.ok:
        echo("would " + ("list these entries" if r.page.answer == "list" else "file this record"))


COMMANDS = [probe_cmd]
