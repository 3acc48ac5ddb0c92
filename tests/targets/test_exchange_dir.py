"""exchange-dir beyond the contract: the folder layout a receiving system reads, safe
folder names, and atomic writes (a reader never sees half a file)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest
from contract import PDF, make_record, with_uploaded

from bridge.config import ExchangeDirConfig
from bridge.errors import Fatal, Rejected, Retriable
from bridge.targets import make_target
from bridge.targets.exchange_dir import MAX_NAME, ExchangeDirTarget, safe_name

EID = "yyedu:t20240315_000001"
FOLDER = "records/yyedu%3At20240315_000001"


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_folder_layout(tmp_path: Path) -> None:
    target = ExchangeDirTarget("exchange", tmp_path)
    record = with_uploaded(target, make_record(1))
    first = target.put(record)
    target.put({**record, "title": "余姚市教育局关于调整2024年寒假放假时间的通知"})
    target.delete(EID)
    sha = hashlib.sha256(PDF).hexdigest()

    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == [
        ".bridge.lock",
        f"files/{sha}.pdf",
        "manifest.json",
        f"{FOLDER}/v1.json",
        f"{FOLDER}/v2-withdrawn.json",
        f"{FOLDER}/v2.json",
        "serials.json",
    ]
    assert (tmp_path / "files" / f"{sha}.pdf").read_bytes() == PDF
    v1, v2, gone = (
        read(tmp_path / FOLDER / f) for f in ("v1.json", "v2.json", "v2-withdrawn.json")
    )
    assert (v1["version"], v1["status"], v1["title"]) == (1, "active", record["title"])
    assert (v2["version"], v2["status"]) == (2, "active")
    assert (gone["version"], gone["status"], gone["title"]) == (2, "withdrawn", v2["title"])
    assert gone["withdrawn_at"] == gone["updated_at"]
    assert v1["index_no"] == v2["index_no"] == gone["index_no"] == first.index_no
    assert v1["attachments"][0]["file_id"] == f"{sha}.pdf"

    manifest = read(tmp_path / "manifest.json")
    assert manifest["format"] == "bridge-exchange-dir/1"
    assert manifest["items"] == {
        EID: {
            "index_no": first.index_no,
            "version": 2,
            "status": "withdrawn",
            "content_hash": v2["content_hash"],
            "updated_at": gone["updated_at"],
            "file": f"{FOLDER}/v2-withdrawn.json",
        }
    }
    assert read(tmp_path / "serials.json") == {"002949236/2024": 1}
    assert "余姚市教育局关于" in (tmp_path / FOLDER / "v2.json").read_text(encoding="utf-8")


def test_another_instance_reads_what_one_wrote(tmp_path: Path) -> None:
    ExchangeDirTarget("a", tmp_path).put(make_record(1))
    again = ExchangeDirTarget("b", tmp_path)
    held = again.get(EID)
    assert held is not None and held["version"] == 1
    assert again.put(make_record(1)).status == "unchanged"
    assert again.put(make_record(2)).index_no == "002949236/2024-00002"


@pytest.mark.parametrize(
    ("external_id", "name"),
    [
        ("yyedu:t20240315_000001", "yyedu%3At20240315_000001"),
        ("site/../../etc/passwd", "site%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"),
        ("..", "%2E%2E"),
        ("Yyedu:ABC", "%59yedu%3A%41%42%43"),
        ("教育局:1", "%E6%95%99%E8%82%B2%E5%B1%80%3A1"),
    ],
)
def test_safe_names(external_id: str, name: str) -> None:
    assert safe_name(external_id) == name
    assert unquote(name) == external_id


def test_safe_names_stay_distinct_and_short() -> None:
    ids = ["abc", "ABC", "Abc", "a/bc", "a:bc", "a%3Abc", "x" * 300, "x" * 299 + "y"]
    names = [safe_name(i) for i in ids]
    assert len({n.casefold() for n in names}) == len(ids)  # even on a case-folding share
    assert all(len(n) <= MAX_NAME for n in names)


def test_an_unsafe_file_id_is_refused(tmp_path: Path) -> None:
    target = ExchangeDirTarget("exchange", tmp_path)
    target.put(make_record(1))
    sha = hashlib.sha256(b"x").hexdigest()
    attachment = {"name": "a.pdf", "url": "", "media_type": "application/pdf", "size": 1}
    for file_id in ("../manifest.json", "../serials.json", f"{sha}.pdf"):
        record = {
            **make_record(2),
            "attachments": [{**attachment, "sha256": sha, "file_id": file_id}],
        }
        with pytest.raises(Rejected) as caught:
            target.put(record)
        assert caught.value.status == 422


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    """A receiving system polls the folder while 200 records (and updates) are written."""
    target = ExchangeDirTarget("exchange", tmp_path)
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def poll() -> None:
        while not stop.is_set():
            for path in tmp_path.rglob("*.json"):
                if path.name.startswith("."):
                    continue  # a temp file being written: readers skip dot files
                try:
                    document = json.loads(path.read_bytes())
                except (OSError, ValueError) as exc:
                    problems.append(f"{path}: {exc!r}")
                    continue
                reads[0] += 1
                if path.name == "manifest.json":
                    for entry in document["items"].values():
                        if not (tmp_path / entry["file"]).is_file():
                            problems.append(f"manifest names missing {entry['file']}")

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for n in range(1, 201):
            target.put(make_record(n))
            if n % 10 == 0:
                target.put(make_record(n, title=f"余姚市教育局关于第{n}批通知的补充通知"))
    finally:
        stop.set()
        reader.join(30)
    assert problems == []
    assert reads[0] > 200
    assert len(read(tmp_path / "manifest.json")["items"]) == 200
    assert not [p for p in tmp_path.rglob(".*.tmp")]  # no temp file left behind


def test_make_target_builds_it_from_the_config(tmp_path: Path) -> None:
    cfg = ExchangeDirConfig(name="前置机", directory=str(tmp_path / "out"))
    target = make_target(cfg)
    assert isinstance(target, ExchangeDirTarget)
    assert target.put(make_record()).status == "created"
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_file_system_trouble_is_retriable_and_a_damaged_manifest_fatal(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(Retriable, match="exchange folder"):
        ExchangeDirTarget("exchange", tmp_path / "not-a-folder").put(make_record())
    target = ExchangeDirTarget("exchange", tmp_path / "out")
    target.put(make_record())
    (tmp_path / "out" / "manifest.json").write_text('{"items": {', encoding="utf-8")
    with pytest.raises(Fatal, match=r"manifest\.json is not valid JSON"):
        target.put(make_record(2))
