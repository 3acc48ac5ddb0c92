"""Administration: ``bridge config check|show`` and ``bridge db upgrade|current``."""

from __future__ import annotations

import json

import click

from bridge import audit
from bridge.cli import App, echo, invoked_as
from bridge.config.exposure import exposure_warnings
from bridge.errors import ConfigError
from bridge.state import audit_log
from bridge.state.db import head_revision, open_database


@click.group()
def config() -> None:
    """Check or show the configuration."""


@config.command()
@click.option(
    "--online",
    is_flag=True,
    help="Also reach every source (robots.txt, each column's first list page), the "
    "target (a signed call, or a rolled-back write) and the state store; exit 1 if any fails.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output of --online.",
)
@click.pass_obj
def check(app: App, online: bool, fmt: str) -> None:
    """Report every problem in the config at once (file, key, what); exit 2 if any.

    What is allowed but unsafe is printed as a warning and the check still passes (exit
    0): plain http to the portal off loopback with allow_insecure_http = true; a file
    holding a secret (the config with an inline secret or database password, a *_file
    secret file) readable by its group or others.

    With --online, one line per peer reached, ``ok`` or ``FAIL``, what and why; nothing is
    delivered, migrated or recorded.

    \b
    Example:
      xxgk-bridge --config /etc/bridge/bridge.toml config check
      xxgk-bridge --config /etc/bridge/bridge.toml config check --online
    """
    try:
        settings = app.settings()
    except ConfigError as exc:
        echo(f"{len(exc.problems)} problem(s) in the configuration:", err=True)
        for p in exc.problems:
            echo(f"  {p}", err=True)
        raise SystemExit(2) from None
    from bridge.config import warnings

    for warning in warnings(settings):
        echo(f"warning: {warning}", err=True)
    for line in exposure_warnings(settings):
        echo(f"warning: {line}", err=True)
    sources = ", ".join(f"{s.name} ({s.kind}, {len(s.columns)} columns)" for s in settings.sources)
    summary = f"{app.config_path}: OK; sources: {sources}; target: {settings.target.name} ({settings.target.kind})"
    if not online:
        echo(summary)
        return
    from bridge.admin import online_check

    checks = online_check.run(settings, revision_line=revision_line)
    failed = sum(not c.ok for c in checks)
    if fmt == "json":
        shown = [{"ok": c.ok, "what": c.what, "detail": c.detail} for c in checks]
        document = {"config": str(app.config_path), "checks": shown, "failed": failed}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        echo(summary)
        for c in checks:
            echo(c.line())
        echo(f"{len(checks)} checks: {len(checks) - failed} ok, {failed} failed")
    if failed:
        raise SystemExit(1)


@config.command()
@click.pass_obj
def show(app: App) -> None:
    """Print the effective configuration as JSON, secrets redacted.

    \b
    Example:
      BRIDGE_STATE_URL=sqlite:///tmp/x.db bridge config show
    """
    click.echo(json.dumps(app.settings().shown(), ensure_ascii=False, indent=2))


@click.group()
def db() -> None:
    """Manage the state database schema."""


@db.command()
@click.pass_obj
def upgrade(app: App) -> None:
    """Migrate the state database to the newest schema (creates it if new).

    \b
    Example:
      xxgk-bridge db upgrade
    """
    database = open_database(app.settings().state_url.reveal(), create=False, check=False)
    try:
        database.check_integrity()
        before, after = database.upgrade()
        if before != after:
            with database.write() as s:
                audit_log.append(
                    s, audit.DB_UPGRADED, actor=app.actor, details={"from": before, "to": after}
                )
            echo(
                f"state database {database.display_url}: upgraded from {before or 'empty'} to {after}"
            )
        else:
            echo(f"state database {database.display_url}: already at {after}")
    finally:
        database.dispose()


@db.command()
@click.pass_obj
def current(app: App) -> None:
    """Print the schema revision of the state database and the one this bridge needs.

    \b
    Example:
      xxgk-bridge db current
    """
    database = open_database(app.settings().state_url.reveal(), create=False, check=False)
    try:
        echo(
            f"{database.display_url}: {revision_line(database.current_revision(), head_revision())}"
        )
    finally:
        database.dispose()


def revision_line(current: str | None, head: str) -> str:
    """Where the schema is against the one this bridge needs, and what to run about it."""
    if current == head:
        return f"up to date ({head})"
    upgrade = f"`{invoked_as()} db upgrade`"
    if current is None:
        return f"no schema yet, needs {head}: run {upgrade} (or start the daemon: it creates it)"
    return f"at {current}, needs {head}: run {upgrade}"


COMMANDS = [config, db]
