"""outreach cases and their history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outreach_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('open_key', sa.String(length=100), nullable=True),
    sa.Column('setai_no', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('rule_version_id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=True),
    sa.Column('reminder_notice_id', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=True),
    sa.Column('route', sa.String(length=32), nullable=False),
    sa.Column('school_code', sa.String(length=32), nullable=True),
    sa.Column('school_name', sa.String(length=200), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.Column('assigned_org', sa.String(length=200), nullable=True),
    sa.Column('consent_withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_outreach_cases_notice_id_notices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reminder_notice_id'], ['notices.id'], name=op.f('fk_outreach_cases_reminder_notice_id_notices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rule_version_id'], ['rule_versions.id'], name=op.f('fk_outreach_cases_rule_version_id_rule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_cases')),
    sa.UniqueConstraint('open_key', name=op.f('uq_outreach_cases_open_key'))
    )
    with op.batch_alter_table('outreach_cases', schema=None) as batch_op:
        batch_op.create_index('ix_outreach_cases_notice', ['notice_id'], unique=False)
        batch_op.create_index('ix_outreach_cases_setai', ['setai_no'], unique=False)
        batch_op.create_index('ix_outreach_cases_status', ['status', 'opened_at'], unique=False)

    op.create_table('outreach_case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['outreach_cases.id'], name=op.f('fk_outreach_case_events_case_id_outreach_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_case_events'))
    )
    with op.batch_alter_table('outreach_case_events', schema=None) as batch_op:
        batch_op.create_index('ix_outreach_case_events_case', ['case_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outreach_case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_case_events_case')

    op.drop_table('outreach_case_events')
    with op.batch_alter_table('outreach_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_cases_status')
        batch_op.drop_index('ix_outreach_cases_setai')
        batch_op.drop_index('ix_outreach_cases_notice')

    op.drop_table('outreach_cases')
