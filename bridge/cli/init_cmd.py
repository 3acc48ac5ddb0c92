"""``bridge init URL``: look at a site and write a config that reads it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import click

from bridge.catalog import org_code_problem
from bridge.cli import echo
from bridge.discover.init_site import ARTICLES_PER_COLUMN, MAX_REQUESTS, Discovery, discover
from bridge.discover.init_toml import config_text

OPERATOR = "{publisher} (contact not set yet)"
"""The ``[bridge] operator`` written: the publisher, and a reminder that init cannot know
a contact (the User-Agent sends it percent-encoded)."""
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@click.command("init")
@click.argument("url")
@click.option("--publisher", required=True, help="发布机构: the bureau's full official name.")
@click.option(
    "--org-code",
    required=True,
    metavar="CODE",
    help="组织机构代码 (9 characters) or 统一社会信用代码 (18 characters).",
)
@click.option("--name", default="site", show_default=True, help="The source's short name.")
@click.option("--out", "out", metavar="FILE", help="Write the config here (stdout without).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def init_cmd(
    url: str, publisher: str, org_code: str, name: str, out: str | None, force: bool
) -> None:
    """Look at a bureau site and write a config that reads it.

    Fingerprints the CMS family (TRS, Hanweb, UCAP, others by CSS selectors) from the
    page at URL and the site's URL shapes; finds the disclosure columns (the home page's
    column links, the 政府信息公开 entrance, the ColumnName meta tags) and maps each to
    one of the six categories by its name (else "mixed"); keeps the columns whose first
    list page the family's parser reads articles from; reads two articles per column
    and prints a preview of every field with its provenance and what is missing.

    Politely: one fetcher with robots.txt, the User-Agent and the rate limit, at most
    80 requests. Nothing is written to a state store and nothing is delivered. The
    config has [bridge], [fetch] and [[sources]]; add a [target] (a commented example is
    at its end), then `config check` and `sync --once`. Without --out the config goes to
    stdout and the preview to stderr.

    Exits 0 when columns were found, 1 when the site cannot be reached or no column
    lists articles, 2 on a usage error.

    \b
    Examples:
      xxgk-bridge init https://www.yyjy.gov.cn/ --publisher 余姚市教育局 \\
          --org-code 002949236 --name yyedu --out config/bridge.toml
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    if not publisher.strip():
        raise click.BadParameter("must name the publishing body", param_hint="'--publisher'")
    if problem := org_code_problem(org_code):
        raise click.BadParameter(f"{org_code!r}: {problem}", param_hint="'--org-code'")
    if not _NAME.fullmatch(name):
        raise click.BadParameter(
            f"must be 1-40 lower-case letters, digits, - or _, not {name!r}", param_hint="'--name'"
        )
    target = Path(out) if out else None
    if target is not None and target.exists() and not force:
        raise click.BadParameter(f"{target} exists; --force overwrites it", param_hint="'--out'")
    found = discover(url, name=name, publisher=publisher.strip(), org_code=org_code)
    _preview(found)
    if not found.kept:
        echo("no column lists articles: no config written", err=True)
        raise SystemExit(1)
    text = config_text(found, operator=OPERATOR.format(publisher=publisher))
    if target is None:
        click.echo(text, nl=False)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        echo(
            f"wrote {target}: {len(found.kept)} columns; add a [target], then config check",
            err=True,
        )


def _preview(d: Discovery) -> None:
    """The evidence, on stderr: family, columns, and every field of the articles read."""
    say = lambda line: echo(line, err=True)  # noqa: E731
    say(f"site: {d.source.base_url} charset {d.charset}")
    say(f"family: {d.family.answer} ({'; '.join(d.family.reasons)}) -> kind {d.kind}")
    say(f"entrance: {d.entrance or 'no 政府信息公开 link found'}")
    say(f"columns: {len(d.kept)} kept of {len(d.findings)} looked at")
    for f in d.findings:
        mark = "+" if f.kept else "-"
        meta = f" [ColumnName {f.meta['ColumnName']}]" if "ColumnName" in f.meta else ""
        say(f"  {mark} {f.candidate.folder:<24} {f.name} -> {f.category}{meta}: {f.why}")
    say(f"articles (up to {ARTICLES_PER_COLUMN} per column):")
    for key, art in d.articles:
        if isinstance(art, str):
            say(f"  [{key}] cannot read {art}")
            continue
        say(f"  [{key}] {art.url}")
        for row in art.fields:
            say(f"      {row['field']:<10} {row['name']}: {row['value'] or '-'}  [{row['from']}]")
        missing = [row["name"] for row in art.fields if not row["value"]]
        say(f"      missing: {'、'.join(missing) if missing else 'nothing'}")
        say(f"      attachments: {len(art.attachments)}")
        for p in art.quarantine:
            say(f"      quarantined: {p['field']}: {p['message']} ({p['rule']})")
        for problem in art.problems:
            say(f"      problem: {problem}")
    budget = " (the budget ran out: some columns or articles were not read)" if d.budget_hit else ""
    say(f"requests: {d.requests} of at most {MAX_REQUESTS}{budget}")


COMMANDS = [init_cmd]
