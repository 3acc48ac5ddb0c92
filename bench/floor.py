"""Child process: the floor. The bridge's backfill written directly, with nothing else.

The same work as ``bridge sync --once`` on an empty store and an empty portal, in one
thread, as plainly as Python allows, so that the bridge's CPU per item can be read
against what that work costs at least:

- the same requests to the site: ``robots.txt``, every column's ``index.html``,
  ``index_1.html`` … (the count from the page's ``createPageHTML`` call), every detail page
  a listing links into its column, every attachment (downloaded and sha256'd), over one
  keep-alive urllib3 ``PoolManager``;
- the same fields, read with lxml: title, 索引号, 发布机构, 生成日期 (or the body's 落款
  date), 文号 (or the body's head), 主题分类, the 发布时间 line, the page's keywords, the
  body (``div.TRS_Editor``, cleaned by nh3 with the bridge's allowlist), a summary of the
  body's text, the genre by the title's ending, and the attachment links of the body and
  the 附件 block;
- the same durability: SQLite in WAL mode with ``synchronous = NORMAL`` (the bridge's
  pragmas), items with their record, attachment bytes, every page's validators (ETag,
  Last-Modified) and a 4-event audit chain (discovered, changed, sent, confirmed;
  sha256-chained with the bridge's own ``chain_hash``) in plain tables, one commit per list
  page before its PUTs and one after them;
- the same portal calls: each attachment uploaded once (``POST /api/v1/files``), one
  signed ``PUT /api/v1/items/<id>`` per item (Portal API v1; the bridge's ``sign_headers``).

What it skips (the bridge does it, the floor does not): date, 文号 and 索引号 checks and
quarantine, the body-head rules (a date in Chinese numerals, the summary's furniture),
classification beyond the title's ending, provenance, the canonical re-serialization after
nh3, link absolutizing in the body, politeness (robots rules are fetched, not applied),
retries, leases, the run bookkeeping, and threads: one request at a time.

From the bridge it imports only ``bridge.net.signing.sign_headers``,
``bridge.audit.chain_hash`` (small and pure; the wire format must match) and
``bridge.catalog.GENRES``. The nh3 allowlist is copied (importing ``bridge.normalize``
costs 0.2 s); a test checks the copy. Prints one JSON line: items, requests, uploads,
created, wall and CPU seconds.

    python -m bench.floor --base http://127.0.0.1:8801/ --portal http://127.0.0.1:8802/ \\
        --key K --secret S --db /tmp/floor.db --columns zcwj:xxgk/zcwj/:政策文件,…
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import lxml.html
import nh3
import urllib3

from bridge.audit import GENESIS, canonical_details, chain_hash
from bridge.catalog import GENRES
from bridge.net.signing import sign_headers

TABLE_TAGS = {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
ALLOWED_TAGS = TABLE_TAGS | {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li"}
ALLOWED_TAGS |= {"blockquote", "hr", "br", "a", "span", "strong", "em", "b", "i", "u", "sub"}
ALLOWED_TAGS |= {"sup", "img"}
DROPPED_WITH_CONTENT = {
    "script", "style", "iframe", "frame", "frameset", "noframes", "object", "embed",
    "applet", "noembed", "noscript", "template", "svg", "math", "title", "xmp",
    "textarea", "select", "button", "head",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto", "ftp"}
LINK_REL = "noopener noreferrer"
CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=DROPPED_WITH_CONTENT,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)

PAGE_CALL = re.compile(r"createPageHTML\s*\(([^)]*)\)")
DETAIL = re.compile(r"/(?:\d{6}/)?(t\d{8}_\d+)\.s?html?$")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?")
FILE_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".zip", ".rar", ".txt", ".wps")
DOC_NO = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[（(]\d{4}[〕\]）)]\d{1,4}号")
CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
WS = re.compile(r"[\s\u3000\xa0]+")
LABEL_TRIM = re.compile(r"[\s\u3000\xa0:：]+")
LABELS = {"索引号": "index_no", "发布机构": "publisher", "生成日期": "created"}
LABELS |= {"成文日期": "created", "文号": "doc_no", "发文字号": "doc_no"}
LABELS |= {"标题": "title", "主题分类": "topic", "公开方式": "disclosure"}
ACTOR = "bridge floor"
SCHEMA = """
CREATE TABLE IF NOT EXISTS items (external_id TEXT PRIMARY KEY, url TEXT, column_key TEXT,
    title TEXT, index_no TEXT, content_hash TEXT, record TEXT, status TEXT, portal_version INT,
    delivered_at TEXT);
CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS uploads (sha256 TEXT PRIMARY KEY, file_id TEXT);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, ts TEXT, actor TEXT, event TEXT,
    source TEXT, item TEXT, details TEXT, prev_hash TEXT, hash TEXT);
"""


def clean(text: str | None) -> str:
    return WS.sub(" ", text or "").strip()


class Floor:
    """One backfill: the site's columns → SQLite → the portal."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.base = args.base if args.base.endswith("/") else args.base + "/"
        self.portal = args.portal if args.portal.endswith("/") else args.portal + "/"
        self.key, self.secret, self.source = args.key, args.secret, args.source
        self.publisher = args.publisher
        self.http = urllib3.PoolManager(maxsize=1, retries=False, timeout=30.0)
        self.db = sqlite3.connect(args.db, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(SCHEMA)
        self.prev, self.last_id = GENESIS, 0
        self.uploaded: dict[str, str] = {}
        self.validators: list[tuple[str, str | None, str | None]] = []  # pages read, to store
        self.counts = {"items": 0, "requests": 0, "uploads": 0, "created": 0, "failed": 0}

    # -- the site --------------------------------------------------------------------

    def get(self, url: str, *, page: bool = False) -> bytes:
        """A 200 answer's body; a ``page``'s validators are kept for the store, as the
        bridge keeps them for revalidation."""
        self.counts["requests"] += 1
        r = self.http.request("GET", url)
        if r.status != 200:
            raise RuntimeError(f"GET {url}: {r.status}")
        if page:
            self.validators.append((url, r.headers.get("ETag"), r.headers.get("Last-Modified")))
        return bytes(r.data)

    def listings(self, key: str, path: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """(list page URL, [(detail URL, article id)]) of one column, page by page."""
        column = urljoin(self.base, path)
        folder = urlsplit(column).path
        number, count = 0, 1
        while number < count:
            url = column + ("index.html" if number == 0 else f"index_{number}.html")
            data = self.get(url, page=True)
            doc = lxml.html.fromstring(data, base_url=url)
            if number == 0 and (m := PAGE_CALL.search(data.decode("utf-8", "replace"))):
                numbers = [a.strip().strip("\"'") for a in m.group(1).split(",")]
                count = next((int(a) for a in numbers if a.isdigit()), 1)
            found: list[tuple[str, str]] = []
            seen: set[str] = set()
            for a in doc.iter("a"):
                absolute = urljoin(url, (a.get("href") or "").split("#")[0])
                m = DETAIL.search(urlsplit(absolute).path)
                if m and urlsplit(absolute).path.startswith(folder) and m[1] not in seen:
                    seen.add(m[1])
                    found.append((absolute, m[1]))
            yield url, found
            number += 1

    def read(self, url: str, article_id: str, key: str, category: str) -> dict[str, Any]:
        """The record of one detail page, its attachments downloaded (``_files``)."""
        data = self.get(url, page=True)
        doc = lxml.html.fromstring(data, base_url=url)
        meta: dict[str, str] = {}
        for cell, following in pairwise(doc.iter("td", "th")):
            name = LABELS.get(LABEL_TRIM.sub("", cell.text_content()))
            if name and name not in meta:
                meta[name] = clean(following.text_content())
        h1 = doc.find_class("title")
        title = clean(h1[0].text_content()) if h1 else meta.get("title", "")
        info = doc.find_class("info")
        published = DATETIME.search(info[0].text_content()) if info else None
        bodies = doc.find_class("TRS_Editor")
        body = bodies[0] if bodies else None
        blocks = [body] if body is not None else []
        blocks += doc.find_class("attachments")
        files, seen = [], set()
        for block in blocks:
            for a in block.iter("a"):
                href = urljoin(url, a.get("href") or "")
                if href.lower().endswith(FILE_EXTENSIONS) and href not in seen:
                    seen.add(href)
                    content = self.get(href)
                    name = clean(a.text_content()) or href.rsplit("/", 1)[-1]
                    files.append(
                        {
                            "name": name,
                            "url": href,
                            "media_type": mimetypes.guess_type(name)[0]
                            or "application/octet-stream",
                            "size": len(content),
                            "sha256": hashlib.sha256(content).hexdigest(),
                            "_data": content,
                        }
                    )
        body_html = (
            CLEANER.clean(lxml.html.tostring(body, encoding="unicode")) if body is not None else ""
        )
        text = clean(body.text_content()) if body is not None else ""
        when = published[0] if published else None
        # What the page's table lacks, the body says: the 文号 at its head, the date of the
        # 落款 at its end (the bridge reads them there too, with more care).
        created = meta.get("created") or body_date(body) or (when or "")[:10]
        doc_no = meta.get("doc_no") or ((m := DOC_NO.search(text[:200])) and m[0]) or None
        keywords = doc.xpath('string(//meta[@name="keywords"]/@content)')
        return {
            "external_id": f"{self.source}:{article_id}",
            "index_no": meta.get("index_no") or None,
            "title": title,
            "summary": text[:120],
            "publisher": meta.get("publisher") or self.publisher,
            "created": created,
            "published": iso_time(when),
            "doc_no": doc_no,
            "category": category,
            "topic": meta.get("topic") or "科技、教育\\教育",
            "genre": next((g for g in GENRES if title.endswith(g)), "其他"),
            "keywords": [k for k in re.split(r"[,，]", keywords) if k.strip()],
            "disclosure": meta.get("disclosure") or "主动公开",
            "scope": "面向全社会",
            "validity": "有效",
            "body_html": body_html,
            "attachments": files,
            "source": {
                "name": self.source,
                "column": key,
                "url": url,
                "article_id": article_id,
                "fetched_at": datetime.now(UTC).isoformat(),
            },
        }

    # -- the store -------------------------------------------------------------------

    def audit(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        rows = []
        for event, item, details in events:
            self.last_id += 1
            ts = datetime.now(UTC)
            text = canonical_details(details)
            digest = chain_hash(self.prev, self.last_id, ts, ACTOR, event, self.source, item, None, text)  # fmt: skip
            rows.append((self.last_id, ts.isoformat(), ACTOR, event, self.source, item, text, self.prev, digest))  # fmt: skip
            self.prev = digest
        self.db.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def record(self, records: list[dict[str, Any]]) -> None:
        """A list page's items, their files and their first three events: one commit."""
        items, blobs, events = [], [], []
        for r in records:
            wire = json.dumps(
                {k: v for k, v in r.items() if k != "source"}
                | {"attachments": [{k: v for k, v in a.items() if k != "_data"} for a in r["attachments"]]},
                ensure_ascii=False, sort_keys=True,
            )  # fmt: skip
            digest = hashlib.sha256(wire.encode()).hexdigest()
            xid, src = r["external_id"], r["source"]
            items.append((xid, src["url"], src["column"], r["title"], r["index_no"], digest, wire, "pending"))  # fmt: skip
            blobs += [(a["sha256"], a["_data"]) for a in r["attachments"]]
            events.append(("item.discovered", xid, {"url": src["url"], "column": src["column"], "title": r["title"]}))  # fmt: skip
            events.append(("record.changed", xid, {"version": 1, "content_hash": digest}))
            events.append(("delivery.sent", xid, {"action": "put", "version": 1, "attempt": 1}))
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO items (external_id, url, column_key, title, index_no, content_hash,"
            " record, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            items,
        )
        self.db.executemany("INSERT OR IGNORE INTO blobs VALUES (?, ?)", blobs)
        self.db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)", self.validators)
        self.validators.clear()
        self.audit(events)
        self.db.execute("COMMIT")

    def confirm(self, answers: list[tuple[str, dict[str, Any]]], uploads: list[Any]) -> None:
        now = datetime.now(UTC).isoformat()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT OR IGNORE INTO uploads VALUES (?, ?)", uploads)
        self.db.executemany(
            "UPDATE items SET status = 'delivered', index_no = ?, portal_version = ?,"
            " delivered_at = ? WHERE external_id = ?",
            [(a.get("index_no"), a.get("version"), now, xid) for xid, a in answers],
        )
        self.audit([("delivery.confirmed", xid, {"action": "put", "version": 1, "answer": a}) for xid, a in answers])  # fmt: skip
        self.db.execute("COMMIT")

    # -- the portal ------------------------------------------------------------------

    def call(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        headers |= sign_headers(self.key, self.secret, method, path, body)
        r = self.http.request(method, self.portal + path.lstrip("/"), body=body, headers=headers)
        if not 200 <= r.status < 300:
            self.counts["failed"] += 1
            raise RuntimeError(f"{method} {path}: {r.status} {r.data[:300]!r}")
        return json.loads(r.data)

    def deliver(self, records: list[dict[str, Any]]) -> None:
        answers, uploads = [], []
        for r in records:
            attachments = []
            for a in r["attachments"]:
                data = a.pop("_data")
                if (file_id := self.uploaded.get(a["sha256"])) is None:
                    headers = {"X-File-Name": quote(a["name"], safe=""), "X-File-Sha256": a["sha256"]}  # fmt: skip
                    headers["Content-Type"] = a["media_type"]
                    file_id = self.call("POST", "/api/v1/files", data, headers)["file_id"]
                    self.uploaded[a["sha256"]] = file_id
                    uploads.append((a["sha256"], file_id))
                    self.counts["uploads"] += 1
                attachments.append(a | {"file_id": file_id})
            wire = r | {"attachments": attachments}
            body = json.dumps(wire, ensure_ascii=False, sort_keys=True).encode()
            path = "/api/v1/items/" + quote(r["external_id"], safe="")
            answer = self.call("PUT", path, body, {"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
            self.counts["created"] += answer.get("status") == "created"
            answers.append((r["external_id"], answer))
        self.confirm(answers, uploads)

    def run(self, columns: list[tuple[str, str, str]], limit: int | None) -> None:
        self.get(urljoin(self.base, "robots.txt"))
        for key, path, category in columns:
            for _url, found in self.listings(key, path):
                if limit is not None:
                    found = found[: max(limit - self.counts["items"], 0)]
                records = [self.read(url, article_id, key, category) for url, article_id in found]
                if records:
                    self.record(records)
                    self.deliver(records)
                    self.counts["items"] += len(records)


def iso_time(text: str | None) -> str | None:
    """``2025-02-26 17:31`` as the bridge sends it: ``2025-02-26T17:31:00+08:00``."""
    if not text:
        return None
    if len(text) == 10:
        return text + "T00:00:00+08:00"
    return text.replace(" ", "T") + (":00" if len(text) == 16 else "") + "+08:00"


def body_date(body: Any) -> str | None:
    """The last paragraph of a body that is a date alone (the 落款's), as YYYY-MM-DD."""
    if body is None:
        return None
    for p in reversed(body.findall("p")[-3:]):
        if m := CN_DATE.match(clean(p.text_content())):
            return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    return None


def parse_columns(text: str) -> list[tuple[str, str, str]]:
    """``key:path:category,…`` as the config lists them."""
    out = []
    for part in filter(None, text.split(",")):
        key, path, category = part.split(":", 2)
        out.append((key, path, category))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the site's base URL")
    parser.add_argument("--portal", required=True, help="the portal's base URL")
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--db", required=True, type=Path, help="the SQLite file to write")
    parser.add_argument("--columns", required=True, type=parse_columns, help="key:path:category,…")
    parser.add_argument("--source", default="yyedu", help="external ids are SOURCE:article id")
    parser.add_argument("--publisher", default="余姚市教育局", help="when a page names none")
    parser.add_argument("--limit", type=int, help="stop after this many items")
    args = parser.parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    floor = Floor(args)
    try:
        floor.run(args.columns, args.limit)
    except (RuntimeError, urllib3.exceptions.HTTPError, sqlite3.Error) as exc:
        print(f"floor: {exc}", file=sys.stderr)
        return 1
    finally:
        floor.db.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps(floor.counts | {"wall": wall, "cpu": cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
