"""A PUT's body spliced from the stored record is the record's canonical JSON, byte for
byte, or not spliced at all (the http target then encodes the record itself)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.catalog import Attachment, CatalogRecord, SourceRef
from bridge.delivery.send import _prepare, spliced
from bridge.delivery.stats import DeliveryStats
from bridge.normalize.hashing import canonical_json
from bridge.state.outbox import Claimed
from bridge.targets.base import WireRecord
from bridge.targets.http import HttpTarget


def state_record(title: str, index_no: str | None, attachments: int) -> dict[str, Any]:
    """A record in state form, as the store keeps it (``to_state_json``)."""
    return CatalogRecord(
        external_id="yyedu:t20240315_000001",
        title=title,
        summary="各中小学：为切实做好校舍安全工作，现将有关事项通知如下。",
        publisher="余姚市教育局",
        created=datetime(2024, 3, 15).date(),
        published=datetime(2024, 3, 15, 1, 30, tzinfo=UTC),
        doc_no="余教〔2024〕1号",
        category="业务工作",
        topic="科技、教育\\教育",
        genre="通知",
        body_html=f"<p>{title}</p>",
        source=SourceRef(
            "yyedu", "tzgg", "http://www.yyedu.gov.cn/a.html", "t1", datetime.now(UTC)
        ),
        index_no=index_no,
        attachments=tuple(
            Attachment(
                f"附件{n}.pdf",
                f"http://www.yyedu.gov.cn/{n}.pdf",
                "application/pdf",
                100 + n,
                f"{n:064x}",
            )
            for n in range(attachments)
        ),
        classified_by="column:tzgg",
        provenance={"index_no": "page:索引号", "title": "page:标题"},
    ).to_state_json()


def claimed(state: dict[str, Any], index_no: str | None, stored: str | None) -> Claimed:
    return Claimed(1, 1, state.get("external_id", "x"), "yyedu", "put", 0, 1, state, index_no,
                   stored)  # fmt: skip


def prepared(state: dict[str, Any], index_no: str | None, stored: str | None) -> WireRecord:
    """The wire record of a delivery whose files the target holds (no upload)."""
    file_ids = {a["sha256"]: f"file-{a['sha256'][:6]}" for a in state.get("attachments") or []}
    return _prepare(None, claimed(state, index_no, stored), DeliveryStats(), [], file_ids)  # type: ignore[arg-type]


def stored(state: dict[str, Any]) -> str:
    return canonical_json(state).decode()


def check(state: dict[str, Any], index_no: str | None) -> WireRecord:
    record = prepared(state, index_no, stored(state))
    assert record == prepared(state, index_no, None)  # the same record either way
    assert "classified_by" not in record
    if record.text is not None:
        assert record.text == canonical_json(dict(record)).decode()
    return record


def test_an_everyday_record_is_spliced() -> None:
    for attachments in (0, 1, 3):
        for index_no in (None, "002949236/2024-00001"):
            for minted in (None, index_no, "002949236/2024-00002"):
                record = check(
                    state_record("关于做好校舍安全工作的通知", index_no, attachments), minted
                )
                assert record.text is not None


def test_a_title_that_looks_like_a_key_is_spliced_right() -> None:
    title = '"index_no":null,"classified_by":"column:tzgg",\\"attachments\\":[]'
    for attachments in (0, 2):
        check(state_record(title, None, attachments), "002949236/2024-00009")


def test_a_value_found_twice_is_left_to_the_encoder() -> None:
    state = state_record("通知", "page:索引号", 0)
    state["provenance"] = {"index_no": "page:索引号"}  # the same "index_no":"page:索引号" nested
    record = check(state, "002949236/2024-00003")
    assert record.text is None
    assert json.loads(canonical_json(dict(record)))["index_no"] == "002949236/2024-00003"


def test_a_record_stored_in_another_form_is_left_to_the_encoder() -> None:
    state = state_record("通知", None, 1)
    old_form = json.dumps(state, ensure_ascii=False, sort_keys=True)  # with spaces
    record = prepared(state, "002949236/2024-00004", old_form)
    assert record.text is None


# Keys near those the splice changes, values made of the characters that matter to JSON
TEXT = st.text(st.sampled_from('ab"\\:,{}[] 索\n'), max_size=8)
KEYS = st.sampled_from(["attachments", "classified_by", "index_no", "title", "a", "z", "file_id"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS | TEXT, inner, max_size=3),
    max_leaves=8,
)
ATTACHMENT = st.fixed_dictionaries(
    {"name": TEXT, "sha256": st.sampled_from(["aa", "bb", "cc"])},
    optional={"url": TEXT, "size": st.integers(0, 12)},
)


@given(
    st.dictionaries(KEYS | TEXT, VALUES, max_size=6),
    st.lists(ATTACHMENT, max_size=3) | st.none(),
    st.none() | TEXT,
    st.none() | TEXT,
    st.none() | TEXT,
)
def test_a_spliced_body_is_the_record_s_canonical_json(
    extra: dict[str, Any],
    attachments: list[dict[str, Any]] | None,
    classified_by: str | None,
    index_no: str | None,
    minted: str | None,
) -> None:
    state = dict(extra)
    for key, value in (("attachments", attachments), ("classified_by", classified_by),
                       ("index_no", index_no)):  # fmt: skip
        if value is not None:
            state[key] = value
        else:
            state.pop(key, None)
    check(state, minted)


def test_a_key_is_cut_out_wherever_it_is() -> None:
    states: tuple[dict[str, Any], ...] = (
        {"attachments": [], "classified_by": "c"},
        {"attachments": [], "classified_by": "c", "index_no": None},
        {"a": 1, "attachments": [], "classified_by": "c", "z": None},
    )
    for state in states:
        record = check(state, None)
        assert record.text == canonical_json(dict(record)).decode()
    for first in ({"classified_by": "c", "title": "t"}, {"classified_by": "c"}):
        check(first, None)  # no attachments to add: left to the encoder
        wire = {k: v for k, v in first.items() if k != "classified_by"}
        assert spliced(stored(first), first, wire) in (None, stored(wire))


class _Client:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def request(self, method: str, url: str, *, body: bytes | None = None, **kw: Any) -> Any:
        from urllib3 import HTTPHeaderDict

        from bridge.net.client import Answer

        self.bodies.append(body or b"")
        return Answer(201, HTTPHeaderDict(), b'{"index_no":"I","version":1,"status":"created"}')


def test_the_http_target_sends_the_spliced_text_or_the_canonical_json() -> None:
    target = HttpTarget("portal", "http://127.0.0.1:9/", "key", "secret")
    target.client = _Client()  # type: ignore[assignment]
    state = state_record("通知", None, 1)
    record = prepared(state, "002949236/2024-00005", stored(state))
    assert record.text is not None
    target.put(record)
    target.put(dict(record))
    assert target.client.bodies == [record.text.encode(), canonical_json(dict(record))]  # type: ignore[attr-defined]
