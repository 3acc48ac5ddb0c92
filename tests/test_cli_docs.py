"""The CLI documents itself: every command has help with an example and is in the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest

from bridge.cli import main

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
# The name the README uses: on Debian and Ubuntu a bare `bridge` is iproute2's.
PROG = "xxgk-bridge"


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
    assert f"{PROG} {words}" in README or f"`{path[-1]}" in README, (
        f"README does not show `{PROG} {words}`"
    )


def section(title: str) -> str:
    """The README's text under a `## title` heading, subsections included."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert found, f"README has no section {title!r}"
    return found.group(1)


def shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
    return [line for block in blocks for line in block.splitlines()]


def test_quick_start_runs_the_installed_script_by_its_path() -> None:
    first = shell_lines(section("Quick start"))[0]
    assert (
        first
        == f"python3.11 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/{PROG} demo"
    )
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[PROG] == "bridge.cli:entry"
    assert "apt-get install python3-venv" in section("Quick start")


@pytest.mark.parametrize(
    "title",
    [
        "Quick start",
        "Commands",
        "Running as a service (systemd)",
        "Docker and compose",
        "Building offline (政务外网, no internet)",
    ],
)
def test_no_shell_line_of_a_section_runs_a_bare_bridge(title: str) -> None:
    # `bridge …` would be iproute2's /usr/sbin/bridge on a Debian host without the venv
    # first on PATH: a command starts with xxgk-bridge or a path to it.
    bare = [
        line
        for line in shell_lines(section(title))
        if re.search(r"(^|&&|\||;|\$\(|exec \S+ )\s*bridge\s", line)
    ]
    assert not bare, f"README section {title!r} runs a bare `bridge`: {bare}"


def test_no_shell_line_of_the_readme_runs_a_bare_bridge() -> None:
    bare = [
        line
        for line in shell_lines(README)
        if re.search(r"(^|&&|\||;|\$\(|exec \S+ )\s*bridge\s", line)
    ]
    assert not bare, f"the README runs a bare `bridge`: {bare}"


def test_completion_is_documented_with_clicks_variable() -> None:
    # click takes the variable from the program's name: _{NAME}_COMPLETE, - as _.
    variable = "_{}_COMPLETE".format(PROG.replace("-", "_").upper())
    lines = shell_lines(section("Commands"))
    for shell in ("bash", "zsh", "fish"):
        assert any(f"{variable}={shell}_source {PROG}" in line for line in lines), shell
