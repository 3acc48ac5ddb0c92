"""Query-string parameters of the admin pages and the sandbox portal's public pages, read
so that no value a browser (or an attacker) can send turns into a 500.

``str.isdigit()`` is the trap this module exists for: it is true for ``²`` or ``٣``, which
``int()`` refuses, and a digit string of any length passes it and then overflows SQLite's
64-bit integers. A bad value raises ``BadParameter`` with a short message that names the
parameter; the servers answer it with 400. Names a page does not read are ignored, as a
browser's cache-busters and trackers are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import parse_qs

MAX_FIELDS = 50  # far above any page's form; parse_qs refuses a query with more
MAX_TEXT = 500  # characters of one text parameter (an item id is under 100)
BIGINT_MAX = 2**63 - 1  # the largest id SQLite and PostgreSQL BIGINT hold

_WHOLE = re.compile(r"[0-9]{1,19}")  # ASCII digits only, unlike str.isdigit() or \d


class BadParameter(ValueError):
    """A query parameter with a value the page cannot use; the message names it, in
    English (``str``, for an API's error body and the log) and in Chinese (``zh``, for an
    administrator's browser)."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


def parse_query(raw: str) -> dict[str, list[str]]:
    """Every name's values, blank ones kept; the percent-decoded bytes must be UTF-8."""
    try:
        return parse_qs(raw, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise BadParameter(
            "the query string is not UTF-8 once percent-decoded", "查询参数解码后不是 UTF-8"
        ) from None
    except ValueError:
        raise BadParameter(
            f"more than {MAX_FIELDS} query parameters", f"查询参数超过 {MAX_FIELDS} 个"
        ) from None


def text(query: Mapping[str, list[str]], name: str) -> str:
    """The one value of ``name`` (``""`` when absent): given once, printable, not too long."""
    values = query.get(name)
    if not values:
        return ""
    if len(values) > 1:
        raise BadParameter(
            f"{name}: given {len(values)} times; give it once",
            f"参数 {name} 出现了 {len(values)} 次，只能给一次",
        )
    value = values[0]
    if len(value) > MAX_TEXT:
        raise BadParameter(
            f"{name}: longer than {MAX_TEXT} characters", f"参数 {name} 超过 {MAX_TEXT} 个字符"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise BadParameter(
            f"{name}: control characters are not allowed", f"参数 {name} 不得含控制字符"
        )
    return value


def whole_number(
    query: Mapping[str, list[str]], name: str, low: int, high: int = BIGINT_MAX
) -> int | None:
    """``name`` as an integer in [low, high], or None when absent; anything else is refused
    (empty, signs, spaces, non-ASCII digits, out of range)."""
    if name not in query:
        return None
    value = text(query, name)
    if not _WHOLE.fullmatch(value) or not low <= int(value) <= high:
        raise BadParameter(
            f"{name}: must be a whole number from {low} to {high}",
            f"参数 {name} 须为 {low} 到 {high} 之间的整数",
        )
    return int(value)
