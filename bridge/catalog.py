"""The catalog record (政府信息公开目录 entry) as DESIGN.md §4 defines it.

Terminology:

- *item*: one document on the bureau site, identified by ``external_id`` (stable: the
  source name plus the source's article id, never the content);
- *record*: the catalog metadata and body of one version of an item;
- *version*: a record whose content hash differs from the item's previous one.

The record is what every target receives. ``to_json`` is the wire form of Portal API v1;
``from_json`` reads it back (the state store keeps versions in this form).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

CATEGORIES = ("机构职能", "政策文件", "规划计划", "业务工作", "统计数据", "其他")
"""The bureau's six 组配分类 (the seed report names them)."""

GENRES = (
    "通知",
    "公告",
    "通告",
    "意见",
    "决定",
    "规定",
    "办法",
    "细则",
    "规划",
    "计划",
    "方案",
    "报告",
    "总结",
    "要点",
    "通报",
    "批复",
    "函",
    "纪要",
    "公示",
    "统计数据",
    "其他",
)
"""体裁分类, matched against the end of the title; 其他 when nothing matches."""

DISCLOSURE_MODES = ("主动公开", "依申请公开")
VALIDITY = ("有效", "失效", "废止")
DEFAULT_TOPIC = "科技、教育\\教育"
DEFAULT_SCOPE = "面向全社会"

ORG_CODE_9 = r"[0-9A-Z]{8}[0-9X]"
"""组织机构代码 (GB 11714): eight digits or capital letters and a check character."""
ORG_CODE_18 = r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"
"""统一社会信用代码 (GB 32100-2015): registering authority and kind, a 6-digit division
code, the 9-character 主体标识码 and a check character; no I, O, S, V or Z."""
INDEX_NO_RE = re.compile(rf"^(?:{ORG_CODE_9}|{ORG_CODE_18})/\d{{4}}-\d{{5}}$")
"""The standard 索引号: ``<org code>/<成文 year>-<5-digit serial>``, the org code of 9 or 18
characters. Pages show other forms too (longer serials, local codes): those are kept as
the page writes them and flagged, never re-minted (``index_no_remarks``)."""
INDEX_NO_MAX = 40
"""The longest 索引号 a record carries (the state store's and the portal's column)."""

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def _gb11714_check(code: str) -> str:
    total = sum(_ORG_CHARS.index(c) * w for c, w in zip(code[:8], _ORG_WEIGHTS, strict=True))
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


