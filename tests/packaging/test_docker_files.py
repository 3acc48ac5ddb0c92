"""Dockerfile, .dockerignore, docker-compose.yml and the offline build scripts, checked
without Docker: the image must run the daemon as a non-root PID 1 that gets SIGTERM, keep
its state in a volume, probe /healthz, and build from a wheelhouse with no index; the
compose file must wire the bridge to the sandbox services its config names.

PyYAML is not a dependency, so the compose file is read as text; its structure is
simple on purpose (two-space indents, flow-style command lists).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bridge import config, defaults

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_CONFIG = REPO / "config" / "compose.toml"
SCRIPTS = [REPO / "scripts" / "make-base-image.sh", REPO / "scripts" / "build-offline.sh"]


# --- Dockerfile ----------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def only(word: str) -> str:
    found = [rest for w, rest in final_stage() if w == word]
    assert len(found) == 1, f"{word} appears {len(found)} times in the final stage"
    return found[0]


def test_base_image_is_a_build_argument() -> None:
    steps = instructions(DOCKERFILE.read_text())
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    froms = [rest for word, rest in steps if word == "FROM"]
    assert froms and all(rest.split()[0] == "${BASE_IMAGE}" for rest in froms)


def test_entrypoint_is_exec_form_so_the_daemon_is_pid_1() -> None:
    # Shell form would make /bin/sh PID 1, and `docker stop`'s SIGTERM would not reach bridge.
    # xxgk-bridge: the name iproute2's /usr/sbin/bridge cannot shadow.
    assert json.loads(only("ENTRYPOINT")) == ["xxgk-bridge"]
    assert json.loads(only("CMD")) == ["run"]
    assert only("STOPSIGNAL") == "SIGTERM"


def test_runs_as_a_non_root_user() -> None:
    user = only("USER")
    assert user.split(":")[0] not in ("root", "0")
    words = [w for w, _ in final_stage()]
    assert words.index("USER") < words.index("ENTRYPOINT")


def test_state_is_a_volume_and_the_state_url_points_into_it() -> None:
    volumes = json.loads(only("VOLUME"))
    env = " ".join(rest for w, rest in final_stage() if w == "ENV")
    found = re.search(r"BRIDGE_STATE_URL=sqlite:///(/\S+)", env)
    assert found, "the image sets no BRIDGE_STATE_URL"
    assert any(found.group(1).startswith(v.rstrip("/") + "/") for v in volumes)
    assert only("WORKDIR") in volumes


def test_healthcheck_probes_healthz_without_curl() -> None:
    healthcheck = only("HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert command[:2] == ["python3", "-c"]  # exec form, Python's urllib: no curl needed
    assert "/healthz" in command[2]
    assert f"'{defaults.ADMIN_PORT}'" in command[2]
    compile(command[2], "HEALTHCHECK", "exec")


def test_the_build_runs_both_command_names() -> None:
    # The entrypoint's name and `bridge` (docker exec NAME bridge status) both exist; the
    # virtualenv's bin comes first on PATH, before /usr/sbin.
    text = DOCKERFILE.read_text()
    assert "/opt/bridge/bin/xxgk-bridge --version; /opt/bridge/bin/bridge --version;" in text
    env = " ".join(rest for w, rest in final_stage() if w == "ENV")
    found = re.search(r"PATH=(\S+)", env)
    assert found and found.group(1).split(":")[0] == "/opt/bridge/bin"


def test_installs_from_the_wheelhouse_with_no_index() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG WHEELHOUSE=\S+", text, re.M)
    assert re.search(r"pip install --no-index --find-links \"?/src/\$\{WHEELHOUSE\}", text)


def test_every_file_the_package_reads_is_installed() -> None:
    # The image (and /opt/bridge under systemd) gets a regular, non-editable install: only
    # modules of packages and the package-data globs of pyproject.toml. A template or data
    # file outside them works from a checkout and breaks the installed daemon.
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    missing = []
    for path in sorted((REPO / "bridge").rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = path.relative_to(REPO)
        package_dir = next(p for p in rel.parents if (REPO / p / "__init__.py").exists())
        if path.suffix == ".py" and package_dir == rel.parent:
            continue  # a module of a package
        inner = rel.relative_to(package_dir).as_posix()
        patterns = package_data.get(".".join(package_dir.parts), [])
        if not any(fnmatch.fnmatch(inner, pattern) for pattern in patterns):
            missing.append(str(rel))
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


# --- .dockerignore -----------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also matches a folder's files."""
    parts = path.split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        pattern_parts = pattern.split("/")
        for n in range(1, len(parts) + 1):
            prefix = "/".join(parts[:n])
            if pattern.startswith("**/"):
                hit = fnmatch.fnmatch(parts[n - 1], pattern[3:])
            else:
                hit = len(pattern_parts) == n and fnmatch.fnmatch(prefix, pattern)
            if hit:
                result = not negate
                break
    return result


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = dockerignore_patterns()
    needed = ["pyproject.toml", "README.md", "bridge/cli/__init__.py", "build/wheels/x.whl"]
    for _, rest in (s for s in instructions(DOCKERFILE.read_text()) if s[0] == "COPY"):
        if "--from=" not in rest:
            needed += [src for src in rest.split()[:-1] if src != "."]
    for path in needed:
        assert (REPO / path).exists() or path.startswith("build/"), f"COPY {path}: no such file"
        assert not ignored(path, patterns), f".dockerignore leaves out {path}"


