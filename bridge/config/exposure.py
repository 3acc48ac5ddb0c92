"""Files that hold a secret and that other local users can read.

A config file with ``secret = "…"`` in it (or a password in a database URL), or a
``*_file`` secret file, is as secret as what it holds: readable by its group or by everyone,
any local account can take the portal secret or the database password. ``bridge config
check`` says so, one line a file with its mode and the fix; it does not refuse (a
deliberate 0640 for a ``bridge`` group is the operator's call).
"""

from __future__ import annotations

import shlex
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from bridge.config.dburl import has_secret

if TYPE_CHECKING:
    from bridge.config import Settings


INLINE = (  # (table, key, a database URL: a secret only when it holds a password)
    ("bridge", "state_url", True),
    ("target", "secret", False),
    ("target", "db_url", True),
    ("admin", "token", False),
    ("admin", "basic_password", False),
)


def inline_secrets(path: Path) -> list[str]:
    """The secret keys written in the config file itself, whatever overrides them."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError):
        return []
    found = []
    for table, key, is_url in INLINE:
        value = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
        if isinstance(value, str) and value and (not is_url or has_secret(value)):
            found.append(f"{table}.{key}")
    notify = data.get("notify")
    for i, channel in enumerate(notify if isinstance(notify, list) else []):
        for key in ("url", "secret", "password") if isinstance(channel, dict) else ():
            value = channel.get(key)
            # a plain webhook URL without a query holds no key
            if isinstance(value, str) and value and (key != "url" or "?" in value):
                found.append(f"notify[{i}].{key}")
    return found


def secret_files(settings: Settings) -> dict[Path, list[str]]:
    """Each file that holds a secret (the config file, secret files), with the keys."""
    held: dict[Path, list[str]] = {}
    if settings.path is not None and (keys := inline_secrets(settings.path)):
        held[settings.path] = keys
    secrets = {
        "target.secret": getattr(settings.target, "secret", None),
        "target.db_url": getattr(settings.target, "db_url", None),
        "admin.token": settings.admin.token,
        "admin.basic_password": settings.admin.basic_password,
    }
    for i, channel in enumerate(settings.notify):
        for name in ("url", "secret", "password"):  # the keys a kind may hold a secret in
            secrets[f"notify[{i}].{name}"] = getattr(channel, name, None)
    for key, secret in secrets.items():
        if secret is not None and secret.file is not None:
            held.setdefault(secret.file, []).append(key)
    return held


def exposure_warnings(settings: Settings) -> list[str]:
    """One line for each file holding a secret that its group or others can read."""
    lines = []
    for path, keys in secret_files(settings).items():
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # unreadable now: loading it would have said so
        readers = [who for who, bit in (("its group", 0o040), ("others", 0o004)) if mode & bit]
        if readers:
            lines.append(
                f"{path} holds a secret ({', '.join(keys)}) and is readable by {' and '.join(readers)} "
                f"(mode {mode:04o}): chmod 600 {shlex.quote(str(path))}"
            )
    return lines
