"""A request asked through ``http.client`` (``bridge.net.exchange``) fails and succeeds
exactly as urllib3's ``urlopen`` with retries off does: each case runs against a real
socket server through both, and the outcomes must be the same. The one difference is on
purpose: a client made with ``resend`` asks an idempotent request that a kept-alive
connection's close meets before any answer once more on a new connection."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from bridge.net import exchange
from bridge.net.client import HttpClient
from bridge.net.exchange import Reply

Handler = Callable[[socket.socket], None]


class RawServer:
    """A server on loopback that hands each accepted connection to ``handler``, and
    counts the connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a client that went away
            self.handler(conn)

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


def answer(body: bytes, *, length: int | None = None, extra: bytes = b"") -> bytes:
    declared = len(body) if length is None else length
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        + extra
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + body
    )


def cut_short(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(answer(b"0123456789", length=100))


def stalls_in_body(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(answer(b"01234", length=10))
    threading.Event().wait(3)


def never_answers(conn: socket.socket) -> None:
    read_request(conn)
    threading.Event().wait(3)


def closes_at_once(conn: socket.socket) -> None:
    read_request(conn)


def not_http(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")


def gzipped(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(answer(gzip.compress(b"<p>compressed</p>"), extra=b"Content-Encoding: gzip\r\n"))


def keeps_alive(conn: socket.socket) -> None:
    n = 0
    while read_request(conn):
        n += 1
        conn.sendall(answer(f"answer {n}".encode()))


TIMEOUT = urllib3.Timeout(connect=2, read=0.5)


def ours(port: int, path: str = "/") -> tuple[HttpClient, object]:
    client = HttpClient({})
    return client, client.open("GET", f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT)


def urllib3s(port: int, path: str = "/") -> tuple[urllib3.HTTPConnectionPool, object]:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port)
    r = pool.urlopen(
        "GET", path, retries=urllib3.Retry(total=False, redirect=False), redirect=False,
        timeout=TIMEOUT, preload_content=False,
    )  # fmt: skip
    return pool, r


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def outcome(asker: Callable[..., tuple[object, object]], port: int, how: str) -> tuple[str, str]:
    """What asking and reading (whole, or by ``read1``) comes to: the exception's type and
    its message's start, or the body."""
    owner = None
    try:
        owner, r = asker(port)
        if how == "read":
            body = r.read()  # type: ignore[attr-defined]
        else:
            body = b""
            while chunk := r.read1(65536, decode_content=True):  # type: ignore[attr-defined]
                body += chunk
        r.release_conn()  # type: ignore[attr-defined]
        return "body", body.decode()
    except urllib3.exceptions.ProtocolError as exc:  # (what, the error under it)
        what, cause = exc.args
        return type(exc).__name__, f"{what.split(':')[0]}: {type(cause).__name__}"
    except Exception as exc:
        said = re.sub(r"^\w*Pool\(host=[^)]*\): ", "", str(exc))  # the pool's class named
        return type(exc).__name__, said.split(":")[0].split("(")[0]
    finally:
        if owner is not None:
            owner.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["read", "read1"])
@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (cut_short, "ProtocolError"),
        (stalls_in_body, "ReadTimeoutError"),
        (never_answers, "ReadTimeoutError"),
        (closes_at_once, "ProtocolError"),
        (not_http, "ProtocolError"),
        (gzipped, "body"),
        (keeps_alive, "body"),
    ],
)
def test_an_answer_ends_as_it_ends_through_urllib3(serve, handler, expected, how):
    port = serve(handler).port
    got, through_urllib3 = outcome(ours, port, how), outcome(urllib3s, port, how)
    assert got == through_urllib3
    assert got[0] == expected


def test_a_refused_connection_is_urllib3_s_new_connection_error():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    assert outcome(ours, port, "read")[0] == outcome(urllib3s, port, "read")[0]
    assert outcome(ours, port, "read")[0] == "NewConnectionError"


def test_a_plain_answer_is_a_reply_and_a_compressed_one_urllib3_s(serve):
    plain, compressed = serve(keeps_alive).port, serve(gzipped).port
    client = HttpClient({})
    try:
        r = client.open("GET", f"http://127.0.0.1:{plain}/", timeout=TIMEOUT)
        assert isinstance(r, Reply)
        assert (r.read(), r.connection) == (b"answer 1", None)  # read whole: released
        r = client.open("GET", f"http://127.0.0.1:{compressed}/", timeout=TIMEOUT)
        assert isinstance(r, urllib3.HTTPResponse)
        assert r.read() == b"<p>compressed</p>"
    finally:
        client.close()