def _gb32100_check(code: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def with_check_character(code: str) -> str:
    """``code`` (the first 8 characters of a 组织机构代码 or the first 17 of a 统一社会信用
    代码) completed with its check character."""
    return code + (_gb11714_check(code) if len(code) == 8 else _gb32100_check(code))


@functools.lru_cache(maxsize=256)
def org_code_problem(code: str) -> str | None:
    """Why ``code`` is neither a valid 9-character 组织机构代码 (GB 11714) nor a valid
    18-character 统一社会信用代码 (GB 32100), or None. Both end in a check character.

    Cached: the 索引号 on every page of a source carries the same few codes."""
    if len(code) == 18:
        if not re.fullmatch(ORG_CODE_18, code):
            return (
                "an 18-character 统一社会信用代码 is 2 letters or digits, 6 digits and 10 "
                "letters or digits, without I, O, S, V or Z (e.g. 11330281002949236M)"
            )
        expected = _gb32100_check(code)
    elif not re.fullmatch(ORG_CODE_9, code):
        return (
            "must be a 9-character 组织机构代码 (8 digits or capital letters and a check "
            "character, e.g. 002949236) or an 18-character 统一社会信用代码"
        )
    else:
        expected = _gb11714_check(code)
    if code[-1] != expected:
        return f"check character is {code[-1]!r}, expected {expected!r}"
    return None


def index_no_form_problem(value: object) -> str | None:
    """Why ``value`` cannot be a record's 索引号 at all, or None. Any form a page shows is
    kept (``index_no_remarks`` says what is not standard about it); a portal or an exchange
    table needs only a short string without white space."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string or null"
    if len(value) > INDEX_NO_MAX:
        return f"is {len(value)} characters; at most {INDEX_NO_MAX}"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "must have no white space or control characters"
    return None


def index_no_remarks(index_no: str) -> list[str]:
    """What is not standard about a 索引号 a page shows (empty when it is standard).

    Such a number is still the document's legal identifier as the site files it: it is
    kept as written and the remarks go to the audit trail, never into a quarantine.
    """
    code, slash, rest = index_no.partition("/")
    if not slash:
        return ["has no '/' between the org code and the year-serial"]
    remarks = []
    if len(code) in (9, 18) and (problem := org_code_problem(code)):
        remarks.append(f"org code {code!r}: {problem}")
    elif len(code) not in (9, 18):
        remarks.append(f"org code {code!r} has {len(code)} characters, not 9 or 18")
    if not re.fullmatch(r"\d{4}-\d{5}", rest):
        remarks.append(f"{rest!r} is not <YYYY>-<5-digit serial>")
    return remarks


def format_index_no(org_code: str, year: int, serial: int) -> str:
    return f"{org_code}/{year:04d}-{serial:05d}"


@dataclass(frozen=True)
class Attachment:
    """A file attached to a record. ``file_id`` is the target's handle, set at delivery."""

    name: str
    url: str
    media_type: str
    size: int
    sha256: str
    file_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "url": self.url,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.file_id is not None:
            out["file_id"] = self.file_id
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Attachment:
        return cls(
            name=d["name"],
            url=d["url"],
            media_type=d["media_type"],
            size=int(d["size"]),
            sha256=d["sha256"],
            file_id=d.get("file_id"),
        )


@dataclass(frozen=True)
class SourceRef:
    """Where the record came from. ``fetched_at`` is volatile: never part of the hash."""

    name: str
    column: str
    url: str
    article_id: str
    fetched_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "column": self.column,
            "url": self.url,
            "article_id": self.article_id,
            "fetched_at": self.fetched_at.isoformat(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceRef:
        return cls(
            name=d["name"],
            column=d["column"],
            url=d["url"],
            article_id=d["article_id"],
            fetched_at=datetime.fromisoformat(d["fetched_at"]),
        )


@dataclass(frozen=True)
class CatalogRecord:
    """One version of one item, in catalog form (DESIGN.md §4)."""

    external_id: str
    title: str
    summary: str
    publisher: str
    created: date
    published: datetime | None
    doc_no: str | None
    category: str
    topic: str
    genre: str
    body_html: str
    source: SourceRef
    keywords: tuple[str, ...] = ()
    disclosure: str = "主动公开"
    scope: str = DEFAULT_SCOPE
    validity: str = "有效"
    attachments: tuple[Attachment, ...] = ()
    index_no: str | None = None
    classified_by: str = field(default="column", compare=False)
    """Which rule chose the category (kept for the auditor; not sent, not hashed)."""
    provenance: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each field's value came from (``page:发文机关``, ``meta:ArticleTitle``,
    ``list``, ``body``, ``config``, ``default``, ``derived:published``, ``minted:bridge`` …),
    so an auditor can tell what the page shows from a default or a derivation. Kept with
    the version; not sent, not hashed."""
    remarks: tuple[str, ...] = field(default=(), compare=False)
    """What is odd about a value the record keeps as the page shows it (a non-standard
    索引号): for the audit trail, never a reason to quarantine."""

    def to_json(self) -> dict[str, Any]:
        """The Portal API v1 body: the keys of DESIGN.md §4, dates in ISO 8601."""
        return {
            "external_id": self.external_id,
            "index_no": self.index_no,
            "title": self.title,
            "summary": self.summary,
            "publisher": self.publisher,
            "created": self.created.isoformat(),
            "published": self.published.isoformat() if self.published else None,
            "doc_no": self.doc_no,
            "category": self.category,
            "topic": self.topic,
            "genre": self.genre,
            "keywords": list(self.keywords),
            "disclosure": self.disclosure,
            "scope": self.scope,
            "validity": self.validity,
            "body_html": self.body_html,
            "attachments": [a.to_json() for a in self.attachments],
            "source": self.source.to_json(),
        }

    def to_state_json(self) -> dict[str, Any]:
        """The wire form plus what only the bridge keeps (the classification rule)."""
        out = self.to_json()
        out["classified_by"] = self.classified_by
        out["provenance"] = dict(sorted(self.provenance.items()))
        if self.remarks:
            out["remarks"] = list(self.remarks)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CatalogRecord:
        return cls(
            external_id=d["external_id"],
            index_no=d.get("index_no"),
            title=d["title"],
            summary=d["summary"],
            publisher=d["publisher"],
            created=date.fromisoformat(d["created"]),
            published=datetime.fromisoformat(d["published"]) if d.get("published") else None,
            doc_no=d.get("doc_no"),
            category=d["category"],
            topic=d["topic"],
            genre=d["genre"],
            keywords=tuple(d.get("keywords") or ()),
            disclosure=d.get("disclosure", "主动公开"),
            scope=d.get("scope", DEFAULT_SCOPE),
            validity=d.get("validity", "有效"),
            body_html=d["body_html"],
            attachments=tuple(Attachment.from_json(a) for a in d.get("attachments") or ()),
            source=SourceRef.from_json(d["source"]),
            classified_by=d.get("classified_by", "column"),
            provenance=dict(d.get("provenance") or {}),
            remarks=tuple(d.get("remarks") or ()),
        )

    def with_index_no(self, index_no: str | None, how: str | None = None) -> CatalogRecord:
        """The record filed under ``index_no``; ``how`` is its provenance when it changes
        (``minted:bridge``, ``store``: the number the item was filed under before)."""
        if how is None or index_no == self.index_no:
            return replace(self, index_no=index_no)
        return replace(self, index_no=index_no, provenance={**self.provenance, "index_no": how})

    def with_file_ids(self, file_ids: dict[str, str]) -> CatalogRecord:
        """The record with each attachment's target ``file_id`` (keyed by sha256)."""
        return replace(
            self,
            attachments=tuple(replace(a, file_id=file_ids[a.sha256]) for a in self.attachments),
        )


@dataclass(frozen=True)
class NormalizeProfile:
    """What normalization needs to know about a source; built from the config."""

    source: str
    publisher: str
    org_code: str
    column_categories: dict[str, str]
    """Column key -> one of CATEGORIES; a column mapped to "mixed" (or missing) uses the
    fallback rules on title and 文号."""
    topic: str = DEFAULT_TOPIC
    default_category: str = "其他"
    keywords: tuple[str, ...] = ()
    site: str = ""
    """The source's ``base_url``: with ``allowed_hosts``, the scope a body's images must
    come from (bridge/net/scope.py). Without it, the page's own origin."""
    allowed_hosts: tuple[str, ...] = ()
    keep_offsite_images: bool = False
    """Keep ``<img>`` from outside the scope, instead of showing their alt text."""
