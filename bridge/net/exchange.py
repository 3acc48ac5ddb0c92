"""One request on a pooled connection, asked through ``http.client`` itself.

urllib3's ``urlopen`` wraps each exchange in layers a caller that neither retries nor
follows redirects does not use: a timeout object cloned per request, its own
``request`` (chunked bodies, header normalizing), its own response object (a header
dict copied from the parsed message, a decoder, read bookkeeping). On a loopback
server those layers cost 104 µs a request against 41 µs for the same exchange through
``http.client`` (bench/README.md, "Figures behind choices in the code"), and a
backfill asks two to three requests per item across its two processes.

So a host reached directly is asked here: the pool's own connections (urllib3 opens
them, with its TLS settings and certificate checks, and its connect errors), the
request and the answer's status and headers through ``http.client``, and urllib3's
exceptions raised where ``urlopen`` with retries off raises them, so callers see no
difference. The answer is a ``Reply``, which reads the body as urllib3's response does
for what callers use of it (``read``, ``read1``, ``length_remaining``, ``release_conn``,
``close``). An answer with a ``Content-Encoding``, or with headers that took the email
parser's slow path (``headers.Response``), is handed to urllib3's own response, made
as urllib3 makes it: decoding, and its guards against decompression bombs, stay
urllib3's.

One difference from ``urlopen`` with retries off is on purpose, for a caller that asks
for it (``resend``). A server may close a kept-alive connection at the moment a request
goes out on it (its keep-alive timeout, or a close after an answer it did not announce),
and the request then meets the close, or a reset, without a byte of answer. An
idempotent request (RFC 9110, 9.2.2) is then asked once more on a new connection, as
browsers and Go's client do; urllib3 with retries off would report the host as failing,
though nothing was wrong with it or the request. A new connection that fails so is
reported as it is. A signed request is not sent twice: the server may have acted on it
before it closed, and the same nonce again is a replay it must refuse.
"""

from __future__ import annotations

import errno
import http.client
import logging
import ssl
from typing import Any, Union

import urllib3
from urllib3._collections import HTTPHeaderDict
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    HeaderParsingError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.response import assert_header_parsing

log = logging.getLogger(__name__)

# What a socket read says when the read timeout passed (urllib3's _blocking_errnos)
_BLOCKING = {errno.EAGAIN, errno.EWOULDBLOCK}

_IDEMPOTENT = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"})
"""Methods a client may send again when the connection fails under them (RFC 9110, 9.2.2)."""


def timeouts(timeout: float | urllib3.Timeout) -> tuple[float | None, float | None] | None:
    """``(connect, read)`` seconds of ``timeout``, or None for a ``Timeout`` with a total
    (its read time depends on how long the connect took: ``urlopen`` reckons it)."""
    if not isinstance(timeout, urllib3.Timeout):
        return timeout, timeout
    if timeout.total is not None:
        return None
    return timeout.connect_timeout, timeout.read_timeout  # type: ignore[return-value]


def exchange(
    pool: HTTPConnectionPool,
    method: str,
    target: str,
    *,
    body: bytes | str | None,
    headers: dict[str, str],
    connect_timeout: float | None,
    read_timeout: float | None,
    url: str,
    resend: bool = False,
) -> Reply | urllib3.HTTPResponse:
    """Send ``method target`` on one of ``pool``'s connections and read the answer's
    status and headers; the caller reads the body and releases the connection.
    Raises what ``pool.urlopen(..., retries=False, redirect=False)`` raises; with
    ``resend``, an idempotent request a kept-alive connection drops unanswered is asked
    once more on a new connection first."""
    if isinstance(body, str):
        body = body.encode()  # what urllib3 sends of a str body (http.client: Latin-1)
    again = resend and method.upper() in _IDEMPOTENT
    while True:
        conn: Any = pool._get_conn()  # a dropped kept-alive connection is reopened here
        reused = not conn.is_closed  # kept alive after an earlier answer
        try:
            return _ask(
                pool, conn, method, target, body, headers, connect_timeout, read_timeout, url
            )
        except (ConnectionResetError, BrokenPipeError) as exc:
            # (http.client's RemoteDisconnected, an empty status line, is a reset too)
            if not (again and reused):
                raise _as_urllib3(exc) from exc
            again = False
            log.debug("%s: the kept-alive connection closed unanswered (%s); asked again", url, exc)


