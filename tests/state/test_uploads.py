"""The file ids a target gave are remembered together, the first one for a file standing."""

from __future__ import annotations

from bridge.state import outbox
from bridge.state.db import open_database


def test_uploads_are_remembered_together_and_the_first_id_stands(state_url):
    db = open_database(state_url)
    try:
        with db.write() as s:
            outbox.remember_uploads(s, "portal", [("a" * 64, "f-a")])
        with db.write() as s:
            outbox.remember_uploads(s, "portal", [])  # nothing to remember: no statement
            outbox.remember_uploads(
                s, "portal", [("a" * 64, "f-other"), ("b" * 64, "f-b"), ("c" * 64, "f-c")]
            )
            outbox.remember_uploads(s, "other", [("b" * 64, "o-b")])
        with db.read() as s:
            assert outbox.uploaded_files(s, "portal", ["a" * 64, "b" * 64, "c" * 64, "d" * 64]) == {
                "a" * 64: "f-a",
                "b" * 64: "f-b",
                "c" * 64: "f-c",
            }
            assert outbox.uploaded_files(s, "other", ["a" * 64, "b" * 64]) == {"b" * 64: "o-b"}
    finally:
        db.dispose()
