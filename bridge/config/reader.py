"""Reading TOML tables: typed keys with defaults and secrets; problems are collected.

A ``Table`` reads one TOML table. Each ``get`` names the key's type, default and check,
and records a ``Problem`` (where, what) instead of raising, so ``bridge config check``
can report everything that is wrong at once; ``finish`` reports unknown keys (typos).
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bridge.errors import Problem

MISSING: Any = object()


class Secret:
    """A value that must never be printed. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value", "file", "is_url", "origin")

    def __init__(
        self,
        value: str,
        origin: str,
        *,
        is_url: bool = False,
        file: Path | None = None,
    ) -> None:
        self._value = value
        self.origin = origin  # where it came from, e.g. "environment variable BRIDGE_..."
        self.is_url = is_url  # a URL is shown with only its password hidden
        self.file = file  # the secret file it was read from, if any

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Table:
    """Reads one TOML table, recording problems under ``where`` instead of raising."""

    def __init__(
        self,
        data: Mapping[str, Any],
        where: str,
        problems: list[Problem],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.data = data
        self.where = where
        self.problems = problems
        self.used: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"{self.where}.{key}" if key else self.where, message))

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = MISSING,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is MISSING:
                self.problem(key, "is required")
                return None
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # bool is an int in Python, but ``rate_limit = true`` is a mistake, not 1.0
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            names = " or ".join(TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.problem(
                key,
                f"must be {names}, not {TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}",
            )
            return None if default is MISSING else default
        if check is not None:
            message = check(value)
            if message:
                self.problem(key, message)
                return None if default is MISSING else default
        return value

    def duration(self, key: str, default: float) -> float:
        raw = self.get(key, (str, float), default)
        if isinstance(raw, float):
            if raw <= 0:
                self.problem(key, f"must be positive, not {raw!r}")
                return default
            return raw
        seconds = parse_duration(raw)
        if seconds is None:
            self.problem(
                key, f"must be a duration such as 30s, 10m, 2h or a number of seconds, not {raw!r}"
            )
            return default
        return seconds

    def duration_or_off(self, key: str, default: float) -> float:
        """A duration where 0 (``0``, ``"0"``, ``"0s"``) switches the feature off."""
        raw = self.data.get(key)
        if isinstance(raw, str) and re.fullmatch(r"\s*0+(?:\.0+)?\s*(ms|s|m|h|d)?\s*", raw):
            self.used.add(key)
            return 0.0
        if isinstance(raw, int | float) and not isinstance(raw, bool) and raw == 0:
            self.used.add(key)
            return 0.0
        return self.duration(key, default)

    def secret(
        self, key: str, *, env: str, credential: str, required: bool, is_url: bool = False
    ) -> Secret | None:
        """A secret from the environment, a ``<key>_file``, systemd credentials, or inline."""
        self.used.update((key, f"{key}_file"))
        if self.environ.get(env):
            return Secret(self.environ[env], f"environment variable {env}", is_url=is_url)
        file_key = f"{key}_file"
        if file_key in self.data:
            path = self.data[file_key]
            if not isinstance(path, str):
                self.problem(file_key, "must be a file path")
                return None
            return read_secret_file(Path(path), f"{self.where}.{file_key}", self.problems, is_url)
        creds = self.environ.get("CREDENTIALS_DIRECTORY")
        if creds and (Path(creds) / credential).is_file():
            return read_secret_file(
                Path(creds) / credential, f"credential {credential}", self.problems, is_url
            )
        if key in self.data:
            if not isinstance(self.data[key], str) or not self.data[key]:
                self.problem(key, "must be a non-empty string")
                return None
            return Secret(self.data[key], f"{self.where}.{key}", is_url=is_url)
        if required:
            self.problem(
                key,
                f"is required: set {env}, {file_key}, the systemd credential {credential!r}, or {key}",
            )
        return None

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                self.problem(key, "unknown key")


TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def read_secret_file(
    path: Path, where: str, problems: list[Problem], is_url: bool = False
) -> Secret | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.append(Problem(where, f"cannot read secret file {path}: {exc.strerror}"))
        return None
    if not value:
        problems.append(Problem(where, f"secret file {path} is empty"))
        return None
    return Secret(value, f"file {path}", is_url=is_url, file=path)


def parse_duration(text: str) -> float | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not m or float(m.group(1)) <= 0:
        return None
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[m.group(2)]
    return float(m.group(1)) * factor


def check_http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL, not {value!r}"
    return None


def check_positive(value: float) -> str | None:
    return None if value > 0 else f"must be positive, not {value!r}"


def check_share(value: float) -> str | None:
    return None if 0 <= value <= 1 else f"must be between 0 and 1, not {value!r}"


def check_choice(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, not {value!r}"

    return check


def check_charset(value: str) -> str | None:
    try:
        codecs.lookup(value)
    except LookupError:
        return f"unknown charset {value!r}"
    return None
