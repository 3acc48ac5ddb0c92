"""The real-page corpus: real pages of Chinese government sites, read by the bridge's own
source kinds as a new user would configure them, and scored field by field against
what a careful person reads on each page (tests/data/realpages/expected.json).

Each page is served at its original URL by a forward proxy on loopback (the fetcher
reaches it through ``http_proxy``), so host names, absolute links and off-site links
are what they were on the real site; robots.txt answers 404 and any file link a stand-in
file. A page saved as a fragment is served inside ``<html><body>``, a Hanweb datastore
saved alone inside the column page's ``<script type="text/xml">``, and a text-only
capture as one ``<p>`` per line: the page around them, not anything they lack.

``python tests/sources/realpages.py`` prints the score table the README quotes.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bridge.config import FetchConfig, SourceConfig
from bridge.config.sources import ColumnConfig, HanwebConfig, SelectorsConfig
from bridge.normalize import draft
from bridge.normalize.dates import SHANGHAI, DateError, parse_date
from bridge.raw import ListEntry, RawAttachment
from bridge.sources import make_source, parse
from bridge.sources.cms import CmsSource, raw_item
from bridge.text import clean_text, compact

CORPUS = Path(__file__).resolve().parent.parent / "data" / "realpages"
FIELDS = ("title", "publisher", "created", "published", "doc_no", "index_no", "topic")
"""The fields the corpus must read right (issue 18: each at least 95 %)."""
MORE_FIELDS = ("validity", "attachments", "summary")
CONFIGURED_PUBLISHER = "（配置的发布机构）"
"""What a new user configures as ``publisher``: a value no page shows, so a record that
falls back on it is told apart from one that read the page."""
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=SHANGHAI)
FROM_THE_PAGE = ("page:", "meta:", "body", "title", "list")
"""Provenance of a value the page shows (not ``config``, ``default``, ``derived:…``)."""


def load() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(pages by file name, site configs by site id) of expected.json."""
    data = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    return data["_files"], data["_sites"]


# --- the proxy --------------------------------------------------------------------------------


def served(url: str) -> str:
    """The URL a page is served at: its own, over plain HTTP (the proxy speaks no TLS)."""
    parts = urlsplit(url)
    return f"http://{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def page_body(name: str) -> bytes:
    """The page as served: a fragment inside <html><body>, a datastore inside its column
    page, a text capture one <p> per line."""
    text = (CORPUS / name).read_text(encoding="utf-8")
    if name.endswith(".txt"):
        lines = [html.escape(line.strip()) for line in text.splitlines()[1:] if line.strip()]
        text = "<html><body>" + "".join(f"<p>{line}</p>" for line in lines) + "</body></html>"
    elif name.endswith(".xml"):
        text = f'<html><body><script type="text/xml">{text}</script></body></html>'
    elif not re.search(r"<html[\s>]", text, re.I):
        text = f"<html><body>{text}</body></html>"
    return text.encode("utf-8")


