"""The prose of the sandbox site's items: bodies built by genre, as a bureau writes them.

A 通知 opens with its addressees and a 为…根据… sentence, runs through numbered sections and
ends with 特此通知, the issuer and the date; a 公示 lists names and its objection period; a 统计
公报 carries a table of figures. The bridge summarizes bodies and finds 文号 and dates in them,
so they have the shapes a parser meets on real pages. Sentences come from data/phrases.json.
"""

from __future__ import annotations

import html
import random
from datetime import date, timedelta
from typing import Any

PUBLISHER = "余姚市教育局"
CITY_OFFICE = "余姚市人民政府办公室"
_DIGITS = "零一二三四五六七八九十"


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals, as section headings use them (一、十二、)."""
    if n <= 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def cn_numeral_date(d: date) -> str:
    """A date all in Chinese numerals, as many 落款 are typeset: 二〇一二年十二月三日."""
    year = "".join("〇一二三四五六七八九"[int(c)] for c in str(d.year))
    return f"{year}年{cn_number(d.month)}月{cn_number(d.day)}日"


def paragraph(text: str, align: str | None = None) -> str:
    """One escaped body paragraph (also what an editor's appended sentence becomes)."""
    style = f' style="text-align: {align};"' if align else ""
    return f"<p{style}>{html.escape(text, quote=False)}</p>"


_p = paragraph


class Body:
    """Builds the body of one item as <p> paragraphs, by genre group."""

    def __init__(
        self,
        rng: random.Random,
        p: dict[str, Any],
        title: str,
        genre: str,
        issuer: str,
        created: date,
        attachments: list[str],
        numeral_date: bool = False,
    ):
        self.rng, self.p, self.title, self.issuer = rng, p, title, issuer
        self.created, self.attachments = created, attachments
        self.numeral_date = numeral_date  # the 落款 date in 汉字 numerals
        self.genre = genre
        self.subject = _subject(title, genre)
        self._decks: dict[str, list[str]] = {}

    def render(self, group: str) -> str:
        paras: list[str] = getattr(self, "_" + group)()
        return "\n".join(paras)

    # building blocks

    def _say(self, pool: str = "sentences", n: int = 2) -> str:
        """``n`` sentences from ``pool``; none repeats within a body until the pool runs out."""
        y = self.created.year
        deck = self._decks.setdefault(pool, [])
        picks = []
        for _ in range(n):
            if not deck:
                deck.extend(self.rng.sample(self.p[pool], k=len(self.p[pool])))
            picks.append(deck.pop())
        nums = {
            "a": self.rng.randint(12, 98), "b": self.rng.randint(120, 980),
            "c": self.rng.randint(1200, 9800), "s": self.rng.randint(3, 15), "y2": y + 2,
        }  # fmt: skip
        return "".join(s.format_map(nums) for s in picks)

    def _addressee(self) -> list[str]:
        if self.issuer == CITY_OFFICE:
            return [_p(self.p["gov_addressee"])]
        return [_p(self.rng.choice(self.p["addressees"]))]

    def _sections(self, kind: str, pool: str = "sentences", sub: bool = False) -> list[str]:
        heads = self.p["headings"][kind]
        count = self.rng.randint(3, len(heads))
        out: list[str] = []
        for i, head in enumerate(heads[:count], 1):
            out.append(_p(f"{cn_number(i)}、{head}"))
            if sub:
                for j in range(1, self.rng.randint(2, 3) + 1):
                    out.append(_p(f"（{cn_number(j)}）{self._say(pool, 1)}"))
            else:
                out.append(_p(self._say(pool, self.rng.randint(2, 3))))
        return out

    def _purpose(self) -> str:
        purpose = self.rng.choice(self.p["purposes"])
        return f"为{purpose}，根据{self.rng.choice(self.p['bases'])}，结合我市实际，"

    def _closing(self) -> list[str]:
        out: list[str] = []
        if self.attachments:
            listed = "　".join(f"{i}.{n}" for i, n in enumerate(self.attachments, 1))
            out.append(_p(f"附件：{listed}"))
        out.append(_p(self.issuer, "right"))
        signed = cn_numeral_date if self.numeral_date else cn_date
        out.append(_p(signed(self.created), "right"))
        return out

    def _contact(self) -> str:
        dept = self.rng.choice(self.p["departments"])
        return f"联系人：市教育局{dept}　{self._name()}，联系电话：0574-6{self.rng.randint(2000000, 2999999)}。"

    def _name(self) -> str:
        given = self.rng.choice(self.p["given"])
        if self.rng.random() < 0.7:
            given += self.rng.choice(self.p["given"])
        return self.rng.choice(self.p["surnames"]) + given

    # genre groups

    def _notice(self) -> list[str]:
        out = [] if self.genre in ("公告", "通告") else self._addressee()
        if self.subject.startswith("印发《"):
            doc = self.subject[3:].rstrip("》")
            out.append(_p(f"现将《{doc}》印发给你们，请结合实际，认真贯彻执行。"))
            out += self._closing()
            out.append(_p(doc, "center"))
            return out + self._articles_only(doc)
        out.append(_p(f"{self._purpose()}现就{self.subject}有关事项{self.genre}如下："))
        out += self._sections("notice")
        out.append(_p(self._contact()))
        out.append(_p(f"特此{self.genre}。"))
        return out + self._closing()

    def _opinion(self) -> list[str]:
        out = self._addressee()
        out.append(_p(f"{self._purpose()}现就{self.subject}提出如下意见："))
        return out + self._sections("opinion", sub=True) + self._closing()

    def _decision(self) -> list[str]:
        out = self._addressee()
        if "表彰" not in self.title:
            out.append(_p(f"{self._purpose()}经研究，现就{self.subject}决定如下："))
            for i in range(1, self.rng.randint(3, 4) + 1):
                out.append(_p(f"{cn_number(i)}、{self._say('sentences', 1)}"))
            return [*out, _p("本决定自发布之日起施行。"), *self._closing()]
        year = self.created.year - 1
        out.append(_p(f"{year}年，全市广大教师爱岗敬业、无私奉献，为我市教育事业发展作出了积极贡献，"
                      "涌现出一批先进典型。"))  # fmt: skip
        winners = "、".join(f"{self.rng.choice(self.p['schools'])}{self._name()}" for _ in range(6))
        count = self.rng.randint(20, 60)
        out.append(_p(f"经研究，决定对{winners}等{count}名同志予以表彰（名单附后）。"))
        out.append(_p("希望受表彰的同志珍惜荣誉，戒骄戒躁，再创佳绩。" + self._say("sentences", 1)))
        return out + self._closing()

    def _articles(self) -> list[str]:
        return self._articles_only(self.title) + self._closing()

    def _articles_only(self, name: str) -> list[str]:
        """规定/办法/细则 style articles; ``name`` (the document's) says what to call it."""
        kinds = ("规定", "办法", "细则", "方案", "意见", "计划", "章程")
        kind = next((k for k in kinds if name.endswith(k)), "办法")
        out = [_p(f"第一条　{self._purpose()}制定本{kind}。")]
        for i in range(2, self.rng.randint(5, 9)):
            out.append(_p(f"第{cn_number(i)}条　{self._say('sentences', 1)}"))
        out.append(
            _p(f"第{cn_number(len(out) + 1)}条　本{kind}自发布之日起施行，由市教育局负责解释。")
        )
        return out

    def _plan(self) -> list[str]:
        intro = (
            f"{self.created.year}年是全市教育改革发展的关键之年。{self._say('plan_sentences', 1)}"
        )
        out = [_p(intro), *self._sections("plan", "plan_sentences", sub=True)]
        return out + self._closing()  # issuer and date: 成文日期 for pages without a table

    def _report(self) -> list[str]:
        out = [
            _p(
                f"现将{self.subject}报告如下："
                if self.genre == "报告"
                else self._say("report_sentences", 1)
            )
        ]
        return out + self._sections("report", "report_sentences") + self._closing()

    def _bulletin(self) -> list[str]:
        start = self.created - timedelta(days=self.rng.randint(10, 30))
        end = start + timedelta(days=self.rng.randint(1, 5))
        span = f"{start.month}月{start.day}日至{end.month}月{end.day}日"
        out = self._addressee()
        out.append(_p(f"{span}，市教育局组织开展了{self.subject}相关工作。现将有关情况通报如下："))
        out += self._sections("bulletin")
        return [*out, _p("特此通报。"), *self._closing()]

    def _reply(self) -> list[str]:
        out = [_p(f"{self._requester()}：")]
        asked = self.subject.removeprefix("同意")
        out.append(_p(f"你单位《关于{asked}的请示》收悉。经研究，现批复如下："))
        for i in range(1, self.rng.randint(2, 3) + 1):
            out.append(_p(f"{cn_number(i)}、{self._say('sentences', 1)}"))
        return [*out, _p("此复。"), *self._closing()]

    def _requester(self) -> str:
        """Whoever asked for the 批复: the school or town the title names, if any."""
        schools = sorted((s for s in self.p["schools"] if s in self.title), key=len)
        if schools:
            return schools[-1]
        town = next((t for t in self.p["towns"] if t in self.title), None)
        return f"{town}中心学校" if town else self.rng.choice(self.p["schools"])

    def _publicity(self) -> list[str]:
        subject = self.subject.removeprefix("公布")
        out = [_p(f"根据{self.rng.choice(self.p['bases'])}，经学校推荐、市教育局审核，"
                  f"现将{subject}予以公示：")]  # fmt: skip
        for _ in range(self.rng.randint(4, 10)):
            out.append(_p(f"{self.rng.choice(self.p['schools'])}　{self._name()}"))
        end = self.created + timedelta(days=7)
        out.append(_p(f"公示时间：{cn_date(self.created)}至{cn_date(end)}。公示期间如有异议，"
                      "请以书面形式向市教育局反映，反映情况要实事求是。"))  # fmt: skip
        return [*out, _p(self._contact()), *self._closing()]

    def _stats(self) -> list[str]:
        subject = self.subject.removesuffix("统计")
        what = subject if subject.endswith("情况") else subject + "主要情况"
        out = [_p(f"根据全市教育事业统计年报，现将{what}公布如下：")]
        out.append(stats_table(self.rng, money="经费" in self.title or "资金" in self.title))
        out.append(_p(self._say("report_sentences", 2)))
        return out + self._closing()


def _subject(title: str, genre: str) -> str:
    """What the title is about: issuer, 关于 and the genre word taken off."""
    t = title
    for issuer in (CITY_OFFICE, "余姚市教育局 余姚市财政局", PUBLISHER):
        if t.startswith(issuer) and t.removeprefix(issuer).startswith("关于"):
            t = t.removeprefix(issuer)
    t = t.removeprefix("关于")
    t = t[: len(t) - len(genre)]
    for tail in ("的实施", "的若干", "的"):
        t = t.removesuffix(tail)
    return t


_STAGES = (  # 学段, schools, pupils per school (range), teachers per 100 pupils
    ("幼儿园", (110, 140), (180, 320), 9),
    ("小学", (55, 70), (700, 1100), 6),
    ("初中", (28, 35), (650, 950), 8),
    ("普通高中", (7, 9), (1300, 1900), 9),
    ("中等职业学校", (5, 6), (1400, 2000), 8),
    ("特殊教育学校", (1, 1), (180, 260), 25),
)


def stats_table(rng: random.Random, money: bool = False) -> str:
    """A figures table by 学段 with a 合计 row: pupils and teachers, or (``money``) funds."""
    head: tuple[str, ...]
    if money:
        head = ("学段", "教育经费总投入（万元）", "财政性教育经费（万元）", "生均教育事业费（元）")
    else:
        head = ("学段", "学校数（所）", "在校学生数（人）", "招生数（人）", "毕业生数（人）",
                "专任教师数（人）")  # fmt: skip
    rows: list[list[int]] = []
    for _name, schools_range, per_school, teachers in _STAGES:
        schools = rng.randint(*schools_range)
        pupils = schools * rng.randint(*per_school)
        intake = pupils // rng.randint(3, 4)
        if money:
            per_pupil = rng.randint(14000, 26000) * (2 if teachers > 20 else 1)
            total = pupils * per_pupil // 10000 * rng.randint(110, 125) // 100
            rows.append([total, total * rng.randint(82, 92) // 100, per_pupil])
        else:
            rows.append([schools, pupils, intake, intake - rng.randint(0, intake // 20 + 1),
                         pupils * teachers // 100])  # fmt: skip
    table: list[list[int | str]] = [list(row) for row in rows]
    total_row: list[int | str] = [sum(col) for col in zip(*rows, strict=True)]
    table.append(total_row)
    if money:
        total_row[-1] = "—"  # an average of averages would be wrong; real tables leave it out
    names = [stage[0] for stage in _STAGES] + ["合计"]
    lines = ['<table border="1" cellspacing="0" cellpadding="4" class="stats">']
    lines.append("<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>")
    for name, row in zip(names, table, strict=True):
        lines.append(f"<tr><td>{name}</td>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)
