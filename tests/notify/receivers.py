"""Real loopback receivers for notifications: an HTTP server that records each request
and answers as told, and a minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT) that keeps each message it is given."""

from __future__ import annotations

import json
import socketserver
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str  # with its query
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class HttpReceiver:
    """Records POSTs; answers ``status`` with ``answer`` (JSON) to every one."""

    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.status = status
        self.answer = {"ok": True} if answer is None else answer
        self.requests: list[Request] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
                data = json.dumps(receiver.answer).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpReceiver:
    messages: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    verb = line.decode("ascii", "replace").strip()
                    upper = verb.upper()
                    if upper.startswith(("EHLO", "HELO")):
                        self.reply("250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8")
                    elif upper.startswith("MAIL FROM:"):
                        sender, recipients = verb[10:].split()[0].strip("<>"), []
                        self.reply("250 OK")
                    elif upper.startswith("RCPT TO:"):
                        recipients.append(verb[8:].strip().strip("<>"))
                        self.reply("250 OK")
                    elif upper == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        receiver.messages.append(Mail(sender, recipients, b"".join(lines)))
                        self.reply("250 OK queued")
                    elif upper in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif upper == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
