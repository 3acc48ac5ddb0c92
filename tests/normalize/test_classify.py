"""组配分类 by column or by the documented fallback rules; 体裁分类 from the title's end."""

from __future__ import annotations

import pytest

from bridge.catalog import GENRES, NormalizeProfile
from bridge.normalize.classify import classify, genre_of, strip_title_decoration

PROFILE = NormalizeProfile(
    source="yyedu",
    publisher="余姚市教育局",
    org_code="002949236",
    column_categories={"zcwj": "政策文件", "qt": "其他", "gzdt": "mixed", "bad": "新闻"},
)


def test_a_mapped_column_decides() -> None:
    assert classify("zcwj", "2013年工作要点", None, PROFILE) == ("政策文件", "column:zcwj")
    assert classify("qt", "2012年度市教育局政府信息公开总结", None, PROFILE) == (
        "其他",
        "column:qt",
    )


@pytest.mark.parametrize(
    ("title", "doc_no", "expected"),
    [
        ("余姚市教育事业发展“十二五”规划", None, ("规划计划", "title:规划")),
        ("关于印发《2013年全市教育工作要点》的通知", "余教〔2013〕1号", ("规划计划", "title:要点")),
        ("2013年招生计划", None, ("规划计划", "title:计划")),
        ("2012年余姚市教育事业统计公报", None, ("统计数据", "title:统计")),
        ("余姚教育年鉴（2012）", None, ("统计数据", "title:年鉴")),
        ("市教育局主要职能", None, ("机构职能", "title:职能")),
        ("局内设机构设置", None, ("机构职能", "title:机构设置")),
        ("局领导分工", None, ("机构职能", "title:领导分工")),
        ("关于做好寒假安全工作的通知", "余教〔2012〕12号", ("政策文件", "doc_no")),
        ("余姚市中小学学籍管理办法（试行）", None, ("政策文件", "title:办法")),
        ("关于进一步加强师德建设的意见", None, ("政策文件", "title:意见")),
        ("关于表彰优秀教师的决定", None, ("政策文件", "title:决定")),
        ("关于做好寒假安全工作的通知", None, ("业务工作", "title:通知")),
        ("2012年教师招聘拟录用人员公示", None, ("业务工作", "title:公示")),
        ("2012年度市教育局政府信息公开总结", None, ("其他", "default")),
        ("关于某事项的复函", "余教规划〔2012〕3号", ("规划计划", "doc_no:规划")),
    ],
)
def test_fallback_rules_in_order(title: str, doc_no: str | None, expected: tuple[str, str]) -> None:
    assert classify("gzdt", title, doc_no, PROFILE) == expected


def test_an_unmapped_column_uses_the_rules_too() -> None:
    assert classify("new", "关于做好寒假安全工作的通知", None, PROFILE) == (
        "业务工作",
        "title:通知",
    )


def test_a_column_mapped_to_no_category_uses_the_rules() -> None:
    assert classify("bad", "2013年招生计划", None, PROFILE) == ("规划计划", "title:计划")


def test_the_default_comes_from_the_profile() -> None:
    profile = NormalizeProfile("s", "p", "002949236", {}, default_category="业务工作")
    assert classify("x", "无题", None, profile) == ("业务工作", "default")


@pytest.mark.parametrize(
    ("title", "genre"),
    [
        ("2012年度市教育局政府信息公开总结", "总结"),
        ("关于做好寒假安全工作的通知", "通知"),
        ("关于做好寒假安全工作的紧急通知。", "通知"),
        ("余姚市中小学学籍管理办法（试行）", "办法"),
        ("关于印发《学籍管理办法》的通知（余教〔2012〕12号）", "通知"),
        ("《余姚市教育事业发展规划》", "规划"),
        ("2012年余姚市教育事业统计公报", "统计数据"),
        ("余姚教育年鉴", "统计数据"),
        ("2012年政府信息公开工作年度报告", "报告"),
        ("2013年全市教育工作要点", "要点"),
        ("关于同意设立某学校的批复", "批复"),
        ("关于商请支持的函", "函"),
        ("关于某事项的复函", "函"),
        ("局务会议纪要", "纪要"),
        ("招生考试实施方案（征求意见稿）", "方案"),
        ("关于停课的公告", "公告"),
        ("关于道路封闭的通告", "通告"),
        ("局领导分工", "其他"),
        ("", "其他"),
    ],
)
def test_genre_from_the_title_ending(title: str, genre: str) -> None:
    assert genre_of(title) == genre
    assert genre in GENRES


def test_strip_title_decoration() -> None:
    assert strip_title_decoration("“学籍管理办法”（试行）（2012年修订）") == "“学籍管理办法"
    assert strip_title_decoration("通知") == "通知"
