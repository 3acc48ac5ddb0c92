"""Issue 19, finding 4: an item's attachments are capped in count and in total size, and
never held whole in memory.

Before, a page linking 80 attachments of 5 MiB made the bridge download all of them
into memory (peak RSS 500 MB) and store them (the state grew 420 MB). Now an item with
more links than ``fetch.max_attachments`` is held back before anything is downloaded,
one whose attachments come to more than ``fetch.max_item_bytes`` is held back where the
download passes the cap, and the cycle goes on with the other items. Attachments wait in
private temporary files, removed once the item is recorded or dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_cycle, state_rows

from bridge.config import FetchConfig
from bridge.errors import Skippable
from bridge.sandbox.site import load_manifest
from bridge.sandbox.site_model import ItemInfo
from bridge.sources.attachments import download_attachments
from bridge.sources.fetch import Fetcher
from bridge.sources.spool import Spool

pytestmark = pytest.mark.slow

FILE = 100 * 1024  # bytes of each attachment of the item over the byte cap
ITEM_CAP = 250 * 1024  # max_item_bytes of these tests: two such files fit, three do not,
# and no item of the sandbox (at most three files of 60 KiB) comes near it, whatever the day
FETCH = f"[sources.fetch]\nmax_item_bytes = {ITEM_CAP}\n"
ATTACHMENTS = re.compile(r'(<div class="attachments"><p>附件：</p><ul>).*?(</ul>)', re.S)


def _links(root: Path, path: str, files: dict[str, bytes]) -> None:
    """Give the page at ``path`` these attachments (name → bytes) instead of its own."""
    page = root / path.lstrip("/")
    links = "".join(f'<li><a href="./{name}">{name}</a></li>' for name in files)
    html, n = ATTACHMENTS.subn(rf"\g<1>{links}\2", page.read_text(encoding="utf-8"))
    assert n == 1
    page.write_text(html, encoding="utf-8")
    for name, data in files.items():
        (page.parent / name).write_bytes(data)


def _hostile_site(box) -> tuple[ItemInfo, ItemInfo, list[ItemInfo]]:
    """Two items of the site made hostile: (too many, too large, the others)."""
    items = load_manifest(box.root).items
    many, large = [i for i in items if i.attachments][:2]
    _links(box.root, many.path, {f"m{n}.pdf": f"%PDF-1.4 m{n}".encode() for n in range(60)})
    _links(box.root, large.path, {f"big{n}.pdf": b"%PDF-1.4" + bytes(FILE - 8) for n in range(3)})
    return many, large, [i for i in items if i not in (many, large)]


def test_too_many_or_too_large_attachments_hold_the_item_back_and_the_cycle_goes_on(
    sandbox, write_config, cli, tmp_path
):
    box = sandbox(items=20, seed=7)
    many, large, others = _hostile_site(box)
    config = write_config(box, extra_source=FETCH)
    spool = tmp_path / "tmp"
    spool.mkdir()

    run = cli("--config", str(config), "sync", "--once", env={"TMPDIR": str(spool)})

    assert run.code == 1, run.both  # items held back: cron must see it
    assert "18 new" in run.out and "2 skipped" in run.out, run.err
    site = box.site_url.rstrip("/")
    assert (
        f"yyedu: skipped {site}{many.path}: the page links 60 attachments, more than "
        "max_attachments = 50: held back, nothing downloaded (raise [fetch] max_attachments "
        "if the page really has so many)"
    ) in run.err
    folder = site + large.path.rsplit("/", 1)[0]
    assert (
        f"yyedu: skipped {site}{large.path}: the attachments come to more than "
        f"max_item_bytes = {ITEM_CAP} bytes (2 of 3 downloaded, {2 * FILE} bytes, then "
        f"big2.pdf at {folder}/big2.pdf went past it): held back"
    ) in run.err
    served = [r.path for r in box.site.requests]
    assert not [p for p in served if re.search(r"/m\d+\.pdf$", p)]  # none of the 60
    # big2 is asked for, and refused by its Content-Length before its body is read.
    big = sorted(p.rsplit("/", 1)[1] for p in served if "/big" in p)
    assert big == ["big0.pdf", "big1.pdf", "big2.pdf"]
    # The other items were delivered; the two held back are neither stored nor sent.
    on_portal = {r["external_id"] for r in box.portal.store.items()}
    assert on_portal == {f"yyedu:{i.id}" for i in others}
    assert state_rows(config, "SELECT count(*) FROM items") == [(18,)]
    stats = json.loads(state_rows(config, "SELECT stats FROM runs")[0][0])
    assert (stats["skipped"], stats["new"]) == (2, 18)
    assert os.listdir(spool) == []  # no temporary file or folder left behind


def test_each_item_s_files_go_once_recorded_or_held_back(
    sandbox, write_config, tmp_path, monkeypatch, caplog
):
    """Not left for the end of the cycle: the spool's closing finds nothing to remove."""
    box = sandbox(items=20, seed=7)
    _, _, others = _hostile_site(box)
    config = write_config(box, extra_source=FETCH)
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    made: list[tuple[str, int]] = []
    original = Spool.new_file

    def new_file(self):  # counts the files made, and their mode
        out, path = original(self)
        folder = os.path.dirname(path)
        made.append(
            (
                folder,
                stat.S_IMODE(os.stat(folder).st_mode),
                stat.S_IMODE(os.fstat(out.fileno()).st_mode),
            )
        )
        return out, path

    monkeypatch.setattr(Spool, "new_file", new_file)
    with caplog.at_level(logging.DEBUG, logger="bridge.sources.spool"):
        summary = run_cycle(config)
    assert summary.sources[0].stats.skipped == 2
    # The other items' files, and big0-big2 (big2 is refused by its Content-Length); m*: none.
    assert len(made) == sum(len(i.attachments) for i in others) + 3
    assert {(Path(folder).parent, dmode, fmode) for folder, dmode, fmode in made} == {
        (spool, 0o700, 0o600)
    }
    assert os.listdir(spool) == []
    assert "attachment file(s) of items never recorded" not in caplog.text


class _Unsized(BaseHTTPRequestHandler):
    """Files of ``FILE`` bytes without a Content-Length: their size shows only as they come."""

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        for _ in range(FILE // 4096):
            self.wfile.write(b"\0" * 4096)


def test_the_item_cap_stops_a_download_as_it_streams_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unsized)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    site = f"http://127.0.0.1:{server.server_address[1]}/"
    cfg = FetchConfig("bridge tests", respect_robots=False, max_item_bytes=ITEM_CAP)
    fetcher = Fetcher(cfg, base_url=site)
    try:
        links = [(f"{n}.pdf", f"{site}{n}.pdf") for n in "abc"]
        with pytest.raises(Skippable) as caught:
            download_attachments(fetcher, links)
        assert str(caught.value) == (
            f"the attachments come to more than max_item_bytes = {ITEM_CAP} bytes (2 of 3 "
            f"downloaded, {2 * FILE} bytes, then c.pdf at {site}c.pdf went past it): held back"
        )
        assert fetcher.spool._dir is not None and os.listdir(fetcher.spool._dir) == []
        got = download_attachments(fetcher, links[:2])  # within the cap
        assert [(a.name, a.size, a.sha256) for a in got] == [
            (f"{n}.pdf", FILE, hashlib.sha256(bytes(FILE)).hexdigest()) for n in "ab"
        ]
    finally:
        fetcher.close()
        server.shutdown()
        server.server_close()
        thread.join()
