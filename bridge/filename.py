"""Attachment names a portal can store and show as they are: one file name, nothing else.

A hostile or careless site writes what it likes into a link text: ``../../../../tmp/x.pdf``
or ``..\\..\\x.pdf`` (a portal that joins the name to a folder writes outside it), a U+202E
RIGHT-TO-LEFT OVERRIDE that makes ``报告\u202efdp.exe`` read as ``报告exe.pdf``, a zero-width
space, 400 characters, or script text. ``attachment_name`` keeps the base name (after the
last ``/`` or ``\\``), drops control and format characters (Unicode Cc, Cf: bidi overrides,
zero-width marks, the BOM) and markup, and cuts the stem, never the extension, to
``MAX_NAME_CHARS``. Pure and idempotent: the sources call it where they choose a name,
normalization once more for every source.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bridge.text import WHITESPACE_RE, without_markup

MAX_NAME_CHARS = 120
"""Most file systems take 255 bytes, three per Chinese character: 120 characters fit
everywhere, with room for a portal's own prefix."""
MAX_EXTENSION_CHARS = 8
"""``.pdf``, ``.docx``, ``.jpeg``: what follows the last dot counts as an extension (and
is kept whole) when it is this short and of ASCII letters and digits."""

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
"""Control and format characters, lone surrogates. Private-use characters (Co) stay:
GBK sites map their own rare characters there."""
_EXTENSION = re.compile(rf"\.[A-Za-z0-9]{{1,{MAX_EXTENSION_CHARS}}}$")
_SEPARATORS = re.compile(r"[/\\]")
_SPACES = re.compile(" {2,}")
_EDGES = " ."
"""Stripped from both ends: a leading dot hides a file, a trailing one Windows drops."""


def attachment_name(name: str, url: str = "", number: int = 1) -> str:
    """A safe file name for an attachment called ``name`` (as the page shows it) at
    ``url``: else the URL's last path segment, else ``附件<number>``."""
    if safe := _safe(name):  # the usual case: the URL is not read
        return safe
    if safe := _safe(_last_segment(url)):
        return safe
    return f"附件{number}"


def _last_segment(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:  # a malformed host: no segment to take
        return ""
    return unquote(PurePosixPath(path).name)


def _safe(name: str) -> str:
    """``name`` reduced to a safe base name; "" when nothing of it is left."""
    # Markup first: "</script>" holds a slash. What is left of "<" and ">" goes too (no
    # file system likes them), so a second pass finds no markup the first one made.
    text = without_markup(name or "").replace("<", "").replace(">", "")
    text = WHITESPACE_RE.sub(" ", text)  # line breaks and tabs are spaces, not dropped
    if not text.isprintable():  # every character of a dropped category is unprintable
        text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    text = _SEPARATORS.split(text)[-1].strip(_EDGES)
    return _shortened(text) if text else ""


def _shortened(name: str) -> str:
    """``name`` cut to ``MAX_NAME_CHARS``: the stem loses its end, the extension stays."""
    if len(name) <= MAX_NAME_CHARS:
        return name
    m = _EXTENSION.search(name)
    extension = m[0] if m and m.start() > 0 else ""
    stem = name[: MAX_NAME_CHARS - len(extension)].rstrip(_EDGES)
    return stem + extension
