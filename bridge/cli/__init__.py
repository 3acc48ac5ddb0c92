"""The ``bridge`` command: a thin layer that parses arguments, calls library functions and
maps errors to exit codes (0 ok, 1 the run had failures, 2 usage or config error).

Every error the bridge raises on purpose ends in one clear line on stderr; a traceback
would be a bug.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from bridge import __version__, audit
from bridge.config import Settings, resolve_path
from bridge.errors import BridgeError, ConfigError
from bridge.logs import escape_controls, setup_logging
from bridge.service.hardening import harden
from bridge.state.db import Database, open_database

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class App:
    """Lazily loaded settings and state for the command being run."""

    def __init__(self, config_path: str | None, log_level: str | None) -> None:
        self.config_option = config_path
        self.log_level = log_level
        self._settings: Settings | None = None
        self._db: Database | None = None
        self.actor = audit.cli_actor()

    @property
    def config_path(self) -> Path:
        return resolve_path(self.config_option)

    def settings(self) -> Settings:
        if self._settings is None:
            from bridge import config

            self._settings = config.load(self.config_path)
            setup_logging(self.log_level or self._settings.log_level, self._settings.log_format)
        return self._settings

    def db(self, *, create: bool = True) -> Database:
        if self._db is None:
            self._db = open_database(self.settings().state_url.reveal(), create=create)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def echo(line: str, *, err: bool = False) -> None:
    """One line of output. What a site sent (a title, a URL from a ``Location`` header, an
    error text) may hold terminal escape sequences or line breaks: every control
    character is shown escaped (``\\x1b``), never written to the terminal."""
    click.echo(escape_controls(line), err=err)


def invoked_as() -> str:
    """How to run this command again from here, for the commands a message suggests.

    ``bridge`` alone may run iproute2's ``/usr/sbin/bridge`` (on every Debian and Ubuntu
    machine) when the virtualenv is not first on ``PATH``: the bare name is given only
    when ``PATH`` finds this very script under it, otherwise the path it was run by.
    """
    script = sys.argv[0] if sys.argv else ""
    name = os.path.basename(script)
    if not script or name in ("__main__.py", "-c") or not os.path.isfile(script):
        return f"{_shortest(sys.executable)} -m bridge"
    return _shortest(script)


def _shortest(program: str) -> str:
    """``program``'s bare name when ``PATH`` finds this very file, else its path (relative
    when below the working directory)."""
    name = os.path.basename(program)
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(program):
        return name
    path = os.path.abspath(program)
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def fail(message: str, code: int = 2) -> None:
    echo(f"bridge: {message}", err=True)
    sys.exit(code)


class BridgeGroup(click.Group):
    """Turns the bridge's own errors into one line and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            echo("bridge: configuration problems:", err=True)
            for p in exc.problems:
                echo(f"  {p}", err=True)
            ctx.exit(exc.exit_code)
        except BridgeError as exc:
            echo(f"bridge: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("bridge: interrupted", err=True)
            ctx.exit(130)
        finally:
            app = ctx.find_object(App)
            if app is not None:
                app.close()


@click.group(cls=BridgeGroup, context_settings=CONTEXT)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar="BRIDGE_CONFIG",
    show_envvar=True,
    help="Config file.  [default: config/bridge.toml]",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Override bridge.log_level from the config.",
)
@click.version_option(__version__, prog_name="bridge")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """Keep the government information disclosure portal in step with the bureau site.

    Installed as xxgk-bridge and as bridge, the same command; outside the virtualenv a
    bare `bridge` on Debian and Ubuntu is iproute2's /usr/sbin/bridge.

    \b
    Quick start:
      xxgk-bridge demo                 # sandbox site + sandbox portal, end to end
      xxgk-bridge config check         # check config/bridge.toml
      xxgk-bridge sync --once          # one cycle, then exit
    """
    ctx.obj = App(config_path, log_level)
    setup_logging(log_level or "WARNING")


def entry() -> None:
    """The ``bridge`` command: the process hardened first, then the CLI."""
    harden()
    main()


def _register() -> None:
    from bridge.cli import (
        admin,
        admin_cmds,
        audit_cmd,
        init_cmd,
        ops,
        pause_cmd,
        probe_cmd,
        resync_cmd,
        sandbox_cmd,
        sandbox_portal_cmd,
        status_cmd,
    )

    for module in (
        ops,
        status_cmd,
        resync_cmd,
        pause_cmd,
        audit_cmd,
        admin_cmds,
        admin,
        probe_cmd,
        init_cmd,
        sandbox_cmd,
        sandbox_portal_cmd,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