def _ask(
    pool: HTTPConnectionPool,
    conn: Any,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
    connect_timeout: float | None,
    read_timeout: float | None,
    url: str,
) -> Reply | urllib3.HTTPResponse:
    """``exchange`` on one connection. A reset or close before the answer's head is read
    is raised as it is, for ``exchange`` to judge; anything else as urllib3 raises it.
    The connection goes back to the pool with the answer, or closed when it failed."""
    try:
        conn.timeout = connect_timeout
        if conn.is_closed:
            try:
                conn.connect()  # urllib3's: NewConnectionError, ConnectTimeoutError …
            except TimeoutError as exc:
                raise ReadTimeoutError(
                    pool, url, f"Read timed out. (read timeout={connect_timeout})"
                ) from exc
        try:
            _send(conn, method, target, body, headers)
        except BrokenPipeError:
            pass  # the server may have answered and closed: the answer is still read
        except OSError as exc:
            if exc.errno not in (errno.EPROTOTYPE, errno.ECONNRESET):
                raise
        if read_timeout == 0:
            raise ReadTimeoutError(pool, url, f"Read timed out. (read timeout={read_timeout})")
        conn.timeout = read_timeout
        if conn.sock is not None:
            conn.sock.settimeout(read_timeout)
        try:
            answer = http.client.HTTPConnection.getresponse(conn)
        except (ssl.SSLError, OSError) as exc:
            _raise_timeout(pool, url, exc, read_timeout)
            raise
    except BaseException as exc:
        conn.close()
        pool._put_conn(None)  # as urlopen gives back a failed connection's slot
        raised = _as_urllib3(exc)
        if raised is exc or isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            raise
        raise raised from exc
    fields = getattr(answer, "fields", None)  # None: the email parser read the headers
    if fields is not None:
        received = HTTPHeaderDict()
        for name, value in fields:
            received.add(name, value)
        if "Content-Encoding" not in received:
            return Reply(pool, conn, answer, received)
    return _urllib3_response(pool, conn, answer, method, url)


_WITH_BODY = frozenset({"PATCH", "POST", "PUT"})
"""Methods whose request says Content-Length: 0 when it has no body (http.client's)."""

_LINES: dict[tuple[str, str], bytes] = {}
"""Header lines as ``http.client``'s ``putheader`` writes them, by (name, value): a
request's headers are mostly those of the one before (the client's own), and checking and
encoding each again made sending a page request's head 6.5 µs of CPU instead of 2.8. A
value sent once (a signature) is kept too, until ``_LINES_KEPT`` are, then they start over."""
_LINES_KEPT = 1024
_NAMED: dict[tuple[str, ...], tuple[bool, bool, bool]] = {}
"""Header names -> (Host given, Accept-Encoding given, Content-Length or
Transfer-Encoding given): a few sets of names recur."""
_HOSTS: dict[tuple[str, int | None, int], bytes] = {}
"""The Host line ``putrequest`` writes for a connection's (host, port, default port),
when it reckons it from those alone: each request reckoning it again cost 4 µs of CPU
(an http.client request against nginx, 55 -> 51 µs)."""


