"""Helpers for the administrator's tools: damaging the sandbox portal the way real
portals drift (an operator deletes or edits an item by hand, another system files one),
and state rows with publication and confirmation times chosen by the test."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import update

from bridge.catalog import CatalogRecord
from bridge.net.signing import sign_headers
from bridge.normalize.hashing import content_hash
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET
from bridge.state import items, recording
from bridge.state.db import Database
from bridge.state.models import ItemRow, ItemVersionRow

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PORTAL_ONLY = ("index_no", "version", "status", "content_hash", "updated_at")


def portal_delete_row(db_path: Path, external_id: str) -> None:
    """Remove an item from the portal's database, as if an operator deleted it by hand."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "DELETE FROM item_history WHERE item_id = (SELECT id FROM items WHERE external_id = ?)",
            (external_id,),
        )
        assert conn.execute("DELETE FROM items WHERE external_id = ?", (external_id,)).rowcount == 1


def portal_alter_title(db_path: Path, external_id: str, title: str) -> str:
    """Edit an item's title in the portal's database (and its hash, as the portal would)."""
    with sqlite3.connect(db_path) as conn:
        record = json.loads(
            conn.execute(
                "SELECT record FROM items WHERE external_id = ?", (external_id,)
            ).fetchone()[0]
        )
        record["title"] = title
        digest = content_hash(record)
        conn.execute(
            "UPDATE items SET record = ?, content_hash = ? WHERE external_id = ?",
            (json.dumps(record, ensure_ascii=False), digest, external_id),
        )
    return digest


def signed_put(portal_url: str, record: dict[str, Any]) -> requests.Response:
    """A signed Portal API v1 PUT, as another system holding a key would send it."""
    path = "/api/v1/items/" + quote(record["external_id"], safe="")
    body = json.dumps(record, ensure_ascii=False).encode()
    headers = sign_headers(SANDBOX_KEY, SANDBOX_SECRET, "PUT", path, body)
    headers["Content-Type"] = "application/json"
    return requests.put(portal_url.rstrip("/") + path, data=body, headers=headers, timeout=10)


def foreign_record(
    template: dict[str, Any], external_id: str, title: str, url: str
) -> dict[str, Any]:
    """A valid record for another id, made from one the portal holds."""
    record = {k: v for k, v in template.items() if k not in PORTAL_ONLY}
    record.update(external_id=external_id, title=title)
    record["source"] = dict(record["source"], url=url, article_id=external_id.split(":")[-1])
    return record


# --- state rows for the report and the admin pages ------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts: int) -> datetime:
    """A moment on the bureau's clock (Asia/Shanghai)."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


class StateBuilder:
    """Writes items into a state store through the state package, as the pipeline does."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.write() as s:
            self.source_id = items.ensure_source(s, "yyedu", "trs", "http://site.example/")

    def add(self, record: CatalogRecord, *, confirmed: datetime | None = None) -> None:
        with self.db.write() as s:
            recording.record_versions(
                s,
                source_id=self.source_id,
                source_name="yyedu",
                recordings=[recording.Recording(record, content_hash(record.to_json()), "")],
                target="portal",
                actor="test",
                run_id=None,
            )
            if confirmed is not None:
                row = items.get_item(s, record.external_id)
                assert row is not None
                row.first_confirmed_at = confirmed

    def version_recorded_at(self, external_id: str, version: int, when: datetime) -> None:
        with self.db.write() as s:
            row = items.get_item(s, external_id)
            assert row is not None
            s.execute(
                update(ItemVersionRow)
                .where(ItemVersionRow.item_id == row.id, ItemVersionRow.version == version)
                .values(created_at=when)
            )

    def withdraw(self, external_id: str) -> None:
        with self.db.write() as s:
            items.withdraw(
                s,
                external_id=external_id,
                source_name="yyedu",
                target="portal",
                actor="test",
                run_id=None,
                reason="gone from the site",
            )

    def quarantine(self, external_id: str, title: str) -> None:
        with self.db.write() as s:
            items.quarantine(
                s,
                source_id=self.source_id,
                source_name="yyedu",
                external_id=external_id,
                article_id=external_id.split(":", 1)[1],
                column="ywgz",
                url=f"http://site.example/{title}.html",
                fingerprint="",
                problems=[{"field": "created", "rule": "required", "message": "no 成文日期"}],
                actor="test",
                run_id=None,
            )

    def first_seen(self, when: datetime, *external_ids: str) -> None:
        """Say the bridge first saw these items (all items if none given) at ``when``:
        the earliest of a column is when the bridge first read that column."""
        with self.db.write() as s:
            q = update(ItemRow).values(first_seen=when)
            if external_ids:
                q = q.where(ItemRow.external_id.in_(external_ids))
            s.execute(q)


# --- the admin pages, served in this process ---------------------------------------------------


class AdminSite:
    """The admin pages of a config's state store on a free loopback port."""

    def __init__(self, config: Path) -> None:
        from bridge import config as bridge_config
        from bridge.admin.pages import mount
        from bridge.service.health import Metrics
        from bridge.service.web import AdminServer
        from bridge.state.db import open_database

        settings = bridge_config.load(config, environ={})
        self.db = open_database(settings.state_url.reveal(), create=False)
        self.server = AdminServer(
            replace(settings.admin, port=0),
            settings=lambda: settings,
            db=self.db,
            metrics=Metrics(settings, self.db),
            started_at=datetime.now(UTC),
        )
        mount(self.server)
        self.url = self.server.start().rstrip("/")

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=30)

    def close(self) -> None:
        self.server.stop()
        self.db.dispose()
