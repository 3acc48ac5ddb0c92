"""Content hashes pinned: reading and normalizing faster must not change a stored record.

A record's content hash decides "changed" (a new version at the portal) and is what
reconcile compares, so a change of extraction, sanitizing or canonical form that moves
one hash would re-deliver every item of every running installation. The hashes below were
taken at f907758, before the one-pass extraction and sanitizing (issue 24): of every
real-page detail page (the drafted fields, body included) and of every record the sandbox
portal holds after a ``bridge sync --once`` of two generated sites, one TRS with the real
pages' variants and one Hanweb in GBK.

A deliberate change of the record (a new field, a better reading) re-pins them with
``BRIDGE_REPIN=1 pytest tests/normalize/test_hash_pins.py`` and says so in CHANGELOG.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import config_text

from bridge.normalize.hashing import content_hash

PINS = Path(__file__).resolve().parents[1] / "fixtures" / "content_hashes.json"
SOURCES_TESTS = Path(__file__).resolve().parents[1] / "sources"
END = date(2026, 11, 30)  # the generated sites' last day: pages do not move with the calendar
SITES = {
    "trs-variants": {"items": 80, "seed": 7, "variants": True},
    "hanweb-gbk": {"items": 40, "seed": 5, "style": "hanweb", "encoding": "gbk"},
}


def _pins() -> dict[str, dict[str, str]]:
    if os.environ.get("BRIDGE_REPIN"):
        return {}
    return json.loads(PINS.read_text(encoding="utf-8"))


def _repin(section: str, hashes: dict[str, str]) -> None:
    held = json.loads(PINS.read_text(encoding="utf-8")) if PINS.exists() else {}
    held[section] = dict(sorted(hashes.items()))
    PINS.write_text(json.dumps(held, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _check(section: str, hashes: dict[str, str]) -> None:
    if os.environ.get("BRIDGE_REPIN"):
        _repin(section, hashes)
        return
    pinned = _pins()[section]
    moved = sorted(k for k in pinned.keys() & hashes.keys() if pinned[k] != hashes[k])
    assert (sorted(hashes.keys() - pinned.keys()), sorted(pinned.keys() - hashes.keys())) == (
        [],
        [],
    ), f"{section}: the set of records changed"
    assert moved == [], f"{section}: {len(moved)} content hashes moved: {moved[:10]}"


def _fields_hash(fields: dict[str, Any]) -> str:
    source = fields["source"]  # without fetched_at: when the page was read is not content
    fields = {**fields, "source": [source.name, source.column, source.url]}
    text = json.dumps(
        fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def test_real_pages_draft_the_same_fields_as_when_pinned() -> None:
    sys.path.insert(0, str(SOURCES_TESTS))
    try:
        import realpages
    finally:
        sys.path.remove(str(SOURCES_TESTS))
    pages, sites = realpages.load()
    hashes = {}
    with realpages.proxied(pages):
        for name, entry in sorted(pages.items()):
            if entry["kind"] != "detail":
                continue
            reading = realpages.read_detail(name, entry, sites[entry["site"]])
            hashes[name] = _fields_hash(reading.fields)
    assert len(hashes) >= 25
    _check("realpages", hashes)


@pytest.mark.slow
@pytest.mark.parametrize("site", sorted(SITES))
def test_sandbox_records_keep_their_content_hashes(sandbox, tmp_path, cli, site) -> None:
    options = dict(SITES[site])
    style = str(options.get("style", "trs"))
    box = sandbox(end_date=END, **options)
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(
            tmp_path / "state.db",
            box.site_url,
            box.portal_url,
            kind=style,
            charset=str(options.get("encoding", "utf-8")),
        ),
        encoding="utf-8",
    )
    done = cli("--config", str(config), "sync", "--once")
    assert done.code in (0, 1), done.both
    store = box.portal.store
    held = store.items()
    assert len(held) >= 0.9 * int(options["items"])
    # The portal's own hash, but of the record with the site's loopback port (a new one
    # each run, in the source URL and the body's absolute links) written as one name.
    here = box.site_url.rstrip("/")
    hashes = {}
    for r in held:
        (delivered,) = store.history(r["external_id"])
        assert content_hash(delivered["record"]) == r["content_hash"]
        text = json.dumps(delivered["record"], ensure_ascii=False).replace(here, "http://site")
        hashes[r["external_id"]] = content_hash(json.loads(text))
    _check(f"sandbox-{site}", hashes)
