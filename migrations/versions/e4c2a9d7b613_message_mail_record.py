"""message mail record: a staff e-mail on a thread records its sending, recipients and refusal

Revision ID: e4c2a9d7b613
Revises: d1a7c3e5f9b2
Create Date: 2026-12-04 17:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e4c2a9d7b613'
down_revision = 'd1a7c3e5f9b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_state', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('mailed_to', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('mailed_on', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('mail_error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('mail_error')
        batch_op.drop_column('mailed_on')
        batch_op.drop_column('mailed_to')
        batch_op.drop_column('mail_state')
