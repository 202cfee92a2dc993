"""priority points on outreach cases, the versioned points table, worklist indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('priority_schemes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_priority_schemes')),
    sa.UniqueConstraint('version', name=op.f('uq_priority_schemes_version'))
    )
    with op.batch_alter_table('outreach_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('priority_points', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('priority_signals', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('priority_scheme_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_contact_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outreach_cases_priority_scheme_id_priority_schemes'),
                                    'priority_schemes', ['priority_scheme_id'], ['id'])
        batch_op.create_index('ix_outreach_cases_worklist', ['status', 'priority_points'], unique=False)
        batch_op.create_index('ix_outreach_cases_org', ['assigned_org', 'status'], unique=False)
    with op.batch_alter_table('outreach_cases', schema=None) as batch_op:
        batch_op.alter_column('priority_points', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('outreach_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_cases_org')
        batch_op.drop_index('ix_outreach_cases_worklist')
        batch_op.drop_constraint(batch_op.f('fk_outreach_cases_priority_scheme_id_priority_schemes'), type_='foreignkey')
        batch_op.drop_column('last_contact_on')
        batch_op.drop_column('priority_scheme_id')
        batch_op.drop_column('priority_signals')
        batch_op.drop_column('priority_points')
        batch_op.drop_column('area_code')
    op.drop_table('priority_schemes')
