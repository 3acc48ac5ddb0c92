"""Database URLs: checked, shown and quoted in messages without their passwords.

A database URL is read by SQLAlchemy, so it is taken apart by SQLAlchemy's own parser
here too (``urlsplit`` reads ``p#ss`` as the start of a fragment, and then shows the
password as the "host"). A password may also ride in the query string
(``?password=…``, ``?sslpassword=…``): every query key that names a password, secret or
token is hidden as well. A URL that cannot be parsed is never echoed: its message says
what is wrong, not what was written.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

HIDDEN = "***"
SECRET_QUERY_WORDS = ("password", "secret", "token")
UNPARSABLE = "<database URL that cannot be parsed>"
PERCENT_HINT = (
    "percent-encode @ / ? # : in a user name or password (%40 %2F %3F %23 %3A), "
    "e.g. postgresql://bridge:p%40ss@db.example/bridge"
)


def parse(value: str) -> URL | str:
    """The URL as SQLAlchemy reads it, or a message saying why it cannot be (never the
    value itself, which may hold a password)."""
    try:
        url = make_url(value)
    except ArgumentError:
        return "is not a database URL (e.g. sqlite:///state/bridge.db or postgresql://…)"
    except ValueError:  # SQLAlchemy's int() of the port
        return "is not a valid database URL: its port must be a number (e.g. host:5432)"
    if _ambiguous(value, url):
        return f"holds an '@' besides the one before the host: {PERCENT_HINT}"
    return url


def _ambiguous(value: str, url: URL) -> bool:
    """True when the text holds an ``@`` that SQLAlchemy does not read as the one that ends
    the user name and password: a password with a raw ``@`` is then cut short, and the
    rest of it read as host, database or query."""
    expected = (1 if url.username is not None else 0) + (url.username or "").count("@")
    for v in url.query.values():
        expected += sum(x.count("@") for x in ((v,) if isinstance(v, str) else v))
    return value.count("@") > expected


def is_secret_key(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_QUERY_WORDS)


def secrets_of(value: str) -> list[str]:
    """The secret parts of a URL (password, secret query values), longest first; for an
    unparsable or ambiguous URL, the whole text."""
    url = parse(value)
    if isinstance(url, str):
        return [value] if value else []
    found = [url.password] if url.password else []
    for key, v in url.query.items():
        if is_secret_key(key):
            found += [x for x in ((v,) if isinstance(v, str) else v) if x]
    return sorted(set(found), key=len, reverse=True)


def has_secret(value: str) -> bool:
    return bool(secrets_of(value))


def redact_url(value: str) -> str:
    """The URL with its password and secret query values replaced by ***, for messages,
    logs and ``config show``. An unparsable or ambiguous URL shows only its scheme."""
    url = parse(value)
    if isinstance(url, str):
        scheme, sep, _ = value.partition("://")
        return f"{scheme}://{HIDDEN}" if sep and scheme.replace("+", "").isalnum() else UNPARSABLE
    query = {k: (HIDDEN if is_secret_key(k) else v) for k, v in url.query.items()}
    shown = url.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", HIDDEN)


def scrub(text: str, value: str) -> str:
    """``text`` (an error message from SQLAlchemy or the driver) with every secret of the
    URL ``value`` replaced by *** (raw and percent-encoded), whatever the message quotes."""
    for secret in secrets_of(value):
        for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
            if len(form) >= 4:
                text = text.replace(form, HIDDEN)
            else:  # a very short one only where it stands alone, not inside every word
                text = re.sub(rf"(?<![^\W_]){re.escape(form)}(?![^\W_])", HIDDEN, text)
    return text


def check_db_url(value: str) -> str | None:
    """A problem message for a database URL that SQLAlchemy cannot read unambiguously."""
    url = parse(value)
    return url if isinstance(url, str) else None


def check_state_url(value: str) -> str | None:
    """A database URL whose store outlives the process (the value is never echoed: it may
    hold a password)."""
    url = parse(value)
    if isinstance(url, str):
        return url
    if url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or url.query.get("mode") == "memory"
    ):
        return (
            "is an in-memory SQLite database, which forgets everything when the process "
            "ends: give a file, e.g. sqlite:///state/bridge.db"
        )
    return None
