"""org codes of 18 characters (统一社会信用代码) in index_serials

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The bridge mints 索引号 with the configured org code, which may now be the
    # 18-character 统一社会信用代码 (GB 32100) as well as the 9-character code.
    with op.batch_alter_table('index_serials') as batch:
        batch.alter_column(
            'org_code', existing_type=sa.String(length=9), type_=sa.String(length=18),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('index_serials') as batch:
        batch.alter_column(
            'org_code', existing_type=sa.String(length=18), type_=sa.String(length=9),
            existing_nullable=False,
        )
