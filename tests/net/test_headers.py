"""An answer's header block reads as http.client reads it, without the email parser."""

from __future__ import annotations

import http.client
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.net.client import HttpClient
from bridge.net.exchange import Reply
from bridge.net.headers import Response, content_maintype, parse_header_block


def stdlib(block: bytes) -> http.client.HTTPMessage:
    return http.client.parse_headers(io.BytesIO(block))


def state(message: http.client.HTTPMessage) -> dict[str, object]:
    """Everything a message holds, defects as (type, text)."""
    found = dict(vars(message))
    found["defects"] = [(type(d), str(d)) for d in message.defects]
    if isinstance(message._payload, list):  # type: ignore[attr-defined]
        found["_payload"] = [state(part) for part in message._payload]  # type: ignore[attr-defined]
    return found


def assert_same(block: bytes) -> http.client.HTTPMessage:
    ours, theirs = parse_header_block(block), stdlib(block)
    assert type(ours) is type(theirs)
    assert state(ours) == state(theirs)
    assert ours.items() == theirs.items()
    assert ours.is_multipart() == theirs.is_multipart()
    if not ours.is_multipart():  # (parts were compared by state)
        assert ours.get_payload() == theirs.get_payload()
    return ours


def test_a_plain_block_keeps_order_repeats_and_blanks():
    block = (
        b"Content-Type: application/json\r\n"
        b"Set-Cookie: a=1; Path=/\r\n"
        b"set-cookie: b=2\r\n"
        b"X-Empty:\r\n"
        b"X-Spaces:   padded value  \r\n"
        b"X-Tab:\tv\r\n"
        b"Content-Length: 12\r\n"
        b"\r\n"
    )
    message = assert_same(block)
    assert message.items() == [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "a=1; Path=/"),
        ("set-cookie", "b=2"),
        ("X-Empty", ""),
        ("X-Spaces", "padded value  "),
        ("X-Tab", "v"),
        ("Content-Length", "12"),
    ]
    assert message.get_all("SET-COOKIE") == ["a=1; Path=/", "b=2"]
    assert message["content-length"] == "12"


@pytest.mark.parametrize(
    "block",
    [
        b"X-Folded: one\r\n two\r\n\tthree\r\n\r\n",  # obsolete line folding
        b" X-Lead: continuation first\r\nA: b\r\n\r\n",
        b": no name\r\nA: b\r\n\r\n",
        b"no colon at all\r\nA: b\r\n\r\n",
        b"A: bare\rCR\r\n\r\n",
        b"A: b\r\r\n\r\n",
        b"From someone\r\nA: b\r\n\r\n",
        b"A: b\r\nFrom someone\r\n\r\n",
        b"Content-Type: multipart/form-data; boundary=x\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: message/delivery-status\r\n\r\n",
        b"Content-Type: Multipart/Related\r\n\r\n",
        b"A: latin \xe9\xff\r\nB\xe9: x\r\n\r\n",
        b"A: b\nB: c\n\n",  # bare LF line ends
        b"A: b\r\nB: c\r\n",  # the stream ended before the empty line
        b"A: b",
        b"\r\n",
        b"",
        b"A: \x0bvertical\x0ctab\x1c\x85\r\n\r\n",
        b"A : spaced name\r\n\r\n",
    ],
)
def test_an_odd_block_reads_as_http_client_reads_it(block):
    assert_same(block)


_NAME = st.text(st.sampled_from("Aa-_:!~ \t\xe9"), min_size=0, max_size=6)
_VALUE = st.text(st.sampled_from("ab ;=/\t\r\x0b\x85\xe9:"), max_size=8)
_LINE = st.builds(
    lambda name, sep, value, end: (name + sep + value).encode("latin-1") + end,
    _NAME,
    st.sampled_from([":", ": ", ":\t", " "]),
    _VALUE,
    st.sampled_from([b"\r\n", b"\n"]),
)
_TYPE = st.sampled_from(
    [
        b"",
        b"Content-Type: application/json\r\n",
        b"content-type: multipart/x\r\n",
        b"CONTENT-TYPE:\t Message/Partial ; a=b\r\n",
        b"Content-Type: multipart\r\n",
        b"Content-Type: multipart/a/b\r\n",
        b"Content-Type: \xa0multipart/x\r\n",
        b"Content-Type: text/html\r\nContent-Type: multipart/x\r\n",
    ]
)


