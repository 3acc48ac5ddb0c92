"""Portal API v1 as the real portal answers it (DESIGN.md §5): signature check, then calls.

Pure request → response logic over a ``PortalStore``; the sockets (``portal_http``), the
counters (``portal_stats``) and the faults (``portal_faults``) are wrapped around it by
``portal.PortalServer``.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import unquote

from bridge.net.query_params import BIGINT_MAX
from bridge.net.signing import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_CLOCK_SKEW,
    NONCE_TTL,
    verify,
)
from bridge.sandbox.portal_http import Request, Response, error, invalid, not_allowed
from bridge.sandbox.portal_rules import Conflict, Invalid, normalize_since
from bridge.sandbox.portal_store import PortalStore

API_PREFIX = "/api/v1"
MAX_RECORD_BYTES = 5 * 1024 * 1024  # a catalog record is text; anything larger is a mistake
LIST_LIMIT, LIST_LIMIT_MAX = 100, 1000  # GET /api/v1/items page size: default, ceiling

_NONCE_RE = re.compile(r"[0-9a-fA-F]{16,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_RE = re.compile(r"-?\d{1,20}")
_WHOLE = re.compile(r"[0-9]{1,19}")  # ASCII digits: an id or a count


def _unauthorized(message: str) -> Response:
    """401 with a reason that helps the operator; it never names the secret."""
    return error(401, "unauthorized", message)


class PortalAPI:
    """The /api/v1 endpoints. ``store`` is called for the store on each use, because the
    server opens it on start and closes it on stop."""

    def __init__(
        self,
        store: Callable[[], PortalStore],
        keys: dict[str, str],
        org_code: str,
        max_file_size: int,
    ) -> None:
        self._store_of = store
        self._keys = keys
        self.org_code = org_code
        self.max_file_size = max_file_size

    @property
    def store(self) -> PortalStore:
        return self._store_of()

    def answer(self, request: Request) -> Response:
        """The answer to one /api/v1 request (the path still starts with /api/v1)."""
        route = request.path[len(API_PREFIX) :]
        method = request.method
        if route == "/health":
            if method not in ("GET", "HEAD"):
                return not_allowed("GET")
            return Response.json(200, {"status": "ok"})  # unsigned, for load balancers
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if route == "/items":
            return self._list_items(request) if method == "GET" else not_allowed("GET")
        if route.startswith("/items/") and len(route) > len("/items/"):
            external_id = unquote(route[len("/items/") :])
            if method == "PUT":
                return self._put_item(external_id, request)
            if method == "GET":
                return self._get_item(external_id)
            if method == "DELETE":
                return self._delete_item(external_id)
            return not_allowed("GET, PUT, DELETE")
        if route == "/files":
            return self._post_file(request) if method == "POST" else not_allowed("POST")
        return error(404, "not_found", "no such API endpoint")

    def _authenticate(self, request: Request) -> Response | None:
        """None when the request is signed by a known key; else the 401 (or 413) answer.

        The nonce is recorded only after the signature checks out, so nobody without the
        secret can use up nonces.
        """
        headers = request.headers
        missing = [
            name
            for name in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
            if not headers.get(name)
        ]
        if missing:
            return _unauthorized("missing header " + ", ".join(missing))
        key, timestamp = str(headers[HEADER_KEY]), str(headers[HEADER_TIMESTAMP])
        nonce, given = str(headers[HEADER_NONCE]), str(headers[HEADER_SIGNATURE])
        secret = self._keys.get(key)
        if secret is None:
            return _unauthorized(f"unknown {HEADER_KEY} (not configured on this portal)")
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            return _unauthorized(f"{HEADER_TIMESTAMP} must be unix seconds")
        now = time.time()
        skew = abs(now - int(timestamp))
        if skew > MAX_CLOCK_SKEW:
            return _unauthorized(
                f"timestamp is {skew:.0f} s off the portal clock (at most {MAX_CLOCK_SKEW} s)"
            )
        if not _NONCE_RE.fullmatch(nonce):
            return _unauthorized(f"{HEADER_NONCE} must be 16 to 128 hex characters")
        if request.body is None:
            return error(413, "too_large", "request body too large")
        if not _SIGNATURE_RE.fullmatch(given) or not verify(
            secret, request.method, request.target, timestamp, nonce, request.body, given
        ):
            return _unauthorized(
                "signature does not match (method, path with query, timestamp, nonce, body)"
            )
        if not self.store.remember_nonce(nonce, now, NONCE_TTL):
            return _unauthorized(f"nonce already used within {NONCE_TTL} s (replay)")
        return None

    # -- API endpoints -----------------------------------------------------------------

    def _put_item(self, external_id: str, request: Request) -> Response:
        body = request.body or b""
        if len(body) > MAX_RECORD_BYTES:
            return error(413, "too_large", f"a record is at most {MAX_RECORD_BYTES} bytes")
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return invalid([{"field": "body", "message": f"not valid UTF-8 JSON: {exc}"}])
        try:
            result = self.store.put(external_id, record, self.org_code)
        except Invalid as exc:
            return invalid(exc.errors)
        except Conflict as exc:
            return error(409, "conflict", str(exc))
        status = 201 if result.status == "created" else 200
        return Response.json(status, result.to_json(), outcome=result.status)

    def _get_item(self, external_id: str) -> Response:
        record = self.store.get(external_id)
        if record is None:
            return error(404, "not_found", f"no item {external_id!r}")
        return Response.json(200, record)

    def _delete_item(self, external_id: str) -> Response:
        result = self.store.withdraw(external_id)
        if result is None:
            return error(404, "not_found", f"no item {external_id!r}")
        return Response.json(200, result.to_json())

    def _list_items(self, request: Request) -> Response:
        query = {k: v[-1] for k, v in request.query.items()}
        errors = []
        since = None
        if query.get("since"):
            try:
                since = normalize_since(query["since"])
            except ValueError:
                errors.append({"field": "since", "message": "must be an ISO 8601 date and time"})
        after = 0
        if query.get("cursor"):
            if _WHOLE.fullmatch(query["cursor"]) and int(query["cursor"]) <= BIGINT_MAX:
                after = int(query["cursor"])
            else:  # not str.isdigit(): "²" passes it and int() refuses it
                errors.append({"field": "cursor", "message": "not a cursor this portal gave"})
        limit = LIST_LIMIT
        if query.get("limit"):
            if _WHOLE.fullmatch(query["limit"]) and int(query["limit"]) >= 1:
                limit = min(int(query["limit"]), LIST_LIMIT_MAX)
            else:
                errors.append({"field": "limit", "message": "must be a positive integer"})
        if errors:
            return invalid(errors)
        items, last_id = self.store.changes(since, after, limit)
        next_cursor = None if last_id is None else str(last_id)
        return Response.json(200, {"items": items, "next_cursor": next_cursor})

    def _post_file(self, request: Request) -> Response:
        data = request.body or b""
        if len(data) > self.max_file_size:
            return error(413, "too_large", f"a file is at most {self.max_file_size} bytes")
        errors = []
        name = _file_name(request.headers.get("X-File-Name"))
        if not name:
            errors.append(
                {"field": "X-File-Name", "message": "required: the percent-encoded UTF-8 name"}
            )
        given = str(request.headers.get("X-File-Sha256") or "").strip().lower()
        actual = hashlib.sha256(data).hexdigest()
        if not _SHA256_RE.fullmatch(given):
            errors.append({"field": "X-File-Sha256", "message": "required: 64 hex characters"})
        elif given != actual:
            errors.append({"field": "X-File-Sha256", "message": f"body has sha256 {actual}"})
        if errors:
            return invalid(errors)
        media_type = str(request.headers.get("Content-Type") or "").strip()
        media_type = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        file_id, created = self.store.add_file(data, actual, name, media_type)
        return Response.json(201 if created else 200, {"file_id": file_id})


def _file_name(header: str | None) -> str:
    """The uploaded file's name: percent-decoded, without directories or control chars."""
    if not header:
        return ""
    try:
        name = unquote(str(header), errors="strict")
    except UnicodeDecodeError:
        return ""
    name = PurePosixPath(name.replace("\\", "/")).name
    return "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