def test_a_read_body_keeps_the_connection_an_unread_one_drops_it(serve):
    server = serve(keeps_alive)
    client = HttpClient({})
    url = f"http://127.0.0.1:{server.port}/"
    try:
        bodies = []
        for _ in range(3):  # read to the end by read1: the connection is kept
            r = client.open("GET", url, timeout=TIMEOUT)
            assert r.length_remaining == len(b"answer 1")
            bodies.append(r.read1(65536))
            assert r.length_remaining == 0 and r.connection is None
            r.release_conn()
        assert bodies == [b"answer 1", b"answer 2", b"answer 3"]
        assert server.connections == 1
        r = client.open("GET", url, timeout=TIMEOUT)
        r.release_conn()  # its body unread: that connection cannot serve another
        r = client.open("GET", url, timeout=TIMEOUT)
        assert r.read() == b"answer 1"  # a new connection's first answer
        assert server.connections == 2
    finally:
        client.close()


def answers_once_then_closes(unread: bool) -> Handler:
    """Each connection answers its first request and keeps alive; the next request
    finds it closing, as a keep-alive timeout running out at that moment does: read and
    closed (the client reads the end), or closed unread (the kernel resets it)."""

    def handler(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer(b"answered"))
        if unread:
            conn.recv(1, socket.MSG_PEEK)  # the request is there, and is left unread
        else:
            read_request(conn)

    return handler


def first_connection_only() -> Handler:
    """The first connection answers once and closes on the next request; every later
    connection closes as soon as it is asked."""
    seen: list[socket.socket] = []

    def handler(conn: socket.socket) -> None:
        seen.append(conn)
        read_request(conn)
        if len(seen) == 1:
            conn.sendall(answer(b"answered"))
            read_request(conn)

    return handler


