"""The contract every target keeps (DESIGN.md §5, Portal API v1 semantics).

``TargetContract`` is a base class of tests; ``test_contract.py`` runs it once per
implementation with a short subclass that provides the ``target`` fixture (and, where a
second handle on the same store makes sense, ``reopen``). The outcomes asserted here
are exact: the pipeline relies on them whichever target it talks to.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest

from bridge.catalog import DEFAULT_TOPIC, INDEX_NO_RE, Attachment, CatalogRecord, SourceRef
from bridge.errors import Rejected
from bridge.normalize.dates import SHANGHAI
from bridge.normalize.hashing import content_hash
from bridge.targets.base import Receipt, Target

ORG = "002949236"
FETCHED = datetime(2024, 3, 16, 8, 0, tzinfo=SHANGHAI)
PDF = b"%PDF-1.4\n% \xe4\xbd\x99\xe5\xa7\x9a test attachment\n%%EOF\n"
STATE_KEYS = ("index_no", "version", "status", "content_hash", "updated_at")


def make_record(
    n: int = 1,
    *,
    title: str | None = None,
    body_html: str = "<p>各中小学：</p><p>为切实做好校舍安全工作，现将有关事项通知如下。</p>",
    created: date = date(2024, 3, 15),
    fetched_at: datetime = FETCHED,
    index_no: str | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> dict[str, Any]:
    """A realistic record in wire form, as the pipeline hands it to a target."""
    return CatalogRecord(
        external_id=f"yyedu:t20240315_{n:06d}",
        title=title or f"余姚市教育局关于做好2024年第{n}批中小学校舍安全工作的通知",
        summary="各中小学：为切实做好校舍安全工作，现将有关事项通知如下。",
        publisher="余姚市教育局",
        created=created,
        published=datetime(2024, 3, 15, 9, 30, tzinfo=SHANGHAI),
        doc_no=f"余教〔2024〕{n}号",
        category="业务工作",
        topic=DEFAULT_TOPIC,
        genre="通知",
        body_html=body_html,
        source=SourceRef(
            "yyedu",
            "tzgg",
            f"http://www.yyedu.gov.cn/art/2024/3/15/art_1_{n}.html",
            f"t20240315_{n:06d}",
            fetched_at,
        ),
        keywords=("校舍", "安全"),
        index_no=index_no,
        attachments=attachments,
    ).to_json()


def attachment(data: bytes = PDF, name: str = "校舍安全检查表.pdf") -> Attachment:
    return Attachment(
        name=name,
        url=f"http://www.yyedu.gov.cn/att/{name}",
        media_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def with_uploaded(target: Target, record: dict[str, Any], data: bytes = PDF) -> dict[str, Any]:
    """``record`` with one attachment, uploaded first, referenced by its ``file_id``."""
    a = attachment(data)
    file_id = target.upload(a.name, data, a.sha256, a.media_type)
    return {**record, "attachments": [{**a.to_json(), "file_id": file_id}]}


def outcome(receipt: Receipt) -> tuple[str | None, int | None, str]:
    return receipt.index_no, receipt.version, receipt.status


def minted(index_no: str | None, year: int = 2024) -> bool:
    return bool(index_no and INDEX_NO_RE.match(index_no) and index_no.startswith(f"{ORG}/{year}-"))


def run_together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables in threads released at the same moment; re-raise any failure."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if failures:
        raise failures[0]
    return results


class TargetContract:
    """Portal API v1 semantics, asserted on ``target`` (a fresh, empty store per test)."""

    @pytest.fixture
    def target(self) -> Target:
        raise NotImplementedError("a subclass provides the target under test")

    def reopen(self, target: Target) -> Target:
        """Another handle on the same store, as a second process would open it."""
        return target

    # -- put -----------------------------------------------------------------------------

    def test_put_new_is_created_v1_with_a_minted_index_no(self, target: Target) -> None:
        receipt = target.put(make_record())
        assert receipt.external_id == "yyedu:t20240315_000001"
        assert (receipt.version, receipt.status) == (1, "created")
        assert minted(receipt.index_no), receipt.index_no
        held = target.get(receipt.external_id)
        assert held is not None
        assert (held["index_no"], held["version"], held["status"]) == (
            receipt.index_no,
            1,
            "active",
        )

    def test_same_put_again_is_unchanged(self, target: Target) -> None:
        first = target.put(make_record())
        again = target.put(make_record())
        assert outcome(again) == (first.index_no, 1, "unchanged")

    def test_changed_content_is_updated_v2_keeping_the_index_no(self, target: Target) -> None:
        first = target.put(make_record())
        changed = target.put(make_record(body_html="<p>各中小学：</p><p>补充通知。</p>"))
        assert outcome(changed) == (first.index_no, 2, "updated")
        held = target.get(first.external_id)
        assert held is not None
        assert (held["version"], held["body_html"]) == (2, "<p>各中小学：</p><p>补充通知。</p>")

    def test_volatile_fields_alone_change_nothing(self, target: Target) -> None:
        record = with_uploaded(target, make_record())
        first = target.put(record)
        refetched = {
            **record,
            "source": {**record["source"], "fetched_at": "2025-01-01T00:00:00+08:00"},
        }
        assert outcome(target.put(refetched)) == (first.index_no, 1, "unchanged")
        # the file_id is the target's handle: the bridge's own hash (taken before any
        # upload, without file_ids) is what the target reports
        without_ids = {
            **record,
            "attachments": [
                {k: v for k, v in a.items() if k != "file_id"} for a in record["attachments"]
            ],
        }
        [listed] = list(target.listing())
        assert listed.content_hash == content_hash(without_ids) == content_hash(record)
        held = target.get(first.external_id)
        assert held is not None and held["content_hash"] == content_hash(without_ids)

    def test_a_supplied_index_no_is_kept_and_never_minted_again(self, target: Target) -> None:
        supplied = f"{ORG}/2024-00001"
        receipt = target.put(make_record(1, index_no=supplied))
        assert outcome(receipt) == (supplied, 1, "created")
        other = target.put(make_record(2))
        assert minted(other.index_no) and other.index_no != supplied
        assert outcome(target.put(make_record(1, index_no=supplied))) == (supplied, 1, "unchanged")
        assert outcome(target.put(make_record(1))) == (supplied, 1, "unchanged")

    @pytest.mark.parametrize(
        "shown",
        [
            "11330281002949236M/2024-00017",  # an 18-character 统一社会信用代码
            "0142581323/2026-00001",  # a local 10-character code (连云区教育局)
            "11330281MB1234567X/2024-000123",  # a 6-digit serial
            "YYJYJ-2024-00017",  # no org code at all
        ],
    )
    def test_the_index_no_a_page_shows_is_kept_in_any_form(
        self, target: Target, shown: str
    ) -> None:
        receipt = target.put(make_record(1, index_no=shown))
        assert outcome(receipt) == (shown, 1, "created")
        held = target.get(receipt.external_id)
        assert held is not None and held["index_no"] == shown

    def test_an_index_no_used_by_another_item_is_rejected_409(self, target: Target) -> None:
        first = target.put(make_record(1))
        with pytest.raises(Rejected) as caught:
            target.put(make_record(2, index_no=first.index_no))
        assert caught.value.status == 409
        assert target.get(make_record(2)["external_id"]) is None

    def test_the_index_no_of_a_filed_item_cannot_change_409(self, target: Target) -> None:
        first = target.put(make_record(1))
        with pytest.raises(Rejected) as caught:
            target.put(make_record(1, index_no=f"{ORG}/2024-09999"))
        assert caught.value.status == 409
        held = target.get(first.external_id)
        assert held is not None and (held["index_no"], held["version"]) == (first.index_no, 1)

    def test_index_numbers_count_per_year_of_creation(self, target: Target) -> None:
        a = target.put(make_record(1, created=date(2023, 12, 30)))
        b = target.put(make_record(2, created=date(2024, 1, 2)))
        assert minted(a.index_no, 2023) and minted(b.index_no, 2024)

    # -- delete --------------------------------------------------------------------------

    def test_delete_withdraws_and_keeps_the_item(self, target: Target) -> None:
        first = target.put(make_record())
        receipt = target.delete(first.external_id)
        assert outcome(receipt) == (first.index_no, 1, "withdrawn")
        held = target.get(first.external_id)
        assert held is not None
        assert (held["status"], held["index_no"], held["title"]) == (
            "withdrawn",
            first.index_no,
            make_record()["title"],
        )
        assert [(x.external_id, x.status) for x in target.listing()] == [
            (first.external_id, "withdrawn")
        ]
        assert outcome(target.delete(first.external_id)) == (first.index_no, 1, "withdrawn")

    def test_delete_unknown_is_not_an_error(self, target: Target) -> None:
        receipt = target.delete("yyedu:never-delivered")
        assert (receipt.external_id, *outcome(receipt)) == (
            "yyedu:never-delivered",
            None,
            None,
            "withdrawn",
        )
        assert target.get("yyedu:never-delivered") is None

    def test_put_after_delete_is_active_again(self, target: Target) -> None:
        first = target.put(make_record())
        target.delete(first.external_id)
        assert outcome(target.put(make_record())) == (first.index_no, 2, "updated")
        held = target.get(first.external_id)
        assert held is not None and (held["status"], held["version"]) == ("active", 2)

    # -- files ---------------------------------------------------------------------------

    def test_the_same_bytes_upload_once(self, target: Target) -> None:
        a = attachment()
        first = target.upload(a.name, PDF, a.sha256, a.media_type)
        assert target.upload(a.name, PDF, a.sha256, a.media_type) == first
        assert target.upload("另一个名字.pdf", PDF, a.sha256, a.media_type) == first
        other = b"%PDF-1.4\n% another file\n%%EOF\n"
        assert (
            target.upload("b.pdf", other, hashlib.sha256(other).hexdigest(), a.media_type) != first
        )

    def test_an_upload_with_the_wrong_sha256_is_rejected(self, target: Target) -> None:
        with pytest.raises(Rejected) as caught:
            target.upload("a.pdf", PDF, hashlib.sha256(b"other").hexdigest(), "application/pdf")
        assert caught.value.status == 422

    def test_a_record_with_an_unknown_file_is_rejected(self, target: Target) -> None:
        a = attachment()
        record = {**make_record(), "attachments": [{**a.to_json(), "file_id": "f-no-such-file"}]}
        with pytest.raises(Rejected) as caught:
            target.put(record)
        assert caught.value.status == 422
        assert target.get(record["external_id"]) is None

    def test_an_attachment_must_match_its_files_sha256(self, target: Target) -> None:
        record = with_uploaded(target, make_record())
        record["attachments"][0]["sha256"] = hashlib.sha256(b"something else").hexdigest()
        with pytest.raises(Rejected) as caught:
            target.put(record)
        assert caught.value.status == 422

    # -- reading back --------------------------------------------------------------------

    def test_get_unknown_is_none(self, target: Target) -> None:
        assert target.get("yyedu:unknown") is None

    def test_listing_covers_every_item_once_with_its_content_hash(self, target: Target) -> None:
        records = [make_record(n) for n in range(1, 8)]
        for record in records:
            target.put(record)
        target.put(records[2])  # unchanged
        target.put(make_record(4, title="余姚市教育局关于调整2024年寒假放假时间的通知"))
        target.delete(records[5]["external_id"])
        listed = list(target.listing())
        assert sorted(x.external_id for x in listed) == sorted(r["external_id"] for r in records)
        expected = {r["external_id"]: content_hash(r) for r in records}
        expected[records[3]["external_id"]] = content_hash(
            make_record(4, title="余姚市教育局关于调整2024年寒假放假时间的通知")
        )
        assert {x.external_id: x.content_hash for x in listed} == expected
        assert {x.external_id: x.status for x in listed} == {
            r["external_id"]: "withdrawn" if n == 5 else "active" for n, r in enumerate(records)
        }
        assert len({x.index_no for x in listed}) == len(records)
        assert all(minted(x.index_no) and x.updated_at for x in listed)

    def test_listing_since(self, target: Target) -> None:
        target.put(make_record(1))
        assert len(list(target.listing(since="2000-01-01T00:00:00+00:00"))) == 1
        assert list(target.listing(since="2999-01-01T00:00:00+08:00")) == []
        cut = datetime.now(UTC).isoformat()
        target.put(make_record(2))
        assert [x.external_id for x in target.listing(since=cut)] == [make_record(2)["external_id"]]

    def test_chinese_text_round_trips_exactly(self, target: Target) -> None:
        record = make_record(
            title="关于𠮷野家、“双减”及〔2024〕年度「校园安全」工作的通知（第二批）",
            body_html="<p>各中小学、幼儿园：</p><p>现将有关事项通知如下：①……②……</p>"
            "<table><tr><td>学校</td><td>负责人</td></tr></table>",
        )
        record = with_uploaded(target, record)
        record["attachments"][0]["name"] = "附件1：余姚市校舍安全检查表（2024年版）.pdf"
        receipt = target.put(record)
        held = target.get(record["external_id"])
        assert held is not None
        assert {k: held[k] for k in record if k != "index_no"} == {
            k: v for k, v in record.items() if k != "index_no"
        }
        assert {k: held[k] for k in STATE_KEYS[:4]} == {
            "index_no": receipt.index_no,
            "version": 1,
            "status": "active",
            "content_hash": content_hash(record),
        }

    # -- concurrency ---------------------------------------------------------------------

    def test_concurrent_puts_of_one_new_record_make_one_item(self, target: Target) -> None:
        handles = [target] + [self.reopen(target) for _ in range(3)]
        try:
            receipts = run_together([partial(h.put, make_record()) for h in handles])
        finally:
            for h in handles[1:]:
                if h is not target:
                    h.close()
        assert sorted(r.status for r in receipts) == [
            "created",
            "unchanged",
            "unchanged",
            "unchanged",
        ]
        assert {(r.index_no, r.version) for r in receipts} == {(receipts[0].index_no, 1)}
        assert [x.external_id for x in target.listing()] == [make_record()["external_id"]]

    def test_concurrent_writers_never_mint_one_number_twice(self, target: Target) -> None:
        handles = [target] + [self.reopen(target) for _ in range(3)]

        def write(h: Target, k: int) -> list[str | None]:
            return [h.put(make_record(10 * k + n)).index_no for n in range(1, 6)]

        try:
            results = run_together([partial(write, h, k) for k, h in enumerate(handles)])
        finally:
            for h in handles[1:]:
                if h is not target:
                    h.close()
        numbers = [i for batch in results for i in batch]
        assert len(set(numbers)) == 20 and all(minted(i) for i in numbers)
        assert len(list(target.listing())) == 20
