"""What a source may fetch: the origins of its site, decided by the parser that connects.

A URL is in scope when its scheme, host and port are the base URL's, or an
``allowed_hosts`` entry's (``files.example.gov.cn``, or with a port
``files.example.gov.cn:8080``). A base URL or an entry without a port admits the default
ports of http and https (a site redirecting to https stays in scope); one with a port
admits that port alone, so another service on the same machine never is.

The decision is taken on what urllib3 — the client that opens the connection — makes of
the URL (``parse_url``), never on a second parser: ``http://localhost:19103\\@127.0.0.1/``
is ``127.0.0.1`` to ``urlsplit`` and ``localhost:19103`` to urllib3, and only the one
that connects counts. An authority holding a backslash, a user name (``@``), white space
or a control character is refused outright: no site links that way, and parsers disagree
on all of them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

DEFAULT_PORTS = {"http": 80, "https": 443}
REMEMBERED = 4096
"""URLs whose scope decision a ``Scope`` keeps (then it starts over): a listing's links are
asked about when the listing is read and again when each is fetched."""
_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)")
_BAD_IN_AUTHORITY = re.compile(r"[\\@\s\x00-\x1f\x7f-\x9f]")
_ENTRY = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int


def origin(url: str) -> Origin | str:
    """The origin a client connects to for ``url``, or why it is no URL to fetch."""
    parts = parsed(url)
    if isinstance(parts, str):
        return parts
    return _origin(parts)


def _origin(parts: Url) -> Origin:
    scheme = parts.scheme or ""
    return Origin(
        scheme, (parts.host or "").lower().rstrip("."), parts.port or DEFAULT_PORTS[scheme]
    )


def parsed(url: str) -> Url | str:
    """``url`` as urllib3 reads it to connect (``parse_url``), or why it is no URL to fetch."""
    m = _AUTHORITY.match(url)
    if m is None:
        return "not an absolute http(s) URL"
    if _BAD_IN_AUTHORITY.search(m.group(1)):
        return "its host part holds a backslash, a user name, white space or a control character"
    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):
        return "its host part cannot be parsed"
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        return f"scheme {scheme!r} is not http or https"
    if not parts.host:
        return "it names no host"
    return parts


def is_loopback(host: str) -> bool:
    """``localhost``, or an address in 127.0.0.0/8 or ``::1`` (bracketed as urllib3 gives
    it, or not): the connection never leaves the machine."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def entry_problem(entry: str) -> str | None:
    """Why an ``allowed_hosts`` entry is not ``host`` or ``host:port``, or None."""
    m = _ENTRY.match(entry)
    if m is None:
        return f"{entry!r} is not a host name or host:port (no scheme, path or user name)"
    if m.group("port") and not 0 < int(m.group("port")) < 65536:
        return f"{entry!r}: port {m.group('port')} is out of range"
    return None


class Scope:
    """The origins one source may fetch from."""

    def __init__(self, base_url: str, allowed_hosts: Iterable[str] = ()) -> None:
        base = origin(base_url)
        if isinstance(base, str):
            raise ValueError(f"base_url {base_url!r}: {base}")
        self.origins: set[tuple[str, str, int]] = set()
        explicit = base.port != DEFAULT_PORTS[base.scheme]
        self._admit(base.host, base.port if explicit else None, only=base.scheme)
        for entry in allowed_hosts:
            if problem := entry_problem(entry):
                raise ValueError(f"allowed_hosts: {problem}")
            m = _ENTRY.match(entry)
            assert m is not None
            port = m.group("port")
            self._admit(m.group("host").lower().rstrip("."), int(port) if port else None)
        self.hosts = frozenset(host for _, host, _ in self.origins)
        # The decision depends on the URL alone, and parse_url is the dearest part of a
        # request's own Python; a Url is a tuple, so sharing one answer is safe.
        self._decided: dict[str, Url | str] = {}

    def _admit(self, host: str, port: int | None, *, only: str | None = None) -> None:
        host = host.strip("[]") if host.startswith("[") else host
        host = f"[{host}]" if ":" in host else host  # IPv6, as urllib3 writes it
        if port is None:  # the default ports: http ⇄ https redirects stay on the site
            self.origins |= {(scheme, host, p) for scheme, p in DEFAULT_PORTS.items()}
        elif only is not None:
            self.origins.add((only, host, port))
        else:
            self.origins |= {(scheme, host, port) for scheme in DEFAULT_PORTS}

    def why_not(self, url: str) -> str | None:
        """Why ``url`` is out of scope, or None when it may be fetched."""
        found = self.admitted(url)
        return found if isinstance(found, str) else None

    def admitted(self, url: str) -> Url | str:
        """``url`` as the client reads it to connect, when it is in scope; else why not.
        The fetcher hands it to the client, which then need not parse it again."""
        found = self._decided.get(url)
        if found is None:
            found = self._decide(url)
            if len(self._decided) >= REMEMBERED:
                self._decided.clear()
            self._decided[url] = found
        return found

    def _decide(self, url: str) -> Url | str:
        parts = parsed(url)
        if isinstance(parts, str):
            return parts
        found = _origin(parts)
        if (found.scheme, found.host, found.port) not in self.origins:
            return f"{found.scheme}://{found.host}:{found.port} is not this source's site"
        return parts

    def admits(self, url: str) -> bool:
        return self.why_not(url) is None
