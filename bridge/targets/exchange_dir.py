"""exchange-dir: a 前置机 exchange folder (DESIGN.md §5).

The receiving system picks files up from a folder (often a share on the 前置机, the
front-end machine between two networks). Layout under the folder:

- ``records/<safe id>/v<version>.json``: one file per record version, the full record
  plus ``index_no``, ``version``, ``status``, ``content_hash`` and ``updated_at``;
- ``records/<safe id>/v<version>-withdrawn.json``: a withdrawal (撤销): the same record
  with ``status`` "withdrawn" and ``withdrawn_at``; the version number does not change;
- ``files/<sha256><.ext>``: each attachment once; its name is the ``file_id``;
- ``manifest.json``: the current state of every item, and the file that holds it;
- ``serials.json``: the last 索引号 serial minted per org code and year.

Every file is written to a temporary name in its own directory (starting with ``.``,
ending in ``.tmp``), flushed to disk, then renamed over the final name, so a reader sees
the old file or the new one and never half of one. Writers take an exclusive ``flock`` on
``.bridge.lock``, so several bridges (or threads) may share one folder.

Whoever else writes to the folder (the receiving system, a person on the share) cannot
make the bridge read or write outside it: a manifest entry is read only when its
``file`` is ``records/<safe id>/v<N>[-withdrawn].json`` for its own id, and every file
below the folder is opened one name at a time (``openat``) without following a symbolic
link, so neither ``../x``, ``/etc/x`` nor a link planted in ``records/`` leads out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from bridge.catalog import format_index_no
from bridge.errors import Fatal, Rejected, Retriable
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Listed, Receipt, Target
from bridge.targets.below import open_dir, read_below, write_at, write_atomic
from bridge.targets.memory import (
    attachment_file_ids,
    invalid,
    record_problems,
    utc_now,
    utc_since,
)

DEFAULT_ORG_CODE = "002949236"  # 余姚市教育局, as in the seed report
FORMAT = "bridge-exchange-dir/1"  # written into manifest.json, for readers to check
MANIFEST = "manifest.json"
SERIALS = "serials.json"
LOCK = ".bridge.lock"
MAX_NAME = 120  # characters of a folder name; file systems allow 255 bytes, shares fewer

_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_FILE_ID_RE = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,10}")
_EXT_RE = re.compile(r"\.[a-z0-9]{1,10}")
_RECORD_RE = re.compile(r"v([1-9][0-9]{0,9})(?:-withdrawn)?\.json")  # as put()/delete() name them


def safe_name(external_id: str) -> str:
    """A folder name for ``external_id``, distinct on every file system.

    Bytes other than lower-case letters, digits, ``-`` and ``_`` become ``%XX`` (as in a
    URL), so ``:``, ``/``, ``..`` and upper case (which Windows shares fold) are safe and
    the name decodes back to the id. An id too long for a folder name keeps its start
    and gets ``~`` plus a hash of the whole id.
    """
    name = "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in external_id.encode())
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 17] + "~" + hashlib.sha256(external_id.encode()).hexdigest()[:16]
    return name


def _clip(value: object, limit: int = 160) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def _extension(name: str, media_type: str) -> str:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if _EXT_RE.fullmatch(suffix):
        return suffix
    return {"application/pdf": ".pdf", "text/plain": ".txt"}.get(media_type, ".bin")


class ExchangeDirTarget(Target):
    """Files in ``directory``; see the module docstring for the layout."""

    def __init__(
        self, name: str, directory: str | os.PathLike[str], *, org_code: str = DEFAULT_ORG_CODE
    ) -> None:
        self.name = name
        self.root = Path(directory)
        self.org_code = org_code
        self._thread_lock = threading.Lock()  # our threads queue here, other writers on flock

    def __repr__(self) -> str:
        return f"ExchangeDirTarget({self.name!r}, {str(self.root)!r})"

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _locked(self, what: str) -> Iterator[None]:
        """The folder's write lock; file system trouble (share gone, disk full) is retried."""
        try:
            with self._thread_lock:
                self.root.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    yield
                finally:
                    os.close(fd)  # releases the lock
        except OSError as exc:
            raise Retriable(f"{what}: exchange folder {self.root}: {exc.strerror or exc}") from None

    def _read_json(self, relative: str, default: Any) -> Any:
        try:
            data = read_below(self.root, relative)
            return default if data is None else json.loads(data)
        except OSError as exc:
            raise Retriable(f"read {self.root / relative}: {exc.strerror or exc}") from None
        except ValueError:  # never written by us: a person or another program changed it
            raise Fatal(f"{self.root / relative} is not valid JSON; restore it") from None

    def _manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = self._read_json(MANIFEST, {"format": FORMAT, "items": {}})
        return manifest

    def _save_manifest(self, manifest: dict[str, Any], now: str) -> None:
        manifest["format"], manifest["updated_at"] = FORMAT, now
        write_atomic(self.root / MANIFEST, _dump(manifest))

    def _write_version(self, relative: str, document: dict[str, Any]) -> None:
        *folders, name = relative.split("/")
        dir_fd = open_dir(self.root, folders, create=True)
        try:
            write_at(dir_fd, name, _dump(document))
        finally:
            os.close(dir_fd)

    def _entry(self, manifest: dict[str, Any], external_id: str) -> dict[str, Any] | None:
        """The manifest's entry for ``external_id`` if its ``file`` has the one shape the
        writer gives it; any other (``../x``, ``/etc/x``, another item's folder) is Fatal,
        as a damaged manifest is: the bridge reads nothing else."""
        held = manifest["items"].get(external_id)
        if held is None:
            return None
        folder = safe_name(external_id)
        relative = held.get("file") if isinstance(held, dict) else None
        parts = relative.split("/") if isinstance(relative, str) else []
        if (
            len(parts) == 3
            and parts[:2] == ["records", folder]
            and (m := _RECORD_RE.fullmatch(parts[2]))
            and m.group(1) == str(held.get("version"))  # the version the writer names it by
        ):
            return held
        raise Fatal(
            f"{self.root / MANIFEST}: item {_clip(external_id)}: file {_clip(relative)} is not "
            f"records/{folder}/v<version>[-withdrawn].json, the only file the bridge reads for "
            "it; restore the manifest"
        )

    def _mint(self, items: dict[str, Any], year: int) -> str:
        """Next free serial for (org, 成文 year), saved before any record names it.

        A crash after saving wastes a number (a gap); it can never hand one out twice.
        """
        serials: dict[str, int] = self._read_json(SERIALS, {})
        key = f"{self.org_code}/{year:04d}"
        taken = {entry["index_no"] for entry in items.values()}
        serial = serials.get(key, 0) + 1
        while format_index_no(self.org_code, year, serial) in taken:
            serial += 1
        serials[key] = serial
        write_atomic(self.root / SERIALS, _dump(serials))
        return format_index_no(self.org_code, year, serial)

    def _file_sha256(self, file_id: str) -> str | None:
        """The sha256 of an uploaded file, or None for an id this folder does not hold."""
        if not _FILE_ID_RE.fullmatch(file_id):
            return None
        try:
            dir_fd = open_dir(self.root, ["files"])
        except FileNotFoundError:
            return None
        try:
            held = os.stat(file_id, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(dir_fd)
        return file_id[:64] if stat.S_ISREG(held.st_mode) else None

    # -- the Target interface ------------------------------------------------------------

    def put(self, record: dict[str, Any]) -> Receipt:
        external_id = record["external_id"]
        digest = content_hash(record)
        with self._locked(f"put {external_id}"):
            known = {f: s for f in attachment_file_ids(record) if (s := self._file_sha256(f))}
            errors = record_problems(record, known)
            if errors:
                raise invalid(external_id, errors)
            manifest = self._manifest()
            items: dict[str, Any] = manifest["items"]
            held = items.get(external_id)
            wanted = record.get("index_no")
            if held is not None and wanted not in (None, held["index_no"]):
                raise Rejected(
                    f"item {external_id!r} is filed as {held['index_no']}; "
                    f"its index_no cannot change to {wanted}",
                    409,
                )
            if held is None and wanted:
                for other_id, other in items.items():
                    if other["index_no"] == wanted:
                        raise Rejected(
                            f"index_no {wanted} is already used by item {other_id!r}", 409
                        )
            if held is not None and held["status"] == "active" and held["content_hash"] == digest:
                return Receipt(external_id, held["index_no"], held["version"], "unchanged")
            if held is None:
                index_no = wanted or self._mint(items, int(record["created"][:4]))
                version, outcome = 1, "created"
            else:
                index_no, version, outcome = held["index_no"], held["version"] + 1, "updated"
            now = utc_now()
            relative = f"records/{safe_name(external_id)}/v{version}.json"
            state = {
                "index_no": index_no,
                "version": version,
                "status": "active",
                "content_hash": digest,
                "updated_at": now,
            }
            self._write_version(relative, {**record, **state})
            items[external_id] = {**state, "file": relative}
            self._save_manifest(manifest, now)
            return Receipt(external_id, index_no, version, outcome)

    def delete(self, external_id: str) -> Receipt:
        with self._locked(f"withdraw {external_id}"):
            manifest = self._manifest()
            held = self._entry(manifest, external_id)
            if held is None:
                return Receipt(external_id, None, None, "withdrawn")
            if held["status"] != "withdrawn":  # a repeated withdrawal changes nothing
                now = utc_now()
                document = self._read_json(held["file"], None)
                if not isinstance(document, dict):
                    raise Retriable(f"withdraw {external_id}: {held['file']} is missing")
                document.update(status="withdrawn", withdrawn_at=now, updated_at=now)
                relative = f"records/{safe_name(external_id)}/v{held['version']}-withdrawn.json"
                self._write_version(relative, document)
                held.update(status="withdrawn", updated_at=now, file=relative)
                self._save_manifest(manifest, now)
            return Receipt(external_id, held["index_no"], held["version"], "withdrawn")

    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise Rejected(
                f"file {name!r}: sha256 does not match its bytes",
                422,
                [{"field": "sha256", "message": "does not match the bytes"}],
            )
        with self._locked(f"upload {name}"):
            dir_fd = open_dir(self.root, ["files"], create=True)
            try:
                stored = sorted(n for n in os.listdir(dir_fd) if n.startswith(f"{sha256}."))
                if stored:
                    return stored[0]
                file_id = sha256 + _extension(name, media_type)
                write_at(dir_fd, file_id, data)
                return file_id
            finally:
                os.close(dir_fd)

    def get(self, external_id: str) -> dict[str, Any] | None:
        held = self._entry(self._manifest(), external_id)
        if held is None:
            return None
        document: dict[str, Any] = self._read_json(held["file"], None)
        return document

    def listing(self, since: str | None = None) -> Iterator[Listed]:
        after = utc_since(since) if since else None
        for external_id, held in self._manifest()["items"].items():
            if after and held["updated_at"] < after:
                continue
            yield Listed(
                external_id,
                held["index_no"],
                held["content_hash"],
                held["status"],
                held["updated_at"],
            )