@given(st.lists(_LINE, max_size=6), _TYPE, st.sampled_from([b"\r\n", b"\n", b""]))
def test_any_block_reads_as_http_client_reads_it(lines, ctype, end):
    assert_same(ctype + b"".join(lines) + end)


@given(st.text(st.sampled_from("mMultipart/essage;= \t\xa0\x85\x1cx"), max_size=14))
def test_the_content_maintype_is_the_email_message_s(value):
    message = http.client.HTTPMessage()
    message["Content-Type"] = value
    message["Content-Type"] = "multipart/second"  # the first one counts
    assert content_maintype(value) == message.get_content_maintype()
    assert content_maintype(None) == http.client.HTTPMessage().get_content_maintype()


class FakeSocket:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, _mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))


def read_both(raw: bytes, method: str = "GET") -> tuple[dict, dict]:
    out = []
    for cls in (Response, http.client.HTTPResponse):
        r = cls(FakeSocket(raw), method=method)  # type: ignore[arg-type]
        r.begin()
        seen = {
            name: getattr(r, name)
            for name in ("status", "code", "reason", "version", "chunked", "length", "will_close")
        }
        seen["headers"] = r.headers.items()
        seen["body"] = r.read()
        out.append(seen)
    return out[0], out[1]


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET"),
        (
            b"HTTP/1.1 201 Created \r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "PUT",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\nContent-Length: 3\r\n\r\n"
            b"2\r\nhi\r\n0\r\n\r\n",
            "GET",
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", "GET"),
        (b"HTTP/1.1 200 OK\r\n\r\nno length", "GET"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET"),
        (b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok", "GET"),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", "GET"),
        (b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "GET"),
        # a header given twice: the first value counts, as http.client reads it
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 7\r\n\r\nokrest", "GET"),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nCONNECTION: close\r\n\r\nx", "GET"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 2\r\n\r\nok",
            "GET",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\nrest", "GET"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nrest", "GET"),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", "DELETE"),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD"),
        (
            b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "POST",
        ),
        (
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nX-F: a\r\n b\r\n"
            b"Content-Length: 0\r\n\r\n",
            "PUT",
        ),
    ],
)
def test_a_response_reads_as_http_client_s(raw, method):
    ours, theirs = read_both(raw, method)
    assert ours == theirs


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HTTP/2 200 OK\r\n\r\n", http.client.UnknownProtocol),
        (b"HTTP/1.1 200 OK\r\nA: " + b"x" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
        (b"HTTP/1.1 200 OK\r\n" + b"A: b\r\n" * 101 + b"\r\n", http.client.HTTPException),
        (b"", http.client.RemoteDisconnected),
    ],
)
def test_a_bad_response_fails_as_http_client_s(raw, error):
    for cls in (Response, http.client.HTTPResponse):
        with pytest.raises(error):
            cls(FakeSocket(raw), method="GET").begin()  # type: ignore[arg-type]


class Cookies(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_the_client_reads_answers_with_it():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Cookies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = HttpClient({}, cookies=True)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x"
        r = client.open("GET", url, timeout=5)
        assert isinstance(r, Reply)  # asked through http.client, answered by Response
        assert isinstance(r._answer, Response)
        assert r.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
        assert r.headers["CONTENT-TYPE"] == "application/json"
        assert json.loads(r.read()) == {"ok": True}
        r.release_conn()
        assert sorted(c.name for c in client.cookies or []) == ["a", "b"]
    finally:
        client.close()
        server.shutdown()
        server.server_close()
