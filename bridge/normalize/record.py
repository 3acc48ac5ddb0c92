"""``normalize()``: what a page says (``RawItem``) → the catalog record (``CatalogRecord``).

Pure: no I/O, no clock unless ``now`` is left out (then the time the page was read
stands in for "now", so normalizing the same page again gives the same record).

Every field problem is collected before anything is raised: an operator fixing a
quarantined item should see all that is wrong with it at once, not one fault per resync.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin

from bridge.catalog import (
    CATEGORIES,
    DISCLOSURE_MODES,
    INDEX_NO_MAX,
    INDEX_NO_RE,
    VALIDITY,
    Attachment,
    CatalogRecord,
    NormalizeProfile,
    SourceRef,
    index_no_remarks,
)
from bridge.errors import Skippable
from bridge.filename import attachment_name
from bridge.labels import FIELD_LABELS, NONE_VALUES
from bridge.normalize.body_head import read_head, summary_source
from bridge.normalize.classify import classify, genre_of
from bridge.normalize.dates import (
    SHANGHAI,
    DateError,
    find_document_date,
    parse_date,
    parse_datetime,
    today_in_shanghai,
)
from bridge.normalize.docno import doc_no_problem, find_doc_no, is_absent, normalize_doc_no
from bridge.normalize.fields import (
    FieldProblem,
    Fields,
    clean_meta,
    read_choice,
    read_keywords,
    read_publisher,
    read_scope,
    read_topic,
)
from bridge.normalize.sanitize import ImageFilter, sanitize_and_read, scope_filter
from bridge.normalize.summary import make_summary
from bridge.raw import RawAttachment, RawItem
from bridge.text import (
    clean_body_text,
    clean_text,
    compact,
    title_from_doc_title,
    without_markup,
    without_site,
)

DOC_NO_HEAD_CHARS = 200
"""A 文号 of the document itself stands above its first paragraph."""
TRUNCATION_MARKS = ("...", "…")
"""List pages cut long titles and mark the cut; such text is never a title."""
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DIGIT = re.compile(r"\d")


class QuarantineError(Skippable):
    """The page does not make a valid record; ``problems`` lists every reason."""

    def __init__(self, problems: list[FieldProblem], url: str) -> None:
        self.problems = list(problems)
        self.url = url
        super().__init__(f"quarantined {url}: " + "; ".join(str(p) for p in self.problems))


def _title(raw: RawItem, f: Fields, head_title: str | None, problems: list[FieldProblem]) -> str:
    """The 标题/名称 field, ArticleTitle (the CMS's own title field; a template's heading
    may be the site's logo), the heading, the list's title if it is whole, the
    ``<title>`` without the site's name, the line above the 发布时间 line."""
    listed = clean_text(raw.list_title)
    for value, how in _title_candidates(raw, f, head_title, listed):
        # Markup written as text (a meta tag's content, an escaped heading) is no title.
        if text := clean_text(without_markup(value)):
            return f.take("title", text, how)
    message = "no title on the detail page"
    if listed:
        message += f", and the list title {listed!r} is truncated"
    problems.append(FieldProblem("title", "title.required", message))
    return ""


def _title_candidates(
    raw: RawItem, f: Fields, head_title: str | None, listed: str
) -> Iterator[tuple[str, str]]:
    """(text, provenance) by preference, each read only if those before it are empty."""
    if found := f.labelled("title"):
        yield found[1], f"page:{found[0]}"
    site = f.page_meta.get("SiteName", "")
    yield without_site(f.tagged("title") or "", site), "meta:ArticleTitle"
    yield raw.title, "page:heading"
    if not listed.endswith(TRUNCATION_MARKS):
        yield listed, "list"
    yield title_from_doc_title(raw.doc_title, site), "page:<title>"
    yield head_title or "", "body"


def _published(f: Fields, list_date: str | None, today: date) -> tuple[datetime | None, str | None]:
    """(publication time, provenance): 发布日期/发布时间, PubDate, the list's date."""
    labelled = [(f.meta.get(k), f"page:{k}") for k in FIELD_LABELS["published"]]
    for text, how in [*labelled, (f.tagged("published"), "meta:PubDate"), (list_date, "list")]:
        if text:
            try:
                return parse_datetime(text, today=today), how
            except DateError:
                continue
    return None, None


_MONTH_DAY = re.compile(r"^[\[(（【]?\s*\d{1,2}-\d{1,2}\s*[\])）】]?$")


def _dated_by_context(
    published: datetime | None, how: str | None, list_date: str | None, created: date | None,
    today: date,
) -> datetime | None:  # fmt: skip
    """A list date without a year (``12-05``) takes its year from the document's own date,
    not from today: an item made on 2012-12-03 and listed as 12-05 was published on
    2012-12-05. Without such a date it stays the latest one not after today."""
    if (
        published is None
        or created is None
        or how != "list"
        or not _MONTH_DAY.match(list_date or "")
    ):
        return published
    for year in (created.year, created.year + 1):
        try:
            candidate = published.replace(year=year)
        except ValueError:  # 02-29 in a year without it
            continue
        if created <= candidate.date() <= today:
            return candidate
    return published


def _created(
    f: Fields,
    body_text: str,
    published: datetime | None,
    today: date,
    problems: list[FieldProblem],
) -> date | None:
    """成文日期 and its kin; the date the body's 落款 states; else the publication day,
    marked ``derived:published`` so an auditor can tell it from a date the page shows."""
    rejected: list[str] = []
    found: date | None = None
    for key in FIELD_LABELS["created"]:
        if key in f.meta:
            try:
                found = parse_date(f.meta[key], today=today)
                f.take("created", "", f"page:{key}")
                break
            except DateError as exc:
                rejected.append(f"meta {key} {f.meta[key]!r} is not a date ({exc.reason})")
    if found is None and (found := find_document_date(body_text)) is not None:
        f.take("created", "", "body")
    if found is None and published is not None and not rejected:
        # Not when the page states a 生成日期 that is no date: the publication day would
        # be a guess filed as the 成文日期 (and the 索引号 year), so the page must be fixed.
        found = published.astimezone(SHANGHAI).date()
        f.take("created", "", "derived:published")
    if found is None:
        message = "; ".join(["no 生成日期 found", *rejected])
        problems.append(FieldProblem("created", "created.required", message))
    elif found > today:
        problems.append(
            FieldProblem("created", "created.future", f"生成日期 {found} is after {today}")
        )
    return found


_LOOSE_DOC_NO = re.compile(r"^[\u4e00-\u9fa5]{1,12}(?:19|20)\d{2}\D{0,2}[0-9]{1,5}号$")
"""A 文号 with its year outside brackets (岚财金2017.135号, 余教2012年12号): the site's own
spelling of a real number, kept as written (with a remark), not a reason to quarantine."""


def _doc_no(
    f: Fields, body_text: str, title: str, problems: list[FieldProblem], remarks: list[str]
) -> str | None:
    cells = [(key, f.meta[key]) for key in FIELD_LABELS["doc_no"] if key in f.meta]
    stated = [(key, value) for key, value in cells if not is_absent(value)]
    if stated:
        key, value = stated[0]
        doc_no = normalize_doc_no(value)
        if reason := doc_no_problem(doc_no):
            if _LOOSE_DOC_NO.match(doc_no):
                remarks.append(f"文号 {doc_no}: {reason}; kept as the page shows it")
                return f.take("doc_no", doc_no, f"page:{key}")
            message = f"meta {key} {value!r} is out of form: {reason}"
            problems.append(FieldProblem("doc_no", "doc_no.form", message))
            return None
        f.take("doc_no", "", f"page:{key}")
        return doc_no
    if cells:  # the page says 无: the document has no number
        f.take("doc_no", "", f"page:{cells[0][0]}")
        return None
    if found := find_doc_no(body_text[:DOC_NO_HEAD_CHARS]):
        return f.take("doc_no", found, "body")
    if found := find_doc_no(title):
        return f.take("doc_no", found, "title")
    return None


def _index_no(f: Fields) -> tuple[str | None, list[str]]:
    """The page's own 索引号 as written (trimmed), and what is not standard about it."""
    found = f.labelled("index_no")
    index_no = compact(found[1]) if found else ""
    if not found or index_no.lower() in NONE_VALUES or not _DIGIT.search(index_no):
        return None, []  # 无, 暂无, 无索引号, —/—: a placeholder, never a number to keep
    f.take("index_no", "", f"page:{found[0]}")
    if len(index_no) > INDEX_NO_MAX:
        shown = index_no[:INDEX_NO_MAX] + "…"
        return None, [f"索引号 {shown!r} is longer than {INDEX_NO_MAX} characters: not kept"]
    return index_no, [f"索引号 {index_no}: {r}" for r in index_no_remarks(index_no)]


def _summary(f: Fields, body_text: str, title: str, publisher: str, doc_no: str | None) -> str:
    if found := f.labelled("summary"):
        return f.take("summary", make_summary(found[1]), f"page:{found[0]}")
    if text := make_summary(summary_source(body_text, title, publisher, doc_no)):
        return f.take("summary", text, "body")
    if text := make_summary(body_text):  # a body that only repeats the title (详见附件 pages)
        return f.take("summary", text, "body")
    if tagged := f.tagged("summary"):
        return f.take("summary", make_summary(tagged), "meta:Description")
    return f.take("summary", "", "body")


def _attachment(a: RawAttachment, page_url: str, number: int) -> Attachment:
    try:
        url = urljoin(page_url, a.url.strip())
    except ValueError:  # a malformed host: keep what the page said, the record shows it
        url = a.url.strip()
    return Attachment(
        name=attachment_name(a.name, url, number),
        url=url,
        media_type=clean_text(a.media_type).lower(),
        size=a.size,
        sha256=a.sha256.strip().lower(),
    )


def _image_filter(profile: NormalizeProfile, page_url: str) -> ImageFilter | None:
    """Images stay in a body when they come from the source's scope (its base URL and
    ``allowed_hosts``, else the page's own origin), or when the source keeps them all."""
    if profile.keep_offsite_images:
        return None
    return scope_filter(profile.site or page_url, profile.allowed_hosts)


@dataclass(frozen=True)
class Draft:
    """What normalizing one page gave: the record's fields as far as they could be read,
    with their provenance, and every reason the record cannot be filed."""

    fields: dict[str, Any]
    provenance: dict[str, str]
    remarks: tuple[str, ...]
    problems: tuple[FieldProblem, ...]
    url: str

    def record(self) -> CatalogRecord:
        """The catalog record, or ``QuarantineError`` naming every problem."""
        if self.problems or self.fields.get("created") is None:
            raise QuarantineError(list(self.problems), self.url)
        return CatalogRecord(**self.fields, provenance=dict(self.provenance), remarks=self.remarks)


def normalize(
    raw: RawItem, profile: NormalizeProfile, *, now: datetime | None = None
) -> CatalogRecord:
    """The catalog record of ``raw``, or ``QuarantineError`` naming every problem.

    ``now`` anchors list dates written without a year and the "not in the future" check;
    it defaults to ``raw.fetched_at``.
    """
    return draft(raw, profile, now=now).record()


def draft(raw: RawItem, profile: NormalizeProfile, *, now: datetime | None = None) -> Draft:
    """Every field of ``raw``'s record that can be read, with provenance and problems."""
    today = today_in_shanghai(now or raw.fetched_at)
    problems: list[FieldProblem] = []
    f = Fields(clean_meta(raw.meta), {k: clean_text(v) for k, v in raw.page_meta.items()})
    # Dates, 文号 and summary are read from the canonical body (one line per block), so
    # re-wrapped source text cannot change them; the source's own text is the fallback.
    body_html, body_text, body_shows = sanitize_and_read(
        raw.body_html, raw.url, images=_image_filter(profile, raw.url)
    )
    body_text = body_text or clean_body_text(raw.body_text)
    head_title = read_head(body_text, f.meta)

    title = _title(raw, f, head_title, problems)
    published, published_how = _published(f, raw.list_date, today)
    if published_how:
        f.take("published", "", published_how)
    created = _created(f, body_text, published, today, problems)
    published = _dated_by_context(published, published_how, raw.list_date, created, today)
    index_no, remarks = _index_no(f)
    doc_no = _doc_no(f, body_text, title, problems, remarks)

    publisher = read_publisher(f, profile)
    if not publisher:
        problems.append(
            FieldProblem("publisher", "publisher.required", "no 发布机构 found, none configured")
        )

    category, classified_by = classify(raw.column, title, doc_no, profile)
    f.take("category", "", "config" if classified_by.startswith("column:") else "derived:rules")
    if category not in CATEGORIES:
        message = f"{category!r} (by rule {classified_by}) is not one of {', '.join(CATEGORIES)}"
        problems.append(FieldProblem("category", "category.form", message))

    if not body_shows:
        problems.append(FieldProblem("body", "body.required", "no text or image in the body"))
    if raw.replacement_chars:
        message = f"{raw.replacement_chars} undecodable characters: the charset was misread"
        problems.append(FieldProblem("body", "body.charset", message))
    elif raw.charset_how == "detected":
        # Detection is wrong on short Chinese text: a legal record is never filed on a guess.
        message = (
            f"no charset the page declares decodes it, nor the configured one; detection "
            f"guessed {raw.charset}: set the source's charset in the config, then run "
            "xxgk-bridge resync"
        )
        problems.append(FieldProblem("body", "body.charset", message))

    attachments = tuple(_attachment(a, raw.url, n) for n, a in enumerate(raw.attachments, 1))
    for a in attachments:
        if not _SHA256_RE.match(a.sha256):
            message = f"{a.name!r}: sha256 {a.sha256!r} is not 64 hex digits"
            problems.append(FieldProblem("attachments", "attachments.sha256", message))

    f.take("genre", "", "derived:title")
    fields: dict[str, Any] = {
        "external_id": f"{raw.source}:{raw.article_id}",
        "title": title,
        "summary": _summary(f, body_text, title, publisher, doc_no),
        "publisher": publisher,
        "created": created,
        "published": published,
        "doc_no": doc_no,
        "category": category,
        "topic": read_topic(f, profile.topic),
        "genre": genre_of(title),
        "body_html": body_html,
        "source": SourceRef(raw.source, raw.column, raw.url, raw.article_id, raw.fetched_at),
        "keywords": read_keywords(f, profile.keywords),
        "disclosure": read_choice(f, "disclosure", DISCLOSURE_MODES, "主动公开"),
        "validity": read_choice(f, "validity", VALIDITY, "有效"),
        "attachments": attachments,
        "index_no": index_no,
        "classified_by": classified_by,
    }
    fields["scope"] = read_scope(f)
    return Draft(fields, f.provenance, tuple(remarks), tuple(problems), raw.url)


def index_no_problem(index_no: str, *, org_code: str, created: date) -> str | None:
    """Why ``index_no`` does not fit a record made on ``created`` by ``org_code``, or None.

    For the allocator and for 索引号 read back from a portal: the year must be the 成文
    year (DESIGN.md §4), not the year the item was uploaded.
    """
    if not INDEX_NO_RE.match(index_no):
        return f"索引号 {index_no!r} is not <9-char org code>/<YYYY>-<5-digit serial>"
    code, _, rest = index_no.partition("/")
    if code != org_code:
        return f"索引号 {index_no!r} has org code {code!r}, expected {org_code!r}"
    if int(rest[:4]) != created.year:
        return (
            f"索引号 {index_no!r} has year {rest[:4]}, but the document was made in {created.year}"
        )
    return None
