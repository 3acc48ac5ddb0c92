"""Config keys declared once, on the dataclass that holds them.

A field made with ``key``, ``duration``, ``secret`` or ``field(metadata=required())`` is a
TOML key: its name is the key,
its annotation the type (``float`` takes integers, ``tuple[str, ...]`` a list, ``X | None``
an optional ``X``), its default the default (none: the key is required). ``read`` fills
the dataclass from a ``Table``, which records every problem (file, key, what) instead of
raising, so ``bridge config check`` reports them all at once. A key read with a missing or
wrong value gets its default, or None when required: the problems list is then not
empty and the settings are never used.

Pydantic v2 was weighed and not taken: the messages the tests and the operators rely on
("must be a duration such as 30s …", "is required: set BRIDGE_TARGET_SECRET, …", "unknown
key") would each need an error translator, the float-takes-int-but-not-bool rule and the
four-way secret lookup custom validators, and a problem must carry its ``sources[2].fetch``
path: about as much code as this module, plus a dependency.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from bridge.config.reader import MISSING, Table

T = TypeVar("T")
Check = Callable[[Any], "str | None"]


@dataclasses.dataclass(frozen=True)
class _Key:
    how: str  # "get", "duration", "duration_or_off" or "secret"
    check: Check | None = None
    toml: type | tuple[type, ...] | None = None  # the TOML type, when not the annotation's
    secret: dict[str, Any] | None = None  # env, credential, required, is_url
    name: str | None = None  # the TOML key, when not the field's name (``from``)


def key(
    default: Any = dataclasses.MISSING,
    check: Check | None = None,
    *,
    toml: type | tuple[type, ...] | None = None,
    name: str | None = None,
) -> Any:
    """A plain key: a string, number, boolean or list checked by ``check``; ``name``: the
    TOML key when it cannot be the field's name (a Python keyword such as ``from``)."""
    return dataclasses.field(default=default, metadata={"key": _Key("get", check, toml, name=name)})


def required(check: Check | None = None, *, name: str | None = None) -> dict[str, Any]:
    """The metadata of a required key: ``name: str = field(metadata=required(check))``
    (a ``field`` call written out, so that type checkers see a field without a default)."""
    return {"key": _Key("get", check, name=name)}


def duration(default: Any = dataclasses.MISSING, *, off: bool = False) -> Any:
    """Seconds, written ``30s``, ``10m``, ``2h`` or as a number; ``off``: 0 switches it off."""
    return dataclasses.field(
        default=default, metadata={"key": _Key("duration_or_off" if off else "duration")}
    )


def secret(
    *,
    env: str,
    credential: str,
    required: bool = False,
    is_url: bool = False,
    check: Check | None = None,
) -> Any:
    """A ``Secret``: from ``env``, ``<key>_file``, the systemd ``credential`` or inline.

    In a table that repeats (``[[notify]]``), ``{i}`` in ``env`` and ``credential`` is the
    table's place, given to ``read`` as ``index``: ``BRIDGE_NOTIFY_{i}_URL``. ``check``
    gets the ``Secret`` and must not quote its value (say where it came from instead).
    """
    how = _Key("secret", check, secret={"env": env, "credential": credential,
                                        "required": required, "is_url": is_url})  # fmt: skip
    if required:
        return dataclasses.field(repr=False, metadata={"key": how})
    return dataclasses.field(default=None, repr=False, metadata={"key": how})


def names(cls: type) -> tuple[str, ...]:
    """The keys ``cls`` reads (a secret also its ``<key>_file``)."""
    out: list[str] = []
    for f in dataclasses.fields(cls):
        if (k := f.metadata.get("key")) is not None:
            name = k.name or f.name
            out += [name, f"{name}_file"] if k.how == "secret" else [name]
    return tuple(out)


def read(
    cls: type[T], t: Table, base: T | None = None, *, index: int | None = None, **given: Any
) -> T:
    """``cls`` from the table ``t``; a key not in it takes ``base``'s value, else the
    default. ``given`` values are taken as they are (keys read by hand); ``index``, the
    place of a repeated table, fills ``{i}`` in a secret's environment and credential names."""
    hints = typing.get_type_hints(cls)
    values = dict(given)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        k = f.metadata.get("key")
        if k is None or f.name in given:
            continue
        if base is not None:
            default = getattr(base, f.name)
        else:
            default = MISSING if f.default is dataclasses.MISSING else f.default
        values[f.name] = _read(t, k.name or f.name, k, hints[f.name], default, index)
    return cls(**values)


def _read(t: Table, name: str, k: _Key, hint: Any, default: Any, index: int | None) -> Any:
    if k.how == "secret":
        how = dict(k.secret or {})
        if index is not None:
            how.update(env=how["env"].format(i=index), credential=how["credential"].format(i=index))
        value = t.secret(name, **how)
        if value is not None and k.check is not None and (problem := k.check(value)):
            t.problem(name, problem)
            return None
        return value
    if k.how != "get":
        if default is None and name not in t.data:  # an optional duration left out
            t.used.add(name)
            return None
        return (
            t.duration(name, default) if k.how == "duration" else t.duration_or_off(name, default)
        )
    toml = k.toml or _toml_type(hint)
    if toml is list:
        value = t.get(name, list, list(default) if isinstance(default, tuple) else default, k.check)
        return None if value is None else tuple(value)
    return t.get(name, toml, default, k.check)


def _toml_type(hint: Any) -> Any:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        (hint,) = (a for a in typing.get_args(hint) if a is not type(None))
    return list if typing.get_origin(hint) is tuple else hint
