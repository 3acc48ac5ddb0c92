"""Issue 19, finding 13: whoever else writes to the exchange folder (the receiving system,
a person on the share) cannot make the bridge read or write a file outside it.

The attacker edits ``manifest.json`` or plants a symbolic link under ``records/``; the
bridge then reads the item back (``get``, as reconciliation does) or withdraws it
(``delete``, which copies the held record into ``v<N>-withdrawn.json``). Before the fix
both read the outside file: ``get`` returned it, ``delete`` copied it into the folder.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import make_record

from bridge.errors import Fatal
from bridge.normalize.dates import SHANGHAI
from bridge.targets.exchange_dir import ExchangeDirTarget

EID = "yyedu:t20240315_000001"
FOLDER = "records/yyedu%3At20240315_000001"
MARKER = "OUTSIDE-7f3a-not-for-the-bridge"
PUBLISHED = datetime(2024, 3, 15, 9, 30, tzinfo=SHANGHAI)


def record(title: str = "余姚市教育局关于做好校舍安全工作的通知") -> dict[str, Any]:
    return make_record(EID, title, published=PUBLISHED).to_json()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A private JSON file next to the exchange folder, shaped like a record."""
    path = tmp_path / "outside.json"
    path.write_text(json.dumps({"external_id": EID, "title": MARKER, "version": 1}))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "exchange"
    ExchangeDirTarget("exchange", root).put(record())
    return root


def _set_file(folder: Path, value: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["items"][EID]["file"] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def _nothing_leaked(folder: Path, outside: Path, before: tuple[bytes, int]) -> None:
    assert _snapshot(outside) == before  # never written
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert MARKER.encode() not in path.read_bytes(), path  # never copied in


SHAPES = {
    "dot-dot": "../outside.json",
    "dot-dot below records": f"{FOLDER}/../../../outside.json",
    "backslashes": "records\\..\\..\\outside.json",
    "another item's folder": "records/yyedu%3At20240315_000002/v1.json",
    "not the writer's name": f"{FOLDER}/v1.txt",
    "not its version": f"{FOLDER}/v7.json",
    "not a string": ["..", "outside.json"],
}


@pytest.mark.parametrize("operation", ["get", "delete"])
@pytest.mark.parametrize("shape", [*SHAPES, "absolute"])
def test_a_manifest_entry_pointing_elsewhere_is_refused(
    folder: Path, outside: Path, shape: str, operation: str
) -> None:
    value = str(outside) if shape == "absolute" else SHAPES[shape]  # /etc/passwd-style
    _set_file(folder, value)
    before = _snapshot(outside)
    target = ExchangeDirTarget("exchange", folder)

    with pytest.raises(Fatal) as caught:
        getattr(target, operation)(EID)

    assert str(caught.value) == (
        f"{folder}/manifest.json: item {EID!r}: file {value!r} is not "
        f"{FOLDER}/v<version>[-withdrawn].json, the only file the bridge reads for it; "
        "restore the manifest"
    )
    _nothing_leaked(folder, outside, before)
    assert json.loads((folder / "manifest.json").read_text())["items"][EID]["status"] == "active"


@pytest.mark.parametrize("operation", ["get", "delete"])
def test_a_symbolic_link_in_records_is_not_followed(
    folder: Path, outside: Path, operation: str
) -> None:
    """The manifest is untouched and names the right file, but the file is a link out."""
    (folder / FOLDER / "v1.json").unlink()
    (folder / FOLDER / "v1.json").symlink_to(outside)
    before = _snapshot(outside)

    with pytest.raises(Fatal) as caught:
        getattr(ExchangeDirTarget("exchange", folder), operation)(EID)

    assert str(caught.value) == (
        f"{folder}/{FOLDER}/v1.json is a symbolic link (or not a folder); the bridge follows "
        "no link inside its exchange folder: remove it"
    )
    _nothing_leaked(folder, outside, before)


def test_a_linked_record_folder_is_neither_read_nor_written(
    folder: Path, outside: Path, tmp_path: Path
) -> None:
    """``records/<id>`` replaced by a link to a folder outside: reading the item back,
    withdrawing it, and putting a new version all stop, and nothing lands outside."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "v1.json").write_bytes(outside.read_bytes())
    (folder / FOLDER / "v1.json").rename(tmp_path / "v1.json")
    (folder / FOLDER).rmdir()
    (folder / FOLDER).symlink_to(elsewhere, target_is_directory=True)
    target = ExchangeDirTarget("exchange", folder)
    message = (
        f"{folder}/{FOLDER} is a symbolic link (or not a folder); the bridge follows "
        "no link inside its exchange folder: remove it"
    )

    for attempt in (
        lambda: target.get(EID),
        lambda: target.delete(EID),
        lambda: target.put(record("余姚市教育局关于校舍安全工作的补充通知")),
    ):
        with pytest.raises(Fatal) as caught:
            attempt()
        assert str(caught.value) == message

    assert sorted(os.listdir(elsewhere)) == ["v1.json"]
    assert (elsewhere / "v1.json").read_bytes() == outside.read_bytes()


def test_a_linked_manifest_is_not_read(folder: Path, outside: Path) -> None:
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").symlink_to(outside)
    before = _snapshot(outside)
    with pytest.raises(Fatal, match=r"manifest\.json is a symbolic link"):
        ExchangeDirTarget("exchange", folder).get(EID)
    _nothing_leaked(folder, outside, before)


def test_the_records_the_bridge_wrote_still_read_back(folder: Path) -> None:
    """The check refuses only what the writer never writes: v<N>.json, v<N>-withdrawn.json."""
    target = ExchangeDirTarget("exchange", folder)
    target.put(record("余姚市教育局关于校舍安全工作的补充通知"))
    held = target.get(EID)
    assert held is not None and (held["version"], held["status"]) == (2, "active")
    assert target.delete(EID).version == 2
    held = target.get(EID)
    assert held is not None and (held["version"], held["status"]) == (2, "withdrawn")
    assert target.delete(EID).status == "withdrawn"  # again: nothing changes
