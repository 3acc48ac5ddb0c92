"""The decision table of reconcile: one item's three sides → symbol, fix and note."""

from __future__ import annotations

import pytest

from bridge.admin.reconcile_rules import classify
from bridge.state.admin_queries import StateEntry
from bridge.targets.base import Listed

ID = "yyedu:t20250301_100234"


def state(status="active", content_hash="h1", version=1, waiting=None, quarantine=None):
    return StateEntry(ID, "yyedu", "t20250301_100234", "zcwj", "http://site/a.html", status,
                      content_hash, version, quarantine, waiting)  # fmt: skip


def portal(status="active", content_hash="h1"):
    return Listed(ID, "002949236/2025-00001", content_hash, status, "2025-03-01T02:00:00Z")


CASES = [
    # on the site, in the store, on the portal: the same or not
    ("listed", state(), portal(), "=", None, ""),
    ("listed", state(), portal(content_hash="h2"), "*", "put",
     "the portal holds other content than the current version: re-send version 1"),
    ("listed", state(waiting="pending #7"), portal(content_hash="h2"), "*", "drain",
     "the portal holds other content than the current version; delivery pending #7 will send it"),
    ("listed", state(waiting="dead #7: 422 title: too long"), portal(content_hash="h2"), "*", "put",
     "the portal holds other content than the current version: re-send version 1 "
     "(last delivery dead #7: 422 title: too long)"),
    # on the site, not (or no longer) on the portal
    ("listed", state(), None, "+", "put", "not on the portal: re-send version 1"),
    ("listed", state(), portal(status="withdrawn"), "+", "put",
     "withdrawn on the portal: re-send version 1"),
    ("listed", None, None, "+", None,
     "not on the portal; not in the state store yet: the next sync fetches it"),
    ("listed", state(status="quarantined", content_hash=None, version=0), None, "!", None,
     "quarantined: never sent; see `xxgk-bridge status` for why"),
    # gone from the site
    ("missing", state(), portal(), "-", "withdraw",
     "gone from the site's complete listing, still active on the portal"),
    ("missing", None, portal(), "-", "withdraw",
     "gone from the site's complete listing, still active on the portal; "
     "unknown to the state store"),
    ("missing", state(), None, None, None, None),  # gone everywhere: nothing to report
    ("missing", state(status="withdrawn", content_hash=None), portal(status="withdrawn"),
     None, None, None),
    # the column's listing failed: compare content, decide nothing about presence
    ("unknown", state(), portal(), "=", None, ""),
    ("unknown", state(), portal(content_hash="h2"), "*", "put",
     "the portal holds other content than the current version: re-send version 1"),
    ("unknown", state(), None, "!", None, "not on the portal, and the listing of column zcwj failed"),
    # the store lost track
    ("listed", None, portal(), "!", None,
     "on the portal but not in the state store: `xxgk-bridge resync` records it"),
    ("listed", state(status="withdrawn", content_hash=None), portal(), "!", None,
     "withdrawn in the state store but active on the portal: `xxgk-bridge resync` settles it"),
]  # fmt: skip


@pytest.mark.parametrize(("on_site", "entry", "listed", "symbol", "fix", "note"), CASES)
def test_decision_table(on_site, entry, listed, symbol, fix, note):
    line = classify(ID, ours=True, on_site=on_site, entry=entry, listed=listed)
    if symbol is None:
        assert line is None
        return
    assert line is not None
    assert (line.symbol, line.fix, line.note) == (symbol, fix, note)


def test_a_foreign_id_is_never_planned_for_withdrawal():
    other = Listed("othersys:1", None, "h9", "active", None)
    line = classify("othersys:1", ours=False, on_site="missing", entry=None, listed=other)
    assert line is not None
    assert (line.symbol, line.fix, line.source) == ("-", None, None)
    assert line.note == "foreign: no configured source makes this id; reconcile never withdraws it"
    withdrawn = Listed("othersys:2", None, "h9", "withdrawn", None)
    assert (
        classify("othersys:2", ours=False, on_site="missing", entry=None, listed=withdrawn) is None
    )