def _send(conn: Any, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> None:
    """The request, as ``http.client.HTTPConnection.request`` sends it, through its own
    methods: urllib3's overrides check each header for a marker only urllib3's callers
    use, and add what no caller here asks for (chunked bodies, a default User-Agent)."""
    names = tuple(headers)
    given = _NAMED.get(names)
    if given is None:
        lower = {name.lower() for name in names}
        given = (
            "host" in lower,
            "accept-encoding" in lower,
            "content-length" in lower or "transfer-encoding" in lower,
        )
        if len(_NAMED) >= _LINES_KEPT:
            _NAMED.clear()
        _NAMED[names] = given
    host: tuple[str, int | None, int] | None = None
    host_line = None
    # (an absolute target's Host is the URL's, a tunnel's its far end's: reckoned anew)
    plain_host = conn._http_vsn == 11 and not conn._tunnel_host and not target.startswith("http")
    if plain_host and not given[0]:
        host = (conn.host, conn.port, conn.default_port)
        host_line = _HOSTS.get(host)
    plain = http.client.HTTPConnection
    plain.putrequest(
        conn,
        method,
        target,
        skip_host=given[0] or host_line is not None,
        skip_accept_encoding=given[1],
    )
    buffer = conn._buffer  # where putheader puts each line (http.client's _output)
    if host_line is not None:
        buffer.insert(1, host_line)  # where putrequest puts it, after the request line
    elif host is not None:
        if len(_HOSTS) >= _LINES_KEPT:
            _HOSTS.clear()
        _HOSTS[host] = buffer[1]
    for field in headers.items():
        line = _LINES.get(field)
        if line is not None:
            buffer.append(line)  # checked when first sent; putrequest made room for headers
            continue
        plain.putheader(conn, *field)  # names and values checked as http.client checks them
        if type(field[1]) is str:  # (an int 1 and True are one key, and two lines)
            if len(_LINES) >= _LINES_KEPT:
                _LINES.clear()
            _LINES[field] = buffer[-1]
    if not given[2]:
        if body is not None:
            plain.putheader(conn, "Content-Length", str(len(body)))
        elif method.upper() in _WITH_BODY:
            plain.putheader(conn, "Content-Length", "0")
    plain.endheaders(conn, body)


def _raise_timeout(pool: HTTPConnectionPool, url: str, exc: BaseException, value: Any) -> None:
    """A read timeout as urllib3 reports it (``HTTPConnectionPool._raise_timeout``)."""
    if isinstance(exc, TimeoutError) or getattr(exc, "errno", None) in _BLOCKING:
        raise ReadTimeoutError(pool, url, f"Read timed out. (read timeout={value})") from exc
    if isinstance(exc, ssl.SSLError) and (
        "timed out" in str(exc) or "did not complete (read)" in str(exc)
    ):
        raise ReadTimeoutError(pool, url, f"Read timed out. (read timeout={value})") from exc


def _as_urllib3(exc: BaseException) -> BaseException:
    """What ``urlopen`` with retries off raises for ``exc`` (its own errors as they are)."""
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return SSLError(exc)
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return ProtocolError("Connection aborted.", exc)
    return exc


def _urllib3_response(
    pool: HTTPConnectionPool,
    conn: Any,
    answer: http.client.HTTPResponse,
    method: str,
    url: str,
) -> urllib3.HTTPResponse:
    """urllib3's response to ``answer``, as ``HTTPConnection.getresponse`` makes it, the
    connection going back to ``pool`` when released."""
    try:
        assert_header_parsing(answer.msg)
    except (HeaderParsingError, TypeError) as exc:
        urllib3.connection.log.warning("Failed to parse headers (url=%s): %s", url, exc)
    return urllib3.HTTPResponse(
        body=answer,
        headers=HTTPHeaderDict(_header_items(answer.msg)),
        status=answer.status,
        version=answer.version,
        version_string=getattr(conn, "_http_vsn_str", "HTTP/?"),
        reason=answer.reason,
        preload_content=False,
        decode_content=True,
        original_response=answer,
        pool=pool,
        connection=conn,
        enforce_content_length=True,
        request_method=method,
        request_url=url,
    )


def _header_items(message: http.client.HTTPMessage) -> list[tuple[str, str]]:
    """The message's (name, value) pairs as urllib3's ``getresponse`` takes them: its
    newer releases unfold obsolete folded lines, the older took them as they are."""
    normalized = getattr(urllib3.connection, "_normalize_header_values", None)
    return normalized(message) if normalized is not None else message.items()


Answering = Union["Reply", urllib3.BaseHTTPResponse]
"""What ``HttpClient.open`` answers: a ``Reply``, or urllib3's response (an answer with a
``Content-Encoding``, or asked through a proxy)."""


class Reply:
    """An answer whose body is sent as it is (no ``Content-Encoding``), read as urllib3's
    response reads one: a body cut short is a ``ProtocolError``, a read that waits past
    the read timeout a ``ReadTimeoutError``, and after either the connection is closed;
    once the body is read to its end the connection goes back to the pool by itself."""

    __slots__ = ("_answer", "_pool", "connection", "headers", "status")

    def __init__(
        self,
        pool: HTTPConnectionPool,
        conn: Any,
        answer: http.client.HTTPResponse,
        headers: HTTPHeaderDict,
    ) -> None:
        self._pool = pool
        self._answer = answer
        self.connection = conn
        self.status = answer.status
        self.headers = headers

    @property
    def length_remaining(self) -> int | None:
        """Bytes of a declared length still to come (None: no length declared)."""
        return self._answer.length

    def read(self) -> bytes:
        """The rest of the body."""
        try:
            data = self._answer.read()
        except BaseException as exc:
            self._failed(exc)
            raise
        self._release_if_read()
        return data

    def read1(self, amt: int, decode_content: bool = True) -> bytes:
        """What has arrived, at most ``amt`` bytes; b"" at the end of the body
        (``decode_content``: as urllib3's, though such a body has nothing to decode)."""
        try:
            data = self._answer.read1(amt)
            if not data and self._answer.length:  # the server closed before the end
                raise http.client.IncompleteRead(b"", self._answer.length)
        except BaseException as exc:
            self._failed(exc)
            raise
        self._release_if_read()
        return data

    def release_conn(self) -> None:
        """The connection back to the pool: kept alive when the body was read to its end."""
        conn, self.connection = self.connection, None
        if conn is None:
            return
        answer = self._answer
        if answer.length == 0 and not answer.chunked:
            answer.close()  # read to its end
        if not answer.isclosed():  # unread bytes would be the next answer's start
            answer.close()
            conn.close()
        self._pool._put_conn(conn)

    def close(self) -> None:
        """Drop the answer and its connection."""
        self._answer.close()
        if self.connection is not None:
            self.connection.close()
        self.release_conn()

    def _release_if_read(self) -> None:
        """The connection back to the pool once the body is read to its end: a body of a
        declared length is whole when that many bytes came (http.client's ``read1``
        leaves the answer open then), any other when http.client closed the answer."""
        answer = self._answer
        if answer.length == 0 and not answer.chunked:
            answer.close()
        if answer.isclosed():
            self.release_conn()

    def _failed(self, exc: BaseException) -> None:
        """A read that failed: the connection closed, and ``exc`` raised as urllib3's
        response raises it (``HTTPResponse._error_catcher``)."""
        self.close()
        if isinstance(exc, TimeoutError):
            raise ReadTimeoutError(self._pool, None, "Read timed out.") from exc
        if isinstance(exc, ssl.SSLError):
            raise SSLError(exc) from exc
        if isinstance(exc, (http.client.HTTPException, OSError)):
            raise ProtocolError(f"Connection broken: {exc!r}", exc) from exc
