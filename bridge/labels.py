"""The labels Chinese government pages use for catalog fields, and which one wins.

One table for the sources (which labels to look for) and normalization (which value a
field takes): a field takes the value of its first label the page shows, in this order,
then the page's government meta tag (《政府网站发展指引》, 国办发〔2017〕47号), then the
fallback the field names (the body, the list, the config). README "Catalog records"
quotes the table; ``tests/normalize/test_labels.py`` keeps the two the same.

Labels are compared with all white space and colons removed (``索 引 号：`` is 索引号).
"""

from __future__ import annotations

import re

FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "名称", "文件名称", "信息名称"),
    # 发布机构 is the catalog's own field; 发文机关 and its kin name the issuer of a
    # document (中国政府网 policy pages); 来源 and 发布者 the unit that put the page up.
    "publisher": (
        "发布机构",
        "发布机关",
        "发文机关",
        "发文单位",
        "制发机关",
        "来源",
        "信息来源",
        "发布者",
        "报送单位",
        "责任部门",
    ),
    "created": ("成文日期", "生成日期", "发文日期", "印发日期"),
    "published": ("发布日期", "发布时间", "公开日期"),
    "doc_no": ("文号", "发文字号", "发文文号"),
    "index_no": ("索引号",),
    "topic": ("主题分类", "分类", "所属主题"),
    "validity": ("有效性", "时效", "有效期"),
    "keywords": ("主题词", "关键词"),
    "summary": ("内容概述", "摘要"),
    "disclosure": ("公开方式",),
    "scope": ("公开范围",),
}

FALLBACKS: dict[str, str] = {
    "title": "ArticleTitle (without the site's name); the template's heading; the list's "
    "title when it is whole; `<title>` without the site's name; the line above the "
    "发布时间 line",
    "publisher": "ContentSource (unless it is the site's own name); the configured `publisher`",
    "created": "the date under the body's signature (落款); the publication day, marked "
    "`derived:published`",
    "published": "PubDate; the list's date",
    "doc_no": "a 文号 line at the head of the body; a 文号 in brackets closing the title",
    "index_no": 'minted by the portal, or by the bridge with `[target] index_no = "bridge"`',
    "topic": "the configured `topic`",
    "validity": "有效",
    "keywords": "Keywords; the configured `keywords`",
    "summary": "the body from its own text on, at most 150 characters; Description",
    "disclosure": "主动公开",
    "scope": "面向全社会",
}
"""What a field takes when the page shows none of its labels (README's table)."""


def precedence_table() -> str:
    """The README's table of labels and fallbacks, field by field."""
    rows = ["| field | labels, the first one the page shows wins | then |", "|---|---|---|"]
    for name, labels in FIELD_LABELS.items():
        rows.append(f"| {name} | {'、'.join(labels)} | {FALLBACKS[name]} |")
    return "\n".join(rows)


META_TAGS: dict[str, str] = {
    "title": "ArticleTitle",
    "published": "PubDate",
    "publisher": "ContentSource",
    "keywords": "Keywords",
    "summary": "Description",
}
"""The government meta tag each field falls back on when the page shows no label for it."""

PAGE_META_NAMES = (
    "ArticleTitle",
    "PubDate",
    "ContentSource",
    "Keywords",
    "Description",
    "ColumnName",
    "ColumnType",
    "SiteName",
    "SiteDomain",
    "SiteIDCode",
)
"""The meta tags a source keeps from a page's ``<head>``."""

OTHER_LABELS = ("组配分类", "体裁分类", "公开时限", "信息类别", "统一编号", "公开形式", "公开时间")
"""Labels of metadata blocks that name no catalog field here, known so that a block's
next value is never read as part of the one before."""

ALL_LABELS: tuple[str, ...] = tuple(
    dict.fromkeys([*(label for labels in FIELD_LABELS.values() for label in labels), *OTHER_LABELS])
)
"""Every label a metadata block may carry, field labels first."""

NONE_VALUES = frozenset(
    {"无", "暂无", "没有", "空", "/", "\\", "-", "--", "—", "——", "null", "none"}
)
"""What a metadata cell writes when the page has no value for it (``主题分类：无``)."""

SELF_REFERENCES = ("本网", "本站")
"""来源：本网 names the site itself, not a publisher."""


# --- label: value lines ---------------------------------------------------------------------

