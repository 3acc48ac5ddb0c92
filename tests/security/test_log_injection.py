"""Issue 19, finding 11: nothing a site sends reaches a terminal or a log line raw.

A hostile site answers a detail page with ``302 Location:`` carrying terminal escape
sequences (clear the screen, retitle the window, ring the bell), and titles an article
with them. ``bridge sync --once`` runs as a real process against it: its stderr must hold
no ESC byte, and show the sequences escaped (``\\x1b``), so an operator still sees them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import config_text, run_bridge

from bridge.logs import EscapingFormatter, escape_controls
from bridge.sandbox.portal import PortalServer
from bridge.sandbox.site import generate_site

EVIL = "\x1b[2J\x1b]0;pwned\x07x"
EVIL_SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07x"
EVIL_TITLE = "通知\x1b[8m隐藏\x1b[0m\r伪造的一行"
EVIL_TITLE_SHOWN = "通知\\x1b[8m隐藏\\x1b[0m\\r伪造的一行"
TITLE_KEPT = "通知[8m隐藏[0m 伪造的一行"  # the title as normalized: controls dropped


class _Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.redirects: dict[str, str] = {}


class _Handler(BaseHTTPRequestHandler):
    """Files of a generated sandbox site; ``redirects`` answer 302 with a raw Location."""

    server: _Site

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        # where the redirect leads (the client sends it percent-encoded) redirects again:
        # a loop, which the bridge reports naming the last URL
        location = self.server.redirects.get("pwned" if "pwned" in path else path)
        if location is not None:
            self.send_response(302)
            self.send_header("Location", location)  # as Latin-1 bytes, ESC and BEL included
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = self.server.root / path.lstrip("/")
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if file.suffix == ".html" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serving(root: Path) -> Iterator[_Site]:
    site = _Site(root)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()


def test_escape_sequences_from_a_site_never_reach_stderr_raw(tmp_path):
    root = tmp_path / "site"
    manifest = generate_site(root, items=3, seed=7)
    redirected, retitled, unlisted = manifest.live()
    for page in (root / retitled.path.lstrip("/"), root / "xxgk" / retitled.column / "index.html"):
        page.write_text(page.read_text("utf-8").replace(retitled.title, EVIL_TITLE), "utf-8")
    portal = PortalServer(tmp_path / "portal.db")
    portal_url = portal.start()
    try:
        with _serving(root) as site:
            site_url = f"http://127.0.0.1:{site.server_address[1]}/"
            evil = f"{site_url}{EVIL}"
            # a detail page and a whole column's listing lead into the loop
            listing = f"/xxgk/{unlisted.column}/"
            for path in (redirected.path, listing, f"{listing}index.html", "pwned"):
                site.redirects[path] = evil
            config = tmp_path / "bridge.toml"
            config.write_text(config_text(tmp_path / "state.db", site_url, portal_url), "utf-8")
            sync = run_bridge("--config", str(config), "--log-level", "DEBUG", "sync", "--once")
            after = {
                command: run_bridge("--config", str(config), *command)
                for command in (
                    ("status",),
                    ("audit",),
                    ("reconcile",),
                    ("resync", "--dry-run", "--source", "yyedu"),
                )
            }
    finally:
        portal.stop()
    assert sync.code == 1, sync.both  # an item and a column were skipped
    assert [after[c].code for c in after] == [0, 0, 1, 1]
    for output in (sync, *after.values()):
        assert "Traceback" not in output.err
        assert not {"\x1b", "\x07", "\r", "\x9b"} & set(output.both), output.both
    loop = f"too many redirects from {site_url}{EVIL_SHOWN}"
    assert f"yyedu: skipped {site_url}{redirected.path.lstrip('/')}: {loop}" in sync.err
    assert f"yyedu: column {unlisted.column} skipped: {loop}" in sync.err
    assert f"yyedu: new yyedu:{retitled.id} {TITLE_KEPT}" in sync.err  # normalized first
    first = after[("reconcile",)].out.splitlines()[0]
    assert " ".join(first.split()) == f"! yyedu/{unlisted.column} ({loop})"  # on stdout


def test_the_formatter_escapes_the_message_and_keeps_the_traceback():
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "title %s\nforged", (EVIL_TITLE,), True
        )
        import sys

        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == f"ERROR title {EVIL_TITLE_SHOWN}\\nforged"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: boom"
    assert record.getMessage() == f"title {EVIL_TITLE}\nforged"  # the record is untouched


def test_every_control_character_is_escaped_and_nothing_else():
    controls = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)]))
    escaped = escape_controls(controls)
    assert escaped.isascii() and escaped.isprintable()
    assert escaped.count("\\") == len(controls)
    assert escape_controls("\t\n\r\x1b\x9b") == "\\t\\n\\r\\x1b\\x9b"
    plain = "余姚市教育局 «quoted» café ¡ \\x1b 1 < 2"
    assert escape_controls(plain) == plain
