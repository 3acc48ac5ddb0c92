"""The sandbox portal's HTTP framing, byte for byte, over a raw socket.

``portal_http`` reads request lines and header blocks itself (the email parser that
``http.server`` hands them to was a large share of the portal's CPU per request); these
tests pin what a client sees for the odd requests as ``http.server`` answered them: a
header given twice (the first counts), names in any case, a folded or broken header
block, no body, chunked bodies, bad lengths, too many headers, bad request lines,
``Expect: 100-continue``, HEAD and keep-alive. Only the ``Date`` line is left out.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_portal import EID, item_path, make_record

from bridge.net.signing import sign_headers
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.sandbox.portal_http import read_headers

SERVER = f"Server: BridgeSandboxPortal/1 Python/{sys.version.split()[0]}"
JSON = "application/json; charset=utf-8"
BODY = json.dumps(make_record(), ensure_ascii=False).encode()
HEALTH = b"GET /api/v1/health HTTP/1.1\r\n\r\n"
CREATED = (
    b'{"external_id": "yyedu:t20121203_100012", "index_no": "002949236/2012-00001", '
    b'"version": 1, "status": "created"}'
)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[PortalServer]:
    server = PortalServer(tmp_path / "portal.db", max_file_size=4096)
    server.start()
    yield server
    server.stop()


def exchange(portal: PortalServer, *requests: bytes, dated: bool = False) -> str:
    """Send the requests on one connection, half-close it, and read every answer until
    the portal closes; the ``Date`` lines taken out unless ``dated``."""
    port = portal._httpd.server_address[1]  # type: ignore[union-attr]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"".join(requests))
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    text = received.decode("iso-8859-1")
    return text if dated else re.sub(r"Date: [^\r]*\r\n", "", text)


def request(
    method: str, path: str, body: bytes = b"", *, lines: list[str] | None = None, sign: bool = True
) -> bytes:
    """A request with the signature headers first, then ``lines`` as given (no
    Content-Length unless ``lines`` has one)."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if sign:
        head += [
            f"{k}: {v}"
            for k, v in sign_headers(SANDBOX_KEY, SANDBOX_SECRET, method, path, body).items()
        ]
    head += lines or []
    return ("\r\n".join(head) + "\r\n\r\n").encode("iso-8859-1") + body


def answer(status: str, body: str, *extra: str, content_type: str = JSON) -> str:
    head = [f"HTTP/1.1 {status}", SERVER, f"Content-Type: {content_type}"]
    head += [f"Content-Length: {len(body.encode())}", *extra]
    return "\r\n".join(head) + "\r\n\r\n" + body


def unauthorized(message: str) -> str:
    return answer("401 Unauthorized", json.dumps({"code": "unauthorized", "message": message}))