class CorpusProxy:
    """A forward HTTP proxy on loopback that answers from the corpus, by URL."""

    def __init__(self, pages: dict[str, dict[str, Any]]) -> None:
        self.by_url = {
            _key(served(entry["url"])): name for name, entry in pages.items() if entry.get("url")
        }
        self.hits: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.hits[self.path] += 1
                status, ctype, body = proxy.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, url: str) -> tuple[int, str, bytes]:
        key = _key(url)
        # A folder's URL and its index page are one page, as a web server serves them.
        folder = re.sub(r"/index\.s?html?$", "/", key)
        name = self.by_url.get(key) or self.by_url.get(folder)
        if name is not None:
            return 200, "text/html; charset=utf-8", page_body(name)
        path = urlsplit(url).path.lower()
        if path.endswith(parse.ATTACHMENT_EXTENSIONS) or "download" in url or "downfile" in url:
            return 200, "application/octet-stream", b"%PDF-1.4\n% corpus stand-in\n%%EOF\n"
        return 404, "text/html", b"<html><body><h1>404</h1></body></html>"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _key(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.lower() + parts.path + (f"?{parts.query}" if parts.query else "")


@contextlib.contextmanager
def proxied(pages: dict[str, dict[str, Any]]) -> Iterator[CorpusProxy]:
    """The corpus proxy, named by ``http_proxy`` for this process while it runs."""
    proxy = CorpusProxy(pages)
    saved = {k: os.environ.get(k) for k in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")}
    os.environ["http_proxy"] = os.environ["HTTP_PROXY"] = proxy.url
    for key in ("no_proxy", "NO_PROXY"):
        os.environ.pop(key, None)
    try:
        yield proxy
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proxy.stop()


# --- reading a page as the bridge does --------------------------------------------------------


def source_for(entry: dict[str, Any], site: dict[str, Any], *, listing: bool) -> CmsSource:
    """The source a new user would configure for this page's site."""
    url = served(entry["url"])
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    column = path if listing else path.rsplit("/", 1)[0] + "/"
    if listing and site["kind"] == "trs" and path.endswith("/index.html"):
        column = path.removesuffix("index.html")
    selectors = SelectorsConfig(**site["selectors"]) if site.get("selectors") else None
    own = {  # the kind's own table
        "selectors": {"selectors": selectors},
        "hanweb": {"hanweb": HanwebConfig(**site.get("hanweb", {}))},
    }.get(site["kind"], {})
    cfg = SourceConfig.of_kind(
        site["kind"],
        name=entry["site"],
        base_url=f"{parts.scheme}://{parts.netloc}/",
        publisher=CONFIGURED_PUBLISHER,
        org_code="002949236",
        columns=(ColumnConfig("c", column, "c", "mixed"),),
        fetch=FetchConfig(user_agent="bridge real-page corpus", rate_limit=1000.0),
        charset=site.get("charset", "utf-8"),
        allowed_hosts=tuple(site.get("allowed_hosts", ())),
        **own,
    )
    source = make_source(cfg)
    assert isinstance(source, CmsSource)
    return source


@dataclass
class Reading:
    """What the bridge made of one detail page."""

    name: str
    fields: dict[str, Any]
    provenance: dict[str, str]
    problems: list[str]
    remarks: list[str]
    attachments: list[str]
    alarm: str | None = None


def read_detail(name: str, entry: dict[str, Any], site: dict[str, Any]) -> Reading:
    source = source_for(entry, site, listing=False)
    url = served(entry["url"])
    stem = urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    listed = ListEntry("c", url, stem, "")
    try:
        fetched = source.fetch_article(listed)
        assert not isinstance(fetched, type(None))
        if not isinstance(fetched, tuple):
            return Reading(name, {}, {}, [f"gone: {fetched}"], [], [], None)
        page, article = fetched
        links = parse.attachment_links(article.attachment_scopes, source.fetcher.allowed)
        stand_ins = [RawAttachment(n, u, "application/pdf", 1, "0" * 64) for n, u in links]
        raw = raw_item(source.name, listed, page, article, stand_ins)
        alarm = source.no_body if article.body is None else None
        made = draft(raw, source.cfg.profile(), now=NOW)
    finally:
        source.close()
    return Reading(
        name,
        made.fields,
        made.provenance,
        [str(p) for p in made.problems],
        list(made.remarks),
        [n for n, _ in links],
        alarm,
    )


@dataclass
class Listing:
    name: str
    entries: list[ListEntry]
    page_count: int | None


def read_list(name: str, entry: dict[str, Any], site: dict[str, Any]) -> Listing:
    source = source_for(entry, site, listing=True)
    try:
        first = next(iter(source.list_pages("c", conditional=False)))
    finally:
        source.close()
    return Listing(name, list(first.entries), first.page_count)


# --- scoring ----------------------------------------------------------------------------------


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _norm(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ("created", "published"):
        return _date(value)
    if name == "topic":
        return compact(str(value)).replace("/", "\\").replace("／", "\\")
    if name in ("index_no", "doc_no"):
        return compact(str(value))
    return clean_text(str(value))


def judge(name: str, reading: Reading, expected: dict[str, Any]) -> str:
    """right, wrong or missing, for one field of one page."""
    if name == "attachments":
        want = expected.get("attachments") or {"count": 0, "names": []}
        return "right" if len(reading.attachments) == want["count"] else "wrong"
    if name == "summary":
        start = compact(expected.get("summary_start") or "")[:12]
        got = compact(reading.fields.get("summary") or "")
        if not got:
            return "missing"
        return "right" if got.startswith(start) else "wrong"
    want = _norm(name, expected.get(name))
    accepted = {_norm(name, v) for v in (expected.get("accept") or {}).get(name, [])}
    value = _norm(name, reading.fields.get(name))
    how = reading.provenance.get(name, "")
    shown = how.startswith(FROM_THE_PAGE)
    if want is None:
        # The page shows none: right unless the bridge claims the page shows one.
        return "wrong" if shown and value is not None and value not in accepted else "right"
    if value is not None and (value == want or value in accepted) and shown:
        return "right"
    if value is None or not shown:
        return "missing"
    return "wrong"


@dataclass
class Scores:
    details: list[tuple[Reading, dict[str, Any]]] = field(default_factory=list)
    lists: list[tuple[Listing, dict[str, Any]]] = field(default_factory=list)

    def tally(self, name: str) -> Counter[str]:
        counted = [(r, e) for r, e in self.details if name != "summary" or e.get("summary_start")]
        return Counter(judge(name, r, e) for r, e in counted)

    def list_checks(self, listing: Listing, expected: dict[str, Any]) -> dict[str, bool]:
        on_site = expected["entries"] - expected.get("entries_off_site", 0)
        first = listing.entries[0] if listing.entries else None
        if on_site == 0:  # a list filled by script: the page itself lists nothing
            return {"entries": not listing.entries}
        checks = {
            "entries": len(listing.entries) == on_site,
            "first title": first is not None and first.list_title == expected["first_title"],
            "first link": first is not None
            and _key(first.url) == _key(served(absolute(expected["url"], expected["first_url"]))),
            "first date": first is not None and _list_date(first.list_date, expected),
        }
        if expected.get("page_count") is not None:
            checks["page count"] = listing.page_count == expected["page_count"]
        return checks

    def table(self) -> str:
        """The markdown table the README quotes."""
        rows = ["| field | right | wrong | missing | right % |", "|---|---:|---:|---:|---:|"]
        for name in (*FIELDS, *MORE_FIELDS):
            t = self.tally(name)
            total = sum(t.values())
            share = 100 * t["right"] / total if total else 0
            rows.append(
                f"| {name} | {t['right']} | {t['wrong']} | {t['missing']} | {share:.0f} % |"
            )
        checks = [self.list_checks(listing, e) for listing, e in self.lists]
        for check in ("entries", "first title", "first link", "first date", "page count"):
            done = [c[check] for c in checks if check in c]
            rows.append(
                f"| list: {check} | {sum(done)} | {len(done) - sum(done)} | 0 | "
                f"{100 * sum(done) / len(done) if done else 0:.0f} % |"
            )
        return "\n".join(rows)


def absolute(base: str, url: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, url)


def _list_date(shown: str | None, expected: dict[str, Any]) -> bool:
    if not shown:
        return False
    try:
        found = parse_date(shown, today=NOW.date())
    except DateError:
        return False
    want = date.fromisoformat(expected["first_date"])
    if re.fullmatch(r"[\[(（【]?\s*\d{1,2}-\d{1,2}\s*[\])）】]?", shown):
        return (found.month, found.day) == (want.month, want.day)  # the list shows no year
    return found == want


def score() -> Scores:
    pages, sites = load()
    scores = Scores()
    with proxied(pages):
        for name, entry in sorted(pages.items()):
            site = sites[entry["site"]]
            if entry["kind"] == "detail":
                scores.details.append((read_detail(name, entry, site), entry))
            else:
                scores.lists.append((read_list(name, entry, site), entry))
    return scores


if __name__ == "__main__":
    print(score().table())
