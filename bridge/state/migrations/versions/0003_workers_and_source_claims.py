"""workers and source claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('source_claims',
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_finished', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_owner', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_source_claims'))
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('host', sa.String(length=100), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_leader', sa.Boolean(), nullable=False),
    sa.Column('leader_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )



def downgrade() -> None:

    op.drop_table('workers')
    op.drop_table('source_claims')