def error_page(status: int, message: str, explain: str, *, head: bool = True) -> str:
    """``http.server``'s own error answer (for what never reaches the portal): the message
    is the status line's phrase; a request line it could not read gets the page alone."""
    body = (
        '<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n'
        "        <title>Error response</title>\n    </head>\n    <body>\n"
        f"        <h1>Error response</h1>\n        <p>Error code: {status}</p>\n"
        f"        <p>Message: {message}.</p>\n"
        f"        <p>Error code explanation: {status} - {explain}.</p>\n"
        "    </body>\n</html>\n"
    )
    if not head:
        return body
    lines = [f"HTTP/1.1 {status} {message}", SERVER, "Connection: close"]
    lines += ["Content-Type: text/html;charset=utf-8", f"Content-Length: {len(body)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def test_a_signed_put_with_the_names_in_any_case(portal: PortalServer) -> None:
    raw = request("PUT", item_path(EID), BODY, lines=[f"content-LENGTH: {len(BODY)}"], sign=False)
    signed = sign_headers(SANDBOX_KEY, SANDBOX_SECRET, "PUT", item_path(EID), BODY)
    names = "\r\n".join(
        f"{k.upper() if n % 2 else k.lower()}: {v}" for n, (k, v) in enumerate(signed.items())
    )
    raw = raw.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\n" + names.encode() + b"\r\n")
    assert exchange(portal, raw) == answer("201 Created", CREATED.decode())


@pytest.mark.parametrize("first", ["ours", "another"])
def test_a_header_given_twice_counts_by_its_first_value(portal: PortalServer, first: str) -> None:
    keys = ["X-Bridge-Key: someone-else", f"x-bridge-key: {SANDBOX_KEY}"]
    raw = request("GET", "/api/v1/items", lines=keys[::-1] if first == "ours" else keys)
    raw = raw.replace(f"X-Bridge-Key: {SANDBOX_KEY}\r\n".encode(), b"")
    expected = (
        answer("200 OK", '{"items": [], "next_cursor": null}')
        if first == "ours"
        else unauthorized("unknown X-Bridge-Key (not configured on this portal)")
    )
    assert exchange(portal, raw) == expected


@pytest.mark.parametrize("length", ["Content-Length: 0", None])
def test_a_put_without_a_body_is_422(portal: PortalServer, length: str | None) -> None:
    raw = request("PUT", item_path(EID), lines=[length] if length else [])
    body = {
        "code": "invalid",
        "errors": [
            {
                "field": "body",
                "message": "not valid UTF-8 JSON: Expecting value: line 1 column 1 (char 0)",
            }
        ],
    }
    assert exchange(portal, raw) == answer("422 Unprocessable Entity", json.dumps(body))


def test_two_requests_on_one_connection_are_both_answered(portal: PortalServer) -> None:
    put = request("PUT", item_path(EID), BODY, lines=[f"Content-Length: {len(BODY)}"])
    close = HEALTH.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    assert exchange(portal, put, close) == answer("201 Created", CREATED.decode()) + answer(
        "200 OK", '{"status": "ok"}', "Connection: close"
    )


def test_a_chunked_body_is_refused_411_and_the_connection_closed(portal: PortalServer) -> None:
    raw = request("PUT", item_path(EID), lines=["Transfer-Encoding: gzip, Chunked"])
    body = '{"code": "length_required", "message": "send a Content-Length, not chunks"}'
    assert exchange(portal, raw + b"5\r\nhello\r\n0\r\n\r\n") == answer(
        "411 Length Required", body, "Connection: close"
    )


@pytest.mark.parametrize("value", ["-1", "12a", "0x10"])
def test_a_bad_content_length_is_400_and_the_connection_closed(
    portal: PortalServer, value: str
) -> None:
    raw = request("PUT", item_path(EID), lines=[f"Content-Length: {value}"])
    body = '{"code": "bad_request", "message": "bad Content-Length"}'
    assert exchange(portal, raw) == answer("400 Bad Request", body, "Connection: close")


def test_a_folded_header_line_is_read_as_the_email_parser_reads_it(portal: PortalServer) -> None:
    raw = request("GET", "/api/v1/items", lines=["X-Note: one", "  two"])
    assert exchange(portal, raw) == answer("200 OK", '{"items": [], "next_cursor": null}')
    folded = request("GET", "/api/v1/items")
    folded = re.sub(rb"(X-Bridge-Nonce: [0-9a-f]{8})", rb"\1\r\n ", folded)
    assert exchange(portal, folded) == unauthorized(
        "X-Bridge-Nonce must be 16 to 128 hex characters"
    )


def test_a_line_without_a_name_ends_the_header_block_as_before(portal: PortalServer) -> None:
    raw = request("GET", "/api/v1/items").replace(
        b"X-Bridge-Nonce", b"no name here\r\nX-Bridge-Nonce"
    )
    assert exchange(portal, raw) == unauthorized(
        "missing header X-Bridge-Nonce, X-Bridge-Signature"
    )


def test_blanks_around_a_value_are_read_as_before(portal: PortalServer) -> None:
    """Leading blanks are dropped and trailing ones kept: a key with a trailing blank is
    another key."""
    raw = request("GET", "/api/v1/items").replace(
        f"X-Bridge-Key: {SANDBOX_KEY}".encode(), f"X-Bridge-Key:\t  {SANDBOX_KEY} ".encode()
    )
    assert exchange(portal, raw) == unauthorized(
        "unknown X-Bridge-Key (not configured on this portal)"
    )


def test_expect_100_continue_is_answered_first(portal: PortalServer) -> None:
    raw = request("GET", "/api/v1/items", lines=["Expect: 100-Continue", "Connection: close"])
    assert exchange(portal, raw) == "HTTP/1.1 100 Continue\r\n\r\n" + answer(
        "200 OK", '{"items": [], "next_cursor": null}', "Connection: close"
    )


def test_head_answers_without_the_body(portal: PortalServer) -> None:
    text = exchange(portal, b"HEAD /api/v1/health HTTP/1.1\r\n\r\n")
    assert text == answer("200 OK", '{"status": "ok"}').removesuffix('{"status": "ok"}')


def test_too_many_headers_are_431(portal: PortalServer) -> None:
    lines = [f"X-N{n}: {n}" for n in range(101)]
    assert exchange(portal, request("GET", "/api/v1/items", lines=lines)) == error_page(
        431,
        "Too many headers",
        "got more than 100 headers",
    )


def test_a_header_line_too_long_is_431(portal: PortalServer) -> None:
    raw = request("GET", "/api/v1/items", lines=["X-Long: " + "a" * 65536])
    assert exchange(portal, raw) == error_page(
        431,
        "Line too long",
        "got more than 65536 bytes when reading header line",
    )


BAD_SYNTAX = "Bad request syntax or unsupported method"


@pytest.mark.parametrize(
    ("line", "status", "message", "explain", "head"),
    [
        ("GARBAGE", 400, "Bad request syntax ('GARBAGE')", BAD_SYNTAX, False),
        ("GET / HTTP/1.x", 400, "Bad request version ('HTTP/1.x')", BAD_SYNTAX, False),
        ("GET / HTTP/2.0", 505, "Invalid HTTP version (2.0)", "Cannot fulfill request", False),
        ("BREW /api/v1/health HTTP/1.1", 501, "Unsupported method ('BREW')",
         "Server does not support this operation", True),
    ],
)  # fmt: skip
def test_a_bad_request_line_is_answered_by_http_server(
    portal: PortalServer, line: str, status: int, message: str, explain: str, head: bool
) -> None:
    assert exchange(portal, f"{line}\r\n\r\n".encode()) == error_page(
        status, message, explain, head=head
    )


def test_a_request_in_http_0_9_gets_the_bare_body(portal: PortalServer) -> None:
    assert exchange(portal, b"GET /api/v1/health\r\n") == '{"status": "ok"}'


def test_the_date_is_the_current_second_as_http_server_writes_it(portal: PortalServer) -> None:
    before = int(time.time())
    dates = re.findall(r"Date: ([^\r]*)\r\n", exchange(portal, *[HEALTH] * 3, dated=True))
    after = int(time.time())
    assert len(dates) == 3
    assert set(dates) <= {formatdate(second, usegmt=True) for second in range(before, after + 1)}


def test_a_double_slash_path_is_read_as_one(portal: PortalServer) -> None:
    assert exchange(portal, b"GET //api/v1/health HTTP/1.1\r\n\r\n") == answer(
        "200 OK", '{"status": "ok"}'
    )


# -- the header block against the email parser ------------------------------------------------

NAMES = [
    "Content-Length",
    "content-length",
    "X-Bridge-Key",
    "X-BRIDGE-KEY",
    "Expect",
    "X-File-Name",
    "Content-Type",
]
LINES = st.one_of(
    st.tuples(
        st.sampled_from(NAMES)
        | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
        st.sampled_from([":", ": ", ":\t ", " :"]),
        st.sampled_from(["multipart/form-data; boundary=x", "message/rfc822", "text/plain"])
        | st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n")),
    ).map(lambda t: "".join(t)),
    st.sampled_from([" folded", "\tfolded", "no colon", "From nobody"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=8), st.sampled_from(["\r\n", "\n"]))
def test_header_lookups_answer_as_the_email_parser_does(lines: list[str], end: str) -> None:
    block = "".join(line + end for line in lines).encode("iso-8859-1") + end.encode()
    expected = http.client.parse_headers(io.BytesIO(block))
    fields = read_headers(io.BytesIO(block))
    for name in {*NAMES, *(line.split(":")[0] for line in lines), "Absent"}:
        assert fields.get(name) == expected.get(name)
        assert fields.get(name, "default") == expected.get(name, "default")
        assert fields[name] == expected[name]
