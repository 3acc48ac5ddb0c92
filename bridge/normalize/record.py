"""``normalize()``: what a page says (``RawItem``) → the catalog record (``CatalogRecord``).

Pure: no I/O, no clock unless ``now`` is left out (then the time the page was read
stands in for "now", so normalizing the same page again gives the same record).

Every field problem is collected before anything is raised: an operator fixing a
quarantined item should see all that is wrong with it at once, not one fault per resync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from bridge.catalog import (
    CATEGORIES,
    DISCLOSURE_MODES,
    INDEX_NO_RE,
    VALIDITY,
    Attachment,
    CatalogRecord,
    NormalizeProfile,
    SourceRef,
)
from bridge.errors import Skippable
from bridge.normalize.classify import classify, genre_of
from bridge.normalize.dates import (
    SHANGHAI,
    DateError,
    find_document_date,
    line_date,
    parse_date,
    parse_datetime,
    today_in_shanghai,
)
from bridge.normalize.docno import doc_no_problem, find_doc_no, is_absent, normalize_doc_no
from bridge.normalize.sanitize import sanitize_and_read
from bridge.normalize.summary import make_summary
from bridge.normalize.text import clean_body_text, clean_text, compact
from bridge.sources.base import RawAttachment, RawItem

CREATED_KEYS = ("生成日期", "成文日期", "发文日期")
PUBLISHED_KEYS = ("发布日期", "发布时间")
DOC_NO_KEYS = ("文号", "发文字号", "发文文号")
SUMMARY_KEYS = ("内容概述", "摘要")
KEYWORD_KEYS = ("主题词", "关键词")
DOC_NO_HEAD_CHARS = 200
"""A 文号 of the document itself stands above its first paragraph."""
TRUNCATION_MARKS = ("...", "…")
"""List pages cut long titles and mark the cut; such text is never a title."""

_TOPIC_RE = re.compile(r"^[\u4e00-\u9fa5]+(?:[、\\][\u4e00-\u9fa5]+)*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class FieldProblem:
    """One reason a record is quarantined: which field, which rule, what was found."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (rule {self.rule})"


class QuarantineError(Skippable):
    """The page does not make a valid record; ``problems`` lists every reason."""

    def __init__(self, problems: list[FieldProblem], url: str) -> None:
        self.problems = list(problems)
        self.url = url
        super().__init__(f"quarantined {url}: " + "; ".join(str(p) for p in self.problems))


def _clean_meta(meta: dict[str, str]) -> dict[str, str]:
    """Labels without white space or colons; values as canonical text; empty cells gone."""
    out: dict[str, str] = {}
    for label, value in meta.items():
        key = compact(label).strip(":：")
        text = clean_text(value)
        if key and text and key not in out:
            out[key] = text
    return out


def _title(raw: RawItem, meta: dict[str, str], problems: list[FieldProblem]) -> str:
    for candidate in (raw.title, meta.get("标题", "")):
        if text := clean_text(candidate):
            return text
    listed = clean_text(raw.list_title)
    if listed and not listed.endswith(TRUNCATION_MARKS):
        return listed
    message = "no title on the detail page"
    if listed:
        message += f", and the list title {listed!r} is truncated"
    problems.append(FieldProblem("title", "title.required", message))
    return ""


def _published(meta: dict[str, str], list_date: str | None, today: date) -> datetime | None:
    for text in [meta.get(k) for k in PUBLISHED_KEYS] + [list_date]:
        if text:
            try:
                return parse_datetime(text, today=today)
            except DateError:
                continue
    return None


_MONTH_DAY = re.compile(r"^[\[(（【]?\s*\d{1,2}-\d{1,2}\s*[\])）】]?$")


def _dated_by_context(
    published: datetime | None,
    meta: dict[str, str],
    list_date: str | None,
    created: date | None,
    today: date,
) -> datetime | None:
    """A list date without a year (``12-05``) takes its year from the document's own date,
    not from today: an item made on 2012-12-03 and listed as 12-05 was published on
    2012-12-05. Without such a date it stays the latest one not after today."""
    from_list = not any(meta.get(k) for k in PUBLISHED_KEYS)
    if (
        published is None
        or created is None
        or not from_list
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
    meta: dict[str, str],
    body_text: str,
    published: datetime | None,
    today: date,
    problems: list[FieldProblem],
) -> date | None:
    rejected: list[str] = []
    found: date | None = None
    for key in CREATED_KEYS:
        if key in meta:
            try:
                found = parse_date(meta[key], today=today)
                break
            except DateError as exc:
                rejected.append(f"meta {key} {meta[key]!r} is not a date ({exc.reason})")
    if found is None:
        found = find_document_date(body_text)
    if found is None and published is not None and not rejected:
        # Not when the table states a 生成日期 that is no date: the publication day would
        # be a guess filed as the 成文日期 (and the 索引号 year), so the page must be fixed.
        found = published.astimezone(SHANGHAI).date()
    if found is None:
        message = "; ".join(["no 生成日期 found", *rejected])
        problems.append(FieldProblem("created", "created.required", message))
    elif found > today:
        problems.append(
            FieldProblem("created", "created.future", f"生成日期 {found} is after {today}")
        )
    return found


