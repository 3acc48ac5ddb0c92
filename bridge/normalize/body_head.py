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
    head = {compact(title), compact(publisher), compact(doc_no or "")} - {""}
    whole_title = compact(title)
    lines = body_text.splitlines()
    start, title_so_far, saluted = 0, "", False
    for line in lines[: HEAD_LINES + 4]:
        text = compact(line)
        if (
            text in head
            or line_date(line)
            or find_doc_no(line) is not None
            or (len(line) <= 120 and (is_label_line(line) or _is_chrome(line)))
        ):
            pass
        elif whole_title and len(text) >= 2 and whole_title.startswith(title_so_far + text):
            title_so_far += text  # a title broken over lines
        elif not saluted and text.endswith(("：", ":")) and len(text) <= 120 and "。" not in text:
            saluted = True  # 各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
        elif whole_title and len(text) >= 8 and text in whole_title:
            pass  # the title without its prefix (【湖北省中心】)
        elif _HEAD_LABEL.match(text) and len(text) <= 60 and "。" not in text:
            pass  # 招标编号：HBSJ-202007TL-027001001
        elif len(text) <= 40 and not _CLAUSE.search(text) and not _NUMBERED.match(text):
            pass  # a headline's 引题 and 副题 lines (not a numbered section: 一、总体情况)
        else:
            break
        start += 1
    if start >= len(lines):  # all of it is short lines: the text is just that
        start = 0
    lines = lines[start:]
    while lines and (compact(lines[-1]) in head or line_date(lines[-1])):
        lines.pop()  # the 落款: issuer and date
    return "\n".join(lines)
