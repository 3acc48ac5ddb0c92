"""组配分类 (category) and 体裁分类 (genre) of a record.

The category comes from the column when the operator mapped the column to one of the six
categories. A column mapped to ``mixed`` (or not mapped) falls back to these rules, tried
in order; the first that matches decides, and its name is kept in
``CatalogRecord.classified_by`` so an auditor can see why an item landed where it did:

=====  ====================================================  ==========  ==================
order  when                                                   category    rule name
=====  ====================================================  ==========  ==================
1      the column maps to one of the six categories          (mapped)    ``column:<col>``
2      title or 文号 contains 规划, 计划 or 要点               规划计划    ``title:规划`` …
3      title or 文号 contains 统计, 公报 or 年鉴               统计数据    ``title:统计`` …
4      title or 文号 contains 职能, 机构设置 or 领导分工       机构职能    ``title:职能`` …
5      the document has a 文号                                政策文件    ``doc_no``
6      title contains 办法, 规定, 意见, 决定 or 细则           政策文件    ``title:办法`` …
7      title contains 通知, 通报, 公示 or 公告                 业务工作    ``title:通知`` …
8      nothing matched                                        (default)   ``default``
=====  ====================================================  ==========  ==================

Rules 2–4 come before the 文号 rule because a plan or a statistics bulletin issued under a
文号 is still filed as a plan or as statistics; a rule that matches the 文号 rather than
the title is named ``doc_no:<word>``. The default is ``NormalizeProfile.default_category``.
"""

from __future__ import annotations

from bridge.catalog import CATEGORIES, GENRES, NormalizeProfile

MIXED = "mixed"
"""The column value that means "decide per item by the rules below"."""

KEYWORD_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("规划", "计划", "要点"), "规划计划"),
    (("统计", "公报", "年鉴"), "统计数据"),
    (("职能", "机构设置", "领导分工"), "机构职能"),
)
"""Rules 2–4: words looked for in the title and in the 文号."""

POLICY_WORDS = ("办法", "规定", "意见", "决定", "细则")
WORK_WORDS = ("通知", "通报", "公示", "公告")

GENRE_ALIASES = {
    "统计公报": "统计数据",
    "公报": "统计数据",
    "统计表": "统计数据",
    "统计年报": "统计数据",
    "年鉴": "统计数据",
    "复函": "函",
}
"""Title endings that name a genre by another word (a 统计公报 is filed as 统计数据)."""

_ENDINGS = sorted(
    [(g, g) for g in GENRES if g != "其他"] + list(GENRE_ALIASES.items()),
    key=lambda pair: -len(pair[0]),
)
_OPENERS = "（(【[〔［<＜"
_CLOSERS = "）)】]〕］>＞"
_TRAILING_PUNCT = " \t\u3000\"'“”‘’「」『』《》〈〉.。…!！?？;；:：,，、"


def _keyword_rule(title: str, doc_no: str | None) -> tuple[str, str] | None:
    for words, category in KEYWORD_RULES:
        for word in words:
            if word in title:
                return category, f"title:{word}"
            if doc_no and word in doc_no:
                return category, f"doc_no:{word}"
    return None


def classify(
    column: str, title: str, doc_no: str | None, profile: NormalizeProfile
) -> tuple[str, str]:
    """``(category, rule name)`` for one item: the column mapping, else the rules above."""
    mapped = profile.column_categories.get(column)
    if mapped in CATEGORIES:
        return mapped, f"column:{column}"
    if found := _keyword_rule(title, doc_no):
        return found
    if doc_no:
        return "政策文件", "doc_no"
    for words, category in ((POLICY_WORDS, "政策文件"), (WORK_WORDS, "业务工作")):
        for word in words:
            if word in title:
                return category, f"title:{word}"
    return profile.default_category, "default"


def _without_trailing_group(title: str) -> str:
    """``title`` without a bracketed group that ends it (nested brackets included)."""
    title = title.rstrip()
    if not title or title[-1] not in _CLOSERS:
        return title
    depth = 0
    for i in range(len(title) - 1, -1, -1):
        if title[i] in _CLOSERS:
            depth += 1
        elif title[i] in _OPENERS:
            depth -= 1
            if depth == 0:
                return title[:i]
    return title  # unbalanced: leave it to the punctuation strip


def strip_title_decoration(title: str) -> str:
    """The title without what trails its genre word: bracketed notes such as （试行）,
    （余教〔2012〕12号）, （征求意见稿）, closing quotes and punctuation."""
    previous = None
    while previous != title:
        previous = title
        title = _without_trailing_group(title).rstrip(_TRAILING_PUNCT)
    return title


def genre_of(title: str) -> str:
    """体裁分类 from the title's ending (longest match wins), else 其他."""
    core = strip_title_decoration(title)
    for ending, genre in _ENDINGS:
        if core.endswith(ending):
            return genre
    return "其他"
