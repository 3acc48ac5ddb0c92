"""``bridge sandbox portal|stats|faults``: the simulated portal, its counters and its faults
(DESIGN.md §8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bridge.cli.sandbox_cmd import sandbox

RATE = click.FloatRange(0.0, 1.0)
SECONDS = click.FloatRange(0.0)

_FAULT_OPTIONS = (
    click.option("--error-rate", type=RATE, help="Share of API requests answered 500/502/503."),
    click.option(
        "--timeout-rate",
        type=RATE,
        help="Share of API requests left unanswered until the client gives up.",
    ),
    click.option(
        "--hang-seconds",
        type=click.FloatRange(0.0, min_open=True),
        help="Longest an unanswered request is held.  [default: 35]",
    ),
    click.option("--latency-ms", type=SECONDS, help="Milliseconds added to every API answer."),
    click.option("--jitter-ms", type=SECONDS, help="Plus up to this many random milliseconds."),
    click.option(
        "--burst-429",
        type=click.IntRange(0),
        help="Answer the next N API requests 429 (and any sent before Retry-After passed).",
    ),
    click.option(
        "--retry-after",
        type=click.IntRange(0),
        help="Seconds in the Retry-After of a 429 (and of some 503s).  [default: 1]",
    ),
    click.option(
        "--retry-after-form",
        type=click.Choice(["seconds", "http-date"]),
        help="How Retry-After is written.  [default: seconds]",
    ),
    click.option(
        "--outage-seconds", type=SECONDS, help="Fail every API request for this long, from now."
    ),
    click.option(
        "--outage-mode",
        type=click.Choice(["503", "reset"]),
        help="An outage answers 503, or resets the connection.  [default: 503]",
    ),
    click.option(
        "--drop-after-write-rate",
        type=RATE,
        help="Share of writes applied, then left unanswered (connection reset).",
    ),
    click.option("--seed", type=int, help="Seed of the random choices (same seed, same faults)."),
    click.option(
        "--include-health/--exempt-health",
        default=None,
        help="Whether /api/v1/health suffers the faults too.  [default: exempt]",
    ),
)

_RENAMED = {
    "latency_ms": ("latency", 0.001),
    "jitter_ms": ("latency_jitter", 0.001),
    "burst_429": ("rate_limit_burst", 1),
}


def fault_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The fault settings as options; each defaults to None, meaning "leave it as it is"."""
    for option in reversed(_FAULT_OPTIONS):
        command = option(command)
    return command


def fault_changes(options: dict[str, Any]) -> dict[str, Any]:
    """The options given, as the JSON keys ``PUT/PATCH /sandbox/faults`` takes."""
    changes: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        key, scale = _RENAMED.get(name, (name, None))
        changes[key] = value * scale if scale is not None else value
    return changes


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
@fault_options
def portal(db_path: Path, port: int, host: str, **options: Any) -> None:
    """Serve the sandbox portal (Portal API v1 and the public catalog pages).

    Prints the base URL as the first line. The API key and secret are those of
    config/sandbox.toml. The fault options make it misbehave from the start; change
    them later with `xxgk-bridge sandbox faults`.

    \b
    Examples:
      xxgk-bridge sandbox portal --db state/portal.db
      xxgk-bridge sandbox portal --db state/portal.db --error-rate 0.3 --timeout-rate 0.1 \\
          --latency-ms 50 --drop-after-write-rate 0.05 --seed 7
    """
    from bridge.sandbox.portal import serve_forever
    from bridge.sandbox.portal_faults import Faults, InvalidFaults

    changes = fault_changes(options)
    try:
        faults = Faults.from_json(changes) if changes else None
    except InvalidFaults as exc:
        raise click.UsageError(str(exc)) from None
    try:
        serve_forever(db_path, port=port, host=host, faults=faults)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


URL = click.option(
    "--url", default="http://127.0.0.1:8802/", show_default=True, help="The sandbox portal."
)


def _call(method: str, url: str, path: str, payload: Any = None) -> Any:
    """One request to a sandbox control; its JSON answer, or a one-line ClickException."""
    import requests

    try:
        response = requests.request(method, url.rstrip("/") + path, json=payload, timeout=10)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the sandbox portal at {url}: {exc}") from None
    if response.status_code == 422:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in response.json()["errors"])
        raise click.ClickException(f"the portal refused these faults: {problems}")
    if response.status_code != 200:
        raise click.ClickException(
            f"{method} {path} answered {response.status_code}: is {url} a sandbox portal?"
        )
    return response.json()


@sandbox.command()
@URL
@click.option("--no-log", is_flag=True, help="Leave out the request log, show only counters.")
def stats(url: str, no_log: bool) -> None:
    """Print the sandbox portal's counters: requests by method and status, PUT
    outcomes, faults, and the log of API requests with their arrival times.

    \b
    Example:
      xxgk-bridge sandbox stats --url http://127.0.0.1:8802/ --no-log
    """
    click.echo(
        json.dumps(
            _call("GET", url, "/sandbox/stats?log=0" if no_log else "/sandbox/stats"), indent=2
        )
    )


@sandbox.command()
@URL
@click.option("--clear", is_flag=True, help="Clear every fault first (alone: just clear).")
@fault_options
def faults(url: str, clear: bool, **options: Any) -> None:
    """Show or change the faults of a running sandbox portal.

    Options given change only those settings; --clear starts from none. Without
    options, prints the current faults and what they have left to do (429s still
    to give, seconds of outage left).

    \b
    Examples:
      xxgk-bridge sandbox faults --url http://127.0.0.1:8802/ --error-rate 0.3 --seed 7
      xxgk-bridge sandbox faults --burst-429 3 --retry-after 2 --retry-after-form http-date
      xxgk-bridge sandbox faults --outage-seconds 60
      xxgk-bridge sandbox faults --clear
    """
    changes = fault_changes(options)
    report = _call("DELETE", url, "/sandbox/faults") if clear else None
    if changes:
        report = _call("PATCH", url, "/sandbox/faults", changes)
    if report is None:
        report = _call("GET", url, "/sandbox/faults")
    click.echo(json.dumps(report, indent=2))


COMMANDS: list[click.Command] = []  # these commands hang under `bridge sandbox`
