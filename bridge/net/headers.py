"""An answer's header block read without the email parser.

``http.client`` hands every response's header block to ``email.parser`` (a feed parser
built for mail: line cracking, a generator per message, policy lookups), and that was
about a sixth of the delivery process's CPU at a backfill (issue 24). The portal's (and a
web server's) header blocks are plain ``Name: value`` lines, which one regular expression
reads into the same ``HTTPMessage`` the email parser makes: the same (name, value) pairs
in the same order, multi-valued headers kept, lookups case-insensitive as before.

Anything else (a folded line, a line without a name, a bare CR, a multipart or message
content type, a block cut short) goes to ``http.client.parse_headers`` as before, so an
odd answer is read exactly as ``http.client`` reads it, defects and all (urllib3 warns
about them).
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import BinaryIO

# http.client's limits on a header block (its _MAXLINE and _MAXHEADERS)
MAX_LINE = 65536
MAX_HEADERS = 100

# A block the fast path reads: "Name: value" lines (a name of the characters the email
# parser accepts in one, no CR or LF in a value), then the empty line that ends the block
_SIMPLE_BLOCK = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r?\n)*\r?\n")
# One such line: the name, and the value without its leading blanks (email's compat32
# policy strips those; it keeps trailing ones)
_FIELD = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")


def read_header_lines(fp: BinaryIO) -> list[bytes]:
    """The header block's lines up to and including the empty line (or the end of the
    stream), under ``http.client``'s limits and raising its errors."""
    lines = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def parse_header_block(block: bytes) -> http.client.HTTPMessage:
    """``block`` (header lines and the empty line after them) as the ``HTTPMessage``
    ``http.client.parse_headers`` makes of it."""
    return read_header_block(block)[0]


def read_header_block(
    block: bytes,
) -> tuple[http.client.HTTPMessage, list[tuple[str, str]] | None, dict[str, str] | None]:
    """``parse_header_block(block)``; and when the block is plain lines read by the fast
    path, its (name, value) pairs and the first value of each name (lowercase), which is
    what ``HTTPMessage.get`` answers (both None when the email parser read it)."""
    if _SIMPLE_BLOCK.fullmatch(block):
        fields = _FIELD.findall(block.decode("iso-8859-1"))
        first = {name.lower(): value for name, value in reversed(fields)}
        if content_maintype(first.get("content-type")) not in ("multipart", "message"):
            message = http.client.HTTPMessage()
            message._headers = fields  # type: ignore[attr-defined]
            message.set_payload("")  # what the email parser leaves: an empty body
            return message, fields, first
    found = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(block.decode("iso-8859-1"))
    return found, None, None


def content_maintype(content_type: str | None) -> str:
    """What ``get_content_maintype`` answers for a message whose first Content-Type is
    ``content_type`` (a value read from Latin-1, which the compat32 policy hands back as
    it is), from the first values ``Response.begin`` keeps anyway: 0.3 µs, where asking
    the message took 0.7."""
    if content_type is None:
        return "text"  # the default type, text/plain
    ctype = content_type.partition(";")[0].strip().lower()
    return ctype.split("/")[0] if ctype.count("/") == 1 else "text"


class Response(http.client.HTTPResponse):
    """``http.client``'s response with its header block read by ``parse_header_block``;
    the status line, the body (Content-Length, chunked, read to the close) and the
    keep-alive rule are ``http.client``'s own."""

    fields: list[tuple[str, str]] | None = None
    """The header lines' (name, value) pairs when the fast path read them."""
    _first: dict[str, str]

    def begin(self) -> None:
        # http.client.HTTPResponse.begin (alike in Python 3.11 to 3.13) with one line
        # changed: the header block's parser
        if self.headers is not None:
            return  # the response was read already
        while True:  # read until an answer other than 100 Continue
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            read_header_lines(self.fp)  # a 100's headers: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10  # 0.9 answered as 1.0, as http.client does
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)

        # fields: the header lines as read, for a caller that builds its own mapping
        self.headers, self.fields, first = read_header_block(b"".join(read_header_lines(self.fp)))
        self.msg = self.headers
        if first is not None:  # what HTTPMessage.get answers, without its email policy
            self._first = first
        header = self._header

        tr_enc = header("transfer-encoding")
        if tr_enc and tr_enc.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False
        self.will_close = self._check_close()

        # a Content-Length counts unless the body is chunked (RFC 2616 4.4 #3)
        self.length = None
        length = header("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"
        ):
            self.length = 0  # no body, whatever the headers say
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the connection does

    def _header(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase), as ``HTTPMessage.get`` gives it."""
        if self.fields is None:
            return self.headers.get(name)
        return self._first.get(name)

    def _check_close(self) -> bool:
        # http.client.HTTPResponse._check_close (alike in Python 3.11 to 3.13), the
        # headers read by _header
        conn = self._header("connection")
        if self.version == 11:
            return bool(conn and "close" in conn.lower())  # HTTP/1.1 stays open unless told
        # HTTP/1.0: open when Keep-Alive says so, or Connection (as Akamai sends it), or
        # Netscape's Proxy-Connection
        if self._header("keep-alive"):
            return False
        if conn and "keep-alive" in conn.lower():
            return False
        pconn = self._header("proxy-connection")
        return not (pconn and "keep-alive" in pconn.lower())
