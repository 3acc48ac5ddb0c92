"""The two dynamic Hanweb endpoints of the sandbox site: the list data proxy and downloads.

``dataproxy.jsp`` answers from the column record lists the generator keeps in
``.cms/dataproxy/`` (cached here until the file changes), in both forms real Hanweb sites use:
``GET ?page=N&columnid=…`` and ``POST ?startrecord=&endrecord=&perpage=`` with the column in the
form body. ``downfile.jsp?filename=…`` sends a stored file with its name in
Content-Disposition. Both are pure functions of the request and the files on disk.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from bridge.sandbox.content import MEDIA_TYPES
from bridge.sandbox.site_hanweb import DOWNFILE, PROXY, UPLOADS, proxy_xml
from bridge.sandbox.site_model import CMS_DIR

__all__ = ["DOWNFILE", "PROXY", "DataProxy", "Found", "Refused", "content_type", "downfile"]

CONTENT_TYPES = {
    ".html": "text/html",  # no charset parameter: real sites leave it to the <meta>
    ".css": "text/css",
    ".js": "application/javascript",
    ".json": "application/json",
    ".txt": "text/plain",
    **{f".{ext}": media for ext, media in MEDIA_TYPES.items()},
}


def content_type(suffix: str) -> str:
    return CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")


class Found(NamedTuple):
    """What to send: the bytes, their modification time, type and any further headers."""

    data: bytes
    mtime: float
    content_type: str
    headers: dict[str, str]


class Refused(NamedTuple):
    status: int
    message: str


class DataProxy:
    """Answers dataproxy.jsp; one parsed record list per column, reloaded when it changes."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _column(self, columnid: str) -> tuple[dict[str, Any], float] | None:
        path = self.root / CMS_DIR / "dataproxy" / f"{columnid}.json"
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._cache.get(columnid)
            if cached is None or cached[0] != key:
                try:
                    store = json.loads(path.read_bytes())
                except (OSError, ValueError):  # replaced between stat and read: a 404 now
                    return None
                self._cache[columnid] = cached = (key, store)
        return cached[1], st.st_mtime

    def answer(self, method: str, params: dict[str, str]) -> Found | Refused:
        """``params``: the query merged over the form body (POST)."""
        columnid = params.get("columnid", "")
        if not columnid.isdigit():
            return Refused(400, "columnid is required")
        found = self._column(columnid)
        if found is None:
            return Refused(404, f"no column {columnid}")
        store, mtime = found
        records: list[str] = store["records"]
        try:
            perpage = _number(params, "perpage", store["perpage"])
            if method == "POST":
                first = _number(params, "startrecord", 1)
                last = _number(params, "endrecord", first + perpage - 1)
            else:
                page = _number(params, "page", 1)
                first, last = (page - 1) * perpage + 1, page * perpage
        except ValueError as exc:
            return Refused(400, str(exc))
        if last < first:
            return Refused(400, "endrecord is before startrecord")
        chosen = records[first - 1 : last]
        data = proxy_xml(chosen, len(records), perpage, store["encoding"])
        return Found(data, mtime, "text/xml", {})


def _number(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number from 1, not {raw!r}")
    return int(raw)


def downfile(root: Path, params: dict[str, str]) -> Found | Refused:
    """A stored file by its ``filename`` (path under the upload folder), named for saving."""
    stored = params.get("filename", "")
    parts = [p for p in stored.replace("\\", "/").split("/") if p]
    if not parts or any(p.startswith(".") for p in parts):
        return Refused(404, "no such file")
    target = root.joinpath(UPLOADS.strip("/"), *parts)
    try:
        with open(target, "rb") as fh:
            data, mtime = fh.read(), os.fstat(fh.fileno()).st_mtime
    except OSError:
        return Refused(404, "no such file")
    try:
        name = target.with_name(f".{target.name}.name").read_text(encoding="utf-8")
    except OSError:
        name = target.name
    disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return Found(data, mtime, content_type(target.suffix), {"Content-Disposition": disposition})
