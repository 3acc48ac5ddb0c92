"""Portal API v1 over HTTP(S), signed (DESIGN.md §5).

Every answer goes through ``classify``: the one place that decides what a status means
for the caller (done, retry later, dead letter, or stop: bad credentials).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.util import Url, parse_url

from bridge import __version__
from bridge.errors import AuthenticationError, ConfigError, Problem, Rejected, Retriable
from bridge.net.client import (
    UNSIGNED_UPLOAD_HEADERS,
    Answer,
    HttpClient,
    ProxyNotSupported,
    plain_http_exposed,
    plain_reason,
)
from bridge.net.signing import sign_headers
from bridge.targets.base import Listed, Receipt, Target

log = logging.getLogger(__name__)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# A path of unreserved characters and upper-case percent escapes, no segment starting
# with a dot: what ``quote(..., safe="")`` makes of an id, and what urllib3's
# ``parse_url`` leaves as it is (it resolves dot segments and re-cases escapes)
_SEGMENT = r"(?:[A-Za-z0-9_~-]|%[0-9A-F]{2})(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*"
_PLAIN_PATH = re.compile(f"(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?")


# What ``quote(value, safe="")`` makes of each ASCII character it escapes (the others are
# unreserved): an item's id quoted with them, 3.3 -> 1.1 us (mostly one ":" to escape).
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_ESCAPES = {chr(c): f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED}
_RESERVED = re.compile(r"[^A-Za-z0-9_.~-]")


def quote_segment(value: str) -> str:
    """``quote(value, safe="")``: ``value`` as one path segment."""
    if not value.isascii():
        return quote(value, safe="")
    return _RESERVED.sub(lambda m: _ESCAPES[m.group()], value)


# A PUT's body: sorted keys, no spaces, UTF-8 as is (the sender splices the same text from
# the stored record when it can, see ``WireRecord``)
_BODY = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _plain_base(base: str) -> Url | None:
    """``base`` as ``parse_url`` reads it, when a plain path appended to it stays as it is
    (no query, no fragment); else None."""
    parsed = parse_url(base)
    if parsed.query is not None or parsed.fragment is not None or parsed.path is None:
        return None
    if parse_url(base + "x").path != parsed.path + "x":
        return None
    return parsed


def _message(r: Answer) -> tuple[str, list[dict[str, str]]]:
    try:
        body = r.json()
    except ValueError:
        return (r.text or "")[:300].strip(), []
    if not isinstance(body, dict):
        return str(body)[:300], []
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    parts = [f"{e.get('field')}: {e.get('message')}" for e in errors]
    text = "; ".join(parts) or str(body.get("message") or body.get("code") or "")
    return text[:500], [
        {"field": str(e.get("field")), "message": str(e.get("message"))} for e in errors
    ]


def classify(r: Answer, what: str) -> None:
    """Raise what the caller should do about a non-2xx answer; return on success."""
    status = r.status_code
    if 200 <= status < 300:
        return
    message, errors = _message(r)
    if status in (408, 429) or status >= 500:
        raise Retriable(
            f"{what}: portal answered {status} {message}".rstrip(),
            retry_after=parse_retry_after(r.headers.get("Retry-After")),
        )
    if status in (401, 403):
        raise AuthenticationError(
            f"{what}: the portal refused our credentials ({status} {message or 'unauthorized'}); "
            "check target.key and the target secret",
            status,
            message or "unauthorized",
        )
    raise Rejected(f"{what}: portal answered {status}: {message}", status, errors)


class HttpTarget(Target):
    """The portal at ``url``. Plain http that leaves the machine is refused unless
    ``allow_insecure_http``: the signature does not cover an upload's name and type."""

    def __init__(
        self,
        name: str,
        url: str,
        key: str,
        secret: str,
        *,
        timeout: float = 30.0,
        allow_insecure_http: bool = False,
    ) -> None:
        exposed = plain_http_exposed(url)
        if exposed and not allow_insecure_http:
            raise ConfigError(
                [
                    Problem(
                        f"target {name!r}",
                        f"plain http to {exposed} refused: {UNSIGNED_UPLOAD_HEADERS}; use "
                        "https, or set allow_insecure_http = true on a trusted network",
                    )
                ]
            )
        if exposed:
            log.warning(
                "target %s: plain http to %s (allow_insecure_http): %s",
                name,
                exposed,
                UNSIGNED_UPLOAD_HEADERS,
            )
        self.name = name
        self.base = url if url.endswith("/") else url + "/"
        self.key = key
        self._secret = secret
        self.timeout = timeout
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)  # made once
        self.client = HttpClient({"User-Agent": f"bridge/{__version__}"})
        self._base_url = _plain_base(self.base)
        # The path of the base as ``urlsplit`` reads it, when a plain path appended to it
        # stays in the path (no query or fragment to run into)
        self._split_path = (
            None if "?" in self.base or "#" in self.base else urlsplit(self.base).path
        )

    def __repr__(self) -> str:  # never show the secret
        return f"HttpTarget({self.name!r}, {self.base!r}, key={self.key!r})"

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        what: str,
        ok_statuses: tuple[int, ...] = (),
    ) -> Answer:
        path = path.lstrip("/")
        signed = sign_headers(self.key, self._secret, method, self._signed_path(path), body)
        try:
            r = self.client.request(
                method,
                self.base + path,
                body=body or None,
                headers={**headers, **signed} if headers else signed,
                timeout=self._timeout,
                parsed=self._parsed(path),
            )
        except urllib3.exceptions.NewConnectionError as exc:  # before its base, a timeout
            raise Retriable(f"{what}: cannot connect to {self.base}: {plain_reason(exc)}") from None
        except urllib3.exceptions.TimeoutError:
            raise Retriable(f"{what}: portal did not answer within {self.timeout:g} s") from None
        except urllib3.exceptions.ProtocolError:  # the connection closed mid-answer
            raise Retriable(f"{what}: connection dropped ({self.base})") from None
        except urllib3.exceptions.ProxyError:  # the proxy's URL may hold credentials: not shown
            raise Retriable(f"{what}: cannot reach the proxy for {self.base}") from None
        except urllib3.exceptions.SSLError as exc:
            raise Retriable(f"{what}: TLS with {self.base} failed ({exc})") from None
        except urllib3.exceptions.HTTPError as exc:
            raise Retriable(f"{what}: request failed ({plain_reason(exc)})") from None
        except ProxyNotSupported as exc:
            raise Retriable(f"{what}: {exc}") from None
        if r.status_code not in ok_statuses:
            classify(r, what)
        return r

    def _signed_path(self, path: str) -> str:
        """The path and query that the signature covers: the request URL's (the base and
        ``path``) as ``urlsplit`` reads it, made from the base's when ``path`` is plain
        (``urlsplit`` of a new URL cost 2.4 us a request)."""
        if self._split_path is not None and _PLAIN_PATH.fullmatch(path):
            return self._split_path + path
        parts = urlsplit(self.base + path)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _parsed(self, path: str) -> Url | None:
        """The request's URL (the base and ``path``) as ``parse_url`` would read it, when
        that is the base's with ``path`` appended, or None (the client parses it): a
        PUT's path parsed by urllib3 cost tens of microseconds, a share of its CPU."""
        if self._base_url is None or not _PLAIN_PATH.fullmatch(path):
            return None
        return self._base_url._replace(path=f"{self._base_url.path}{path}")

    @staticmethod
    def _json(r: Answer, what: str) -> dict[str, Any]:
        try:
            body = r.json()
        except ValueError:
            raise Retriable(
                f"{what}: portal answered {r.status_code} with a body that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise Retriable(f"{what}: portal answered {r.status_code} with unexpected JSON")
        return body

    def put(self, record: dict[str, Any]) -> Receipt:
        external_id = record["external_id"]
        what = f"PUT {external_id}"
        text = getattr(record, "text", None)  # a WireRecord's
        body = (_BODY(record) if text is None else text).encode()
        r = self._request(
            "PUT",
            f"api/v1/items/{quote_segment(external_id)}",
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            what=what,
        )
        answer = self._json(r, what)
        return Receipt(
            external_id,
            answer.get("index_no"),
            answer.get("version"),
            str(answer.get("status") or ("created" if r.status_code == 201 else "updated")),
            answer,
        )

    def delete(self, external_id: str) -> Receipt:
        what = f"DELETE {external_id}"
        r = self._request(
            "DELETE", f"api/v1/items/{quote_segment(external_id)}", what=what, ok_statuses=(404,)
        )
        if r.status_code == 404:  # never reached the portal, or already gone: nothing to withdraw
            return Receipt(external_id, None, None, "withdrawn", {"status": "absent"})
        answer = self._json(r, what)
        return Receipt(
            external_id, answer.get("index_no"), answer.get("version"), "withdrawn", answer
        )

    def upload(self, name: str, data: bytes, sha256: str, media_type: str) -> str:
        what = f"upload {name}"
        r = self._request(
            "POST",
            "api/v1/files",
            body=data,
            what=what,
            headers={
                "X-File-Name": quote_segment(name),
                "X-File-Sha256": sha256,
                "Content-Type": media_type or "application/octet-stream",
            },
        )
        answer = self._json(r, what)
        if not answer.get("file_id"):
            raise Retriable(f"{what}: portal answered without a file_id")
        return str(answer["file_id"])

    def get(self, external_id: str) -> dict[str, Any] | None:
        what = f"GET {external_id}"
        r = self._request(
            "GET", f"api/v1/items/{quote_segment(external_id)}", what=what, ok_statuses=(404,)
        )
        return None if r.status_code == 404 else self._json(r, what)

    def listing(self, since: str | None = None) -> Iterator[Listed]:
        cursor: str | None = None
        while True:
            params = {"limit": "500"}
            if since:
                params["since"] = since
            if cursor:
                params["cursor"] = cursor
            what = "list items"
            page = self._json(
                self._request("GET", f"api/v1/items?{urlencode(params)}", what=what), what
            )
            for e in page.get("items") or []:
                yield Listed(
                    e["external_id"],
                    e.get("index_no"),
                    e.get("content_hash"),
                    e.get("status", "active"),
                    e.get("updated_at"),
                )
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def check_credentials(self) -> str:
        """A signed read that the portal answers only to our key and secret: the
        unsigned ``/api/v1/health`` would answer a wrong secret too. Raises what ``classify``
        raises (``AuthenticationError`` for 401/403); returns what was asked."""
        path = "api/v1/items?limit=1"
        self._request("GET", path, what=f"signed GET /{path}")
        return f"signed GET /{path}"

    def health(self) -> bool:
        try:
            answer = self.client.request("GET", self.base + "api/v1/health", timeout=self._timeout)
        except (urllib3.exceptions.HTTPError, ProxyNotSupported):
            return False
        return answer.status_code == 200

    def close(self) -> None:
        self.client.close()
