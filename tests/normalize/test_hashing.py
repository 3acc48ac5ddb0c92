"""Stable hashes (issue 4 item 8): formatting-only changes keep the content hash, any real
field change alters it, volatile fields never count."""

from __future__ import annotations

import html
import json
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.catalog import Attachment, CatalogRecord, NormalizeProfile
from bridge.normalize import content_hash, normalize
from bridge.normalize.dates import SHANGHAI
from bridge.normalize.hashing import VOLATILE_FIELDS, canonical_json, canonical_text, hashable_view
from bridge.raw import RawAttachment, RawItem

URL = "https://www.yyedu.gov.cn/zwgk/gzdt/201212/t20121203_7.html"
PROFILE = NormalizeProfile("yyedu", "余姚市教育局", "002949236", {"gzdt": "业务工作"})
FETCHED = datetime(2013, 1, 2, 10, 0, tzinfo=SHANGHAI)
SHA = "0f" * 32

WORD = st.text(alphabet="余姚教育局学校寒假安全工作通知éàüCafe", min_size=1, max_size=6)
SENTENCE = st.lists(WORD, min_size=1, max_size=5).map(lambda ws: " ".join(ws) + "。")
PARAGRAPHS = st.lists(SENTENCE, min_size=1, max_size=5)
SPACE = st.sampled_from([" ", "  ", "\u3000", "\xa0", "\t", "\r\n", " \u3000 "])


def raw(title: str, paragraphs: list[str], **changes: Any) -> RawItem:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    body += '<p><a href="files/a.doc" title="附件 一">附件</a></p><p>2012年12月3日</p>'
    item = RawItem(
        source="yyedu",
        column="gzdt",
        url=URL,
        article_id="t20121203_7",
        title=title,
        list_title=title,
        list_date="2012-12-05",
        meta={"发布机构": "余姚市教育局", "文号": "余教〔2012〕12号"},
        body_html=body,
        body_text="\n".join([*paragraphs, "2012年12月3日"]),
        attachments=(RawAttachment("附件.doc", "files/a.doc", "application/msword", 9, SHA),),
        fetched_at=FETCHED,
    )
    return replace(item, **changes)


def reformat(text: str, spaces: list[str]) -> str:
    """``text`` as another editor would type it: NFD, every space another kind or more."""
    pieces = text.split(" ")
    out = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        out += spaces[i % len(spaces)] + piece
    return unicodedata.normalize("NFD", spaces[-1] + out + spaces[0])


def hash_of(item: RawItem) -> str:
    return content_hash(normalize(item, PROFILE).to_json())


@settings(max_examples=150)
@given(WORD, PARAGRAPHS, st.lists(SPACE, min_size=3, max_size=3), st.integers(0, 10**6))
def test_formatting_only_changes_keep_the_hash(
    title: str, paragraphs: list[str], spaces: list[str], seconds: int
) -> None:
    title = f"关于{title}的通知"
    plain = raw(title, paragraphs)
    gap = "".join(spaces)
    body = gap.join(
        f'<p class="MsoNormal" style="text-indent:2em">{spaces[0]}{html.escape(reformat(p, spaces))}'
        f"{spaces[1]}</p>"
        for p in paragraphs
    )
    body += (
        f'{gap}<p>{spaces[2]}<a title="附件{spaces[0]}一" href="files/a.doc">附件</a></p>'
        f"<p>&nbsp;</p>{gap}<p>2012年12月3日</p>{gap}"
    )
    formatted = replace(
        plain,
        title=reformat(title, spaces),
        meta={"发 布 机 构：": "余姚市教育局" + spaces[0], "文\u3000号": "余教 [2012] 12号"},
        body_html=body.replace("\n", "\r\n"),
        body_text="\r\n\r\n".join(reformat(p, spaces) for p in [*paragraphs, "2012年12月3日"]),
        attachments=(
            RawAttachment(
                reformat("附件.doc", spaces).strip(), " files/a.doc", "application/msword", 9, SHA
            ),
        ),
        fetched_at=FETCHED + timedelta(seconds=seconds),
    )
    a, b = normalize(formatted, PROFILE).to_json(), normalize(plain, PROFILE).to_json()
    assert hashable_view(a) == hashable_view(b)  # the readable diff, should this fail
    assert content_hash(a) == content_hash(b)


@given(WORD, PARAGRAPHS, st.integers(0, 4), st.sampled_from(["改", "A", "0"]))
def test_a_changed_word_in_the_body_changes_the_hash(
    title: str, paragraphs: list[str], index: int, extra: str
) -> None:
    title = f"关于{title}的通知"
    changed = list(paragraphs)
    i = index % len(changed)
    changed[i] = changed[i][:-1] + extra + "。"
    assert hash_of(raw(title, changed)) != hash_of(raw(title, paragraphs))


def _record() -> CatalogRecord:
    return normalize(raw("关于做好寒假安全工作的通知", ["各中小学：", "寒假将至。"]), PROFILE)