@pytest.mark.parametrize("unread", [False, True], ids=["closed", "reset"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_an_idempotent_request_a_closing_kept_alive_connection_drops_is_asked_again(
    serve, method, unread
):
    server = serve(answers_once_then_closes(unread))
    client = HttpClient({}, resend=True)
    url = f"http://127.0.0.1:{server.port}/"
    try:
        r = client.open("GET", url, timeout=TIMEOUT)
        assert r.read() == b"answered"
        r = client.open(method, url, timeout=TIMEOUT)
        assert r.status == 200
        r.release_conn()
        assert server.connections == 2  # the kept one, then a new one for the same request
    finally:
        client.close()


@pytest.mark.parametrize("unread", [False, True], ids=["closed", "reset"])
@pytest.mark.parametrize(("method", "resend"), [("POST", True), ("GET", False), ("PUT", False)])
def test_a_post_or_a_signed_request_a_closing_connection_drops_is_not_asked_again(
    serve, method, resend, unread
):
    """A POST may have been acted on; a signed request (the portal's client, made
    without ``resend``) would repeat its nonce. The failure is the caller's, as urllib3
    raises it: delivery signs the request anew for its next attempt."""
    server = serve(answers_once_then_closes(unread))
    client = HttpClient({}, resend=resend)
    url = f"http://127.0.0.1:{server.port}/"
    try:
        assert client.open("GET", url, timeout=TIMEOUT).read() == b"answered"
        with pytest.raises(urllib3.exceptions.ProtocolError) as raised:
            client.open(method, url, body=b"x=1", timeout=TIMEOUT)
        assert raised.value.args[0] == "Connection aborted."
        assert isinstance(raised.value.args[1], ConnectionResetError)
        assert server.connections == 1
    finally:
        client.close()


def test_a_new_connection_closed_unanswered_is_not_asked_again(serve):
    """Only a kept-alive connection's close is forgiven, and once: the request asked again
    on a new connection that closes unanswered fails as urllib3 fails it."""
    server = serve(first_connection_only())
    client = HttpClient({}, resend=True)
    url = f"http://127.0.0.1:{server.port}/"
    try:
        assert client.open("GET", url, timeout=TIMEOUT).read() == b"answered"
        with pytest.raises(urllib3.exceptions.ProtocolError) as raised:
            client.open("GET", url, timeout=TIMEOUT)
        assert isinstance(raised.value.args[1], http.client.RemoteDisconnected)
        assert server.connections == 2
        with pytest.raises(urllib3.exceptions.ProtocolError):
            client.open("GET", url, timeout=TIMEOUT)  # a new connection again: once
        assert server.connections == 3
    finally:
        client.close()


def test_a_tls_host_is_asked_on_a_verified_connection(serve, tmp_path, monkeypatch):
    """A certificate the CA bundle holds is accepted (its IP address checked), and the
    answer read as any other; one the bundle does not hold is refused before a request."""
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def tls(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as wrapped:
            keeps_alive(wrapped)

    server = serve(tls)
    url = f"https://127.0.0.1:{server.port}/"
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    client = HttpClient({})
    try:
        r = client.open("GET", url, timeout=TIMEOUT)
        assert isinstance(r, Reply)
        assert r.read() == b"answer 1"
        assert client.request("GET", url, timeout=TIMEOUT).content == b"answer 2"
        assert server.connections == 1  # kept alive over TLS too
    finally:
        client.close()
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    client = HttpClient({})
    try:
        with pytest.raises(urllib3.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            client.open("GET", url, timeout=TIMEOUT)
    finally:
        client.close()


class Captured(http.client.HTTPConnection):
    """A connection that keeps what it would send."""

    def __init__(self, host: str, port: int | None) -> None:
        super().__init__(host, port)
        self.sent: list[bytes] = []

    def send(self, data: object) -> None:
        self.sent.append(bytes(data))  # type: ignore[call-overload]


class CapturedTls(Captured):
    default_port = http.client.HTTPS_PORT  # the Host line leaves out 443, not 80


class CapturedOld(Captured):
    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"  # no Host line of its own


class CapturedTunnel(Captured):
    def __init__(self, host: str, port: int | None) -> None:
        super().__init__(host, port)
        self.set_tunnel("tunnel.example", 8443)  # the Host line names the tunnel's end


_CONNECTION = st.tuples(
    st.sampled_from([Captured, CapturedTls, CapturedOld, CapturedTunnel]),
    st.sampled_from(["example.org", "127.0.0.1", "::1", "例子.测试", "Example.ORG."]),
    st.sampled_from([None, 80, 443, 8080]),
)
_TARGET = st.sampled_from(["/p?q=1", "", "http://other.example:81/x", "/"])


def sent_by_http_client(
    conn: Captured, method: str, target: str, body: bytes | None, headers: dict[str, str]
) -> object:
    """What ``http.client``'s own methods send for the request, header by header (or the
    error they raise): the reference for ``exchange._send``."""
    given = {name.lower() for name in headers}
    try:
        conn.putrequest(
            method,
            target,
            skip_host="host" in given,
            skip_accept_encoding="accept-encoding" in given,
        )
        for name, value in headers.items():
            conn.putheader(name, value)
        if "content-length" not in given and "transfer-encoding" not in given:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            elif method in ("PATCH", "POST", "PUT"):
                conn.putheader("Content-Length", "0")
        conn.endheaders(body)
    except Exception as exc:  # the error is the outcome compared
        return repr(exc)
    return conn.sent


def sent_by_send(
    conn: Captured, method: str, target: str, body: bytes | None, headers: dict[str, str]
) -> object:
    try:
        exchange._send(conn, method, target, body, headers)
    except Exception as exc:
        return repr(exc)
    return conn.sent


_HEADER_NAME = st.sampled_from(
    ["Accept", "Host", "host", "Content-Length", "Transfer-Encoding", "X-A", "Bad Name", "É"]
)
_HEADER_VALUE = st.sampled_from(["*/*", "1", "a\r\nb", "é", "中文", "", " padded "])


@given(
    st.lists(
        st.tuples(
            _CONNECTION,
            st.sampled_from(["GET", "PUT", "POST"]),
            _TARGET,
            st.one_of(st.none(), st.just(b"body")),
            st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=4),
        ),
        max_size=5,
    )
)
def test_a_request_is_sent_as_http_client_sends_it_however_often_its_headers_recur(requests):
    """``_send`` keeps header lines (and a connection's Host line) once checked: the bytes
    sent (or the error raised) stay those of ``http.client``'s own methods, the first time
    and every time after, whatever the connection."""
    for (cls, host, port), method, target, body, headers in requests * 2:
        expected = sent_by_http_client(cls(host, port), method, target, body, headers)
        assert sent_by_send(cls(host, port), method, target, body, headers) == expected
