"""outbox: notices, deliveries, link opens, message template versions, send rate, alerts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_template_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_template_versions')),
    sa.UniqueConstraint('template_id', 'version', name='uq_message_template_versions_id_version')
    )
    with op.batch_alter_table('message_template_versions', schema=None) as batch_op:
        batch_op.create_index('ix_message_template_versions_status', ['template_id', 'status'], unique=False)

    op.create_table('outbox_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_alerts'))
    )
    with op.batch_alter_table('outbox_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_alerts_open', ['kind', 'cleared_at'], unique=False)

    op.create_table('send_rates',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_send_rates'))
    )
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reminder_of', sa.Integer(), nullable=True),
    sa.Column('setai_no', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('rule_version_id', sa.Integer(), nullable=False),
    sa.Column('template_version_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('match_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('first_sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['reminder_of'], ['notices.id'], name=op.f('fk_notices_reminder_of_notices')),
    sa.ForeignKeyConstraint(['rule_version_id'], ['rule_versions.id'], name=op.f('fk_notices_rule_version_id_rule_versions')),
    sa.ForeignKeyConstraint(['run_id'], ['eligibility_runs.id'], name=op.f('fk_notices_run_id_eligibility_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_version_id'], ['message_template_versions.id'], name=op.f('fk_notices_template_version_id_message_template_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('reminder_of', name='uq_notices_reminder_of'),
    sa.UniqueConstraint('rule_id', 'setai_no', 'as_of', 'kind', name='uq_notices_rule_household_day')
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_rule_created', ['rule_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notices_setai_rule', ['setai_no', 'rule_id'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('line_account_id', sa.Integer(), nullable=False),
    sa.Column('atena_no', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('rule_version_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('retry_key', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('first_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('line_request_id', sa.String(length=64), nullable=True),
    sa.Column('error_status', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('cancel_reason', sa.String(length=64), nullable=True),
    sa.Column('first_opened_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['line_account_id'], ['line_accounts.id'], name=op.f('fk_deliveries_line_account_id_line_accounts')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_deliveries_notice_id_notices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_version_id'], ['rule_versions.id'], name=op.f('fk_deliveries_rule_version_id_rule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('retry_key', name=op.f('uq_deliveries_retry_key'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_account', ['line_account_id'], unique=False)
        batch_op.create_index('ix_deliveries_notice', ['notice_id'], unique=False)
        batch_op.create_index('ix_deliveries_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('link_opens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_link_opens_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_opens'))
    )
    with op.batch_alter_table('link_opens', schema=None) as batch_op:
        batch_op.create_index('ix_link_opens_delivery', ['delivery_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_opens', schema=None) as batch_op:
        batch_op.drop_index('ix_link_opens_delivery')

    op.drop_table('link_opens')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_next')
        batch_op.drop_index('ix_deliveries_notice')
        batch_op.drop_index('ix_deliveries_account')

    op.drop_table('deliveries')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_setai_rule')
        batch_op.drop_index('ix_notices_rule_created')

    op.drop_table('notices')
    op.drop_table('send_rates')
    with op.batch_alter_table('outbox_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_alerts_open')

    op.drop_table('outbox_alerts')
    with op.batch_alter_table('message_template_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_message_template_versions_status')

    op.drop_table('message_template_versions')
