"""Child process: the peer. A plain Scrapy spider over the same TRS site; prints one JSON line.

It extracts what the bridge's TRS source extracts — full title, date, 文号, the metadata
table, the body and the attachment links — with Scrapy's own selectors (parsel on lxml),
following every column's ``index.html``, ``index_1.html`` … and every detail link.
With ``--files`` it also downloads each attachment and hashes it, as the bridge does.

Settings that matter for the comparison are set explicitly below; everything else is
Scrapy's default (no feed export: items are counted and dropped, as in the bridge's
adapter mode).

    python -m bench.scrapy_spider --base http://127.0.0.1:8801/ --concurrency 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from bench.sites import BASE_COLUMNS

PAGE_CALL = re.compile(r"createPageHTML\s*\(([^)]*)\)")
DETAIL = re.compile(r"/(?:\d{6}/)?(t\d{8}_\d+)\.s?html?$")
FILE_EXTENSIONS = (".pdf", ".doc", ".docx", ".xls", ".xlsx", ".zip", ".rar", ".txt", ".wps")
WS = re.compile(r"[\s\u3000\xa0]+")
LABEL_TRIM = re.compile(r"[\s\u3000\xa0:：]+")


def clean(text: str | None) -> str:
    return WS.sub(" ", text or "").strip()


class TrsSpider(scrapy.Spider):
    """Listings → detail pages → one item per detail page (and, optionally, its files)."""

    name = "trs"

    def __init__(self, base: str, columns: list[str], files: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base
        self.column_paths = columns
        self.files = files
        self.fields: Counter[str] = Counter()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for path in self.column_paths:
            yield scrapy.Request(self.base + path + "index.html", self.parse_listing)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        if response.url.endswith("/index.html"):  # the first page says how many there are
            m = PAGE_CALL.search(response.text)
            numbers = [a.strip().strip("\"'") for a in m.group(1).split(",")] if m else []
            count = next((int(a) for a in numbers if a.isdigit()), 1)
            for n in range(1, count):
                yield response.follow(f"index_{n}.html", self.parse_listing)
        for href in response.css("a::attr(href)").getall():
            if DETAIL.search(href.split("?")[0].split("#")[0]):
                yield response.follow(href, self.parse_detail)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        meta: dict[str, str] = {}
        cells = response.css("table td, table th")
        texts = [clean(" ".join(c.css("::text").getall())) for c in cells]
        for i, text in enumerate(texts[:-1]):
            label = LABEL_TRIM.sub("", text)
            if 2 <= len(label) <= 6 and text.rstrip().endswith(("：", ":")):
                meta.setdefault(label, texts[i + 1])
        title = clean(" ".join(response.css("h1.title ::text").getall())) or meta.get("标题", "")
        info = clean(" ".join(response.css(".info ::text").getall()))
        published = re.search(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?", info)
        body = response.css("div.TRS_Editor").get() or ""
        links = []
        for a in response.css("div.TRS_Editor a, .attachments a"):
            href = a.attrib.get("href", "")
            if href.lower().endswith(FILE_EXTENSIONS):
                links.append({"name": clean(a.css("::text").get()), "url": response.urljoin(href)})
        item = {
            "url": response.url,
            "title": title,
            "date": meta.get("生成日期") or meta.get("成文日期") or "",
            "published": published.group(0) if published else "",
            "doc_no": meta.get("文号") or meta.get("发文字号") or "",
            "meta": meta,
            "body": body,
            "attachments": links,
        }
        self.fields.update(
            {
                "title": bool(item["title"]),
                "date": bool(item["date"]),
                "doc_no": bool(item["doc_no"]),
                "published": bool(item["published"]),
                "meta_table": bool(meta.get("索引号")),
                "body": bool(body.strip()),
                "attachment_links": len(links),
            }
        )
        yield item
        if self.files:
            for link in links:
                yield scrapy.Request(link["url"], self.parse_file)

    def parse_file(self, response: Response) -> Iterator[Any]:
        hashlib.sha256(response.body).hexdigest()
        return iter(())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the site's base URL, ending in /")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--files", action="store_true", help="download attachments too")
    parser.add_argument("--columns", default=",".join(p for _, p, _ in BASE_COLUMNS))
    args = parser.parse_args()
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,  # = the bridge's concurrency
            "DOWNLOAD_DELAY": 0,  # the bridge's rate limit is lifted too
            "AUTOTHROTTLE_ENABLED": False,
            "ROBOTSTXT_OBEY": True,  # the bridge reads robots.txt as well
            "USER_AGENT": "bench-scrapy (+bridge benchmark)",
            "LOG_LEVEL": "INFO",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(TrsSpider)
    process.crawl(crawler, base=args.base, columns=args.columns.split(","), files=args.files)
    wall, cpu = time.perf_counter(), time.process_time()
    process.start()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    print(
        json.dumps(
            {
                "items": stats.get("item_scraped_count", 0),
                "requests": stats.get("downloader/request_count", 0),
                "fields": dict(spider.fields) if isinstance(spider, TrsSpider) else {},
                "wall": wall,
                "cpu": cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
