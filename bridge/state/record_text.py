"""A record's canonical JSON, each top-level value encoded once for two uses.

The crawl hashes a record's content (``bridge.normalize.hashing.content_hash``: canonical
JSON of the wire form minus the volatile fields) and the store keeps its state form as
canonical JSON too: the same body, title and summary encoded twice per item. Canonical
JSON of an object is ``{`` + ``"key":value`` pairs in sorted key order, joined by ``,``
+ ``}``, each value encoded exactly as it is alone; so both texts are joined here from
one encoding of each value, byte for byte what encoding the whole object gives
(tests/state/test_record_text.py compares them).
"""

from __future__ import annotations

import hashlib
import json

from bridge.catalog import CatalogRecord
from bridge.normalize.hashing import VOLATILE_FIELDS, hashable_view

_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode

# Left out of the hash whole, and those left out in part (``source.fetched_at``).
_VOLATILE = frozenset(f for f in VOLATILE_FIELDS if "." not in f)
_TRIMMED = frozenset(f.split(".")[0].removesuffix("[]") for f in VOLATILE_FIELDS if "." in f)


def _joined(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{_ENCODE(k)}:{v}" for k, v in sorted(pairs)) + "}"


class RecordText:
    """The content hash of ``record`` and, for the record as it is finally stored (its
    volatile fields may change: the 索引号 it is filed under), its state form's text."""

    __slots__ = ("_pieces", "_state", "content_hash", "record")

    def __init__(self, record: CatalogRecord) -> None:
        self.record = record
        # The state form is the wire form plus volatile fields only (CatalogRecord), so
        # its non-volatile part is the hashed part.
        state = record.to_state_json()
        self._state = state
        self._pieces = {k: _ENCODE(v) for k, v in state.items() if k not in _VOLATILE}
        hashed = [
            (k, _ENCODE(hashable_view({k: state[k]})[k]) if k in _TRIMMED else piece)
            for k, piece in self._pieces.items()
        ]
        self.content_hash = hashlib.sha256(_joined(hashed).encode()).hexdigest()

    def state_json(self, record: CatalogRecord) -> str:
        """``canonical_json(record.to_state_json())`` as text: the pieces of equal values
        are reused, any other value is encoded."""
        pairs: list[tuple[str, str]] = []
        for k, v in record.to_state_json().items():
            piece = self._pieces.get(k)
            if piece is None or self._state[k] != v:
                piece = _ENCODE(v)
            pairs.append((k, piece))
        return _joined(pairs)


def state_json(record: CatalogRecord) -> str:
    """The state form's canonical JSON, for a record without a ``RecordText``."""
    text: str = _ENCODE(record.to_state_json())
    return text
