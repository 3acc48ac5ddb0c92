"""``bridge sandbox portal|stats``: the simulated portal and its counters (DESIGN.md §8)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bridge.cli.sandbox_cmd import sandbox


@sandbox.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="SQLite file where the portal keeps its catalog.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8802, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def portal(db_path: Path, port: int, host: str) -> None:
    """Serve the sandbox portal (Portal API v1 and the public catalog pages).

    Prints the base URL as the first line. The API key and secret are those of
    config/sandbox.toml.

    \b
    Example:
      bridge sandbox portal --db state/portal.db
    """
    from bridge.sandbox.portal import serve_forever

    try:
        serve_forever(db_path, port=port, host=host)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


@sandbox.command()
@click.option(
    "--url", default="http://127.0.0.1:8802/", show_default=True, help="The sandbox portal."
)
def stats(url: str) -> None:
    """Print the sandbox portal's request counters (requests by method and status).

    \b
    Example:
      bridge sandbox stats --url http://127.0.0.1:8802/
    """
    import requests

    click.echo(
        json.dumps(requests.get(url.rstrip("/") + "/sandbox/stats", timeout=10).json(), indent=2)
    )


COMMANDS: list[click.Command] = []  # these commands hang under `bridge sandbox`
