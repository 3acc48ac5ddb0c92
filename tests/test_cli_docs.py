"""The CLI documents itself: every command has help with an example and is in the README."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from bridge.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def all_commands(
    group: click.Group = main, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        out.append((path, command))
        if isinstance(command, click.Group):
            out.extend(all_commands(command, path))
    return out


COMMANDS = all_commands()


@pytest.mark.parametrize(
    "path",
    [p for p, c in COMMANDS if not isinstance(c, click.Group) or c.invoke_without_command],
    ids=lambda p: " ".join(p),
)
def test_every_command_has_an_example(path):
    command = dict(COMMANDS)[path]
    assert "Example" in (command.help or ""), f"bridge {' '.join(path)} --help shows no example"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p))
def test_every_command_is_in_the_readme(path):
    words = " ".join(path)
    if words in ("config", "db", "sandbox"):
        return  # groups: their subcommands are listed
    assert f"bridge {words}" in README or f"`{path[-1]}" in README, (
        f"README does not show `bridge {words}`"
    )
