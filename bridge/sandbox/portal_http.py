"""HTTP plumbing of the sandbox portal: framing requests and answers, nothing else.

``PortalServer.handle`` (in ``portal``) makes every decision and returns a ``Response``;
this module reads requests off the socket and writes the answer back — or, when a fault
says so, never answers: it resets the connection at once (``Response.dropped``) or holds
it until the client gives up (``Response.hung``).

``http.server`` frames the requests, all but their header blocks: it hands those to the
email parser, about 30 us of the portal's CPU per request. ``read_headers`` reads a plain
block with ``bridge.net.headers`` in a third of that (an odd one goes to the email parser
as before) into ``Headers``, which answers lookups as ``email.message.Message`` does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.client import HTTPException, LineTooLong
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, ClassVar, Literal, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from bridge.net.headers import read_header_block, read_header_lines

log = logging.getLogger(__name__)

DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard a too-large body up to this, keeping the
# connection (closing on unread data makes the client see a reset instead of our 413)
IDLE_TIMEOUT = 120  # seconds an idle keep-alive connection may hold a server thread

_RESET_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN
# json.dumps(payload, ensure_ascii=False) with the encoder made once, not on every call
_JSON = json.JSONEncoder(ensure_ascii=False).encode


class Headers:
    """A request's header fields, looked up as ``email.message.Message`` looks them up:
    the name in any case, the first value of a name given twice, None for a missing one."""

    __slots__ = ("_first",)

    def __init__(self, first: dict[str, str]) -> None:
        self._first = first  # lowercase name -> its first value

    @classmethod
    def of(cls, fields: Iterable[tuple[str, str]]) -> Headers:
        first: dict[str, str] = {}
        for name, value in fields:
            first.setdefault(name.lower(), value)
        return cls(first)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())


def read_headers(rfile: BinaryIO) -> Headers:
    """The header block after a request line, read as ``http.client.parse_headers`` reads
    it (its limits, its errors, the same fields and values)."""
    message, _, first = read_header_block(b"".join(read_header_lines(rfile)))
    return Headers.of(message.items()) if first is None else Headers(first)


@dataclass
class Request:
    """One request as the server received it. ``body`` is None when it was too large."""

    method: str
    target: str  # the request-target exactly as on the request line: what was signed
    path: str  # its path part, still percent-encoded
    query: dict[str, list[str]]
    headers: Headers
    body: bytes | None


@dataclass
class Response:
    """An answer, or (``abort`` set) the instruction to give none."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None  # a PUT's created / updated / unchanged, for the stats
    abort: Literal["reset", "hang"] | None = None
    hang_seconds: float = 0.0  # for "hang": the longest we hold before resetting anyway

    @classmethod
    def json(cls, status: int, payload: Any, **kw: Any) -> Response:
        return cls(status, _JSON(payload).encode(), **kw)

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def dropped(cls, outcome: str | None = None) -> Response:
        """No answer at all: the connection is reset, so the client sees a connection error."""
        return cls(0, outcome=outcome, abort="reset")

    @classmethod
    def hung(cls, seconds: float) -> Response:
        """No answer until the client gives up (or ``seconds`` pass); then a reset."""
        return cls(0, abort="hang", hang_seconds=seconds)


def error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"code": code, "message": message})


def invalid(errors: list[dict[str, str]]) -> Response:
    return Response.json(422, {"code": "invalid", "errors": errors})


def not_allowed(allow: str) -> Response:
    response = error(405, "method_not_allowed", f"allowed: {allow}")
    response.headers["Allow"] = allow
    return response


class Handles(Protocol):
    """What the HTTP layer needs from the portal (``PortalServer`` provides it)."""

    @property
    def max_body(self) -> int: ...

    def handle(self, request: Request) -> Response: ...


