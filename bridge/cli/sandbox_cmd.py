"""``bridge sandbox site|portal``: the simulated bureau site and portal (DESIGN.md §8)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

ROOT = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The site's folder (generated there when empty).",
)


@click.group()
def sandbox() -> None:
    """Run the simulated bureau site and portal used by tests and the demo."""


@sandbox.group(invoke_without_command=True)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="The site's folder (generated there when empty).",
)
@click.option(
    "--items",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="Items to generate in all.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed of the generated content."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8801, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--page-size",
    type=click.IntRange(1),
    help="Entries per list page (default: TRS 20, Hanweb 15).",
)
@click.option(
    "--style",
    type=click.Choice(["trs", "hanweb"]),
    default="trs",
    show_default=True,
    help="CMS family whose markup the site has (docs/sandbox-hanweb.md).",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "gbk"]),
    default="utf-8",
    show_default=True,
    help="Bytes of the pages; gbk declares its charset only in a <meta>.",
)
@click.option("--pinned", is_flag=True, help="Pin an older item at the top of each column.")
@click.option("--cross-listed", is_flag=True, help="List one item in two columns.")
@click.option("--offsite-links", is_flag=True, help="One entry per column links another host.")
@click.option(
    "--volatile", is_flag=True, help="Detail pages show a visit counter and stamp per request."
)
@click.option(
    "--list-dates",
    type=click.Choice(["iso", "mm-dd", "bracket", "chinese", "mixed"]),
    default="iso",
    show_default=True,
    help="How list pages write dates (mixed: by column).",
)
@click.option("--cn-dates", is_flag=True, help="Some bodies sign off with 二〇一二年十二月三日.")
@click.option("--cn-filenames", is_flag=True, help="Attachments keep Chinese names in the URL.")
@click.option(
    "--rare-chars/--no-rare-chars",
    default=None,
    help="Names with GBK-only characters (喆 堃 玥 镕) [default: on for gbk].",
)
@click.option(
    "--robots-disallow",
    "robots_disallow",
    metavar="PATH",
    multiple=True,
    help="A Disallow: line of /robots.txt (repeatable), e.g. /xxgk/tjsj/.",
)
@click.option(
    "--columns",
    type=click.IntRange(6, 60),
    default=6,
    show_default=True,
    help="Columns of the disclosure catalog: the six top ones, then sub-columns "
    "(招生考试, 教师队伍, …) filed under them.",
)
@click.option(
    "--quirks",
    is_flag=True,
    help="All of: pinned, cross-listed, off-site links, volatile, mixed dates, "
    "Chinese dates and file names.",
)
@click.option(
    "--variants",
    is_flag=True,
    help="Markup of real government sites, varied by item and column: metadata layouts "
    "and labels, 文号 and 索引号 forms, titles only in meta tags, the 政府网站 meta tags, "
    "body containers, TRS pagers (docs/sandbox-variants.md). Not part of --quirks.",
)
@click.option(
    "--unit-code",
    default="11330281002949236M",
    show_default=True,
    help="The org code (9 or 18 characters, with its check character) the site's 索引号 "
    "start with: sites of different units have different ones.",
)
@click.option(
    "--delay-ms",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Milliseconds added before every response.",
)
@click.pass_context
def site(
    ctx: click.Context,
    root: Path | None,
    items: int,
    seed: int,
    port: int,
    host: str,
    page_size: int | None,
    quirks: bool,
    delay_ms: float,
    **options: Any,
) -> None:
    """Generate a bureau site into --root (if empty) and serve it.

    The generation options (--style to --variants) apply when the folder is empty; the site
    keeps them for publish, edit, withdraw and relayout. Prints the base URL as the first
    line, then serves until Ctrl-C.

    \b
    Examples:
      xxgk-bridge sandbox site --root state/site --items 60
      xxgk-bridge sandbox site --root state/hw --style hanweb --encoding gbk --quirks
      xxgk-bridge sandbox site --root state/big --items 2000 --columns 30
      xxgk-bridge sandbox site --root state/real --variants --encoding gbk
      xxgk-bridge sandbox site publish --root state/site --count 3
    """
    if ctx.invoked_subcommand is not None:
        return
    if root is None:
        raise click.UsageError("--root DIR is required")
    from bridge.sandbox.site import serve_forever

    if quirks:
        for flag in QUIRKS:
            options[flag] = True
        if ctx.get_parameter_source("list_dates") is not ParameterSource.COMMANDLINE:
            options["list_dates"] = "mixed"
    _refuse_other_options(ctx, root, options)
    try:
        serve_forever(
            root,
            items=items,
            seed=seed,
            port=port,
            host=host,
            page_size=page_size,
            delay=delay_ms / 1000,
            **options,
        )
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def _cms_errors() -> Iterator[None]:
    """A missing site, an unknown item or a refused change: one line, exit code 1."""
    try:
        yield
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


QUIRKS = ("pinned", "cross_listed", "offsite_links", "volatile", "cn_dates", "cn_filenames")


def _refuse_other_options(ctx: click.Context, root: Path, options: dict[str, Any]) -> None:
    """Reopening a site with different generation options given would silently ignore them."""
    from bridge.sandbox.site import load_manifest

    if not root.is_dir() or not any(root.iterdir()):
        return
    try:
        opts = load_manifest(root).options
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    # to_json leaves out the defaults of columns, variants and unit_code (the manifest stays)
    kept = {
        **opts.to_json(),
        "columns": opts.columns,
        "variants": opts.variants,
        "unit_code": opts.unit_code,
    }
    for name, value in options.items():
        given = ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        wanted = list(value) if isinstance(value, tuple) else value
        if given and kept.get(name) != wanted:
            raise click.UsageError(
                f"{root} holds a site generated with {name}={kept.get(name)!r}; "
                "empty the folder to generate it again with other options"
            )


@site.command()
@ROOT
@click.option("--count", type=click.IntRange(1), default=1, show_default=True)
def publish(root: Path, count: int) -> None:
    """Publish COUNT new items on a generated site (also while it is served).

    \b
    Example:
      xxgk-bridge sandbox site publish --root state/site --count 3
    """
    from bridge.sandbox.site import publish as do_publish

    with _cms_errors():
        added = do_publish(root, count)
    for item in added:
        click.echo(f"published {item.id} {item.title}")


@site.command()
@ROOT
@click.option(
    "--item", "item_id", required=True, help="Article id, e.g. t20261120_100045 or art_1230_100045."
)
@click.option("--title", help="New title.")
@click.option("--append", "body_append", help="A paragraph to add to the body.")
def edit(root: Path, item_id: str, title: str | None, body_append: str | None) -> None:
    """Change an item as a bureau editor would.

    \b
    Example:
      xxgk-bridge sandbox site edit --root state/site --item t20261120_100045 --title 新标题的通知
    """
    from bridge.sandbox.site import edit as do_edit

    if not title and not body_append:
        raise click.UsageError("give --title and/or --append")
    with _cms_errors():
        item = do_edit(root, item_id, title=title, body_append=body_append)
    click.echo(f"edited {item.id} {item.title}")


@site.command()
@ROOT
@click.option(
    "--item", "item_id", required=True, help="Article id, e.g. t20261120_100045 or art_1230_100045."
)
def withdraw(root: Path, item_id: str) -> None:
    """Remove an item from the site (its page then answers 404).

    \b
    Example:
      xxgk-bridge sandbox site withdraw --root state/site --item t20261120_100045
    """
    from bridge.sandbox.site import withdraw as do_withdraw

    with _cms_errors():
        item = do_withdraw(root, item_id)
    click.echo(f"withdrew {item.id} {item.title}")


@site.command()
@ROOT
@click.option(
    "--layout",
    type=click.Choice(["redesign", "classic"]),
    default="redesign",
    show_default=True,
    help="redesign: entries loaded by a script, bodies in <article>; classic: back again.",
)
def relayout(root: Path, layout: str) -> None:
    """Re-render the whole site in a new template, as a redesign of the bureau site would.

    Afterwards the TRS and Hanweb presets find no entries and no bodies: the bridge must
    raise a layout alarm. Article URLs stay the same.

    \b
    Example:
      xxgk-bridge sandbox site relayout --root state/site
    """
    from bridge.sandbox.site import relayout as do_relayout

    with _cms_errors():
        manifest = do_relayout(root, layout)
    click.echo(f"relaid out {len(manifest.live())} items of {root} in the {layout} layout")


COMMANDS: list[click.Command] = [sandbox]


@click.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("state/demo"),
    show_default=True,
    help="Where the demo keeps its site, portal, state and audit trail (recreated).",
)
@click.option(
    "--items",
    type=click.IntRange(1, 5000),
    default=60,
    show_default=True,
    help="Items on the sandbox site.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="Keep the sandbox site and portal up afterwards, until Ctrl-C.",
)
def demo(folder: Path, items: int, seed: int, keep_serving: bool) -> None:
    """Run the bridge end to end on loopback: sandbox site → bridge → sandbox portal.

    Generates a bureau site, starts it and a portal on free ports, syncs a few
    cycles while the bureau publishes and edits items, and prints what happened.
    Needs no config file.

    \b
    Example:
      xxgk-bridge demo --keep-serving
    """
    from bridge.cli import invoked_as
    from bridge.demo import run_demo
    from bridge.logs import setup_logging

    setup_logging("WARNING")
    raise SystemExit(
        run_demo(
            folder,
            items=items,
            seed=seed,
            say=click.echo,
            keep_serving=keep_serving,
            prog=invoked_as(),
        )
    )


COMMANDS.append(demo)
