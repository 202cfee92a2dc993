"""link decisions carry the reason staff gave when they changed an earlier decision

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('link_decisions') as batch:
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('link_decisions') as batch:
        batch.drop_column('reason')
