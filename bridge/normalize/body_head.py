"""The top of a body, where a page's furniture sits: the title typed above the
发布时间/来源 line, a metadata block typed into the body, salutations and 落款. ``read_head``
takes what such lines say; ``summary_source`` is the body without them (what 内容概述
summarizes).
"""

from __future__ import annotations

import re

from bridge.labels import is_label_line, line_pairs
from bridge.normalize.dates import line_date
from bridge.normalize.docno import find_doc_no
from bridge.text import clean_text, compact

HEAD_LINES = 8
"""Lines at the top of a body that may still be page furniture: the title, a metadata
block typed into the body, the 发布时间/来源 line."""
_CHROME_LINE = re.compile(
    r"(?<![\u4e00-\u9fff])(?:发布时间|发布日期|来源|信息来源|作者|责任编辑|浏览次数|阅读次数|点击数|字号)\s*[:：]"
    r"|【\s*(?:打印|关闭|大|中|小|字体)|分享到|打印本页|关闭窗口"
)
"""A line of page furniture under a title: 发布时间：… 来源：… 【字号：大 中 小】【打印】."""
_CHROME_HINT = re.compile("[:：【分打关]")
"""A character every match of ``_CHROME_LINE`` holds: most lines have none, and this
class is scanned much faster than the pattern."""
_HEAD_LABEL = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff\w]{1,9}[:：]")
_CLAUSE = re.compile(r"[。，；！？,;!?：:]")
_NUMBERED = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]|第[一二三四五六七八九十\d]+[章条节部分])"
)


def _is_chrome(line: str) -> bool:
    return _CHROME_HINT.search(line) is not None and _CHROME_LINE.search(line) is not None


def read_head(body_text: str, meta: dict[str, str]) -> str | None:
    """Read the body's first lines as a page's furniture: label lines (a metadata block
    typed into the body, the 发布时间/来源 line) fill labels the page shows nowhere else;
    the line above the 发布时间/来源 line is the title when nothing else names one."""
    lines = body_text.splitlines()[:HEAD_LINES]
    title = None
    for i, line in enumerate(lines):
        if not (is_label_line(line) or _is_chrome(line)):
            continue
        for key, value in line_pairs(line):
            value = clean_text(value)
            if value and key not in meta:
                meta[key] = value
        if title is None and i > 0 and _is_chrome(line) and not is_label_line(lines[i - 1]):
            above = clean_text(lines[i - 1])
            if 4 <= len(above) <= 100 and not above.endswith(("。", "：", ":")):
                title = above
    return title


def summary_source(body_text: str, title: str, publisher: str, doc_no: str | None) -> str:
    """The body from the document's own text on: without the title (on one line or
    several), the 文号 line, a salutation ending in ：, the 发布时间/来源/字号/打印 lines
    and metadata typed into the body; and without its 落款 (issuer and date)."""
    whole_title = compact(title)
    head = {whole_title, compact(publisher), compact(doc_no or "")} - {""}
    lines = body_text.splitlines()
    start, title_so_far, saluted = 0, "", False
    for line in lines[: HEAD_LINES + 4]:
        text = compact(line)
        as_title = whole_title and len(text) >= 2 and whole_title.startswith(title_so_far + text)
        as_salutation = (
            not saluted and text.endswith(("：", ":")) and len(text) <= 120 and "。" not in text
        )
        # A head line that is neither part of the title nor the salutation goes whatever
        # else it is: asked first, as most head lines are such (引题, names of a list), the
        # furniture tests, each a pattern, are left unasked (16.8 -> 15.5 µs a sandbox body).
        if (not (as_title or as_salutation) and _short_head_line(text, whole_title)) or (
            _furniture(line, text, head)
        ):
            pass
        elif as_title:
            title_so_far += text  # a title broken over lines
        elif as_salutation:
            saluted = True  # 各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
        else:
            break
        start += 1
    if start >= len(lines):  # all of it is short lines: the text is just that
        start = 0
    lines = lines[start:]
    while lines and (compact(lines[-1]) in head or line_date(lines[-1])):
        lines.pop()  # the 落款: issuer and date
    return "\n".join(lines)


def _furniture(line: str, text: str, head: set[str]) -> bool:
    """A line of the page around the document: the title, publisher or 文号 alone (as
    ``text``, compacted), a date, a 文号 line, a label or furniture line."""
    return (
        text in head
        or line_date(line) is not None
        or find_doc_no(line) is not None
        or (len(line) <= 120 and (is_label_line(line) or _is_chrome(line)))
    )


def _short_head_line(text: str, whole_title: str) -> bool:
    """The title without its prefix (【湖北省中心】), a label line (招标编号：HBSJ-…), or
    a headline's 引题 or 副题 line (not a numbered section: 一、总体情况)."""
    return bool(
        (whole_title and len(text) >= 8 and text in whole_title)
        or (_HEAD_LABEL.match(text) and len(text) <= 60 and "。" not in text)
        or (len(text) <= 40 and not _CLAUSE.search(text) and not _NUMBERED.match(text))
    )
