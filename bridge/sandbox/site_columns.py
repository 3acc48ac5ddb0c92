"""The columns of the sandbox site's disclosure catalog (信息公开目录).

A default site has the six top columns, named after the bureau's six 组配分类 (机构职能 …
其他). ``generate_site(columns=N)`` adds the first N - 6 sub-columns below, as a bigger
bureau's catalog has them: each has a folder of its own (TRS ``/xxgk/<key>/``), a Hanweb
column id (1235, 1236 …) and files its items under one of the six categories. Past the named
sub-columns the catalog goes on with numbered 专栏. The site's columns are always the first N of
the catalog, so a column's place (and with it its list markup) never depends on N.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

DEFAULT_COLUMNS = 6
MAX_COLUMNS = 60
HANWEB_FIRST_ID = 1229  # jgzn; then one id per column in catalog order (docs/sandbox-hanweb.md)

TOP: tuple[tuple[str, str, int], ...] = (
    ("jgzn", "机构职能", 1),
    ("zcwj", "政策文件", 5),
    ("ghjh", "规划计划", 2),
    ("ywgz", "业务工作", 7),
    ("tjsj", "统计数据", 2),
    ("qt", "其他", 2),
)
"""(key, name, weight): most of what a bureau publishes is work news and policy files."""

SUB: tuple[tuple[str, str, str], ...] = (
    ("zsks", "招生考试", "ywgz"),
    ("jsdw", "教师队伍", "ywgz"),
    ("ddpg", "督导评估", "ywgz"),
    ("xqjy", "学前教育", "ywgz"),
    ("ywjy", "义务教育", "ywgz"),
    ("zcjy", "职成教育", "ywgz"),
    ("jyjf", "教育经费", "tjsj"),
    ("xyaq", "校园安全", "ywgz"),
    ("rsxx", "人事信息", "jgzn"),
    ("zfcg", "政府采购", "qt"),
    ("jyta", "建议提案办理", "qt"),
    ("gfxwj", "规范性文件", "zcwj"),
    ("bmyjs", "部门预决算", "tjsj"),
    ("ldxx", "领导信息", "jgzn"),
    ("nsjg", "内设机构", "jgzn"),
    ("zsdw", "直属单位", "jgzn"),
    ("qzqd", "权责清单", "jgzn"),
    ("zcjd", "政策解读", "zcwj"),
    ("sjwj", "上级文件", "zcwj"),
    ("fzgh", "发展规划", "ghjh"),
    ("ndjh", "年度计划", "ghjh"),
    ("gzzj", "工作总结", "ghjh"),
    ("zxgh", "专项规划", "ghjh"),
    ("tjgb", "统计公报", "tjsj"),
    ("sytj", "事业统计", "tjsj"),
    ("ndbg", "信息公开年报", "qt"),
    ("gsgg", "公示公告", "qt"),
    ("rdhy", "热点回应", "qt"),
    ("pgjy", "普通高中", "ywgz"),
    ("tsjy", "特殊教育", "ywgz"),
    ("zsjy", "终身教育", "ywgz"),
    ("xszz", "学生资助", "ywgz"),
    ("jyxxh", "教育信息化", "ywgz"),
    ("twy", "体卫艺", "ywgz"),
    ("dygz", "德育工作", "ywgz"),
    ("jyky", "教研科研", "ywgz"),
    ("mbjy", "民办教育", "ywgz"),
    ("xsjs", "校舍建设", "ghjh"),
    ("jysf", "教育收费", "zcwj"),
    ("xzxk", "行政许可", "ywgz"),
    ("xzcf", "行政处罚", "ywgz"),
    ("sscc", "双随机抽查", "ywgz"),
    ("yjgl", "应急管理", "ywgz"),
    ("yywz", "语言文字", "ywgz"),
    ("dwjl", "对外交流", "ywgz"),
    ("zpxx", "招聘信息", "jgzn"),
    ("zdxm", "重大项目", "ghjh"),
    ("jgdj", "机关党建", "qt"),
)
"""(key, name, category key) of the sub-columns, in the order a site gains them."""

SUB_WEIGHT = 1  # a sub-column publishes about as often as 机构职能


@dataclass(frozen=True)
class Column:
    """One column of the catalog; ``category`` is the key of the top column it files under."""

    index: int  # place in the catalog (and in every site that has it)
    key: str
    name: str  # what the site shows: the list heading, the side menu
    category: str
    weight: int  # share of the generated items

    @property
    def category_name(self) -> str:
        """The items' 组配分类: the name of the top column."""
        return TOP_NAMES[self.category]

    @property
    def top(self) -> bool:
        return self.index < len(TOP)

    @property
    def trs_path(self) -> str:
        return f"/xxgk/{self.key}/"

    @property
    def hanweb_id(self) -> int:
        return HANWEB_FIRST_ID + self.index

    def folder(self, style: str) -> str:
        """The URL path of the column's folder: ``/xxgk/<key>/`` or ``/col/col<ID>/``."""
        return f"/col/col{self.hanweb_id}/" if style == "hanweb" else self.trs_path


TOP_NAMES = {key: name for key, name, _ in TOP}


def _catalog() -> tuple[Column, ...]:
    out = [Column(i, key, name, key, weight) for i, (key, name, weight) in enumerate(TOP)]
    out += [Column(len(out) + i, k, n, c, SUB_WEIGHT) for i, (k, n, c) in enumerate(SUB)]
    out += [
        Column(i, f"zl{i + 1}", f"专栏{i + 1}", "qt", SUB_WEIGHT)
        for i in range(len(out), MAX_COLUMNS)
    ]
    return tuple(out)


CATALOG = _catalog()
BY_KEY = {c.key: c for c in CATALOG}


def column(key: str) -> Column:
    """Any column of the catalog by its key (KeyError when there is none)."""
    return BY_KEY[key]


def check_count(count: int) -> str | None:
    """Why ``count`` cannot be a site's number of columns, or None."""
    if isinstance(count, bool) or not isinstance(count, int):
        return f"columns must be a whole number, not {count!r}"
    if not DEFAULT_COLUMNS <= count <= MAX_COLUMNS:
        return f"columns must be from {DEFAULT_COLUMNS} to {MAX_COLUMNS}, not {count}"
    return None


@cache
def site_columns(count: int) -> tuple[Column, ...]:
    """The columns of a site with ``count`` columns: the first ``count`` of the catalog."""
    problem = check_count(count)
    if problem:
        raise ValueError(problem)
    return CATALOG[:count]