SEPARATOR = "\x1f"
"""Where a line of a page changes element (``<strong>索引号</strong>：…``): a boundary a
label may end at, which is no character of the value."""

_SP = r"[\s\u3000\xa0\x1f]*"
_KNOWN = "|".join(
    _SP.join(re.escape(ch) for ch in label) for label in sorted(ALL_LABELS, key=len, reverse=True)
)
_KNOWN_LABEL = re.compile(_KNOWN)
"""A known label, however spaced: what a ``_PAIR`` without a colon holds."""
_BEFORE = r"(?<![^\s\u3000\xa0\x1f【】\[\]|｜（）()])"  # the start, or a separator
_PAIRS = (
    # A known label, however spaced, and a colon: anywhere ("…09:30来源：本站") but
    # inside a word ("药品批准文号：" is no 文号 label).
    rf"(?<![\u4e00-\u9fff])(?P<known>{_KNOWN}){_SP}[:：]"
    # A known label without a colon, followed by a space or the end: only in a line that
    # starts with one (label cells flattened to text: "索 引 号 000014349/2019-00005").
    rf"|{_BEFORE}(?P<bare>{_KNOWN})(?=[\s\u3000\xa0\x1f]|$)"
    # Any other short Chinese label and a colon after a separator (浏览次数：, 字体：): it
    # ends the value before it. Digits never start one: "09:12" is a time.
    rf"|{_BEFORE}(?P<other>[\u4e00-\u9fff][\u4e00-\u9fff\w]{{1,9}}){_SP}[:：]"
)
# Each of them starts with a Chinese character (every known label does): said first, the
# other positions of a line (digits, dates, spaces) are passed over at once, where each
# alternative was tried there (an info line 3.2 µs -> 1.5).
_PAIR = re.compile(rf"(?=[\u4e00-\u9fff])(?:{_PAIRS})")
_LABEL_CHARS = re.compile(r"[\s\u3000\xa0\x1f:：]+")
_VALUE_EDGES = "\x1f \t\u3000\xa0:：【[（(|｜/"
_LEADING = "\x1f \t\u3000\xa0:："
_DATE_TIME = re.compile(
    r"[\[【(（]?\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?[\]】)）]?"
)


def label_key(text: str) -> str:
    """A label with all white space and colons removed (``索 引 号：`` → 索引号)."""
    return _LABEL_CHARS.sub("", text or "")


def line_pairs(line: str) -> list[tuple[str, str]]:
    """``(label, value)`` pairs of one line of a page, several per line allowed
    (``发布时间：2012-12-05 09:30　来源：本站``, ``索 引 号 000014349/2019-00005 分 类 教育``).

    Labels without a colon are read only when the line starts with a known label, so a
    sentence that merely contains the word 来源 is never taken apart. Values keep their
    text; element boundaries (``SEPARATOR``) and the brackets of trailing widgets go.
    """
    # Without a colon only a bare known label is a _PAIR: a line with neither (a table's
    # value cells, mostly) holds no pair, found in 0.2 µs where _PAIR's search took 2.
    if ":" not in line and "：" not in line and _KNOWN_LABEL.search(line) is None:
        return []
    matches = list(_PAIR.finditer(line))
    before = line[: matches[0].start()].strip(" \t\u3000\xa0\x1f") if matches else ""
    if before or not matches or matches[0].group("other") is not None:
        matches = [m for m in matches if m.group("bare") is None]
    out = []
    if matches and _DATE_TIME.fullmatch(before):
        # "2021-08-01 06:59　来源：新华社": the date an info line starts with is the
        # publication time, whatever the template forgot to label it.
        out.append(("发布时间", before))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        label = label_key(m.group(0))
        value = line[m.end() : end].replace(SEPARATOR, "")
        value = " ".join(value.split()).lstrip(_LEADING).rstrip(_VALUE_EDGES)
        out.append((label, value))
    return out


_FIRST_CHARS = frozenset(label[0] for label in ALL_LABELS)
"""The characters a known label starts with, however spaced: a line that starts with no
other (nearly every line of a body) holds no label at its start, and is not matched."""


def is_label_line(line: str) -> bool:
    """Whether a line starts with a known label (``标 题 …``, ``发布时间：…``)."""
    line = line.lstrip(" \t\u3000\xa0\x1f")
    if line[:1] not in _FIRST_CHARS:
        return False
    m = _PAIR.match(line)
    return m is not None and m.group("other") is None