def test_dockerignore_leaves_out_local_state_and_secrets() -> None:
    patterns = dockerignore_patterns()
    for path in [".git/HEAD", ".venv/bin/python", "state/bridge.db", "config/bridge.toml",
                 "build/lib/bridge/cli.py", "tests/conftest.py", "etc/portal.secret"]:  # fmt: skip
        assert ignored(path, patterns), f".dockerignore lets {path} into the image"


# --- docker-compose.yml --------------------------------------------------------------------


def compose_services() -> dict[str, str]:
    """Service name -> its block of text (the lines under `  name:` in `services:`)."""
    text = COMPOSE.read_text()
    assert "\t" not in text, "YAML forbids tabs for indentation"
    body = text.split("\nservices:\n", 1)[1]
    body = re.split(r"\n(?=\S)", body, maxsplit=1)[0]  # up to the next top-level key
    blocks = re.split(r"^  ([\w-]+):\n", body, flags=re.M)
    return dict(zip(blocks[1::2], blocks[2::2], strict=True))


def command_of(block: str) -> list[str]:
    found = re.search(r"^    command: (\[.*\])$", block, re.M)
    assert found, block
    return json.loads(found.group(1))


def test_compose_runs_the_bridge_with_the_sandbox_site_and_portal() -> None:
    services = compose_services()
    assert set(services) == {"site", "portal", "bridge"}
    assert command_of(services["bridge"]) == ["run"]
    assert command_of(services["site"])[:2] == ["sandbox", "site"]
    assert command_of(services["portal"])[:2] == ["sandbox", "portal"]
    for name, block in services.items():
        assert "    healthcheck:" in block, f"{name} has no healthcheck"
    assert re.search(r"site:\n\s+condition: service_healthy", services["bridge"])
    assert re.search(r"portal:\n\s+condition: service_healthy", services["bridge"])


def test_compose_config_names_the_sandbox_services_and_their_ports() -> None:
    services = compose_services()
    data = tomllib.loads(COMPOSE_CONFIG.read_text())
    peers = {"site": data["sources"][0]["base_url"], "portal": data["target"]["url"]}
    for name, url in peers.items():
        parts = urlsplit(url)
        assert parts.hostname == name
        command = command_of(services[name])
        assert command[command.index("--port") + 1] == str(parts.port)
        assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (container side)


def test_compose_config_is_a_valid_bridge_config() -> None:
    settings = config.load(COMPOSE_CONFIG, environ={})
    assert settings.admin.port == defaults.ADMIN_PORT  # the port the image's HEALTHCHECK probes


