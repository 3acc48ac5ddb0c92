"""Volatile parts of a page: visit counters and "generated at" stamps.

They change on every view and must never count as a content change, so every source
preset removes them from the extracted body before it becomes ``RawItem.body_html``.
Each pattern below says why it is ignored.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

# Parts of a page that change on every request although the document did not change. They
# are removed from the extracted body before it becomes RawItem.body_html / body_text, so
# they never reach the content hash and a page view never counts as an edit.

_VOLATILE_NAME = re.compile(
    # Visit counters by class or id: visits, viewCount, hits, click_num, ct_count, readnum,
    # counter, pv/uv, and the pinyin initials CMS templates use (llcs 浏览次数, djl 点击量,
    # fwl 访问量, ydcs 阅读次数). They show the number of views so far.
    r"(?:visit|hit|click)s?|views"
    r"|(?:visit|view|hit|click|read|browse)(?:count|counts|num|number|times|cnt)"
    r"|(?:ct|pv|visit|view|hit|click|read|art|news|info)?count(?:er)?s?"
    r"|pv|uv|llcs|djl|fwl|ydcs|djcs|fwcs"
    # "Generated at" stamps by class or id: gentime, gen-time, generated, buildTime,
    # render_time. They show when this copy of the page was rendered, not when the
    # document changed.
    r"|gen(?:time|at|on|date|stamp)|generated?(?:time|at|on)?|(?:build|render)(?:time|at|on)"
    r"|timestamp",
    re.I,
)
_VOLATILE_LEN = 64
"""Counter and stamp elements are short; a longer element is content, whatever its class."""
_COUNTER_TEXT = re.compile(
    # 浏览次数：123, 阅读次数: 45, 点击数：7, 访问量：9, 【浏览次数：123次】: the views so far.
    r"[\[【(（]?\s*(?:本文|本页|文章|页面)?(?:浏览|阅读|点击|访问|查看)"
    r"(?:次数|人次|人数|量|数)\s*[:：]\s*\d*\s*(?:次|人次)?\s*[\]】)）]?"
)
_COUNTER_LABEL = re.compile(
    # The label left in front of a counter element: 浏览次数：<span id="visits">88</span>.
    r"[\[【(（]?\s*(?:本文|本页|文章|页面)?(?:浏览|阅读|点击|访问|查看)(?:次数|人次|人数|量|数)?\s*[:：]\s*$"
)
_VOLATILE_TEXT_LEN = 120
"""Counter lines are short; a long paragraph (a statistics report quoting 访问量：…) is kept."""
_STAMP_TEXT = re.compile(
    # 页面生成时间：2026-11-28 09:12:33, 生成于 …, Generated at …: when this copy was
    # rendered. 生成日期 (a date, no time) is the document's own date and is kept.
    r"(?:(?:页面|本页|网页)?生成(?:时间|于)\s*[:：]?|generated\s+(?:at|on)\s*:?)\s*"
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
    # 页面执行时间 0.012 秒: how long the server took this time.
    r"|(?:页面)?(?:执行|运行|生成|加载)(?:时间|耗时)\s*[:：]?\s*[\d.]+\s*(?:毫秒|秒|ms|s)",
    re.I,
)


def strip_volatile(root: lxml.html.HtmlElement) -> None:
    """Remove visit counters, "generated at" stamps and HTML comments from ``root``, in place.

    Comments go because templates put render times and cache keys in them, and a reader
    never sees them.
    """
    # Most bodies name no counter and no stamp in their text: then only elements named
    # like one (and comments) can go, and no text needs a look. The patterns match
    # within one text node; whatever matches in one matches in all the text together.
    text = root.text_content()
    wordy = bool(_COUNTER_WORD.search(text) or (_may_stamp(text) and _STAMP_TEXT.search(text)))
    doomed = []
    for el in root.iterdescendants() if wordy else _named_or_comments(root):
        if not isinstance(el.tag, str):
            if el.tag is etree.Comment:
                doomed.append(el)
            continue
        names = f"{el.get('id') or ''} {el.get('class') or ''}".split()
        named = any(_VOLATILE_NAME.fullmatch(n.replace("-", "").replace("_", "")) for n in names)
        if (named and len(el.text_content()) <= _VOLATILE_LEN) or (wordy and _is_counter_value(el)):
            doomed.append(el)
    for el in doomed:
        if any(p in doomed for p in el.iterancestors()):
            continue
        _drop(el)
    if not (wordy or doomed):  # a drop joins texts: look at them again
        return
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.text:
            el.text = _strip_volatile_text(el.text)
        if el is not root and el.tail:
            el.tail = _strip_volatile_text(el.tail)


_COUNTER_WORD = re.compile(r"(?:浏览|阅读|点击|访问|查看)(?:次数|人次|人数|量|数)?\s*[:：]")
"""What every counter text and counter label starts with."""
_STAMP_VERBS = frozenset({"执行", "运行", "生成", "加载"})


def _may_stamp(text: str) -> bool:
    """Whether ``text`` holds what every ``_STAMP_TEXT`` holds: 生成于, "generated", or
    时间 or 耗时 right after one of ``_STAMP_VERBS``. ``_STAMP_TEXT`` has no fixed start
    and tries every position of a body (35 µs on a sandbox body); a search for any of
    the verbs alone fired on a third of them (生成, 执行 are ordinary words), where a
    look at what precedes each 时间 rarely does (3 µs where the two regexes took 13)."""
    for noun in ("时间", "耗时"):
        at = text.find(noun, 2)
        while at >= 0:
            if text[at - 2 : at] in _STAMP_VERBS:
                return True
            at = text.find(noun, at + 1)
    # No letter of "generated" has another case outside ASCII: lower() is re.I here, and
    # a text without a g (most bodies) is not lowered (1.5 µs a sandbox body, this 0.2).
    return "生成于" in text or (("g" in text or "G" in text) and "generated" in text.lower())


# The id and class attributes themselves, not the elements that have one: libxml2 tests a
# predicate such as [@id or @class] on each element by building node sets (6 µs on a
# sandbox body, where this takes 3). An attribute comes right after its element.
_IDS_CLASSES_COMMENTS = etree.XPath(
    "descendant::*/@id | descendant::*/@class | descendant::comment()"
)


def _named_or_comments(root: lxml.html.HtmlElement) -> list[etree._Element]:
    """The descendants of ``root`` with an id or a class, and its comments, in page order."""
    found: list[etree._Element] = []
    for hit in _IDS_CLASSES_COMMENTS(root):
        el = hit.getparent() if isinstance(hit, etree._ElementUnicodeResult) else hit
        if not found or found[-1] is not el:  # an element with both an id and a class
            found.append(el)
    return found


def _is_counter_value(el: lxml.html.HtmlElement) -> bool:
    """A bare number right after a counter label (``浏览次数：<span>88</span>``)."""
    if len(el) or not re.fullmatch(r"\s*\d{1,12}\s*", el.text or ""):
        return False
    prev = el.getprevious()
    before = (prev.tail if prev is not None else el.getparent().text) or ""
    return bool(_COUNTER_LABEL.search(before))


def _strip_volatile_text(text: str) -> str:
    if len(text) > _VOLATILE_TEXT_LEN:
        return text
    return _STAMP_TEXT.sub("", _COUNTER_TEXT.sub("", text))


def _drop(el: etree._Element) -> None:
    """Remove ``el`` with its children, keeping its tail text in place; a counter's label
    before it (``浏览：``) and unit after it (``次``) go with it."""
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    if isinstance(el.tag, str):
        before = prev.tail if prev is not None else parent.text
        label = _COUNTER_LABEL.search(before or "")
        if before and label:
            trimmed = before[: label.start()]
            if prev is not None:
                prev.tail = trimmed
            else:
                parent.text = trimmed
            closing = r"[\]】)）]?" if label.group(0).lstrip()[:1] in "[【(（" else ""
            el.tail = re.sub(rf"^\s*(?:人次|次)?\s*{closing}", "", el.tail or "")
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)
