"""The bad-input corpus through the real CLI: every bad page ends in its own clear outcome,
the cycle goes on with the others, and nothing already delivered is touched.

A sandbox site is delivered first; then the corpus (tests/reliability/badpages.py) appears in
its listing, some delivered items' pages go bad, and columns whose list page is bad are
added. ``bridge sync --once`` must then quarantine, skip, retry or deliver each page exactly
as ``EXPECTED`` says, and leave every record already on the portal as it was. Once the
site heals, a further cycle delivers what failed only for a while.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from badpages import (
    ATTACHMENT,
    ATTACHMENT_CAP,
    CORPUS,
    LISTINGS,
    PAGE_CAP,
    PARAGRAPHS,
    PDF,
    READ_TIMEOUT,
    BadListing,
    BadPage,
    BadSite,
    Behaviour,
    Body,
    Heals,
    Page,
    status,
)
from conftest import state_rows

from bridge.catalog import NormalizeProfile
from bridge.errors import Skippable
from bridge.normalize import QuarantineError, normalize
from bridge.normalize.sanitize import sanitize_html
from bridge.raw import RawItem
from bridge.sandbox.site import load_manifest
from bridge.sources import parse
from bridge.sources.charset import binary_kind, decode_html

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

# --- what each page must come to ------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """On the portal, right; ``check`` looks at the record further."""

    check: Callable[[dict[str, Any]], object] | None = None
    own_title: bool = False  # the page has a title of its own, not the corpus template's


@dataclass(frozen=True)
class Quarantined:
    rule: str
    message: str  # a regular expression


@dataclass(frozen=True)
class Skipped:
    reason: str  # a regular expression; {url} is the page, {file} its attachment


@dataclass(frozen=True)
class Retried:
    """Fails in this cycle with ``reason``; delivered by a cycle after the site heals."""

    reason: str


@dataclass(frozen=True)
class Gone:
    status: int


Outcome = Delivered | Quarantined | Skipped | Retried | Gone

DETECTED = re.escape(
    "no charset the page declares decodes it, nor the configured one; detection guessed "
    "gb18030: set the source's charset in the config, then run xxgk-bridge resync"
)
INCOMPLETE = r"{url} ends before </html>: the page came incomplete"
TOO_DEEP = (
    r"{url}: the HTML parser gave up \(Excessive depth in document: 256\); "
    "the page cannot be read whole"
)
NO_BODY = "no text or image in the body"
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def reads_right(record: dict[str, Any]) -> None:
    """Decoded as what it is: the title, the body and the 落款 in plain Chinese."""
    assert record["title"].startswith("余姚市教育局关于开展第")
    assert all(p in record["body_html"] for p in PARAGRAPHS)
    assert record["created"] == "2025-05-28"


def body_has(*texts: str, lacks: tuple[str, ...] = ()) -> Callable[[dict[str, Any]], None]:
    def check(record: dict[str, Any]) -> None:
        for text in texts:
            assert text in record["body_html"], text
        for text in lacks:
            assert text not in record["body_html"], text

    return check


def field_is(**fields: object) -> Callable[[dict[str, Any]], None]:
    def check(record: dict[str, Any]) -> None:
        for key, value in fields.items():
            assert record[key] == value, (key, record[key])

    return check


def attachment_named(name: str) -> Callable[[dict[str, Any]], None]:
    def check(record: dict[str, Any]) -> None:
        assert [a["name"] for a in record["attachments"]] == [name]
        assert record["attachments"][0]["media_type"] == "application/pdf"

    return check


def safe_body(record: dict[str, Any]) -> None:
    body = record["body_html"].lower()
    for bad in ("<script", "onclick", "onerror", "onload", "javascript", "<iframe", "<svg"):
        assert bad not in body, bad
    for bad in ("<style", "<form", "<input", "<object"):
        assert bad not in body, bad
    links = re.findall(r'(?:href|src)="([^"]*)"', record["body_html"])
    assert links and all(link.startswith("http://127.0.0.1:") for link in links), links
    assert "点击" in record["body_html"] and "链接三" in record["body_html"]


EXPECTED: dict[str, Outcome] = {
    # decoding
    "truncated-mid-tag": Skipped(INCOMPLETE),
    "truncated-mid-utf8": Skipped(INCOMPLETE),
    "meta-utf8-bytes-gbk": Quarantined("body.charset", DETECTED),
    "header-gbk-bytes-utf8": Delivered(reads_right),
    "meta-gbk-bytes-utf8": Delivered(reads_right),
    "meta-in-comment-lies": Delivered(reads_right),
    "short-utf8-under-gbk-meta": Delivered(
        field_is(title="安全工作通知", created="2025-05-28", summary="各校安全工作通知"),
        own_title=True,
    ),
    "no-charset-gbk-bytes": Quarantined("body.charset", DETECTED),
    "bom-utf8-meta-gbk": Delivered(reads_right),
    "bom-utf16le": Delivered(reads_right),
    "header-utf8-bytes-gbk": Delivered(reads_right),
    "header-unknown-charset": Delivered(reads_right),
    "gb2312-label-gbk-only-chars": Delivered(body_has("联系人：王喆、朱镕。")),
    "stray-gbk-bytes-in-utf8": Quarantined(
        "body.charset", r"\d+ undecodable characters: the charset was misread"
    ),
    "null-bytes": Delivered(body_has("专项检查。", lacks=("\0", "\ufffd"))),
    "control-characters": Delivered(body_has("附注：分页 符、垂直 制表与转义。")),
    "mixed-line-endings": Delivered(reads_right),
    # not a page at all
    "empty-200": Skipped(r"{url} answered 200 with an empty page"),
    "whitespace-only-200": Skipped(r"{url} answered 200 with an empty page"),
    "bom-only": Skipped(r"{url} answered 200 with an empty page"),
    "status-204": Skipped(r"{url} answered 204 with an empty page"),
    "pdf-as-html": Skipped(r"{url} is a PDF file, not an HTML page \(served as text/html\)"),
    "png-as-html": Skipped(r"{url} is a PNG image, not an HTML page \(served as text/html\)"),
    "gzip-bytes-as-html": Skipped(r"{url} is gzip data, not an HTML page \(served as text/html\)"),
    "binary-garbage": Skipped(r"{url} is binary data, not an HTML page \(served as text/html\)"),
    # transport
    "status-500": Retried(r"{url} answered 500"),
    "over-page-cap": Skipped(rf"{{url}} is \d+ bytes, over the cap of {PAGE_CAP}"),
    "length-lie-short": Retried(
        r"request to {url} failed: the connection closed after \d+ bytes, \d+ short of its "
        "Content-Length"
    ),
    "over-page-cap-chunked": Skipped(rf"{{url}} is over the cap of {PAGE_CAP} bytes"),
    "status-429-retry-after": Retried(r"{url} answered 429"),
    "infinite-chunked": Skipped(rf"{{url}} is over the cap of {PAGE_CAP} bytes"),
    "slow-drip": Retried(
        r"{url} arrives at less than 1024 bytes a second \(\d+ bytes in \d+ s\); gave up"
    ),
    "status-403": Skipped(r"{url} answered 403: the site refuses this client"),
    "stall-past-read-timeout": Retried(r"timed out reading {url}"),
    "status-404-listed": Gone(404),
    "connection-drop": Retried(
        r"cannot connect to {url}: the server closed the connection without an answer"
    ),
    "status-410-listed": Gone(410),
    "redirect-loop": Skipped(r"too many redirects from {url}"),
    "redirect-offsite": Skipped(
        r"'http://www\.example\.com/xxgk/t20250601_1\.html' is not on an allowed host of this "
        r"source: http://www\.example\.com:80 is not this source's site"
    ),
    "redirect-moved": Delivered(
        lambda r: r["source"]["url"].endswith("/redirect-moved/moved.html")
    ),
    "length-lie-long": Skipped(INCOMPLETE),
    "gzip-bomb": Skipped(rf"{{url}} is over the cap of {PAGE_CAP} bytes"),
    "keep-alive-closed-under-next": Delivered(),  # and what is asked next, asked again
    # markup
    "trs-editor-empty": Quarantined("body.required", NO_BODY),
    "trs-editor-nbsp-only": Quarantined("body.required", NO_BODY),
    "deep-nesting": Skipped(TOO_DEEP),
    "ten-thousand-paragraphs": Delivered(
        lambda r: "第10000条" in r["body_html"] and len(r["summary"]) <= 150
    ),
    "title-2000-chars": Delivered(lambda r: len(r["title"]) == 2000, own_title=True),
    "comment-fake-markers": Delivered(body_has(*PARAGRAPHS, lacks=("假正文", "假标题"))),
    "unclosed-script": Delivered(body_has(*PARAGRAPHS, lacks=("var tail", "<script"))),
    "unclosed-cdata": Delivered(body_has(*PARAGRAPHS, lacks=("CDATA",))),
    "unclosed-comment-after-body": Delivered(reads_right),
    # Markup written into a title or a name is no part of it (issue 19, finding 14).
    "xss-title": Delivered(lambda r: "<" not in r["title"]),
    "xss-body": Delivered(safe_body),
    "xss-attachment-name": Delivered(attachment_named("安全检查表.pdf")),
    "attachment-name-path-traversal": Delivered(attachment_named("passwd.pdf")),
    # metadata
    "created-month-13": Delivered(field_is(created="2025-05-28")),  # the 落款 date
    "created-month-13-no-body-date": Quarantined(
        "created.required",
        re.escape("no 生成日期 found; meta 生成日期 '2012-13-45' is not a date (no month 13)"),
    ),
    "created-chinese-numerals-wrong": Quarantined(
        "created.required",
        re.escape(
            "no 生成日期 found; meta 生成日期 '二〇二五年十三月五日' is not a date (no month 13)"
        ),
    ),
    "created-in-future": Quarantined("created.future", f"生成日期 2031-01-01 is after {TODAY}"),
    "docno-no-number": Quarantined(
        "doc_no.form", re.escape("meta 文号 '余教〔2025〕' is out of form: does not end with 号")
    ),
    "docno-latin-issuer": Quarantined(
        "doc_no.form",
        re.escape(
            "meta 文号 'YJ〔2025〕12号' is out of form: issuer code 'YJ' is not 1-12 Chinese "
            "characters"
        ),
    ),
    "metadata-cells-empty": Delivered(field_is(created="2025-05-28", doc_no=None)),
    # attachments
    "attachment-over-cap": Skipped(rf"{{file}} is \d+ bytes, over the cap of {ATTACHMENT_CAP}"),
    "attachment-over-cap-chunked": Skipped(rf"{{file}} is over the cap of {ATTACHMENT_CAP} bytes"),
    "attachment-404": Skipped(r"attachment 检查表\.pdf at {file} answered 404"),
    "attachment-html-error-page": Skipped(
        r"attachment 检查表\.pdf at {file} answered with an HTML page, not the file"
    ),
    "attachment-pdf-served-as-html": Delivered(attachment_named("检查表.pdf")),
    "attachment-500": Retried(r"{file} answered 500"),
    "attachment-redirect-offsite": Skipped(
        r"'http://files\.example\.com/a\.pdf' is not on an allowed host of this source: "
        r"http://files\.example\.com:80 is not this source's site"
    ),
    # kept as found
    "saved-js-redirect-stub": Skipped(
        r"{url} is no article: it sends the browser on to "
        r"http://www\.zjedu\.gov\.cn/art/2025/6/1/art_1532_990001\.html"
    ),
    "saved-word-paste": Skipped(TOO_DEEP),
    "saved-truncated-gbk": Skipped(INCOMPLETE),
}

LISTING_EXPECTED: dict[str, str | None] = {  # column skipped with this reason, or None: read
    "truncated": r"{url} ends before </html>: the list page came incomplete",
    "empty-200": r"{url} answered 200 with an empty page",
    "png": r"{url} is a PNG image, not an HTML page \(served as text/html\)",
    "redirect-loop": r"too many redirects from {url}",
    "gbk-no-charset": None,
    "page-count-lie": None,
    "deep-nesting": TOO_DEEP,
    "over-cap": rf"{{url}} is \d+ bytes, over the cap of {PAGE_CAP}",
}


def test_the_corpus_is_complete() -> None:
    assert len(CORPUS) >= 50
    assert [b.slug for b in CORPUS] == list(EXPECTED)
    assert [b.slug for b in LISTINGS] == list(LISTING_EXPECTED)
    assert all(b.doc for b in CORPUS) and all(b.doc for b in LISTINGS)


# --- the run --------------------------------------------------------------------------------


def log_line(stderr: str, message: str) -> list[str]:
    """The stderr lines whose message (after ``level logger: ``) matches ``message``."""
    pattern = re.compile(rf"^\S+ \S+ (?:WARNING|INFO) bridge\.crawl\.run: {message}$")
    return [line for line in stderr.splitlines() if pattern.match(line)]


def quarantine_of(config: Path) -> dict[str, dict[str, Any]]:
    rows = state_rows(
        config, "SELECT external_id, quarantine FROM items WHERE quarantine IS NOT NULL"
    )
    return {eid: json.loads(reason) for eid, reason in rows}


def columns_of(listings: list[Any]) -> str:
    return "".join(
        f'\n  [[sources.columns]]\n  key = "badlist-{b.slug}"\n  path = "badlist/{b.slug}/"\n'
        '  category = "其他"\n'
        for b in listings
    )


FETCH = (
    f'[sources.fetch]\nread_timeout = "{READ_TIMEOUT}s"\nmax_attachment_bytes = {ATTACHMENT_CAP}\n'
)
VICTIMS: list[tuple[Callable[[bytes], Behaviour], str | None]] = [
    (lambda page: Body(b""), r"yyedu: skipped {url}: {url} answered 200 with an empty page"),
    (lambda page: Body(page[: len(page) // 2]), r"yyedu: skipped {url}: " + INCOMPLETE),
    (lambda page: Heals(status(500), Body(page)), r"yyedu: {url} answered 500"),
    (lambda page: status(404), r"yyedu: {url} answered 404; it is listed but gone"),
    (lambda page: Body(page, "text/html; charset=gbk"), None),  # read right: unchanged
    (
        lambda page: Body(re.sub(rb"(TRS_Editor\">).*?(</div>)", rb"\1\2", page, flags=re.S)),
        rf"quarantined {{url}}: body: {NO_BODY} \(rule body\.required\)",
    ),
]
"""What happens to the pages of delivered items, and the line that must say so."""


def test_every_bad_page_ends_in_its_own_outcome(sandbox, write_config, cli, tmp_path):
    box = sandbox(items=30, seed=23)
    box.site.stop()  # the corpus server serves the same generated site instead
    site = BadSite(box.root).start()
    try:
        _corpus_run(site, replace(box, site_url=site.url), write_config, cli, tmp_path)
    finally:
        site.stop()


def _corpus_run(site: BadSite, box: Any, write_config: Any, cli: Any, tmp_path: Path) -> None:
    config = write_config(box, extra_source=FETCH)
    first = cli("--config", str(config), "sync", "--once")
    assert first.code == 0, first.both
    before = {r["external_id"]: r for r in box.portal.store.items()}
    assert len(before) == 30

    # The corpus appears, the pages of delivered items go bad, bad list pages are added.
    manifest = load_manifest(box.root)
    victims = [i for i in manifest.items if i.column != "qt"][: len(VICTIMS)]
    for item, (fault, _) in zip(victims, VICTIMS, strict=True):
        site.break_item(item.path, fault((box.root / item.path.lstrip("/")).read_bytes()))
    site.live = True
    config = write_config(box, extra_source=FETCH + columns_of(LISTINGS))
    hits = dict(site.hits)
    run = cli("--config", str(config), "sync", "--once")
    assert run.code == 1, run.both
    assert "Traceback" not in run.both
    assert run.out.startswith("yyedu: ok; "), run.out  # the cycle went on to the end
    assert " ERROR " not in run.err
    held = {r["external_id"]: r for r in box.portal.store.items()}
    for external_id, record in before.items():
        assert held[external_id] == record, external_id  # untouched, to the last field

    for item, (_, message) in zip(victims, VICTIMS, strict=True):
        assert site.hits[item.path] > hits.get(item.path, 0), item.path  # read again
        if message is not None:
            url = re.escape(site.url + item.path.lstrip("/"))
            assert len(log_line(run.err, message.format(url=url))) == 1, message
    delivered = _check_corpus(site, run.err, held, quarantine_of(config))
    delivered += _check_listings(site, run.err, held)
    assert all(f"yyedu:{p.article_id}" in held for p in site.controls)
    assert len(held) == len(before) + delivered + len(site.controls)
    assert f"delivery: {delivered + len(site.controls)} sent" in run.out

    # The site heals: what failed only for a while arrives; the rest stays as it was.
    site.healed = True
    hits = dict(site.hits)
    healed = cli("--config", str(config), "sync", "--once")
    assert "Traceback" not in healed.both
    now = {r["external_id"]: r for r in box.portal.store.items()}
    retried = [b for b in CORPUS if isinstance(EXPECTED[b.slug], Retried)]
    for bad in retried:
        record = now[f"yyedu:{bad.page.article_id}"]
        assert record["title"] == bad.page.title
        reads_right(record)
    assert len(now) == len(held) + len(retried)
    for external_id, record in held.items():
        assert now[external_id] == record, external_id
    for bad in CORPUS:  # what failed is read again; what was recorded only when it changes
        again = site.hits[bad.page.path] - hits.get(bad.page.path, 0)
        read_again = isinstance(EXPECTED[bad.slug], Skipped | Gone | Retried)
        assert (again >= 1) if read_again else (again == 0), bad.slug

    verified = cli("--config", str(config), "audit", "verify")
    assert verified.code == 0, verified.both


def _check_corpus(
    site: BadSite, stderr: str, held: dict[str, Any], quarantined: dict[str, Any]
) -> int:
    """Each corpus page came to its ``EXPECTED`` outcome; returns how many were delivered."""
    delivered = 0
    for bad in CORPUS:
        outcome = EXPECTED[bad.slug]
        external_id = f"yyedu:{bad.page.article_id}"
        page_url = site.url + bad.page.path.lstrip("/")
        file_url = site.url + bad.page.folder.lstrip("/") + ATTACHMENT
        where = f"{bad.slug}: {outcome}"
        if isinstance(outcome, Delivered):
            assert external_id in held, where
            if not outcome.own_title:
                assert held[external_id]["title"] == bad.page.title, where
            if outcome.check is not None:
                assert outcome.check(held[external_id]) is not False, where
            delivered += 1
            continue
        assert external_id not in held, where
        if isinstance(outcome, Quarantined):
            problems = quarantined[external_id]["problems"]
            assert [p["rule"] for p in problems] == [outcome.rule], (where, problems)
            assert re.fullmatch(outcome.message, problems[0]["message"]), (where, problems)
            message = (
                f"quarantined {re.escape(page_url)}: {problems[0]['field']}: {outcome.message} "
                rf"\(rule {re.escape(outcome.rule)}\)"
            )
        elif isinstance(outcome, Gone):
            message = (
                rf"yyedu: {re.escape(page_url)} answered {outcome.status}; it is listed but gone"
            )
        else:
            reason = outcome.reason.format(url=re.escape(page_url), file=re.escape(file_url))
            skipped = isinstance(outcome, Skipped)
            message = (
                f"yyedu: skipped {re.escape(page_url)}: {reason}" if skipped else f"yyedu: {reason}"
            )
        if not isinstance(outcome, Quarantined):
            assert external_id not in quarantined, where
        assert len(log_line(stderr, message)) == 1, (where, message)
    return delivered


def _check_listings(site: BadSite, stderr: str, held: dict[str, Any]) -> int:
    """Each bad list page skipped its column with its reason, or was read; returns how
    many entries were delivered."""
    delivered = 0
    for listing in LISTINGS:
        reason = LISTING_EXPECTED[listing.slug]
        ids = [f"yyedu:{p.article_id}" for p in listing.pages()]
        if reason is None:
            assert all(i in held for i in ids), listing.slug
            delivered += len(ids)
            continue
        assert not any(i in held for i in ids), listing.slug
        url = re.escape(site.url + listing.folder.lstrip("/") + "index.html")
        message = f"yyedu: column badlist-{listing.slug} skipped: " + reason.format(url=url)
        assert len(log_line(stderr, message)) == 1, (listing.slug, message)
    return delivered


# --- known problems outside the sources (bridge/crawl/run.py): each test shows one ------------
# They pass once the cycle handles the case; strict, so the marker must go then.


@pytest.fixture
def small_site(sandbox, write_config, tmp_path):
    """Factory: a three-item sandbox site with ``corpus`` listed in it; its config file."""
    started: list[BadSite] = []

    def make(corpus: list[BadPage], listings: tuple[BadListing, ...] = ()) -> Path:
        box = sandbox(items=3, seed=5)
        box.site.stop()
        site = BadSite(box.root, corpus, list(listings)).start()
        site.live = True
        started.append(site)
        box = replace(box, site_url=site.url)
        return write_config(box, extra_source=columns_of(list(listings)))

    yield make
    for site in started:
        site.stop()


def page(n: int, slug: str, build: Callable[[Page], Any]) -> BadPage:
    return BadPage(Page(n, slug), build, slug)


def fine(n: int) -> BadPage:
    return page(n, "fine", lambda p: Body(p.utf8()))


def held_ids(config: Path) -> set[str]:
    return {
        r[0]
        for r in state_rows(config, "SELECT external_id FROM items WHERE content_hash IS NOT NULL")
    }


def test_one_page_without_body_or_title_does_not_stop_the_cycle(small_site, cli):
    maintenance = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>系统维护</title></head>'
        '<body><div class="notice"><p>系统维护中，请稍后访问。</p></div></body></html>'
    ).encode()
    config = small_site(
        [
            page(1, "maintenance", lambda p: Body(maintenance)),
            page(2, "no-title", lambda p: Body(p.utf8(h1="", meta=p.meta(标题="")))),
            fine(3),
        ]
    )
    result = cli("--config", str(config), "sync", "--once")
    assert result.out.startswith("yyedu: ok; "), result.both
    assert f"yyedu:{fine(3).page.article_id}" in held_ids(config)


def test_a_list_page_answering_500_skips_only_its_column(small_site, cli):
    listing = BadListing("status-500", lambda data: status(500), "500 for the list page", 1)
    config = small_site([], (listing,))
    result = cli("--config", str(config), "sync", "--once")
    assert result.code == 1, result.both
    assert len(held_ids(config)) == 3, result.both  # the other columns were read


def test_a_cycle_that_skipped_a_page_exits_1(small_site, cli):
    config = small_site([page(1, "empty-200", lambda p: Body(b""))])
    result = cli("--config", str(config), "sync", "--once")
    assert "1 skipped" in result.out, result.both
    assert result.code == 1, result.both


def test_errors_between_answered_pages_are_not_a_site_down(small_site, cli):
    corpus = [
        page(n, "status-500", lambda p: status(500))
        if n % 2
        else page(n, "empty-200", lambda p: Body(b""))
        for n in range(1, 10)
    ]
    config = small_site([*corpus, fine(10)])
    result = cli("--config", str(config), "sync", "--once")
    assert result.out.startswith("yyedu: ok; "), result.both
    assert f"yyedu:{fine(10).page.article_id}" in held_ids(config)


# --- the fixes the corpus needed, each at its own level ----------------------------------------


def test_strict_utf8_beats_a_legacy_declaration() -> None:
    page = "<html><head><meta charset='gbk'></head><body>校园安全</body></html>"
    for body, content_type in (
        (page.encode(), "text/html; charset=gbk"),  # the server's default is wrong
        (page.encode(), "text/html"),  # the template's <meta> is wrong
    ):
        decoded = decode_html(body, content_type, "utf-8")
        assert (decoded.text, decoded.charset, decoded.how) == (page, "utf-8", "utf-8")
    gbk = decode_html(page.encode("gbk"), "text/html", "utf-8")  # a right declaration stays
    assert (gbk.text, gbk.charset, gbk.how) == (page, "gb18030", "meta")
    ascii_only = decode_html(b"<meta charset='gbk'><p>2025</p>", None, "utf-8")
    assert (ascii_only.charset, ascii_only.how) == ("gb18030", "meta")


def test_files_and_nothing_are_no_pages() -> None:
    assert binary_kind(PDF) == "a PDF file"
    assert binary_kind(b"\x1f\x8b\x08\x00") == "gzip data"
    assert binary_kind(b"<html>\0</html>") == "binary data"
    assert binary_kind("<html>校园</html>".encode("utf-16")) is None  # text, with its BOM
    assert binary_kind(b"<html></html>") is None


def test_a_tree_holds_no_control_characters() -> None:
    doc = parse.document("<p>a\0b\x0bc\x0cd\x1be\ufffff</p>", "http://h/")
    assert doc.text_content() == "ab c def"
    for nothing in ("", " \r\n", "<!-- only a comment -->", '<?xml version="1.0"?>'):
        assert parse.document(nothing, "http://h/").text_content() == ""
    assert sanitize_html("<p>a\x0bb\x0cc</p>", "http://h/") == "<p>a b c</p>"


def test_a_page_the_parser_gives_up_on_is_refused_not_read_in_part() -> None:
    with pytest.raises(Skippable) as refused:
        parse.document("<p>前</p>" + "<div>" * 300 + "<p>后</p>", "http://h/a.html")
    assert str(refused.value) == (
        "http://h/a.html: the HTML parser gave up (Excessive depth in document: 256); "
        "the page cannot be read whole"
    )
    assert "后" in parse.document("<p>前</p>" + "<div>" * 200 + "<p>后</p>", "u").text_content()


def test_cut_pages_and_redirect_stubs_are_told_apart() -> None:
    assert parse.incomplete("<html><body><p>正文")
    assert not parse.incomplete("<html><body><p>正文</p></BODY >")
    stub = "<html><head><script>window.location.href = 'http://x/a.html';</script></head><body></body></html>"
    refresh = '<meta http-equiv="Refresh" content="0; url=http://x/b.html"><body> </body>'
    assert parse.redirect_target(parse.document(stub, "http://h/")) == "http://x/a.html"
    assert parse.redirect_target(parse.document(refresh, "http://h/")) == "http://x/b.html"
    shown = "<body><script>location.href='http://x/';</script><p>本页正文</p></body>"
    assert parse.redirect_target(parse.document(shown, "http://h/")) is None


def test_a_created_cell_that_is_no_date_is_not_replaced_by_the_publication_day() -> None:
    raw = RawItem(
        source="yyedu",
        column="qt",
        url="http://h/t1.html",
        article_id="t1",
        title="关于做好校园安全工作的通知",
        list_title="关于做好校园安全工作的通知",
        list_date="2025-06-01",
        meta={"生成日期": "2012-13-45"},
        body_html="<p>各学校要落实安全责任。</p>",
        body_text="各学校要落实安全责任。",
        attachments=(),
        fetched_at=datetime(2025, 6, 2, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    profile = NormalizeProfile("yyedu", "余姚市教育局", "002949236", {"qt": "其他"})
    with pytest.raises(QuarantineError) as held:
        normalize(raw, profile)
    assert [(p.rule, p.message) for p in held.value.problems] == [
        (
            "created.required",
            "no 生成日期 found; meta 生成日期 '2012-13-45' is not a date (no month 13)",
        )
    ]
    signed = replace(raw, body_html=raw.body_html + "<p>余姚市教育局</p><p>2025年5月28日</p>")
    assert str(normalize(signed, profile).created) == "2025-05-28"  # the 落款 still counts
    assert str(normalize(replace(raw, meta={}), profile).created) == "2025-06-01"
