"""``bridge sandbox site|portal``: the simulated bureau site and portal (DESIGN.md §8)."""

from __future__ import annotations

from pathlib import Path

import click

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
    default=20,
    show_default=True,
    help="Entries per list page.",
)
@click.pass_context
def site(
    ctx: click.Context,
    root: Path | None,
    items: int,
    seed: int,
    port: int,
    host: str,
    page_size: int,
) -> None:
    """Generate a TRS-style bureau site into --root (if empty) and serve it.

    Prints the base URL as the first line, then serves until Ctrl-C.

    \b
    Examples:
      bridge sandbox site --root state/site --items 60
      bridge sandbox site publish --root state/site --count 3
    """
    if ctx.invoked_subcommand is not None:
        return
    if root is None:
        raise click.UsageError("--root DIR is required")
    from bridge.sandbox.site import serve_forever

    try:
        serve_forever(root, items=items, seed=seed, port=port, host=host, page_size=page_size)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


@site.command()
@ROOT
@click.option("--count", type=click.IntRange(1), default=1, show_default=True)
def publish(root: Path, count: int) -> None:
    """Publish COUNT new items on a generated site (also while it is served).

    \b
    Example:
      bridge sandbox site publish --root state/site --count 3
    """
    from bridge.sandbox.site import publish as do_publish

    for item in do_publish(root, count):
        click.echo(f"published {item.id} {item.title}")


@site.command()
@ROOT
@click.option("--item", "item_id", required=True, help="Article id, e.g. t20261120_100045.")
@click.option("--title", help="New title.")
@click.option("--append", "body_append", help="A paragraph to add to the body.")
def edit(root: Path, item_id: str, title: str | None, body_append: str | None) -> None:
    """Change an item as a bureau editor would.

    \b
    Example:
      bridge sandbox site edit --root state/site --item t20261120_100045 --title 新标题的通知
    """
    from bridge.sandbox.site import edit as do_edit

    if not title and not body_append:
        raise click.UsageError("give --title and/or --append")
    item = do_edit(root, item_id, title=title, body_append=body_append)
    click.echo(f"edited {item.id} {item.title}")


@site.command()
@ROOT
@click.option("--item", "item_id", required=True, help="Article id, e.g. t20261120_100045.")
def withdraw(root: Path, item_id: str) -> None:
    """Remove an item from the site (its page then answers 404).

    \b
    Example:
      bridge sandbox site withdraw --root state/site --item t20261120_100045
    """
    from bridge.sandbox.site import withdraw as do_withdraw

    item = do_withdraw(root, item_id)
    click.echo(f"withdrew {item.id} {item.title}")


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
      bridge demo --keep-serving
    """
    from bridge.cli import setup_logging
    from bridge.demo import run_demo

    setup_logging("WARNING")
    raise SystemExit(
        run_demo(folder, items=items, seed=seed, say=click.echo, keep_serving=keep_serving)
    )


COMMANDS.append(demo)