ATTACHMENT = Attachment("附件.doc", URL, "application/msword", 9, SHA)
CHANGES: dict[str, Any] = {
    "external_id": "yyedu:t20121203_8",
    "title": "关于做好寒假安全工作的补充通知",
    "summary": "各中小学：寒假将至！",
    "publisher": "余姚市教育局办公室",
    "created": date(2012, 12, 4),
    "published": datetime(2012, 12, 5, 0, 1, tzinfo=SHANGHAI),
    "doc_no": "余教〔2012〕13号",
    "category": "政策文件",
    "topic": "教育",
    "genre": "意见",
    "body_html": "<p>各中小学：</p><p>寒假将至!</p>",
    "keywords": ("寒假",),
    "disclosure": "依申请公开",
    "scope": "面向学校",
    "validity": "失效",
    "attachments": (replace(ATTACHMENT, sha256="1f" * 32),),
    "attachments.name": (replace(ATTACHMENT, name="附件2.doc"),),
    "attachments.url": (replace(ATTACHMENT, url=URL + "?v=2"),),
    "attachments.size": (replace(ATTACHMENT, size=10),),
    "attachments.media_type": (replace(ATTACHMENT, media_type="application/pdf"),),
    "source.url": "https://www.yyedu.gov.cn/zwgk/gzdt/201212/t20121203_8.html",
    "source.column": "zcwj",
    "source.article_id": "t20121203_8",
    "source.name": "other",
}


def _changed(record: CatalogRecord, key: str) -> CatalogRecord:
    field, _, sub = key.partition(".")
    if field == "source":
        return replace(record, source=replace(record.source, **{sub: CHANGES[key]}))
    return replace(record, **{field: CHANGES[key]})


@given(st.sampled_from(sorted(CHANGES)))
def test_any_field_change_alters_the_hash(key: str) -> None:
    record = replace(_record(), attachments=(ATTACHMENT,))
    assert content_hash(_changed(record, key).to_json()) != content_hash(record.to_json())


def test_every_content_field_is_covered_by_a_change() -> None:
    record_keys = set(_record().to_json()) - {"index_no"}
    assert {key.partition(".")[0] for key in CHANGES} == record_keys


@given(
    st.text(alphabet="0123456789ABCDEFGHX/-", max_size=20),
    st.integers(0, 10**8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.dictionaries(st.sampled_from(["title", "created", "publisher"]), st.text(max_size=12)),
    st.lists(st.text(max_size=12), max_size=2),
)
def test_volatile_fields_never_count(
    index_no: str,
    seconds: int,
    file_id: str,
    rule: str,
    provenance: dict[str, str],
    remarks: list[str],
) -> None:
    record = replace(_record(), attachments=(ATTACHMENT,))
    volatile = replace(
        record,
        index_no=index_no,
        source=replace(record.source, fetched_at=FETCHED + timedelta(seconds=seconds)),
        attachments=(replace(ATTACHMENT, file_id=file_id),),
        classified_by=rule,
        provenance=provenance,
        remarks=tuple(remarks),
    )
    assert content_hash(volatile.to_json()) == content_hash(record.to_json())
    assert content_hash(volatile.to_state_json()) == content_hash(record.to_json())


def test_volatile_fields_are_named() -> None:
    assert VOLATILE_FIELDS == (
        "index_no",
        "classified_by",
        "provenance",
        "remarks",
        "source.fetched_at",
        "attachments[].file_id",
    )
    view = hashable_view(_record().to_state_json())
    assert "index_no" not in view and "classified_by" not in view
    assert "fetched_at" not in view["source"]


def test_the_hash_survives_a_json_round_trip() -> None:
    record = _record()
    assert content_hash(CatalogRecord.from_json(record.to_json()).to_json()) == content_hash(
        record.to_json()
    )


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json({"b": 1, "a": "余"}) == canonical_json({"a": "余", "b": 1})
    assert canonical_json({"a": "余"}) == '{"a":"余"}'.encode()


def test_hashable_view_leaves_the_record_it_reads_alone() -> None:
    """The view copies what it drops a field from, once; the caller's form keeps all."""
    record = replace(_record(), index_no="002949236/2012-00001")
    state = replace(record, attachments=(replace(ATTACHMENT, file_id="f1"),)).to_state_json()
    before = json.loads(json.dumps(state))
    view = hashable_view(state)
    assert state == before
    assert "index_no" not in view and "provenance" not in view
    assert view["attachments"] == [
        {k: v for k, v in before["attachments"][0].items() if k != "file_id"}
    ]
    assert view["source"] == {k: v for k, v in before["source"].items() if k != "fetched_at"}


def test_canonical_json_is_json_dumps_with_its_options() -> None:
    value = _record().to_state_json()
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert canonical_json(value) == expected.encode()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON_VALUES)
def test_canonical_text_is_json_dumps_with_its_options_for_any_json_value(value) -> None:
    # canonical_text runs the C encoder json.dumps makes, made once: any value, same text.
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert canonical_text(value) == expected


def test_a_value_json_cannot_encode_is_refused_as_json_dumps_refuses_it() -> None:
    value = {"a": [1, {"b": object()}]}
    with pytest.raises(TypeError) as dumps_error:
        json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with pytest.raises(TypeError) as ours:
        canonical_text(value)
    assert str(ours.value) == str(dumps_error.value)