def _doc_no(
    meta: dict[str, str], body_text: str, title: str, problems: list[FieldProblem]
) -> str | None:
    cells = [(key, meta[key]) for key in DOC_NO_KEYS if key in meta]
    stated = [(key, value) for key, value in cells if not is_absent(value)]
    if stated:
        key, value = stated[0]
        doc_no = normalize_doc_no(value)
        if reason := doc_no_problem(doc_no):
            message = f"meta {key} {value!r} is out of form: {reason}"
            problems.append(FieldProblem("doc_no", "doc_no.form", message))
            return None
        return doc_no
    if cells:  # the table says 无: the document has no number
        return None
    return find_doc_no(body_text[:DOC_NO_HEAD_CHARS]) or find_doc_no(title)


def _summary_source(body_text: str, title: str, publisher: str, doc_no: str | None) -> str:
    """The body without its head matter (title, issuer, 文号, date lines) and its 落款,
    which would otherwise fill the summary with what the record already says."""
    head = {compact(title), compact(publisher), compact(doc_no or "")} - {""}
    lines = body_text.splitlines()
    while lines and (
        compact(lines[0]) in head or line_date(lines[0]) or find_doc_no(lines[0]) is not None
    ):
        lines.pop(0)
    while lines and (compact(lines[-1]) in head or line_date(lines[-1])):
        lines.pop()  # the 落款: issuer and date
    return "\n".join(lines)


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _topic(value: str | None, default: str) -> str:
    if value:
        topic = compact(value).replace("/", "\\").replace("／", "\\").replace("，", "、")
        if _TOPIC_RE.match(topic):
            return topic
    return clean_text(default)


def _keywords(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    words = re.split(r"[\s,，;；、]+", value) if value else list(default)
    return tuple(dict.fromkeys(w for w in (clean_text(x) for x in words) if w))


def _attachment(a: RawAttachment, page_url: str) -> Attachment:
    try:
        url = urljoin(page_url, a.url.strip())
    except ValueError:  # a malformed host: keep what the page said, the record shows it
        url = a.url.strip()
    name = clean_text(a.name) or unquote(PurePosixPath(urlsplit(url).path).name)
    return Attachment(
        name=name,
        url=url,
        media_type=clean_text(a.media_type).lower(),
        size=a.size,
        sha256=a.sha256.strip().lower(),
    )


def normalize(
    raw: RawItem, profile: NormalizeProfile, *, now: datetime | None = None
) -> CatalogRecord:
    """The catalog record of ``raw``, or ``QuarantineError`` naming every problem.

    ``now`` anchors list dates written without a year and the "not in the future" check;
    it defaults to ``raw.fetched_at``.
    """
    today = today_in_shanghai(now or raw.fetched_at)
    problems: list[FieldProblem] = []
    meta = _clean_meta(raw.meta)
    # Dates, 文号 and summary are read from the canonical body (one line per block), so
    # re-wrapped source text cannot change them; the source's own text is the fallback.
    body_html, body_text, body_shows = sanitize_and_read(raw.body_html, raw.url)
    body_text = body_text or clean_body_text(raw.body_text)

    title = _title(raw, meta, problems)
    published = _published(meta, raw.list_date, today)
    created = _created(meta, body_text, published, today, problems)
    published = _dated_by_context(published, meta, raw.list_date, created, today)
    doc_no = _doc_no(meta, body_text, title, problems)

    publisher = meta.get("发布机构") or clean_text(profile.publisher)
    if not publisher:
        problems.append(FieldProblem("publisher", "publisher.required", "no 发布机构 found"))

    category, classified_by = classify(raw.column, title, doc_no, profile)
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
            "bridge resync"
        )
        problems.append(FieldProblem("body", "body.charset", message))

    attachments = tuple(_attachment(a, raw.url) for a in raw.attachments)
    for a in attachments:
        if not _SHA256_RE.match(a.sha256):
            message = f"{a.name!r}: sha256 {a.sha256!r} is not 64 hex digits"
            problems.append(FieldProblem("attachments", "attachments.sha256", message))

    if problems or created is None:
        raise QuarantineError(problems, raw.url)

    summary_text = next((meta[k] for k in SUMMARY_KEYS if k in meta), None)
    if summary_text is None:
        summary_text = _summary_source(body_text, title, publisher, doc_no)
    return CatalogRecord(
        external_id=f"{raw.source}:{raw.article_id}",
        title=title,
        summary=make_summary(summary_text),
        publisher=publisher,
        created=created,
        published=published,
        doc_no=doc_no,
        category=category,
        topic=_topic(meta.get("主题分类"), profile.topic),
        genre=genre_of(title),
        body_html=body_html,
        source=SourceRef(raw.source, raw.column, raw.url, raw.article_id, raw.fetched_at),
        keywords=_keywords(
            next((meta[k] for k in KEYWORD_KEYS if k in meta), None), profile.keywords
        ),
        disclosure=_choice(meta.get("公开方式"), DISCLOSURE_MODES, "主动公开"),
        validity=_choice(meta.get("有效性"), VALIDITY, "有效"),
        attachments=attachments,
        classified_by=classified_by,
    )


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
