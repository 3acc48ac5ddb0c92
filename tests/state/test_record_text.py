"""A record's JSON encoded once: the same content hash and stored text as encoding it whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import make_record

from bridge.catalog import Attachment, CatalogRecord
from bridge.normalize.hashing import canonical_json, content_hash
from bridge.state.record_text import RecordText

WHEN = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _records() -> list[CatalogRecord]:
    base = make_record(
        "yyedu:a1", "关于做好冬季安全工作的通知", published=WHEN, doc_no="余教〔2026〕1号"
    )
    files = (
        Attachment("附件1.pdf", "http://site.example/f/1.pdf", "application/pdf", 10, "a" * 64),
        Attachment("附件 2.doc", "http://site.example/f/2.doc", "application/msword", 3, "b" * 64),
    )
    return [
        base,
        replace(base, published=None, doc_no=None, keywords=("教育", "安全")),
        replace(base, attachments=files, index_no="002949237/2026-00001"),
        replace(base, attachments=files).with_file_ids({"a" * 64: "f-1", "b" * 64: "f-2"}),
        replace(base, remarks=("索引号 x: the page shows it",), classified_by="rule:title"),
        replace(
            base, title='引号 " 反斜杠 \\ 控制 \x07 \u2028 表情 😀', body_html="<p>&amp;\t</p>"
        ),
        base.with_index_no("002949236/2026-00007", "minted:bridge"),
    ]


@pytest.mark.parametrize("record", _records())
def test_the_content_hash_and_state_text_are_those_of_the_whole_record(record) -> None:
    text = RecordText(record)
    assert text.content_hash == content_hash(record.to_json())
    assert text.state_json(record) == canonical_json(record.to_state_json()).decode()


@pytest.mark.parametrize("record", _records())
def test_the_record_as_filed_is_encoded_with_its_own_values(record) -> None:
    """The store files a record under another 索引号, with remarks; any value that differs
    from the encoded record's, volatile or not, is encoded afresh."""
    text = RecordText(record)
    filed = replace(record.with_index_no("002949236/2026-00009", "store"), remarks=("filed as …",))
    assert text.state_json(filed) == canonical_json(filed.to_state_json()).decode()
    other = replace(filed, title="另一个标题", attachments=())
    assert text.state_json(other) == canonical_json(other.to_state_json()).decode()