def test_compose_gives_the_bridge_time_to_stop_and_its_config_and_state() -> None:
    block = compose_services()["bridge"]
    grace = re.search(r"stop_grace_period: (\d+)s", block)
    assert grace and int(grace.group(1)) > defaults.SHUTDOWN_TIMEOUT
    assert "./config/compose.toml:/etc/bridge/bridge.toml:ro" in block
    assert re.search(r"- [\w-]+:/var/lib/bridge$", block, re.M)
    assert "pull_policy: never" in COMPOSE.read_text()  # an intranet has nothing to pull from


def test_a_config_error_in_the_container_waits_instead_of_looping() -> None:
    # Docker cannot exempt exit 2 (a config error) from a restart policy, as the unit's
    # RestartPreventExitStatus=2 does; on-failure would leave the bridge down after a clean
    # reboot. So the image makes `run` wait for a fixed config, and compose says why.
    block = compose_services()["bridge"]
    assert re.search(r"^    restart: unless-stopped$", block, re.M)
    comment = block.split("    restart:")[0].rsplit("stop_grace_period", 1)[1]
    assert "exit 2" in comment and "BRIDGE_WAIT_FOR_CONFIG" in comment and "reboot" in comment
    assert re.search(r"^\s+BRIDGE_WAIT_FOR_CONFIG=1$", DOCKERFILE.read_text(), re.M)


def test_compose_file_parses_with_compose_itself() -> None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(command[0]):
            continue
        done = subprocess.run(
            [*command, "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        if "is not a docker command" in done.stderr or "unknown" in done.stderr.lower():
            continue  # a docker CLI without the compose plugin
        assert done.returncode == 0, done.stderr
        return
    pytest.skip("no compose implementation (docker compose plugin or docker-compose)")


# --- scripts -------------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_strict_and_explains_itself(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    done = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: scripts/{script.name}")
    assert "Example" in done.stdout
    wrong = subprocess.run(["bash", script, "--no-such-option"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "unknown argument" in wrong.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_takes_a_mirror_and_an_architecture(script: Path) -> None:
    # A county bureau downloads from an internal or domestic mirror, and may build for
    # arm64 servers (Kunpeng, Phytium).
    done = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, timeout=30)
    variable, option = {
        "make-base-image.sh": ("DEBIAN_MIRROR", "--mirror URL"),
        "build-offline.sh": ("PIP_INDEX_URL", "--index-url URL"),
    }[script.name]
    assert f"${variable}" in done.stdout and option in done.stdout
    assert "--arch ARCH" in done.stdout and "arm64" in done.stdout
    assert f'"${{{variable}:-' in script.read_text()  # the environment sets it too
    wrong = subprocess.run(
        ["bash", script, "--arch", "sparc64"], capture_output=True, text=True, timeout=30
    )
    assert wrong.returncode == 2
    assert wrong.stderr.startswith(f"{script.stem}: unsupported --arch sparc64 (")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck() -> None:
    done = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# --- the README's recipe for reaching the admin server from the host ----------------------


def test_readme_admin_recipe_for_the_host_is_a_valid_config() -> None:
    # In a container the default 127.0.0.1 is the container's own: the README binds all its
    # addresses, which the config accepts only with a token of 24 characters or more.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    docker = readme.split("\n## Docker and compose\n", 1)[1].split("\n## ", 1)[0]
    assert "-e BRIDGE_ADMIN_HOST=0.0.0.0 -e BRIDGE_ADMIN_TOKEN=" in docker
    assert f"-p 127.0.0.1:{defaults.ADMIN_PORT}:{defaults.ADMIN_PORT}" in docker
    assert "[admin] hosts" in docker
    example = REPO / "config" / "bridge.example.toml"
    environ = {"BRIDGE_TARGET_SECRET": "s" * 32, "BRIDGE_ADMIN_HOST": "0.0.0.0"}  # noqa: S104
    settings = config.load(example, environ={**environ, "BRIDGE_ADMIN_TOKEN": "t" * 24})
    assert settings.admin.host == "0.0.0.0"  # noqa: S104
    with pytest.raises(config.ConfigError) as short:
        config.load(example, environ={**environ, "BRIDGE_ADMIN_TOKEN": "t" * 23})
    assert [p.where.split(": ")[-1] for p in short.value.problems] == ["admin.token"]
