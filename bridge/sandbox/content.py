"""What the sandbox bureau's editors type into their CMS: titles, 文号, bodies, attachments.

The bridge learns 体裁 from a title's ending, 文号 and 成文日期 from the body or the metadata
table, and attachment identity from the bytes, so the generated items follow the bureau's real
habits closely: titles end in a genre word, 文号 take the bureau's forms with the 成文 year, bodies
are official prose with addressee, numbered sections, issuer and date, and attachment files
start like the Office and PDF files real sites carry. The phrases live in data/phrases.json,
the bodies are built in content_body.py; this module decides what each item is.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from bridge.sandbox.content_body import CITY_OFFICE, PUBLISHER, Body, cn_number, paragraph

DATA_DIR = Path(__file__).with_name("data")

ORG_CODE = "002949236"  # the bureau's 组织机构代码 (valid GB 11714 check digit)
USCC = "11330281002949236M"
"""The bureau's 18-character 统一社会信用代码 (GB 32100, valid check character): the site's
CMS has numbered its 索引号 with it since 2015 (``USCC/<year>-<5-digit serial>``), while the
sandbox portal is configured with the old 9-character code 002949236 and mints with that,
so a number the portal mints never collides with a number the site shows."""


def unit_code(n: int) -> str:
    """The 统一社会信用代码 of another unit of 余姚 (a department of the city's own sites):
    a 机关 code of division 330281 with a made-up 主体标识码, both check characters right."""
    from bridge.catalog import with_check_character

    return with_check_character("11330281" + with_check_character(f"{900000 + n:08d}"))


SEED_TITLE = "2012年度市教育局政府信息公开总结"
SEED_CREATED = date(2012, 12, 3)
SEED_PUBLISHED = datetime(2012, 12, 5, 15, 42)

GENRE_WORDS = (
    "统计数据", "通知", "公告", "通告", "意见", "决定", "规定", "办法", "细则", "规划",
    "计划", "方案", "报告", "总结", "要点", "通报", "批复", "公示", "公报",
)  # fmt: skip
"""Every generated title ends in one of these (公报 is the genre of 统计公报)."""

GROUPS = {
    "通知": "notice", "公告": "notice", "通告": "notice", "意见": "opinion", "决定": "decision",
    "规定": "articles", "办法": "articles", "细则": "articles", "规划": "plan", "计划": "plan",
    "方案": "plan", "要点": "plan", "报告": "report", "总结": "report", "通报": "bulletin",
    "批复": "reply", "公示": "publicity", "统计数据": "stats", "公报": "stats",
}  # fmt: skip
"""How the body of each genre is built."""

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

DOC_NO_SHARE = {"jgzn": 0.5, "zcwj": 0.9, "ghjh": 0.8, "ywgz": 0.15, "tjsj": 0.05, "qt": 0.1}
"""Share of items with a 文号 per column: policy files and plans mostly, news rarely."""

DOC_PREFIXES = {"余教": 62, "余教发": 20, "余教办": 18}
MAX_DOC_NUMBER = 9999  # the bridge quarantines a 文号 outside 1-9999 (rule doc_no.form)
"""The bureau's own 文号 forms; 余政办发 is reserved for the city government office's files."""

META_TABLE_SHARE = 0.85
ATTACHMENT_SHARE = 0.35
CN_DATE_SHARE = 0.4  # with cn_dates: bodies whose 落款 date is 二〇一二年十二月三日
RARE_TITLE_SHARE = 0.15  # with rare_chars: titles naming a person with a GBK-only character


@cache
def phrases() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / "phrases.json").read_text(encoding="utf-8"))
    return data


def genre_of(title: str) -> str | None:
    """The genre word the title ends with, or None."""
    return next((g for g in GENRE_WORDS if title.endswith(g)), None)


def five_year_plan(year: int) -> str:
    """The 五年规划 a year belongs to (十二五 = 2011-2015)."""
    return f"十{cn_number(2 + (year - 2011) // 5)}五"


@dataclass(frozen=True)
class Draft:
    """One item as the editor saved it, before the CMS gives it an id and a URL."""

    title: str
    doc_no: str | None
    created: date
    topic: str
    has_meta_table: bool
    body_html: str
    attachments: tuple[tuple[str, bytes], ...]  # (display name with extension, file bytes)


def seed_report() -> Draft:
    """The bureau's real 2012 report (shared/seeds): no table, no 文号, the date in 汉字."""
    lines = (DATA_DIR / "seed_report_2012.txt").read_text(encoding="utf-8").splitlines()
    paras = [line.strip() for line in lines[1:] if line.strip()]
    return Draft(
        title=SEED_TITLE,
        doc_no=None,
        created=SEED_CREATED,
        topic="综合政务\\政务公开",
        has_meta_table=False,
        body_html="\n".join(paragraph(t) for t in paras),
        attachments=(),
    )


class Writer:
    """Drafts items one after another: titles unique in the site, 文号 serials rising.

    ``used_titles`` and ``doc_counters`` belong to the caller (the site manifest), so a later
    ``publish`` continues the same sequences.
    """

    def __init__(
        self,
        rng: random.Random,
        used_titles: set[str],
        doc_counters: dict[str, int],
        *,
        cn_dates: bool = False,
        rare_chars: bool = False,
    ):
        self.rng = rng
        self.used_titles = used_titles
        self.doc_counters = doc_counters
        self.cn_dates = cn_dates
        self.rare = rare_chars
        self._next_batch: dict[str, int] = {}  # title -> next batch number to try
        self._exhausted: set[tuple[str, int]] = set()  # (column, year) with no fresh titles
        self.p = phrases()
        if rare_chars:  # names with GBK-only characters: in titles and in bodies' name lists
            self.p = {**self.p, "given": self.p["given"] + self.p["rare_given"]}

    def draft(self, column: str, published: date) -> Draft:
        rng = self.rng
        created = published - timedelta(days=rng.choice((0, 0, 1, 1, 2, 3, 4, 5)))
        title = self._title(column, created.year)
        city = title.startswith(CITY_OFFICE)
        issuer = CITY_OFFICE if city else PUBLISHER
        doc_no = None
        if city or rng.random() < DOC_NO_SHARE[column]:
            doc_no = self._doc_no("余政办发" if city else self._prefix(), created.year)
        genre = genre_of(title) or "通知"
        names = self._attachment_names(GROUPS[genre], title, created.year)
        numeral = self.cn_dates and rng.random() < CN_DATE_SHARE
        body = Body(rng, self.p, title, genre, issuer, created, names, numeral).render(
            GROUPS[genre]
        )
        if doc_no:
            body = paragraph(doc_no, "center") + "\n" + body
        files = tuple((name, attachment_bytes(name.rsplit(".", 1)[1], rng)) for name in names)
        topic = "综合政务\\政务公开" if column == "qt" else "科技、教育\\教育"
        has_table = rng.random() < META_TABLE_SHARE
        return Draft(title, doc_no, created, topic, has_table, body, files)

    def _title(self, column: str, year: int) -> str:
        """A fresh title; after many collisions a batch number keeps it unique."""
        if (column, year) in self._exhausted:
            return self._next_batch_title(column, year)
        for attempt in range(60):
            pool = self.p["titles"][column]
            if self.rare and self.rng.random() < RARE_TITLE_SHARE:
                pool = self.p["rare_titles"][column]
            title = self._fill(pool, year)
            if attempt >= 40:
                title = _batch(title, attempt - 38)
            if title not in self.used_titles:
                self.used_titles.add(title)
                return title
        # Only a very large site (tens of thousands of items) gets here; from now on its
        # titles of this column and year count batches on, without 60 draws each time.
        self._exhausted.add((column, year))
        return self._next_batch_title(column, year)

    def _next_batch_title(self, column: str, year: int) -> str:
        base = self._fill(self.p["titles"][column], year)
        k = self._next_batch.get(base, 22)
        while _batch(base, k) in self.used_titles:
            k += 1
        self._next_batch[base] = k + 1
        self.used_titles.add(_batch(base, k))
        return _batch(base, k)

    def _fill(self, pool: list[str], year: int) -> str:
        rng, p = self.rng, self.p
        template = rng.choice(pool)
        slots: dict[str, Any] = {
            "y": year, "py": year - 1, "y1": year + 1, "y2": year + 2, "fyp": five_year_plan(year),
            "school": rng.choice(p["schools"]), "town": rng.choice(p["towns"]),
            "thing": rng.choice(p["things"]), "proj": rng.choice(p["projects"]),
            "term": rng.choice(p["terms"]),
        }  # fmt: skip
        slots["doc"] = rng.choice(p["docs"]).format_map(slots)
        if "{rare}" in template:
            slots["rare"] = rng.choice(p["rare_names"])
        return template.format_map(slots)

    def _prefix(self) -> str:
        return self.rng.choices(list(DOC_PREFIXES), list(DOC_PREFIXES.values()))[0]

    def _doc_no(self, prefix: str, year: int) -> str | None:
        """The next 文号 of ``prefix`` in ``year``, skipping a few numbers (documents not
        published on the site). 文号 run from 1 to 9999: in a very large generated site
        (100,000 items) the skips close up near the end, then the item has none."""
        key = f"{prefix}|{year}"
        last = self.doc_counters.get(key, 0)
        number = last + self.rng.randint(1, 6)
        if number > MAX_DOC_NUMBER:
            number = last + 1
            if number > MAX_DOC_NUMBER:
                return None
        self.doc_counters[key] = number
        return f"{prefix}〔{year}〕{number}号"

    def _attachment_names(self, group: str, title: str, year: int) -> list[str]:
        if self.rng.random() >= ATTACHMENT_SHARE:
            return []
        pool = self.p["attachments"].get(group, self.p["attachments"]["other"])
        picks = self.rng.sample(pool, k=min(len(pool), self.rng.choice((1, 1, 2))))
        return [
            name.format(y=year, title=title) + "." + self.rng.choice(exts) for name, exts in picks
        ]


def _batch(title: str, k: int) -> str:
    """Insert （第k批） before the genre word, so the title still ends in it."""
    genre = genre_of(title) or ""
    stem = title[: len(title) - len(genre)]
    number = cn_number(k) if k < 100 else str(k)
    if stem.endswith("的"):
        return f"{stem[:-1]}（第{number}批）的{genre}"
    return f"{stem}（第{number}批）{genre}"


def attachment_bytes(ext: str, rng: random.Random) -> bytes:
    """Plausible, deterministic file bytes of 2-60 KB for an attachment of type ``ext``."""
    size = rng.randint(2048, 60 * 1024)
    if ext == "pdf":
        return _pdf(size, rng)
    if ext == "docx":
        return _docx(size, rng)
    # .doc / .xls: an OLE2 compound file header (what libmagic and browsers sniff), then sectors
    header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + bytes.fromhex("3e000300feff0900")
    header += b"\x06\x00" + bytes(512 - len(header) - 2)
    sectors = max(3, size // 512 - 1)
    return header + rng.randbytes(sectors * 512)


def _pdf(size: int, rng: random.Random) -> bytes:
    """A minimal valid one-page PDF whose content stream draws a table grid up to ``size``."""
    ops = [b"BT /F1 14 Tf 72 780 Td (Yuyao Education Bureau) Tj ET"]
    length = len(ops[0])
    # The loop draws like rng.randint(40, 760), randint(40, 300), randint(50, 250): randint
    # draws getrandbits(bit length) until the number is in range. Inlined, the same numbers
    # (the same bytes for a seed) come at a fifth of the cost, which 100,000-item sites need.
    bits = rng.getrandbits
    while length < size - 700:
        y = bits(10)
        while y >= 721:
            y = bits(10)
        x = bits(9)
        while x >= 261:
            x = bits(9)
        w = bits(8)
        while w >= 201:
            w = bits(8)
        ops.append(b"%d %d m %d %d l S" % (x + 40, y + 40, x + 90 + w, y + 40))
        length += len(ops[-1]) + 1
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % off for off in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _docx(size: int, rng: random.Random) -> bytes:
    """A minimal valid .docx (stored, fixed timestamps, so the bytes are deterministic)."""
    words = phrases()["sentences"]
    paras: list[str] = []
    length = 0
    while length < size - 1500:
        paras.append(f"<w:p><w:r><w:t>{rng.choice(words)}</w:t></w:r></w:p>")
        length += len(paras[-1].encode())
    text = "".join(paras)
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas'
        '.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType='
        '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        f'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="{main}"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>",
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        f'openxmlformats.org/wordprocessingml/2006/main"><w:body>{text}</w:body></w:document>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, xml in parts.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2012, 1, 1, 0, 0, 0)), xml)
    return out.getvalue()
