"""``bridge pause`` / ``bridge resume``: leave one source alone for a while (site
maintenance, a redesign in progress), without editing the config or stopping the daemon."""

from __future__ import annotations

import click

from bridge.cli import App, echo, fail
from bridge.service.pause import describe
from bridge.state import runs


def _known(app: App, name: str) -> None:
    names = [s.name for s in app.settings().sources]
    if name not in names:
        fail(f"no source named {name!r} (known: {', '.join(names)})")


@click.command()
@click.argument("source")
@click.option("--reason", default="", help="Why (shown in status and kept in the audit trail).")
@click.pass_obj
def pause(app: App, source: str, reason: str) -> None:
    """Pause a source: nothing of it is read until `xxgk-bridge resume`.

    The daemon skips its polls from the next one on (a crawl already under way
    finishes), `sync --once` leaves it out, and a resync of it is refused. What
    is already in the outbox is still delivered. Audited as source.paused.

    \b
    Example:
      xxgk-bridge pause yyedu --reason "site maintenance until Monday"
    """
    _known(app, source)
    with app.db().write() as s:
        before = runs.pause(s, source, reason=reason, actor=app.actor)
    if before is not None:
        echo(f"{source} was already paused (since {before.get('at')}); reason updated")
    with app.db().read() as s:
        echo(describe(source, runs.paused(s)[source]))


@click.command()
@click.argument("source")
@click.pass_obj
def resume(app: App, source: str) -> None:
    """Resume a paused source: the daemon polls it again at its next turn.

    Audited as source.resumed. Resuming a source that is not paused changes
    nothing and says so.

    \b
    Example:
      xxgk-bridge resume yyedu
    """
    _known(app, source)
    with app.db().write() as s:
        before = runs.resume(s, source, actor=app.actor)
    if before is None:
        echo(f"{source}: not paused; nothing to do")
        return
    echo(f"{source}: resumed (paused since {before.get('at')} by {before.get('actor')})")


COMMANDS = [pause, resume]
