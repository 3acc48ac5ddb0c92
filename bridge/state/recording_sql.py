"""The statements ``bridge.state.recording`` runs, prepared once.

SQLite's versions bind their time columns as ready-made text (``models.times_as_text``);
PostgreSQL's keep native times. The batch writes run on the driver's cursor
(``driver_sql``); their ``bound`` parameters are the times, given as ``bound_time``
(``published_at``: ``bind_time``).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bridge.state.driver_sql import DriverSelect, DriverStatement
from bridge.state.models import DeliveryRow, ItemRow, ItemVersionRow, times_as_text
from bridge.state.sql import table

_ITEMS = table(ItemRow)
_DELIVERIES = table(DeliveryRow)
_VERSIONS = table(ItemVersionRow)


class ItemState(NamedTuple):
    """An item row as LOCK_ITEMS and INSERT_ITEMS read it on the driver's cursor."""

    id: int
    external_id: str
    status: str
    content_hash: str | None
    version: int
    index_no: str | None
    quarantine: str | None


ITEM_STATE = [_ITEMS.c[name] for name in ItemState._fields]
LOCK_ITEMS = DriverSelect(
    select(*ITEM_STATE)
    .where(_ITEMS.c.external_id.in_(bindparam("ids", expanding=True)))
    .order_by(_ITEMS.c.id)  # one lock order among workers
    .with_for_update(),
    "ids",
)
# ON CONFLICT DO NOTHING: an item another worker inserted first stands, and RETURNING
# gives only the rows this statement inserted (the items this run discovered), each
# already as LOCK_ITEMS would read it: a new row is this transaction's until it commits.
_ITEM_TIMES = ("first_seen", "last_seen", "updated_at", "checked_at")
INSERT_ITEMS = DriverStatement(
    {
        "sqlite": times_as_text(sqlite.insert(_ITEMS), *_ITEM_TIMES)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(*ITEM_STATE),
        "postgresql": postgresql.insert(_ITEMS)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(*ITEM_STATE),
    },
    bound=_ITEM_TIMES,
)
_UPDATE_ITEM = update(_ITEMS).where(_ITEMS.c.id == bindparam("b_id"))
UPDATE_ITEMS = DriverStatement(
    {
        "sqlite": times_as_text(_UPDATE_ITEM, "last_seen", "updated_at"),
        "postgresql": _UPDATE_ITEM,
    },
    bound=("last_seen", "updated_at", "published_at"),
)
# Rows come back in no promised order: matched by item id, unique within a batch.
INSERT_VERSIONS = DriverStatement(
    {
        "sqlite": times_as_text(insert(_VERSIONS), "created_at").returning(
            _VERSIONS.c.id, _VERSIONS.c.item_id
        ),
        "postgresql": insert(_VERSIONS).returning(_VERSIONS.c.id, _VERSIONS.c.item_id),
    },
    bound=("created_at",),
)
_DELIVERY_TIMES = ("next_attempt_at", "created_at", "updated_at")
INSERT_DELIVERIES = DriverStatement(
    {
        "sqlite": times_as_text(insert(_DELIVERIES), *_DELIVERY_TIMES).returning(
            _DELIVERIES.c.id, _DELIVERIES.c.item_id
        ),
        "postgresql": insert(_DELIVERIES).returning(_DELIVERIES.c.id, _DELIVERIES.c.item_id),
    },
    bound=_DELIVERY_TIMES,
)
