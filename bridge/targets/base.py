"""The target side: where catalog records go (DESIGN.md §5).

Terminology:

- *put*: create or update one record by ``external_id``; idempotent, so sending the
  same record again after a lost answer never makes a second item;
- *delete*: withdraw (撤销) one record; the target keeps it, marked withdrawn;
- *upload*: store an attachment's bytes once per sha256 and get the target's ``file_id``;
- *receipt*: the target's answer, stored before a delivery counts as done.

Each implementation is one class in one module; ``memory.MemoryTarget`` is the
reference and the test fake, and ``tests/targets`` runs one contract suite on all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Receipt:
    external_id: str
    index_no: str | None
    version: int | None
    status: str  # created | updated | unchanged | withdrawn
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "index_no": self.index_no,
            "version": self.version,
            "status": self.status,
        }


class WireRecord(dict[str, Any]):
    """A record on its way to a target, and ``text``: its JSON with sorted keys and no
    spaces (``hashing.canonical_json``'s form), when the sender could splice that from
    the stored text; the http target then sends it rather than encoding the record."""

    text: str | None = None


@dataclass(frozen=True)
class Listed:
    """One entry of the target's catalog listing (for reconciliation)."""

    external_id: str
    index_no: str | None
    content_hash: str | None
    status: str
    updated_at: str | None


class Target(ABC):
    name: str
    supports_files: bool = True
    mints_index_no: bool = True  # False: the target stores whatever index_no it is given

    @abstractmethod
    def put(self, record: dict[str, Any]) -> Receipt:
        """Create or update ``record["external_id"]``."""

    @abstractmethod
    def delete(self, external_id: str) -> Receipt:
        """Withdraw one record; withdrawing an unknown or withdrawn one is not an error."""

    @abstractmethod
    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        """Store one attachment; returns its ``file_id`` (the same for the same sha256)."""

    @abstractmethod
    def get(self, external_id: str) -> dict[str, Any] | None:
        """The record as the target holds it (with index_no, version, status, content_hash)."""

    @abstractmethod
    def listing(self, since: str | None = None) -> Iterator[Listed]:
        """Every record the target holds, withdrawn ones included."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""
