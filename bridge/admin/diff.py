"""What changed between two stored versions of a record, field by field, for the item page.

Only the changed pieces are shown: HTML and Chinese prose are cut at line-ish boundaries
(a newline, a closing tag, 。 or ；) and compared with difflib; fields the content hash
ignores are flagged, so an operator sees why a version did not count as a change.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from bridge.normalize.hashing import VOLATILE_FIELDS

_SPLIT = re.compile(r"(?<=[\n>。；])")  # line-ish pieces of HTML and Chinese prose


@dataclass(frozen=True)
class DiffRow:
    field: str
    old: str
    new: str
    volatile: bool


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    """Field name -> text: nested objects become ``source.url``, lists one JSON line each."""
    out: dict[str, str] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                out[f"{key}.{sub}"] = (
                    inner if isinstance(inner, str) else json.dumps(inner, ensure_ascii=False)
                )
        elif isinstance(value, list):
            out[key] = "\n".join(json.dumps(v, ensure_ascii=False, sort_keys=True) for v in value)
        else:
            out[key] = "" if value is None else str(value)
    return out


def record_diff(old: dict[str, Any], new: dict[str, Any]) -> list[DiffRow]:
    """What changed between two stored records, field by field, in changed pieces only."""
    a, b = _flatten(old), _flatten(new)
    volatile = {f.replace("[]", "") for f in VOLATILE_FIELDS}
    rows = []
    for field in sorted(set(a) | set(b)):
        before, after = a.get(field, ""), b.get(field, "")
        if before == after:
            continue
        old_parts, new_parts = _SPLIT.split(before), _SPLIT.split(after)
        matcher = difflib.SequenceMatcher(None, old_parts, new_parts, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                rows.append(DiffRow(field, "".join(old_parts[i1:i2]), "".join(new_parts[j1:j2]),
                                    field in volatile))  # fmt: skip
    return rows
