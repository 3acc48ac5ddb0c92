"""items.checked_at: when the item's detail page was last revalidated

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Revalidation (bridge/crawl/revalidate.py) checks the items checked longest ago first, and
    # must keep that order across restarts. An item's page was last checked when it was
    # first fetched until revalidation asks again: existing items start from first_seen
    # (new ones get it at insert), so the queue is one indexed column, no NULLs.
    with op.batch_alter_table('items') as batch:
        batch.add_column(sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE items SET checked_at = first_seen')
    op.create_index('ix_items_source_checked', 'items', ['source_id', 'checked_at'])


def downgrade() -> None:
    op.drop_index('ix_items_source_checked', table_name='items')
    with op.batch_alter_table('items') as batch:
        batch.drop_column('checked_at')