class HTTPServer(ThreadingHTTPServer):
    """Knows its portal and its open connections, so stop() can cut them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], portal: Handles) -> None:
        self.portal = portal
        self._open: dict[socket.socket, threading.Thread] = {}
        self._resetting: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, opened: bool) -> None:
        with self._open_lock:
            if opened:
                self._open[conn] = threading.current_thread()
            else:
                self._open.pop(conn, None)

    def reset_on_close(self, conn: socket.socket) -> None:
        """Make the coming close() of ``conn`` a reset (RST) instead of an orderly FIN."""
        with contextlib.suppress(OSError):  # the peer may be gone already
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_LINGER)
        with self._open_lock:
            self._resetting.add(conn)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            resetting = request in self._resetting
            self._resetting.discard(request)
        if resetting:
            request.close()  # no shutdown(SHUT_WR) first: that would send a FIN
        else:
            super().shutdown_request(request)

    def close_connections(self, grace: float) -> None:
        """Shut every open connection; wait up to ``grace`` s for their threads to end."""
        with self._open_lock:
            open_now = list(self._open.items())
        for conn, _ in open_now:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + grace
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox portal: connection from %s ended abruptly", client_address)


class _Handler(BaseHTTPRequestHandler):
    """Frames HTTP/1.1 requests and answers; all decisions belong to the portal."""

    protocol_version = "HTTP/1.1"
    server_version = "BridgeSandboxPortal/1"
    timeout = IDLE_TIMEOUT
    raw_requestline: bytes  # read by handle_one_request
    _date: ClassVar[tuple[int, str]] = (-1, "")  # the last Date sent: (unix second, text)
    disable_nagle_algorithm = True  # http.server's error pages are two writes; Nagle would
    # hold the second until the client's delayed ACK (40 ms per request)

    @property
    def _server(self) -> HTTPServer:
        return cast(HTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        self._server.track(self.connection, opened=True)

    def finish(self) -> None:
        self._server.track(self.connection, opened=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox portal: " + format, *args)  # noqa: G003 - format is the base's

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` of an answer, formatted once a second (2 us each time)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())  # what the base formats: the whole second
        cached = _Handler._date
        if cached[0] != second:
            cached = _Handler._date = (second, super().date_time_string(second))
        return cached[1]

    def parse_request(self) -> bool:
        """``BaseHTTPRequestHandler.parse_request`` (alike in Python 3.11 to 3.13) with the
        header block read by ``read_headers`` into ``self.fields``: the same answers to
        a request line or a header block that is refused."""
        self.command = None  # type: ignore[assignment] # set in case of error on the first line
        self.request_version = version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1")
        requestline = requestline.rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if len(words) == 0:
            return False

        if len(words) >= 3:  # enough to determine the protocol version
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                base_version_number = version.split("/", 1)[1]
                numbers = base_version_number.split(".")
                # RFC 2145 3.1: one "." only, each number a separate integer, leading zeros
                # ignored
                if len(numbers) != 2:
                    raise ValueError
                if any(not component.isdigit() for component in numbers):
                    raise ValueError("non digit in http version")
                if any(len(component) > 10 for component in numbers):
                    raise ValueError("unreasonable length http version")
                version_number = int(numbers[0]), int(numbers[1])
            except (ValueError, IndexError):
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if version_number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if version_number >= (2, 0):
                self.send_error(
                    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                    f"Invalid HTTP version ({base_version_number})",
                )
                return False
            self.request_version = version

        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path

        # gh-87389: a path starting with "//" reduced to one "/" (clients read //path as
        # a host: an open redirect)
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")

        try:
            self.fields = read_headers(cast(BinaryIO, self.rfile))
        except LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except HTTPException as err:
            self.send_error(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err)
            )
            return False

        conntype = self.fields.get("Connection", "") or ""
        if conntype.lower() == "close":
            self.close_connection = True
        elif conntype.lower() == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.fields.get("Expect", "") or ""
        if (
            expect.lower() == "100-continue"
            and self.protocol_version >= "HTTP/1.1"
            and self.request_version >= "HTTP/1.1"
        ):
            return self.handle_expect_100()
        return True

    def _serve(self) -> None:
        portal = self._server.portal
        if "chunked" in str(self.fields.get("Transfer-Encoding", "")).lower():
            self.close_connection = True
            self._send(error(411, "length_required", "send a Content-Length, not chunks"))
            return
        try:
            length = int(self.fields.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self._send(error(400, "bad_request", "bad Content-Length"))
            return
        body: bytes | None = None
        if length <= portal.max_body:
            body = self.rfile.read(length)
            if len(body) < length:  # the client went away mid-body
                self.close_connection = True
                return
        elif length <= DRAIN_LIMIT:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(65536, left))
                if not chunk:
                    self.close_connection = True
                    return
                left -= len(chunk)
        else:
            self.close_connection = True
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            target=self.path,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.fields,
            body=body,
        )
        try:
            response = portal.handle(request)
        except Exception:
            log.exception("sandbox portal: %s %s failed", self.command, self.path)
            response = error(500, "internal", "the sandbox portal failed; see its log")
        if response.abort is None:
            self._send(response)
            return
        self.close_connection = True
        if response.abort == "hang":
            self._hold(response.hang_seconds)
        self._server.reset_on_close(self.connection)

    def _hold(self, seconds: float) -> None:
        """Wait without answering until the client hangs up, or ``seconds`` pass.

        The socket turns readable when the client closes it (its timeout fired), sends
        more, or when stop() shuts it: each of these ends the wait.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            selector.select(max(0.0, seconds))

    def _send(self, response: Response) -> None:
        """The answer ``send_response``, ``send_header`` and ``end_headers`` would make,
        headers and body in one write (9.3 -> 6.4 us an answer, and the client reads one
        segment, not two)."""
        self.log_request(response.status)
        body = response.body if self.command != "HEAD" and response.status != 304 else b""
        if self.request_version == "HTTP/0.9":  # the body alone: no status line, no headers
            self.wfile.write(body)
            return
        phrase = self.responses[response.status][0] if response.status in self.responses else ""
        head = [
            f"{self.protocol_version} {response.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        head.append("\r\n")
        self.wfile.write("\r\n".join(head).encode("latin-1") + body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _serve
