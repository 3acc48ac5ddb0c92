"""文号 (document numbers): find them, write them one way, say what is wrong with them.

A 文号 is ``<issuer code>〔<year>〕<number>号``, e.g. ``余教〔2012〕12号``. Pages write the
year brackets as ``[]``, ``【】``, ``〔〕``, ``［］``, ``()`` or ``（）``, put spaces anywhere, use
full-width digits, a ``第`` before the number or leading zeros. GB/T 9704-2012 §7.2.4 says
the year goes in 〔〕 and the number has neither 第 nor padding, so that is the one form a
record carries: two spellings of one number must not make two different records.
"""

from __future__ import annotations

import re
import unicodedata

from bridge.labels import NONE_VALUES
from bridge.text import clean_text, compact

DOC_NO_RE = re.compile(r"^[\u4e00-\u9fa5]{1,12}〔(?:19|20)\d{2}〕[1-9]\d{0,3}号$")
"""The normalized form; the issuer code is 1–12 Chinese characters."""
_CN_NUMBER = "〇零一二三四五六七八九十百千"
DECREE_RE = re.compile(rf"^[\u4e00-\u9fa5]{{1,30}}令第(?:\d{{1,5}}|[{_CN_NUMBER}]{{1,8}})号$")
"""A decree's number (国令第707号, 教育部令第50号, 中华人民共和国主席令第三十一号): no year,
by design — decrees are numbered in one series per issuer (《立法法》)."""

ABSENT = NONE_VALUES | {""}
"""What a metadata table writes in the 文号 cell of a document that has none."""

# After NFKC, （ and ［ are ( and [; 【 and 〔 stay as they are.
_YEAR_IN_BRACKETS_RE = re.compile(r"[\[【〔(]((?:19|20)\d{2})[\]】〕)]")
_NUMBER_RE = re.compile(r"〕第?0*(\d+)号$")

_NO = (
    r"[\u4e00-\u9fa5]{1,12}\s*[\[【〔(]\s*(?:19|20)\d{2}\s*[\]】〕)]\s*第?\s*\d{1,4}\s*号"
    r"|[\u4e00-\u9fa5]{1,30}令\s*第\s*\d{1,5}\s*号"
)
_LABEL = r"(?:(?:发文)?文号|发文字号)\s*:?\s*"
_STANDALONE = (
    # the line is the number (perhaps labelled), or starts with it and a space follows
    re.compile(rf"^(?:{_LABEL})?(?P<no>{_NO})(?:\s|$)"),
    # the number in brackets closes the line: 关于印发……的通知（余教〔2012〕12号）
    re.compile(rf"[(\[【〔]\s*(?P<no>{_NO})\s*[)\]】〕]$"),
)


_BRACKETS = re.compile(r"[\[\]【】〔〕()（）［］\s]")


def is_absent(value: str | None) -> bool:
    """True when a 文号 cell says the document has no number (无, /, —, 无〔〕号, 无文号 …)."""
    if value is None or compact(value).lower() in ABSENT:
        return True
    bare = _BRACKETS.sub("", value).removesuffix("号").removesuffix("文")
    return bare.lower() in ABSENT or bare in ("暂无", "无")


def normalize_doc_no(text: str) -> str:
    """The GB/T 9704 spelling of ``text``: no spaces, ASCII digits, year in 〔〕, no 第,
    no leading zeros. Does not validate: see ``doc_no_problem``."""
    s = compact(unicodedata.normalize("NFKC", text))
    s = _YEAR_IN_BRACKETS_RE.sub(r"〔\1〕", s)
    if DECREE_RE.match(s):
        return re.sub(r"令第0*(\d+)号$", lambda m: f"令第{int(m[1])}号", s)
    return _NUMBER_RE.sub(lambda m: f"〕{int(m[1])}号", s)


def doc_no_problem(doc_no: str) -> str | None:
    """Why the normalized ``doc_no`` is out of form (to follow "文号 '…' "), or None."""
    if DOC_NO_RE.match(doc_no) or DECREE_RE.match(doc_no):
        return None
    if not doc_no.endswith("号"):
        return "does not end with 号"
    m = re.search(r"〔(\d+)〕", doc_no)
    if m is None:
        return "has no year in brackets, as in 余教〔2012〕12号, nor is it a decree (…令第N号)"
    if not re.fullmatch(r"(?:19|20)\d{2}", m[1]):
        return f"year {m[1]} is not 19xx or 20xx"
    issuer, _, number = doc_no.partition(m[0])
    if not re.fullmatch(r"[\u4e00-\u9fa5]{1,12}", issuer):
        return f"issuer code {issuer!r} is not 1-12 Chinese characters"
    return f"number {number.removesuffix('号')!r} is not 1-9999"


def find_doc_no(text: str) -> str | None:
    """The first valid 文号 standing on its own in ``text`` (normalized), or None.

    "On its own" means a line that is the number (``余教〔2012〕12号``, ``文号：…``), a
    line that starts with it followed by a space, or a bracketed number closing a line.
    A number inside a sentence (``关于转发甬教办〔2012〕3号文件的通知``) names another
    document, so it is never taken.
    """
    if not text or "号" not in text:  # no character but 号 itself is 号 under NFKC
        return None
    for raw_line in unicodedata.normalize("NFKC", text).splitlines():
        line = clean_text(raw_line)
        for pattern in _STANDALONE:
            m = pattern.search(line)
            if m and doc_no_problem(found := normalize_doc_no(m["no"])) is None:
                return found
    return None
