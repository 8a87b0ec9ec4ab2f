"""outbox claim lease: a drain's claim token and lease end on each notification row; index for mails/minute

Revision ID: d1a7c3e5f9b2
Revises: d4e18a2f0c31
Create Date: 2026-12-04 16:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd1a7c3e5f9b2'
down_revision = 'd4e18a2f0c31'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_notification_claim_token', ['claim_token'], unique=False)
        batch_op.create_index('ix_notification_sent', ['state', 'sent_on'], unique=False)


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_sent')
        batch_op.drop_index('ix_notification_claim_token')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claim_token')
