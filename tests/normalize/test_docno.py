"""文号: every spelling the pages use becomes the GB/T 9704 one, or a reason it is not one."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.normalize.docno import doc_no_problem, find_doc_no, is_absent, normalize_doc_no

GOOD = [
    ("余教〔2012〕12号", "余教〔2012〕12号"),
    ("余教发[2012]12号", "余教发〔2012〕12号"),
    ("余教【2012】12号", "余教〔2012〕12号"),
    ("甬教办〔2012〕3号", "甬教办〔2012〕3号"),
    ("余政办发〔2012〕112号", "余政办发〔2012〕112号"),
    ("余教［2012］12号", "余教〔2012〕12号"),
    ("余教(2012)12号", "余教〔2012〕12号"),
    ("余教（2012）12号", "余教〔2012〕12号"),
    ("余教 〔 2012 〕 12 号", "余教〔2012〕12号"),
    ("余教\u3000〔2012〕12号", "余教〔2012〕12号"),
    ("余教（２０１２）１２号", "余教〔2012〕12号"),
    ("余教〔2012〕第12号", "余教〔2012〕12号"),
    ("余教〔2012〕012号", "余教〔2012〕12号"),
    ("浙教办基〔2012〕9999号", "浙教办基〔2012〕9999号"),
    ("国办发〔1999〕1号", "国办发〔1999〕1号"),
]

BAD = [
    ("余教〔2012〕0号", "number '0' is not 1-9999"),
    ("余教〔2012〕12345号", "number '12345' is not 1-9999"),
    ("余教〔12〕12号", "year 12 is not 19xx or 20xx"),
    ("余教〔1899〕1号", "year 1899 is not 19xx or 20xx"),
    ("余教〔2112〕1号", "year 2112 is not 19xx or 20xx"),
    (
        "余教2012年12号",
        "has no year in brackets, as in 余教〔2012〕12号, nor is it a decree (…令第N号)",
    ),
    ("余教〔2012〕12", "does not end with 号"),
    ("〔2012〕12号", "issuer code '' is not 1-12 Chinese characters"),
    ("YJ〔2012〕1号", "issuer code 'YJ' is not 1-12 Chinese characters"),
    (
        "余姚市人民政府办公室教育局发〔2012〕1号",
        "issuer code '余姚市人民政府办公室教育局发' is not 1-12 Chinese characters",
    ),
    ("余教〔2012〕一号", "number '一' is not 1-9999"),
    ("余教发2012-12", "does not end with 号"),
]


def test_the_table_is_as_large_as_the_issue_asks() -> None:
    assert len(GOOD) + len(BAD) >= 20


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_accepted_forms_are_normalized(text: str, expected: str) -> None:
    normalized = normalize_doc_no(text)
    assert normalized == expected
    assert doc_no_problem(normalized) is None


@pytest.mark.parametrize(("text", "reason"), BAD)
def test_rejected_forms_say_why(text: str, reason: str) -> None:
    assert doc_no_problem(normalize_doc_no(text)) == reason


@given(
    st.text(alphabet="余教发办甬政浙基", min_size=1, max_size=12),
    st.integers(1900, 2099),
    st.integers(1, 9999),
    st.sampled_from(["[]", "【】", "〔〕", "［］", "()", "（）"]),
    st.sampled_from(["", " ", "\u3000"]),
)
def test_any_spelling_normalizes_to_one_form(
    issuer: str, year: int, number: int, brackets: str, space: str
) -> None:
    text = f"{issuer}{space}{brackets[0]}{year}{brackets[1]}{space}{number}{space}号"
    assert normalize_doc_no(text) == f"{issuer}〔{year}〕{number}号"
    assert doc_no_problem(normalize_doc_no(text)) is None


@pytest.mark.parametrize("cell", ["无", " 无 ", "暂无", "/", "—", "-", "", "None"])
def test_cells_meaning_no_number(cell: str) -> None:
    assert is_absent(cell)


def test_a_number_is_not_absent() -> None:
    assert not is_absent("余教〔2012〕12号")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("余教〔2012〕12号", "余教〔2012〕12号"),
        ("余姚市教育局文件\n余教[2012]12号\n关于做好寒假工作的通知", "余教〔2012〕12号"),
        ("文号：余教〔2012〕12号", "余教〔2012〕12号"),
        ("发文字号: 余教发【2012】3号", "余教发〔2012〕3号"),
        ("余教〔2012〕12号 签发人：张三", "余教〔2012〕12号"),
        ("关于印发《学籍管理办法》的通知（余教〔2012〕12号）", "余教〔2012〕12号"),
        ("关于印发《学籍管理办法》的通知 [余教(2012)12号]", "余教〔2012〕12号"),
        ("关于转发甬教办〔2012〕3号文件的通知", None),
        ("现将《通知》（甬教基〔2012〕100号）转发给你们，请遵照执行。", None),
        ("根据余教〔2012〕12号文件精神", None),
        ("余教〔2012〕0号", None),
        ("2012年度市教育局政府信息公开总结", None),
        ("", None),
    ],
)
def test_find_doc_no_takes_only_a_number_standing_alone(text: str, expected: str | None) -> None:
    assert find_doc_no(text) == expected


def test_only_hao_itself_becomes_hao_under_nfkc() -> None:
    """find_doc_no returns at once for a text without 号; that holds only because no other
    character turns into one under NFKC."""
    makers = [c for c in range(sys.maxunicode + 1) if "号" in unicodedata.normalize("NFKC", chr(c))]
    assert makers == [ord("号")]
    assert find_doc_no("关于印发方案的通知") is None
